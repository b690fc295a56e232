/**
 * The plugin loader: turns the config's `platform`, `network` and `rootfs` values into
 * plugin manifests. A value is a built-in name (mapped to `dist/plugins/<folder>/index.js`,
 * a path computed at run time, so the core never imports a plugin), an npm package name
 * (resolved from the config file's folder, or cwd for flag/env values), or a path
 * (absolute, or relative to the config file / cwd). The manifest is checked (apiVersion 1,
 * kind matching the slot, name, version, register function, optional configSchema), and the
 * plugin's option block is validated against its schema.
 *
 * Every failure is a ConfigError naming the config field, where its value came from, the
 * spec and what is wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allBuiltinNames, builtinSlot, PLUGIN_SLOTS, SLOTS, type PluginSlot } from '../config/builtins';
import { ConfigError, showValue, typeName } from '../config/errors';
import { validatePluginOptions } from '../config/schema';
import { closest, didYouMean } from '../config/suggest';
import { describeSource, type ConfigSource, type EffectiveConfig } from '../config/types';
import type { ConfigSchema, PluginKind, PluginManifest } from './manifest';

/** Manifest format version this core reads. */
export const PLUGIN_API_VERSION = 1;

export type PluginOrigin = 'builtin' | 'package' | 'path';

/** A plugin whose module loaded and whose manifest and options are valid. */
export interface LoadedPlugin {
  slot: PluginSlot;
  /** The config value that selected it (`ptrace`, `my-plugin`, `./plugins/x`). */
  spec: string;
  /** Where that value came from. */
  source: ConfigSource;
  origin: PluginOrigin;
  /** The resolved module file. */
  modulePath: string;
  manifest: PluginManifest;
  /** Validated option block (defaults filled in); {} when the config has none. */
  options: Record<string, unknown>;
}

/** A built-in named by the config whose folder this build lacks (e.g. kvm before it lands). */
export interface UnavailablePlugin {
  slot: PluginSlot;
  spec: string;
  source: ConfigSource;
  reason: string;
}

export interface LoadedPlugins {
  /** In slot order (platform, network, rootfs); `network: none` loads only SlotInfo.noneLoads (loopback). */
  plugins: LoadedPlugin[];
  /** Only filled when `allowUnavailable` was set; otherwise these are errors. */
  unavailable: UnavailablePlugin[];
}

export interface LoadPluginsOptions {
  /**
   * Report built-ins missing from this build in `unavailable` instead of throwing
   * (`runsc config show` does: the config is right even if the build lacks the plugin).
   */
  allowUnavailable?: boolean;
  /** Root of the tsvisor build (the folder holding dist/); default: computed from this file. */
  buildRoot?: string;
}

// dist/core/plugins/loader.js -> <repo>
const DEFAULT_BUILD_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The folder a relative spec or a package name is resolved from. */
function baseDirOf(source: ConfigSource, config: EffectiveConfig): string {
  return source.kind === 'file' ? path.dirname(source.path) : config.cwd;
}

/** `field "platform" (from file X)` — the prefix of every loader message. */
function fieldRef(slot: PluginSlot, source: ConfigSource): string {
  return source.kind === 'file'
    ? `config file ${source.path}: field "${slot}"`
    : `${describeSource(source)} (field "${slot}")`;
}

function isPathSpec(spec: string): boolean {
  return path.isAbsolute(spec) || /^\.\.?([/\\]|$)/.test(spec);
}

const KIND_ARTICLE: Record<PluginKind, string> = {
  platform: 'a platform',
  filesystem: 'a filesystem',
  network: 'a network',
};

/** Loads every plugin the config selects, validates manifests and option blocks. */
export async function loadPlugins(
  config: EffectiveConfig,
  opts: LoadPluginsOptions = {},
): Promise<LoadedPlugins> {
  const plugins: LoadedPlugin[] = [];
  const unavailable: UnavailablePlugin[] = [];
  for (const slot of PLUGIN_SLOTS) {
    const spec = config.values[slot];
    const source = config.sources[slot];
    if (SLOTS[slot].none !== undefined && spec === SLOTS[slot].none) {
      const fixed = SLOTS[slot].noneLoads;
      if (!fixed) continue;
      const found = resolvePluginModule(
        slot,
        fixed.builtin,
        source,
        config,
        opts.buildRoot ?? DEFAULT_BUILD_ROOT,
      );
      if ('unavailable' in found) continue;
      const manifest = await loadManifest(slot, fixed.builtin, source, found.modulePath);
      const options = validatePluginOptions(manifest.configSchema, { ...fixed.options }, manifest.name, {
        kind: 'default',
      });
      plugins.push({
        slot,
        spec,
        source,
        origin: found.origin,
        modulePath: found.modulePath,
        manifest,
        options,
      });
      continue;
    }
    const found = resolvePluginModule(slot, spec, source, config, opts.buildRoot ?? DEFAULT_BUILD_ROOT);
    if ('unavailable' in found) {
      if (!opts.allowUnavailable) throw new ConfigError(`${fieldRef(slot, source)}: ${found.unavailable}`);
      unavailable.push({ slot, spec, source, reason: found.unavailable });
      continue;
    }
    const manifest = await loadManifest(slot, spec, source, found.modulePath);
    const blockSource: ConfigSource = config.file ? { kind: 'file', path: config.file } : { kind: 'default' };
    const options = validatePluginOptions(
      manifest.configSchema,
      config.pluginOptions[manifest.name],
      manifest.name,
      blockSource,
    );
    plugins.push({
      slot,
      spec,
      source,
      origin: found.origin,
      modulePath: found.modulePath,
      manifest,
      options,
    });
  }
  checkOptionBlocks(config, plugins, unavailable);
  return { plugins, unavailable };
}

