/**
 * Validation of the core config fields and of plugin option blocks (against a plugin
 * manifest's `configSchema`). Every failure is a ConfigError naming where the value came
 * from, the field path, the bad value and what is allowed.
 */
import * as path from 'node:path';
import type { ConfigProperty, ConfigSchema } from '../plugins/manifest';
import { allowedSpecs, type PluginSlot } from './builtins';
import { ConfigError, showValue, typeName } from './errors';
import { didYouMean } from './suggest';
import { describeSource, type ConfigField, type ConfigSource, type ConfigValues } from './types';

export const DEFAULT_ROOT = '/var/run/tsvisor';

/** Values used when no flag, variable or file sets a field. */
export const DEFAULTS: Readonly<ConfigValues> = {
  platform: 'ptrace',
  // `runsc do` gets no network unless asked for one, as gVisor's `do` offers --network=none.
  network: 'none',
  rootfs: 'gofer',
  root: DEFAULT_ROOT,
  debug: false,
  debugLog: undefined,
  strace: false,
  logFormat: 'text',
};

/**
 * What `runsc create/run` (and the sandbox process they start, `runsc boot`) use instead
 * of DEFAULTS: gVisor's default for containers is its own network stack (--network=sandbox),
 * so ours is `netstack`; `runsc do` keeps `none`, as gVisor's `do` offers --network=none.
 */
export const CONTAINER_DEFAULTS: Readonly<Partial<ConfigValues>> = { network: 'netstack' };

type FieldKind = 'plugin' | 'path' | 'boolean' | 'enum';

interface FieldSpec {
  kind: FieldKind;
  description: string;
  options?: readonly string[];
}

export const FIELDS: Readonly<Record<ConfigField, FieldSpec>> = {
  platform: { kind: 'plugin', description: 'platform plugin that runs application code' },
  network: { kind: 'plugin', description: 'network stack plugin (none: no network)' },
  rootfs: { kind: 'plugin', description: 'root filesystem plugin' },
  root: { kind: 'path', description: 'state directory for containers' },
  debug: { kind: 'boolean', description: 'log at debug level' },
  debugLog: { kind: 'path', description: 'write logs to this file instead of stderr' },
  strace: { kind: 'boolean', description: 'log the system calls of the sandboxed program' },
  logFormat: { kind: 'enum', description: 'log line format', options: ['text', 'json'] },
};

export const FIELD_NAMES = Object.keys(FIELDS) as ConfigField[];

