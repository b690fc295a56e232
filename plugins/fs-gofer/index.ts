/**
 * The gofer filesystem plugin, two modes (docs/gofer.md):
 *   directfs  the sentry opens host files itself, read-only, beneath the root, walking one
 *             component at a time with openat(O_NOFOLLOW) (src/directfs.ts). The default.
 *   9p        a separate, confined `runsc gofer` process serves the root over 9P2000.L on a
 *             socketpair (src/p9/server.ts); the sentry reads it with a 9P client (src/p9fs.ts).
 *
 * Config block:
 *   gofer:
 *     mode: directfs | 9p
 *     server: HOST:PORT   # 9p only, tests/debugging: use this 9P2000.L server (e.g. diod)
 *     aname: PATH         #   and attach to this name, instead of starting runsc gofer
 *     overlay: memory | none         # none (9p): writes reach the host through the gofer
 *     fileAccess: exclusive | shared # 9p: trust the client's caches, or revalidate
 *
 * Registers FilesystemTypes `directfs` and `9p` under the `FilesystemType` token; runsc do
 * mounts the one `mode` names as the lower layer of overlay(tmpfs upper, lower)
 * (core/fs/rootfs.ts).
 */
import { FilesystemType, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { Directfs, type DirectfsOptions } from './src/directfs';
import type { MemoryFile } from '../../core/mm/memfile';
import type { Logger } from '../../core/log';
import { mountP9, type GoferGroup } from './src/p9mount';

export { Directfs, DirectInode, DirectFile, MAX_DIR_FDS, type DirectfsOptions } from './src/directfs';
export { P9fs, P9Inode, P9File, P9PageCache, SyncP9Conn } from './src/p9fs';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    mode: {
      type: 'string',
      enum: ['directfs', '9p'],
      default: 'directfs',
      description:
        'How host files are reached. directfs: the sentry opens them itself, beneath the root, never following host symlinks (read-only). 9p: a confined `runsc gofer` process serves them over 9P2000.L.',
    },
    server: {
      type: 'string',
      description:
        'mode 9p, tests and debugging: read the root from this 9P2000.L server (IPv4 HOST:PORT, e.g. diod) instead of starting runsc gofer.',
    },
    aname: {
      type: 'string',
      description: 'mode 9p with server: the attach name (the exported path for diod).',
    },
    overlay: {
      type: 'string',
      enum: ['memory', 'none'],
      default: 'memory',
      description:
        "The root's writable layer (gVisor's --overlay2). memory: a tmpfs upper over the host files; writes stay in the sandbox. none (mode 9p only): the sandbox writes the host files through the gofer.",
    },
    fileAccess: {
      type: 'string',
      enum: ['exclusive', 'shared'],
      default: 'exclusive',
      description:
        "mode 9p (gVisor's --file-access): exclusive trusts the client's caches (attributes, listings); shared re-reads attributes on stat and lookup, for trees changed from outside.",
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

/**
 * The `9p` filesystem type: mount(source = host directory, {mf?, log?, server?, aname?,
 * overlay?, fileAccess?, group?}). Without `server` the mount is served by `runsc gofer` on
 * a socketpair; `group: {sources: [...]}` (the same object for every mount of a sandbox)
 * makes one gofer process serve all of those directories, one connection per mount.
 */
export const p9Type: FilesystemType = {
  name: '9p',
  userMountable: false,
  mount(source: string, options: Record<string, unknown>) {
    return mountP9(source, {
      mf: options.mf as MemoryFile | undefined,
      log: options.log as Logger | undefined,
      server: options.server as string | undefined,
      aname: options.aname as string | undefined,
      writable: options.overlay === 'none',
      fileAccess: options.fileAccess === 'shared' ? 'shared' : 'exclusive',
      group: options.group as GoferGroup | undefined,
    });
  },
};

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'filesystem',
  name: 'gofer',
  version: '0.1.0',
  description:
    'Host directories as the sandbox root: directfs (the sentry opens host files itself, read-only, beneath the root) or 9p (a confined gofer process serves them over 9P2000.L).',
  configSchema,
  register(container) {
    container.register(FilesystemType, { useValue: directfsType });
    container.register(FilesystemType, { useValue: p9Type });
  },
};

export default manifest;