/** Every option block in the file must belong to a selected plugin or name a built-in. */
function checkOptionBlocks(
  config: EffectiveConfig,
  plugins: LoadedPlugin[],
  unavailable: UnavailablePlugin[],
): void {
  const names = new Set([...plugins.map((p) => p.manifest.name), ...allBuiltinNames()]);
  for (const u of unavailable) names.add(u.spec);
  for (const key of Object.keys(config.pluginOptions)) {
    if (names.has(key)) continue;
    throw new ConfigError(
      `config file ${config.file}: unknown field "${key}"${didYouMean(key, [...names])}; an object-valued field must be the option block of a plugin: a built-in (${allBuiltinNames().join(', ')}) or a configured plugin${
        plugins.length ? ` (${plugins.map((p) => p.manifest.name).join(', ')})` : ''
      }`,
    );
  }
}

type Resolved = { origin: PluginOrigin; modulePath: string } | { unavailable: string };

/** Finds the module file for `spec` in `slot`; throws ConfigError naming every place looked. */
export function resolvePluginModule(
  slot: PluginSlot,
  spec: string,
  source: ConfigSource,
  config: EffectiveConfig,
  buildRoot: string = DEFAULT_BUILD_ROOT,
): Resolved {
  const where = fieldRef(slot, source);
  const slotInfo = SLOTS[slot];
  if (Object.hasOwn(slotInfo.builtins, spec)) {
    const folder = slotInfo.builtins[spec];
    const file = path.join(buildRoot, 'dist', 'plugins', folder, 'index.js');
    if (fs.existsSync(file)) return { origin: 'builtin', modulePath: file };
    const src = path.join(buildRoot, 'plugins', folder);
    if (fs.existsSync(src)) {
      return {
        unavailable: `built-in plugin "${spec}" is not compiled: ${file} is missing (its source ${src} exists); run \`npm run build\``,
      };
    }
    return {
      unavailable: `built-in ${slotInfo.kind} plugin "${spec}" is not available in this build (${src} does not exist)`,
    };
  }
  const otherSlot = builtinSlot(spec);
  if (otherSlot !== undefined) {
    throw new ConfigError(
      `${where}: "${spec}" is the built-in ${SLOTS[otherSlot].kind} plugin (a value for "${otherSlot}"), not ${KIND_ARTICLE[slotInfo.kind]} plugin; allowed: ${allowedList(slot)}`,
    );
  }
  const baseDir = baseDirOf(source, config);
  if (isPathSpec(spec)) {
    const target = path.resolve(baseDir, spec);
    try {
      return { origin: 'path', modulePath: require.resolve(target) };
    } catch {
      const tried = [
        target,
        `${target}.js`,
        path.join(target, 'package.json (main)'),
        path.join(target, 'index.js'),
      ];
      throw new ConfigError(
        `${where}: plugin module ${showValue(spec)} not found (resolved from ${baseDir}); looked for: ${tried.join(', ')}`,
      );
    }
  }
  try {
    return { origin: 'package', modulePath: require.resolve(spec, { paths: [baseDir] }) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new ConfigError(
        `${where}: cannot resolve plugin package ${showValue(spec)}: ${(e as Error).message}`,
      );
    }
    const near = closest(spec, Object.keys(slotInfo.builtins));
    const asPath = path.resolve(baseDir, spec);
    const pathHint = fs.existsSync(asPath)
      ? `; a file ${asPath} exists: write "./${spec}" to load it by path`
      : '';
    throw new ConfigError(
      `${where}: unknown plugin ${showValue(spec)}${near ? ` (did you mean "${near}"?)` : ''}: not a built-in ${slotInfo.kind} plugin (${allowedList(slot)}), and no npm package "${spec}" found from ${baseDir}; looked in: ${nodeModulesChain(baseDir).join(', ')}${pathHint}`,
    );
  }
}

