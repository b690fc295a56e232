/**
 * runsc configuration: the file format (cosmiconfig: runsc.config.{json,yaml,yml,js,cjs},
 * .runscrc, package.json#runsc, --config FILE), validation, defaults and the precedence
 * flags > env > file > defaults. See docs/config.md.
 */
export * from './types';
export { ConfigError, CONFIG_ERROR_EXIT } from './errors';
export { loadConfig, SEARCH_PLACES, type LoadConfigOptions } from './load';
export { DEFAULTS, DEFAULT_ROOT, FIELDS, FIELD_NAMES, validatePluginOptions } from './schema';
export {
  SLOTS,
  PLUGIN_SLOTS,
  allBuiltinNames,
  builtinSlot,
  type PluginSlot,
  type SlotInfo,
} from './builtins';
export { closest, didYouMean } from './suggest';