/** The message prefix for a value from `source`: "config file X: field "f"" or "flag --f". */
export function where(source: ConfigSource, field: string): string {
  if (source.kind === 'file') return `config file ${source.path}: field "${field}"`;
  return `${describeSource(source)} (field "${field}")`;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off', ''];

/**
 * Checks one core field's raw value and returns the typed value. Strings from env are
 * parsed (booleans as true/false/1/0/yes/no); values from files must have the right JSON
 * type. Relative paths are resolved against `baseDir` (the config file's folder, or cwd).
 */
export function checkField<F extends ConfigField>(
  field: F,
  raw: unknown,
  source: ConfigSource,
  baseDir: string,
): ConfigValues[F] {
  const spec = FIELDS[field];
  const fromText = source.kind === 'env';
  const bad = (expected: string): never => {
    const got = typeof raw === 'string' ? showValue(raw) : `${showValue(raw)} (${typeName(raw)})`;
    throw new ConfigError(`${where(source, field)}: invalid value ${got}; expected ${expected}`);
  };
  switch (spec.kind) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw as ConfigValues[F];
      if (fromText && typeof raw === 'string') {
        const v = raw.trim().toLowerCase();
        if (TRUE.includes(v)) return true as ConfigValues[F];
        if (FALSE.includes(v)) return false as ConfigValues[F];
        return bad(`a boolean (one of: ${TRUE.join(', ')}, ${FALSE.filter(Boolean).join(', ')})`);
      }
      return bad('a boolean (true or false)');
    }
    case 'enum': {
      const opts = spec.options ?? [];
      if (typeof raw === 'string' && opts.includes(raw)) return raw as ConfigValues[F];
      if (typeof raw === 'string') return bad(`one of: ${opts.join(', ')}${didYouMean(raw, opts)}`);
      return bad(`a string, one of: ${opts.join(', ')}`);
    }
    case 'path': {
      if (typeof raw !== 'string' || raw.trim() === '') return bad('a non-empty path (a string)');
      return path.resolve(baseDir, raw) as ConfigValues[F];
    }
    case 'plugin': {
      const allowed = allowedSpecs(field as PluginSlot);
      if (typeof raw !== 'string') return bad(`a string: ${allowed}`);
      if (raw.trim() === '' || raw !== raw.trim())
        return bad(`a plugin name without surrounding spaces: ${allowed}`);
      return raw as ConfigValues[F];
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a plugin's option block against its manifest's `configSchema`, filling in
 * defaults. `field` is the block's key (the plugin name); errors name `field.option`.
 */
export function validatePluginOptions(
  schema: ConfigSchema | undefined,
  block: unknown,
  field: string,
  source: ConfigSource,
): Record<string, unknown> {
  if (block === undefined) block = {};
  if (!isPlainObject(block)) {
    throw new ConfigError(
      `${where(source, field)}: invalid value ${showValue(block)} (${typeName(block)}); expected an object of options for plugin "${field}"`,
    );
  }
  if (!schema) {
    const keys = Object.keys(block);
    if (keys.length > 0) {
      throw new ConfigError(
        `${where(source, `${field}.${keys[0]}`)}: plugin "${field}" takes no options (its manifest has no configSchema)`,
      );
    }
    return {};
  }
  const out: Record<string, unknown> = {};
  const props = schema.properties ?? {};
  for (const [key, value] of Object.entries(block)) {
    const prop = props[key];
    if (!prop) {
      if (schema.additionalProperties === false) {
        const known = Object.keys(props);
        throw new ConfigError(
          `${where(source, `${field}.${key}`)}: unknown option of plugin "${field}"${didYouMean(key, known)}; known options: ${known.join(', ') || '(none)'}`,
        );
      }
      out[key] = value;
      continue;
    }
    out[key] = checkProperty(prop, value, `${field}.${key}`, source);
  }
  for (const [key, prop] of Object.entries(props)) {
    if (!(key in out) && prop.default !== undefined) out[key] = prop.default;
  }
  return out;
}

function checkProperty(prop: ConfigProperty, value: unknown, field: string, source: ConfigSource): unknown {
  const fail = (expected: string): never => {
    throw new ConfigError(
      `${where(source, field)}: invalid value ${showValue(value)} (${typeName(value)}); expected ${expected}`,
    );
  };
  const describe = (p: ConfigProperty): string =>
    p.enum
      ? `one of: ${p.enum.map((e) => showValue(e)).join(', ')}`
      : `${p.type === 'integer' ? 'an' : 'a'} ${p.type}`;
  switch (prop.type) {
    case 'string':
      if (typeof value !== 'string') fail(describe(prop));
      break;
    case 'boolean':
      if (typeof value !== 'boolean') fail(describe(prop));
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(describe(prop));
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(describe(prop));
      break;
    case 'array':
      if (!Array.isArray(value)) fail(prop.items ? `an array of ${describe(prop.items)}` : 'an array');
      break;
    case 'object':
      if (!isPlainObject(value)) fail('an object');
      break;
  }
  if (prop.enum && !prop.enum.includes(value as string | number | boolean)) {
    const hint = typeof value === 'string' ? didYouMean(value, prop.enum.map(String)) : '';
    fail(`one of: ${prop.enum.map((e) => showValue(e)).join(', ')}${hint}`);
  }
  if (typeof value === 'number') {
    if (prop.minimum !== undefined && value < prop.minimum) fail(`a number >= ${prop.minimum}`);
    if (prop.maximum !== undefined && value > prop.maximum) fail(`a number <= ${prop.maximum}`);
  }
  if (Array.isArray(value) && prop.items) {
    const items = prop.items;
    return value.map((v, i) => checkProperty(items, v, `${field}[${i}]`, source));
  }
  return value;
}