function allowedList(slot: PluginSlot): string {
  const names = [...Object.keys(SLOTS[slot].builtins), ...(SLOTS[slot].none ? [SLOTS[slot].none] : [])];
  return `${names.join(', ')}, an npm package name, or a path starting with ./, ../ or /`;
}

/** The node_modules folders Node searches from `dir` upward. */
function nodeModulesChain(dir: string): string[] {
  const out: string[] = [];
  let d = path.resolve(dir);
  for (;;) {
    if (path.basename(d) !== 'node_modules') out.push(path.join(d, 'node_modules'));
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return out;
}

// A real dynamic import (TypeScript would turn `import()` into require() in CommonJS output),
// for plugins published as ES modules.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

async function requireOrImport(file: string): Promise<unknown> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw e;
    const { pathToFileURL } = await import('node:url');
    return importModule(pathToFileURL(file).href);
  }
}

/** Loads the module and returns its checked manifest. */
async function loadManifest(
  slot: PluginSlot,
  spec: string,
  source: ConfigSource,
  modulePath: string,
): Promise<PluginManifest> {
  const where = `${fieldRef(slot, source)}: plugin ${showValue(spec)} (${modulePath})`;
  let mod: unknown;
  try {
    mod = await requireOrImport(modulePath);
  } catch (e) {
    throw new ConfigError(`${where}: the module failed to load: ${(e as Error).message ?? String(e)}`, {
      cause: e,
    });
  }
  const manifest = findManifest(mod);
  if (manifest === undefined) {
    throw new ConfigError(
      `${where}: not a tsvisor plugin: the module exports no manifest (expected \`exports.manifest = { apiVersion: 1, kind, name, version, register(container, options) }\`)`,
    );
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new ConfigError(`${where}: malformed plugin manifest: ${problems.join('; ')}`);
  }
  const m = manifest as unknown as PluginManifest;
  const want = SLOTS[slot].kind;
  if (m.kind !== want) {
    throw new ConfigError(
      `${where}: wrong plugin kind: "${m.name}" is ${KIND_ARTICLE[m.kind]} plugin, but field "${slot}" needs ${KIND_ARTICLE[want]} plugin`,
    );
  }
  return m;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** `exports.manifest`, `export default { manifest }`, `export default manifest`, or the module itself. */
function findManifest(mod: unknown): Record<string, unknown> | undefined {
  if (!isObject(mod) && typeof mod !== 'function') return undefined;
  const m = mod as Record<string, unknown>;
  const def = m.default as Record<string, unknown> | undefined;
  const candidates = [m.manifest, isObject(def) ? def.manifest : undefined, def, m];
  for (const c of candidates) {
    if (isObject(c) && ('apiVersion' in c || 'kind' in c || 'register' in c)) return c;
  }
  return undefined;
}

const KINDS: readonly PluginKind[] = ['platform', 'filesystem', 'network'];
const PROPERTY_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object'];

/** Every problem with a manifest, as phrases for one message. Empty when valid. */
export function manifestProblems(m: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (m.apiVersion !== PLUGIN_API_VERSION) {
    out.push(`apiVersion is ${showValue(m.apiVersion)}; this runsc reads apiVersion ${PLUGIN_API_VERSION}`);
  }
  if (typeof m.kind !== 'string' || !KINDS.includes(m.kind as PluginKind)) {
    out.push(`kind is ${showValue(m.kind)}; expected one of: ${KINDS.join(', ')}`);
  }
  if (typeof m.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(m.name)) {
    out.push(`name is ${showValue(m.name)}; expected a non-empty string of letters, digits, '.', '_' or '-'`);
  }
  if (typeof m.version !== 'string' || m.version === '') {
    out.push(`version is ${showValue(m.version)}; expected a version string such as "1.0.0"`);
  }
  if (typeof m.register !== 'function') {
    out.push(`register is ${typeName(m.register)}; expected a function register(container, options)`);
  }
  if (m.configSchema !== undefined) out.push(...schemaProblems(m.configSchema));
  return out;
}

function schemaProblems(s: unknown): string[] {
  if (!isObject(s) || s.type !== 'object' || !isObject(s.properties)) {
    return [`configSchema must be { type: 'object', properties: { ... } }, got ${showValue(s)}`];
  }
  const out: string[] = [];
  for (const [k, p] of Object.entries((s as unknown as ConfigSchema).properties)) {
    if (!isObject(p) || !PROPERTY_TYPES.includes(String((p as { type?: unknown }).type))) {
      out.push(`configSchema.properties.${k}.type must be one of: ${PROPERTY_TYPES.join(', ')}`);
    }
  }
  return out;
}
