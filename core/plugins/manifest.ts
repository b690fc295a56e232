/**
 * The plugin manifest: what every plugin module (built in, npm package or path) exports,
 * as `module.exports.manifest` / `export const manifest` or the module's default export.
 */
import type { DependencyContainer } from 'tsyringe';

export type PluginKind = 'platform' | 'filesystem' | 'network';

/** A JSON-Schema-like description of a plugin's own config block, used to validate it. */
export interface ConfigSchema {
  type: 'object';
  properties: Record<string, ConfigProperty>;
  additionalProperties?: false;
}
export interface ConfigProperty {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';
  enum?: readonly (string | number | boolean)[];
  description?: string;
  default?: unknown;
  items?: ConfigProperty;
  minimum?: number;
  maximum?: number;
}

export interface PluginManifest {
  /** Manifest format version; this core reads version 1. */
  apiVersion: 1;
  kind: PluginKind;
  /** Name used in config (`platform: ptrace`). */
  name: string;
  version: string;
  description?: string;
  /** Schema of the plugin's option block in the config (key = plugin name). */
  configSchema?: ConfigSchema;
  /**
   * Bind the plugin's providers into the sandbox's child container. A platform binds the
   * `Platform` token, a filesystem binds `FilesystemType` (multi), a network stack `NetworkStack`.
   * `options` is the validated option block for this plugin (or {}).
   */
  register(container: DependencyContainer, options: Record<string, unknown>): void;
}
