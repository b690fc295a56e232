import { Args } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Resume extends OciCommand {
  static override summary = 'Resume a paused container.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags };

  async run(): Promise<void> {
    const { args } = await this.parse(Resume);
    const { pause } = await import('../../../core/runtime/oci/lifecycle');
    await pause(await this.store(), args.id, false);
  }
}
