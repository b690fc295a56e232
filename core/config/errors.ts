/**
 * Errors a person can fix by editing a config file, a flag or an environment variable.
 * Each message names where the bad value came from (file, flag or variable), the field,
 * the value and what would have been accepted.
 */

/** Exit status of runsc for a configuration error (docs/exit-codes.md). */
export const CONFIG_ERROR_EXIT = 3;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The exit status runsc uses when this error ends a command. */
  readonly exitCode: number;

  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options?.exitCode ?? CONFIG_ERROR_EXIT;
  }
}

/** Renders a value for an error message: strings quoted, objects as compact JSON. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
}

/** The JSON-ish type name of a value, as error messages report it. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && Number.isInteger(v)) return 'integer';
  return typeof v;
}
