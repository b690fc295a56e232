/** runsc's exit statuses; docs/exit-codes.md explains each. */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** A runtime error (the sandbox could not be set up or run). */
  RUNTIME: 1,
  /** A usage error: unknown command or flag, bad flag value, missing argument (oclif's default). */
  USAGE: 2,
  /** A configuration error: bad config file, field, flag value or plugin. */
  CONFIG: 3,
  /** An internal error in the sentry or runsc itself (a bug). */
  INTERNAL: 125,
  /** `do`: the command was found but could not be executed. */
  NOT_EXECUTABLE: 126,
  /** `do`: the command was not found. */
  NOT_FOUND: 127,
  /** `do`: 128 + N when the program was killed by signal N. */
  SIGNAL_BASE: 128,
} as const;

/** Name of the environment variable that marks an internal invocation (`boot`, `gofer`); its value is the command name. */
export const INTERNAL_ENV = 'TSVISOR_INTERNAL';
