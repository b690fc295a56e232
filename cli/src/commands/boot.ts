import * as fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { RunscCommand } from '../base';
import { ExitCode, INTERNAL_ENV } from '../exit-codes';

/**
 * The sandbox process of one container, started detached by `runsc create`/`run`: it builds
 * the sandbox from the bundle (core/runtime/sandbox.ts), serves the control socket in the
 * container's state folder (core/runtime/oci/server.ts), tells its parent it is ready on
 * fd 3, and exits with the init's status when the init ends (128+N for signal N), so a
 * containerd shim that reaps it sees the container's exit code.
 */
export default class Boot extends RunscCommand {
  static override hidden = true;
  static override summary =
    'The sandbox process: runs the sentry and the platform for one container. Internal: started by runsc create/run.';

  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  /** The defaults of the create/run that started it (network: netstack). */
  protected override readonly defaultsFor = 'container' as const;
  static override flags = {
    bundle: Flags.string({ required: true, description: 'The bundle folder.' }),
    'console-socket': Flags.string({ description: 'Unix socket to hand the terminal to.' }),
  };

  protected override async init(): Promise<void> {
    // Refuse before anything else (config loading included): people should not start this by hand.
    if (process.env[INTERNAL_ENV] !== 'boot') {
      this.logToStderr(
        'runsc boot: internal command: used by runsc create/run; not for direct use (see `runsc help` for the commands to use)',
      );
      this.exit(ExitCode.USAGE);
    }
    delete process.env[INTERNAL_ENV];
    await super.init();
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Boot);
    const { serveContainer } = await import('../../../core/runtime/oci/server');
    const ready = (msg: Record<string, unknown>): void => {
      try {
        fs.writeSync(3, `${JSON.stringify(msg)}\n`);
        fs.closeSync(3);
      } catch {
        /* the parent is gone */
      }
    };
    const log = await this.logger(args.id);
    const status = await serveContainer({
      config: this.effective,
      id: args.id,
      bundle: flags.bundle,
      root: this.effective.values.root,
      consoleSocket: flags['console-socket'],
      log,
      ready,
    });
    this.exit(status);
  }
}
