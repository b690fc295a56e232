/** The shape of runsc's effective configuration and where each value came from. */

export type LogFormat = 'text' | 'json';

/** The core fields of a runsc config (file keys, camelCase). Plugin option blocks are separate. */
export interface ConfigValues {
  /** Platform plugin: `ptrace`, `kvm`, an npm package name or a path. */
  platform: string;
  /** Network stack plugin: `netstack`, `host`, `none` (no network), an npm package name or a path. */
  network: string;
  /** Root filesystem plugin: `gofer`, `containerfs`, an npm package name or a path. */
  rootfs: string;
  /** State directory (absolute). */
  root: string;
  /** Log at debug level. */
  debug: boolean;
  /** Write logs to this file (absolute) instead of stderr. */
  debugLog: string | undefined;
  /** Log every system call the sandboxed program makes. */
  strace: boolean;
  /** Log line format. */
  logFormat: LogFormat;
}

export type ConfigField = keyof ConfigValues;

/** Where one value came from. */
export type ConfigSource =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'default' };

/** The configuration a command runs with: merged values and the origin of each. */
export interface EffectiveConfig {
  values: ConfigValues;
  sources: Record<ConfigField, ConfigSource>;
  /**
   * Plugin option blocks from the config file, keyed by plugin name (`ptrace: {...}`), as
   * written; the plugin loader validates each against its plugin's `configSchema`.
   */
  pluginOptions: Record<string, Record<string, unknown>>;
  /** The config file in use (absolute), if any. */
  file: string | undefined;
  /** How the config file was chosen, when there is one. */
  fileSource: ConfigSource | undefined;
  /** The directory relative flag and env values (and plugin specs) are resolved from. */
  cwd: string;
}

/** Flag values as the CLI parsed them; absent flags are undefined. */
export interface ConfigFlags {
  platform?: string;
  network?: string;
  rootfs?: string;
  root?: string;
  debug?: boolean;
  debugLog?: string;
  strace?: boolean;
  logFormat?: string;
}

/** `--flag` spelling of each field, for messages and sources. */
export const FLAG_NAMES: Record<ConfigField, string> = {
  platform: '--platform',
  network: '--network',
  rootfs: '--rootfs',
  root: '--root',
  debug: '--debug',
  debugLog: '--debug-log',
  strace: '--strace',
  logFormat: '--log-format',
};

/** Environment variable of each field. */
export const ENV_NAMES: Record<ConfigField, string> = {
  platform: 'RUNSC_PLATFORM',
  network: 'RUNSC_NETWORK',
  rootfs: 'RUNSC_ROOTFS',
  root: 'RUNSC_ROOT',
  debug: 'RUNSC_DEBUG',
  debugLog: 'RUNSC_DEBUG_LOG',
  strace: 'RUNSC_STRACE',
  logFormat: 'RUNSC_LOG_FORMAT',
};

/** The variable naming a config file (like `--config`). */
export const CONFIG_ENV = 'RUNSC_CONFIG';

/** "flag --platform", "env RUNSC_PLATFORM", "file /x/runsc.config.yaml", "default". */
export function describeSource(s: ConfigSource): string {
  switch (s.kind) {
    case 'flag':
      return `flag ${s.name}`;
    case 'env':
      return `env ${s.name}`;
    case 'file':
      return `file ${s.path}`;
    case 'default':
      return 'default';
  }
}
