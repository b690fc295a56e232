/**
 * RunscCommand: the base of every runsc command that runs with a configuration. It owns
 * the global flags gVisor users know (`--root`, `--platform`, `--network`, `--rootfs`,
 * `--debug`, `--debug-log`, `--strace`, `--config`, `--log-format`), loads the effective
 * config in init(), builds sandbox containers on request and disposes them in finally(),
 * and maps errors to messages and the exit codes of docs/exit-codes.md in catch().
 *
 * Only @oclif/core is imported at the top: config, logging, DI and plugins load inside
 * the methods that need them, so `runsc --version` and `runsc help` stay fast.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import type { ConfigFlags, EffectiveConfig } from '../../core/config/types';
import type { Logger } from '../../core/log/index';
import type { SandboxContainer, SandboxContainerOptions } from '../../core/runtime/sandbox-container';
import { ExitCode } from './exit-codes';

const GLOBAL = 'GLOBAL';

export abstract class RunscCommand extends Command {
  static override baseFlags = {
    root: Flags.string({
      helpGroup: GLOBAL,
      description: 'State directory for containers. [env: RUNSC_ROOT] [default: /var/run/tsvisor]',
      helpValue: 'DIR',
    }),
    platform: Flags.string({
      helpGroup: GLOBAL,
      description:
        'Platform plugin that runs application code: ptrace, kvm, an npm package or a path. [env: RUNSC_PLATFORM] [default: ptrace]',
      helpValue: 'NAME',
    }),
    network: Flags.string({
      helpGroup: GLOBAL,
      description:
        'Network stack plugin: netstack, host, none, an npm package or a path. [env: RUNSC_NETWORK] [default: none for do, netstack for create/run]',
      helpValue: 'NAME',
    }),
    rootfs: Flags.string({
      helpGroup: GLOBAL,
      description:
        'Root filesystem plugin: gofer, containerfs, an npm package or a path. [env: RUNSC_ROOTFS] [default: gofer]',
      helpValue: 'NAME',
    }),
    debug: Flags.boolean({
      helpGroup: GLOBAL,
      allowNo: true,
      description: 'Log at debug level. [env: RUNSC_DEBUG]',
    }),
    'debug-log': Flags.string({
      helpGroup: GLOBAL,
      description: 'Write logs to this file instead of stderr. [env: RUNSC_DEBUG_LOG]',
      helpValue: 'FILE',
    }),
    strace: Flags.boolean({
      helpGroup: GLOBAL,
      allowNo: true,
      description: 'Log the system calls of the sandboxed program. [env: RUNSC_STRACE]',
    }),
    config: Flags.string({
      helpGroup: GLOBAL,
      description:
        'Read this config file instead of searching for runsc.config.*, .runscrc or package.json#runsc. [env: RUNSC_CONFIG]',
      helpValue: 'FILE',
    }),
    'log-format': Flags.string({
      helpGroup: GLOBAL,
      options: ['text', 'json'],
      description: 'Log line format. [env: RUNSC_LOG_FORMAT] [default: text]',
    }),
  };

  /** The effective configuration, loaded in init(). */
  protected effective!: EffectiveConfig;

  private readonly sandboxes: SandboxContainer[] = [];

  /** The command's arguments as given (oclif's parse() replaces this.argv with what it parsed). */
  protected rawArgv: string[] = [];

  /** The arguments that hold this command's flags; `do` overrides it to stop before the program. */
  protected flagArgv(): string[] {
    return this.rawArgv;
  }

  /**
   * Which defaults fill the config fields no flag, variable or file sets: the common ones
   * (`runsc do`: network none), or a container's (create/run and their sandbox process:
   * network netstack, core/config/schema.ts CONTAINER_DEFAULTS).
   */
  protected readonly defaultsFor: 'command' | 'container' = 'command';

  protected override async init(): Promise<void> {
    this.rawArgv = [...this.argv];
    await super.init();
    const ctor = this.ctor as typeof RunscCommand;
    const { flags } = await this.parse(
      { flags: ctor.flags, baseFlags: ctor.baseFlags, args: ctor.args, strict: ctor.strict },
      this.flagArgv(),
    );
    this.parsedFlags = flags;
    this.effective = await this.loadEffective(this.defaultsFor);
  }

  private parsedFlags: Record<string, unknown> = {};

  /** The effective config from this command's flags, the environment and the file, with `which` defaults. */
  protected async loadEffective(which: 'command' | 'container'): Promise<EffectiveConfig> {
    const { loadConfig } = await import('../../core/config/load');
    const { CONTAINER_DEFAULTS } = await import('../../core/config/schema');
    return loadConfig({
      flags: configFlags(this.parsedFlags),
      configFile: this.parsedFlags.config as string | undefined,
      env: process.env,
      cwd: process.cwd(),
      defaults: which === 'container' ? CONTAINER_DEFAULTS : undefined,
    });
  }

  /** A logger made from the effective config (level, format, --debug-log file). */
  protected async logger(sandboxId?: string): Promise<Logger> {
    const { createLogger, loggerOptions } = await import('../../core/log/index');
    return createLogger(loggerOptions(this.effective.values, sandboxId));
  }

  /** Builds a sandbox's DI container from the effective config; finally() disposes it. */
  protected async sandbox(opts: SandboxContainerOptions = {}): Promise<SandboxContainer> {
    const { createSandboxContainer } = await import('../../core/runtime/sandbox-container');
    const sb = await createSandboxContainer(this.effective, opts);
    this.sandboxes.push(sb);
    return sb;
  }

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    const e = err as Error & { exitCode?: unknown; oclif?: { exit?: number } };
    if (e.oclif !== undefined) {
      // oclif's own usage errors (exit 2); add a "did you mean" to an unknown flag.
      const unknown = (err as { flags?: unknown }).flags;
      if (err.constructor.name === 'NonExistentFlagsError' && Array.isArray(unknown)) {
        const { closest } = await import('../../core/config/suggest');
        const ctor = this.ctor as typeof RunscCommand;
        const known = Object.keys({ ...ctor.baseFlags, ...ctor.flags }).map((f) => `--${f}`);
        const hints = unknown.flatMap((f: string) => {
          const c = closest(f.replace(/=.*$/, ''), known);
          return c ? [`Did you mean ${c} (for ${f})?`] : [];
        });
        if (hints.length) (err as { suggestions?: string[] }).suggestions = hints;
      }
      return super.catch(err);
    }
    if (e.name === 'ConfigError') {
      this.logToStderr(`runsc: ${e.message}`);
      this.exit(typeof e.exitCode === 'number' ? e.exitCode : ExitCode.CONFIG);
    }
    const internal = e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError;
    const debug = this.effective?.values.debug;
    if (internal) {
      this.logToStderr(
        `runsc: internal error: ${e.message}${debug ? `\n${e.stack}` : ' (run with --debug for the stack)'}`,
      );
      this.exit(ExitCode.INTERNAL);
    }
    this.logToStderr(`runsc: ${e.message ?? String(e)}${debug && e.stack ? `\n${e.stack}` : ''}`);
    this.exit(typeof e.exitCode === 'number' ? e.exitCode : ExitCode.RUNTIME);
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    const all = this.sandboxes.splice(0);
    for (const sb of all.reverse()) {
      try {
        await sb.dispose();
      } catch (e) {
        this.logToStderr(`runsc: while tearing down sandbox ${sb.sandboxId}: ${(e as Error).message}`);
      }
    }
    return super.finally(err);
  }
}

/** The config-relevant flags, camelCased; unset flags stay undefined. */
export function configFlags(flags: Record<string, unknown>): ConfigFlags {
  return {
    platform: flags.platform as string | undefined,
    network: flags.network as string | undefined,
    rootfs: flags.rootfs as string | undefined,
    root: flags.root as string | undefined,
    debug: flags.debug as boolean | undefined,
    debugLog: flags['debug-log'] as string | undefined,
    strace: flags.strace as boolean | undefined,
    logFormat: flags['log-format'] as string | undefined,
  };
}
