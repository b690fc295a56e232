import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Kill extends OciCommand {
  static override summary = "Send a signal to a container's init (or, with --all, to every process in it).";
  static override examples = [
    '<%= config.bin %> kill c1',
    '<%= config.bin %> kill c1 KILL',
    '<%= config.bin %> kill --all c1 9',
  ];
  static override args = {
    id: Args.string({ required: true, description: 'The container id.' }),
    signal: Args.string({ description: 'Signal name (TERM, SIGTERM) or number. [default: SIGTERM]' }),
  };
  static override flags = {
    ...ociGlobalFlags,
    all: Flags.boolean({ char: 'a', description: 'Signal every process.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Kill);
    const { kill, parseSignal } = await import('../../../core/runtime/oci/lifecycle');
    await kill(await this.store(), args.id, parseSignal(args.signal ?? 'SIGTERM'), flags.all);
  }
}
