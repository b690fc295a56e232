import * as fs from 'node:fs';
import * as path from 'node:path';
import { Flags } from '@oclif/core';
import { RunscCommand } from '../base';

export default class Install extends RunscCommand {
  static override summary =
    "Add tsvisor as a runtime to Docker's daemon.json (merging; the old file is kept as .bak).";
  static override description =
    'Flags after -- are passed to runsc by Docker for every container (runtimeArgs), e.g. `runsc install -- --platform=ptrace --debug`. Restart dockerd afterwards (systemctl restart docker), then `docker run --runtime=runsc ...`.';
  static override usage = '<%= command.id %> [--runtime NAME] [--config-file FILE] [-- RUNSC_FLAGS...]';
  static override strict = false;
  static override flags = {
    runtime: Flags.string({ default: 'runsc', description: 'The runtime name Docker will know.' }),
    'config-file': Flags.string({
      default: '/etc/docker/daemon.json',
      description: "Docker's daemon config.",
      helpValue: 'FILE',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Install);
    const dd = this.rawArgv.indexOf('--');
    const runtimeArgs = dd >= 0 ? this.rawArgv.slice(dd + 1) : [];
    const { installDocker } = await import('../../../core/runtime/oci/install');
    const runscPath = fs.realpathSync(path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'run.js'));
    try {
      const r = installDocker({ file: flags['config-file'], runtime: flags.runtime, runscPath, runtimeArgs });
      this.log(
        `runsc: added runtime "${flags.runtime}" (${runscPath}) to ${flags['config-file']}${r.backup ? `; the old file is ${r.backup}` : ''}`,
      );
    } catch (e) {
      throw Object.assign(new Error((e as Error).message), { exitCode: 1 });
    }
  }
}
