import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';
import { createFlags } from './create';

export default class Run extends OciCommand {
  static override summary = 'Create and start a container, wait for it and delete it (or --detach).';
  static override description =
    "The exit status is the container's: its init's exit code, or 128+N if a signal N killed it. Signals sent to runsc run (TERM, INT, HUP, QUIT, USR1, USR2) are forwarded to the container's init.";
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = {
    ...ociGlobalFlags,
    ...createFlags,
    detach: Flags.boolean({ char: 'd', description: 'Return once the container is started.' }),
    keep: Flags.boolean({ description: 'Do not delete the container after it exits.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run);
    const lc = await import('../../../core/runtime/oci/lifecycle');
    const store = await this.store();
    await lc.create({
      store,
      id: args.id,
      bundle: flags.bundle ?? process.cwd(),
      pidFile: flags['pid-file'],
      consoleSocket: flags['console-socket'],
      foreground: !flags.detach,
      bootArgs: this.bootArgs(flags),
    });
    const forwarded: [NodeJS.Signals, () => void][] = [];
    try {
      if (!flags.detach) {
        for (const sig of [
          'SIGTERM',
          'SIGINT',
          'SIGHUP',
          'SIGQUIT',
          'SIGUSR1',
          'SIGUSR2',
        ] as NodeJS.Signals[]) {
          const h = (): void =>
            void lc.kill(store, args.id, lc.parseSignal(sig), false).catch(() => undefined);
          process.on(sig, h);
          forwarded.push([sig, h]);
        }
      }
      await lc.start(store, args.id);
    } catch (e) {
      await lc.deleteContainer(store, args.id, true).catch(() => undefined);
      throw e;
    }
    if (flags.detach) return;
    let status: number;
    try {
      status = await lc.wait(store, args.id);
    } finally {
      for (const [sig, h] of forwarded) process.off(sig, h);
      if (!flags.keep) await lc.deleteContainer(store, args.id, true).catch(() => undefined);
    }
    this.exit(status);
  }
}
