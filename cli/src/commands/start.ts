import { Args } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Start extends OciCommand {
  static override summary = 'Start the program of a created container.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags };

  async run(): Promise<void> {
    const { args } = await this.parse(Start);
    const { start } = await import('../../../core/runtime/oci/lifecycle');
    await start(await this.store(), args.id);
  }
}
