/**
 * OciCommand: the base of the OCI lifecycle commands (create, start, state, kill, ...).
 * Adds what runc's callers pass before the command — `--log FILE` (taken as --debug-log),
 * `--log-format`, `--systemd-cgroup`, `--rootless` — and writes failures to the --log file
 * as a JSON line ({"level":"error","msg":...}) as containerd's shim reads them, besides
 * `runsc: <message>` on stderr with exit status 1 (runc's).
 */
import * as fs from 'node:fs';
import { Flags, type Interfaces } from '@oclif/core';
import { RunscCommand } from './base';
import type { StateStore } from '../../core/runtime/oci/state';

export const ociGlobalFlags = {
  log: Flags.string({
    helpGroup: 'GLOBAL',
    description: 'Write logs (and errors, one JSON line each) to FILE; as runc --log. Same as --debug-log.',
    helpValue: 'FILE',
  }),
  'systemd-cgroup': Flags.boolean({
    helpGroup: 'GLOBAL',
    description: 'Accepted for runc compatibility; cgroups are not managed by this build.',
  }),
  rootless: Flags.string({
    helpGroup: 'GLOBAL',
    description: 'Accepted for runc compatibility (true, false, auto).',
    helpValue: 'BOOL',
  }),
};

export abstract class OciCommand extends RunscCommand {
  private logFile: string | undefined;
  /** Containers get gVisor's default network: our netstack (`runsc do` keeps none). */
  protected override readonly defaultsFor = 'container' as const;

  protected override async init(): Promise<void> {
    // --log is runc's name for the log file: the same as our --debug-log (which wins when
    // both are given; errors still go to the --log file).
    const hasDebugLog = this.argv.some((a) => a === '--debug-log' || a.startsWith('--debug-log='));
    const out: string[] = [];
    for (let i = 0; i < this.argv.length; i++) {
      const a = this.argv[i];
      if (a === '--') {
        out.push(...this.argv.slice(i));
        break;
      }
      if (a === '--log' || a === '-log') {
        this.logFile = this.argv[++i];
        if (!hasDebugLog) out.push('--debug-log', this.logFile);
      } else if (a.startsWith('--log=')) {
        this.logFile = a.slice(6);
        if (!hasDebugLog) out.push(`--debug-log=${this.logFile}`);
      } else out.push(a);
    }
    this.argv = out;
    await super.init();
  }

  protected async store(): Promise<StateStore> {
    const { StateStore } = await import('../../core/runtime/oci/state');
    return new StateStore(this.effective.values.root);
  }

  /** The global flags to hand a sandbox process (runsc boot) this command starts. */
  protected bootArgs(flags: Record<string, unknown>): string[] {
    const out: string[] = [];
    for (const k of ['platform', 'network', 'rootfs', 'debug-log', 'config', 'log-format']) {
      const v = flags[k];
      if (typeof v === 'string') out.push(`--${k}=${v}`);
    }
    for (const k of ['debug', 'strace'])
      if (typeof flags[k] === 'boolean') out.push(flags[k] ? `--${k}` : `--no-${k}`);
    return out;
  }

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    if (this.logFile && (err as { oclif?: unknown }).oclif === undefined) {
      try {
        fs.appendFileSync(
          this.logFile,
          `${JSON.stringify({ level: 'error', msg: err.message, time: new Date().toISOString() })}\n`,
        );
      } catch {
        /* the log file is best effort */
      }
    }
    return super.catch(err);
  }
}
