/**
 * The gofer filesystem plugin. Today it provides the "directfs" mode: the sentry serves a
 * host directory read-only by itself, walking beneath the root one component at a time
 * with openat(O_NOFOLLOW) (see src/directfs.ts). The separate gofer process speaking
 * 9P2000.L comes in its own issue; until then the config accepts only `mode: directfs`.
 *
 * Config block:
 *   gofer:
 *     mode: directfs
 *
 * Registers a FilesystemType named `directfs` under the `FilesystemType` token. The rootfs
 * is built by core/fs/rootfs.ts: overlay(tmpfs upper, directfs lower).
 */
import { FilesystemType, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { Directfs, type DirectfsOptions } from './src/directfs';
import type { MemoryFile } from '../../core/mm/memfile';

export { Directfs, DirectInode, DirectFile, MAX_DIR_FDS, type DirectfsOptions } from './src/directfs';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    mode: {
      type: 'string',
      enum: ['directfs'],
      default: 'directfs',
      description:
        'How host files are reached. directfs: the sentry opens them itself, beneath the root, never following host symlinks (read-only). The 9P gofer process is not available yet.',
    },
  },
  additionalProperties: false,
};

/** The `directfs` filesystem type: mount(source = host directory, {mf?: MemoryFile}). */
export const directfsType: FilesystemType = {
  name: 'directfs',
  userMountable: false,
  mount(source: string, options: Record<string, unknown>): Directfs {
    const opts: DirectfsOptions = {};
    if (options.mf) opts.mf = options.mf as MemoryFile;
    return new Directfs(source, opts);
  },
};

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'filesystem',
  name: 'gofer',
  version: '0.1.0',
  description:
    'Host directories as the sandbox root: directfs mode (the sentry opens host files itself, read-only, beneath the root).',
  configSchema,
  register(container) {
    container.register(FilesystemType, { useValue: directfsType });
  },
};

export default manifest;
