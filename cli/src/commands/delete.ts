import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Delete extends OciCommand {
  static override summary = 'Delete a stopped (or created) container; --force kills a running one first.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = {
    ...ociGlobalFlags,
    force: Flags.boolean({
      char: 'f',
      description: 'Kill the container (SIGKILL) if it is running; no error if it does not exist.',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Delete);
    const { deleteContainer } = await import('../../../core/runtime/oci/lifecycle');
    await deleteContainer(await this.store(), args.id, flags.force);
  }
}
