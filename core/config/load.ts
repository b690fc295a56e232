/**
 * loadConfig: finds and reads the config file (cosmiconfig), validates it, and merges it
 * with environment variables and flags. Precedence: flags > env > file > defaults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allBuiltinNames } from './builtins';
import { ConfigError, showValue, typeName } from './errors';
import { checkField, DEFAULTS, FIELD_NAMES, FIELDS } from './schema';
import { didYouMean } from './suggest';
import {
  CONFIG_ENV,
  describeSource,
  ENV_NAMES,
  FLAG_NAMES,
  type ConfigField,
  type ConfigFlags,
  type ConfigSource,
  type ConfigValues,
  type EffectiveConfig,
} from './types';

export const MODULE_NAME = 'runsc';

/** Where cosmiconfig looks, in each folder from cwd up to the project root (the first folder with a package.json). */
export const SEARCH_PLACES = [
  'package.json',
  '.runscrc',
  '.runscrc.json',
  '.runscrc.yaml',
  '.runscrc.yml',
  'runsc.config.json',
  'runsc.config.yaml',
  'runsc.config.yml',
  'runsc.config.js',
  'runsc.config.cjs',
];

const EXTENSIONS = ['.json', '.yaml', '.yml', '.js', '.cjs', '.mjs', ''];

export interface LoadConfigOptions {
  /** Parsed flags; undefined members are not set. */
  flags?: ConfigFlags;
  /** Environment (default process.env). */
  env?: Record<string, string | undefined>;
  /** Working directory for the search and for relative flag/env paths (default process.cwd()). */
  cwd?: string;
  /** `--config FILE`: read this file and search for none. */
  configFile?: string;
  /** Search for a config file when none is named (default true). */
  search?: boolean;
  /** Replace some of DEFAULTS (the command's own defaults: CONTAINER_DEFAULTS for create/run). */
  defaults?: Readonly<Partial<ConfigValues>>;
}

interface FileConfig {
  path: string;
  source: ConfigSource;
  data: Record<string, unknown>;
}

