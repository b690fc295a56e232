import * as fs from 'node:fs';
import * as path from 'node:path';
import { Args, Errors, Flags } from '@oclif/core';
import { passthroughStart, PASSTHROUGH } from '../argv';
import { RunscCommand } from '../base';
import { ExitCode } from '../exit-codes';
import type { EffectiveConfig } from '../../../core/config/types';
import type { Logger } from '../../../core/log/index';

/**
 * What `runsc do` hands the sandbox runtime (core/runtime/do.ts, `runDo(opts)`), which
 * resolves to the exit status to leave with.
 */
export interface DoOptions {
  config: EffectiveConfig;
  /** The program and its arguments, untouched. */
  argv: string[];
  /** Working directory inside the sandbox; undefined means "/" under --root-dir. */
  cwd?: string;
  /** The program's environment, NAME=VALUE: runsc's own environment with --env entries applied. */
  env: string[];
  uid?: number;
  gid?: number;
  /** Host folder used instead of / as the read-only lower root. */
  rootDir?: string;
  log: Logger;
}

export default class Do extends RunscCommand {
  static override summary = "Run a command in a new sandbox, with the host's / as a read-only root.";
  static override description = `As gVisor's \`runsc do\`: no OCI bundle is needed. The program sees the host's root (or --root-dir) read-only under a writable tmpfs overlay, with the host's environment plus --env entries. Everything after the program name (or after --) is passed to the program untouched.

The exit status is the program's; 128+N if it was killed by signal N; 127 if the command was not found and 126 if it could not be executed (see docs/exit-codes.md).`;

  static override usage = '<%= command.id %> [FLAGS] [--] COMMAND [ARG...]';
  static override examples = [
    '<%= config.bin %> do /bin/echo hello',
    '<%= config.bin %> --platform=ptrace do --cwd /tmp -- sh -c "ls -la"',
    '<%= config.bin %> do --env GREETING=hi --uid 1000 --gid 1000 env',
    '<%= config.bin %> do --root-dir ./rootfs /bin/busybox sh',
  ];

  static override strict = false;
  static override args = {
    command: Args.string({
      description: 'The program to run, followed by its arguments.',
      ignoreStdin: true,
    }),
  };

  static override flags = {
    cwd: Flags.string({
      description: 'Working directory inside the sandbox. [default: the current directory]',
      helpValue: 'DIR',
    }),
    env: Flags.string({
      description: 'Set NAME=VALUE in the program environment (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'NAME=VALUE',
    }),
    uid: Flags.integer({ description: 'User id to run as. [default: 0]', min: 0 }),
    gid: Flags.integer({ description: 'Group id to run as. [default: 0]', min: 0 }),
    'root-dir': Flags.string({
      description: "Use DIR instead of the host's / as the read-only lower root.",
      helpValue: 'DIR',
    }),
  };

  /** The program starts at the first positional (or after --); our flags are before it. */
  private split(): { flagArgs: string[]; program: string[] } {
    const argv = this.rawArgv;
    const start = passthroughStart(argv, PASSTHROUGH.do);
    if (start === -1) return { flagArgs: argv.filter((a) => a !== '--'), program: [] };
    return { flagArgs: argv.slice(0, start).filter((a) => a !== '--'), program: argv.slice(start) };
  }

  protected override flagArgv(): string[] {
    return this.split().flagArgs;
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Do, this.flagArgv());
    const { program } = this.split();
    if (program.length === 0) {
      throw new Errors.CLIError('missing the command to run; usage: runsc do [FLAGS] [--] COMMAND [ARG...]', {
        exit: ExitCode.USAGE,
      });
    }
    const env = mergeEnv(process.env, flags.env ?? []);
    let rootDir: string | undefined;
    if (flags['root-dir'] !== undefined) {
      rootDir = path.resolve(flags['root-dir']);
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(rootDir);
      } catch {
        st = undefined;
      }
      if (!st?.isDirectory()) {
        throw new Errors.CLIError(
          `--root-dir ${JSON.stringify(flags['root-dir'])}: ${rootDir} is not a directory`,
          {
            exit: ExitCode.USAGE,
          },
        );
      }
    }
    const cwd = flags.cwd ?? (rootDir === undefined ? process.cwd() : undefined);

    // Check every configured plugin (module, manifest, options) before anything starts, so a
    // config mistake is reported as one (exit 3) whatever the runtime does next. A built-in
    // this build lacks is left for the runtime to judge: it knows which plugins it needs.
    const { loadPlugins } = await import('../../../core/plugins/loader');
    await loadPlugins(this.effective, { allowUnavailable: true });

    // core/runtime/do is the sandbox runtime; it is loaded by a path computed here so that
    // the CLI builds and starts without it, and `runsc --version` never loads the kernel.
    const doModule = path.resolve(__dirname, '..', '..', '..', 'core', 'runtime', 'do.js');
    if (!fs.existsSync(doModule)) {
      throw Object.assign(
        new Error(`this build has no sandbox runtime: ${doModule} is missing; run \`npm run build\``),
        {
          exitCode: ExitCode.RUNTIME,
        },
      );
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runDo } = require(doModule) as { runDo(opts: DoOptions): Promise<number> };
    const log = await this.logger();
    const status = await runDo({
      config: this.effective,
      argv: program,
      cwd,
      env,
      uid: flags.uid,
      gid: flags.gid,
      rootDir,
      log,
    });
    // Leave with the program's status even if something still holds the event loop open.
    this.exit(status);
  }
}

/** The environment as NAME=VALUE strings, with each --env entry replacing or adding its name. */
export function mergeEnv(base: NodeJS.ProcessEnv, extra: readonly string[]): string[] {
  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env.set(k, v);
  for (const e of extra) {
    const eq = e.indexOf('=');
    if (eq <= 0) {
      throw new Errors.CLIError(`--env ${JSON.stringify(e)}: expected NAME=VALUE`, { exit: ExitCode.USAGE });
    }
    env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}
