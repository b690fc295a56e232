import { Args } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Pause extends OciCommand {
  static override summary = 'Freeze every process of a running container.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags };

  async run(): Promise<void> {
    const { args } = await this.parse(Pause);
    const { pause } = await import('../../../core/runtime/oci/lifecycle');
    await pause(await this.store(), args.id, true);
  }
}