/** Loads the effective config; throws ConfigError naming the file/flag/variable, field and value on bad input. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<EffectiveConfig> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};

  const values: ConfigValues = { ...DEFAULTS, ...opts.defaults };
  const sources = Object.fromEntries(FIELD_NAMES.map((f) => [f, { kind: 'default' }])) as Record<
    ConfigField,
    ConfigSource
  >;
  const set = <F extends ConfigField>(
    field: F,
    raw: unknown,
    source: ConfigSource,
    baseDir: string,
  ): void => {
    values[field] = checkField(field, raw, source, baseDir);
    sources[field] = source;
  };

  const file = await readConfigFile(opts, env, cwd);
  const pluginOptions: Record<string, Record<string, unknown>> = {};
  if (file) {
    const fileSource = { kind: 'file', path: file.path } as const;
    const baseDir = path.dirname(file.path);
    for (const [key, raw] of Object.entries(file.data)) {
      if (Object.hasOwn(FIELDS, key)) {
        set(key as ConfigField, raw, fileSource, baseDir);
      } else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
        // A plugin option block; validated by the plugin loader against the plugin's schema.
        pluginOptions[key] = raw as Record<string, unknown>;
      } else {
        throw new ConfigError(
          `config file ${file.path}: unknown field "${key}" (value ${showValue(raw)})${didYouMean(key, [
            ...FIELD_NAMES,
            ...allBuiltinNames(),
          ])}; known fields: ${FIELD_NAMES.join(', ')}, or a plugin option block (an object keyed by plugin name)`,
        );
      }
    }
  }

  for (const field of FIELD_NAMES) {
    const name = ENV_NAMES[field];
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    set(field, raw, { kind: 'env', name }, cwd);
  }

  for (const field of FIELD_NAMES) {
    const raw = flags[field];
    if (raw === undefined) continue;
    set(field, raw, { kind: 'flag', name: FLAG_NAMES[field] }, cwd);
  }

  return {
    values,
    sources,
    pluginOptions,
    file: file?.path,
    fileSource: file?.source,
    cwd,
  };
}

async function readConfigFile(
  opts: LoadConfigOptions,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<FileConfig | undefined> {
  let named: string | undefined;
  let source: ConfigSource | undefined;
  if (opts.configFile !== undefined) {
    named = opts.configFile;
    source = { kind: 'flag', name: '--config' };
  } else if (env[CONFIG_ENV]) {
    named = env[CONFIG_ENV];
    source = { kind: 'env', name: CONFIG_ENV };
  }
  if (named !== undefined && source !== undefined) {
    const file = path.resolve(cwd, named);
    checkReadable(file, source, named);
    const ext = path.extname(file);
    if (!EXTENSIONS.includes(ext)) {
      throw new ConfigError(
        `config file ${file} (from ${describeSource(source)}): unsupported extension "${ext}"; use .json, .yaml, .yml, .js, .cjs, or no extension (YAML or JSON)`,
      );
    }
    const result = await explore('load', file, source);
    return { path: file, source, data: asObject(result?.config, file) };
  }
  if (opts.search === false) return undefined;
  const result = await explore('search', cwd, undefined);
  if (!result) return undefined;
  const found = path.resolve(result.filepath);
  return { path: found, source: { kind: 'file', path: found }, data: asObject(result.config, found) };
}

function checkReadable(file: string, source: ConfigSource, given: string): void {
  const from = `from ${describeSource(source)}${given !== file ? `, given as ${JSON.stringify(given)}` : ''}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file} (${from}): ${errnoText(e)}`, { cause: e });
  }
  if (st.isDirectory()) {
    throw new ConfigError(`cannot read config file ${file} (${from}): it is a directory; name a file`);
  }
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file} (${from}): ${errnoText(e)}`, { cause: e });
  }
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory; name a file';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    default:
      return (e as Error).message;
  }
}

type Result = { config: unknown; filepath: string; isEmpty?: boolean } | null;

async function explore(
  how: 'load' | 'search',
  target: string,
  source: ConfigSource | undefined,
): Promise<Result> {
  // cosmiconfig (and js-yaml, parse-json) load only when a command needs config.
  const { cosmiconfig } = await import('cosmiconfig');
  const explorer = cosmiconfig(MODULE_NAME, {
    searchPlaces: SEARCH_PLACES,
    searchStrategy: 'project',
    cache: false,
  });
  try {
    return how === 'load' ? await explorer.load(target) : await explorer.search(target);
  } catch (e) {
    throw fileError(e, target, source);
  }
}

function fileError(e: unknown, target: string, source: ConfigSource | undefined): ConfigError {
  const err = e as NodeJS.ErrnoException & { filepath?: string; name?: string };
  const file = err.filepath ?? target;
  const from = source ? ` (from ${describeSource(source)})` : '';
  const message = String(err.message ?? e);
  // cosmiconfig prefixes parse errors with "JSON Error in FILE:\n" / "YAML Error in FILE:\n".
  const detail = message.replace(/^(JSON|YAML|TypeScript) Error in [^\n]*:\n/, '').trim();
  const indented = detail
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  if (/^JSON Error in /.test(message) || err.name === 'JSONError') {
    return new ConfigError(`config file ${file}${from}: invalid JSON:\n${indented}`, { cause: e });
  }
  if (/^YAML Error in /.test(message) || err.name === 'YAMLException') {
    return new ConfigError(`config file ${file}${from}: invalid YAML:\n${indented}`, { cause: e });
  }
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR' || err.code === 'EPERM') {
    return new ConfigError(`cannot read config file ${file}${from}: ${errnoText(e)}`, { cause: e });
  }
  return new ConfigError(`config file ${file}${from}: could not be loaded:\n${indented}`, { cause: e });
}

function asObject(data: unknown, file: string): Record<string, unknown> {
  if (data === undefined || data === null) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(
      `config file ${file}: expected a mapping of fields (an object such as {platform: ptrace}), got ${typeName(data)} ${showValue(data)}`,
    );
  }
  return data as Record<string, unknown>;
}
