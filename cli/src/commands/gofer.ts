import { RunscCommand } from '../base';
import { ExitCode, INTERNAL_ENV } from '../exit-codes';

export default class Gofer extends RunscCommand {
  static override hidden = true;
  static override strict = false;
  static override summary =
    'The file proxy of a sandbox: serves the root filesystem of a container to the sentry. Internal: started by runsc create/run.';

  protected override async init(): Promise<void> {
    // Refuse before anything else (config loading included): people should not start this by hand.
    if (process.env[INTERNAL_ENV] !== 'gofer') {
      this.logToStderr(
        'runsc gofer: internal command: used by runsc create/run; not for direct use (see `runsc help` for the commands to use)',
      );
      this.exit(ExitCode.USAGE);
    }
    await super.init();
  }

  async run(): Promise<void> {
    // runsc create/run (the OCI lifecycle) are what start this process; until this build has
    // them there is no parent to hand over a bundle, control socket or file descriptors.
    throw Object.assign(
      new Error(
        'runsc gofer: this build has no OCI lifecycle (runsc create/run), so there is no sandbox to serve',
      ),
      { exitCode: ExitCode.RUNTIME },
    );
  }
}
