import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export const createFlags = {
  bundle: Flags.string({
    char: 'b',
    description: 'The bundle folder (holds config.json). [default: the current folder]',
    helpValue: 'DIR',
  }),
  'pid-file': Flags.string({ description: 'Write the sandbox process id to FILE.', helpValue: 'FILE' }),
  'console-socket': Flags.string({
    description: 'Unix socket to which the container terminal is sent (SCM_RIGHTS), for process.terminal.',
    helpValue: 'PATH',
  }),
  'no-pivot': Flags.boolean({ hidden: true, description: 'Accepted for runc compatibility.' }),
  'no-new-keyring': Flags.boolean({ hidden: true, description: 'Accepted for runc compatibility.' }),
  'preserve-fds': Flags.integer({
    hidden: true,
    description: 'Accepted for runc compatibility (must be 0).',
  }),
};

export default class Create extends OciCommand {
  static override summary = 'Create a container from an OCI bundle; its process waits for `runsc start`.';
  static override description =
    'Builds the sandbox (runsc boot, detached) with the config.json of the bundle and records the container in the state folder (--root). The program does not run until `runsc start ID`. Errors and exit codes follow runc (docs/oci.md).';
  static override examples = ['<%= config.bin %> create --bundle ./bundle --pid-file /run/c1.pid c1'];
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags, ...createFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Create);
    const { create } = await import('../../../core/runtime/oci/lifecycle');
    await create({
      store: await this.store(),
      id: args.id,
      bundle: flags.bundle ?? process.cwd(),
      pidFile: flags['pid-file'],
      consoleSocket: flags['console-socket'],
      bootArgs: this.bootArgs(flags),
    });
  }
}
