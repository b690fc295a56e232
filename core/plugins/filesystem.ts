/**
 * The Filesystem plugin API (fs-gofer, fs-containerfs, or a third-party module).
 *
 * A plugin registers one or more FilesystemType objects under the `FilesystemType` token
 * (multi-binding: `container.register(FilesystemType, { useValue: myType })`). The core
 * resolves them all, and mounts one by name — the rootfs (`rootfs: gofer` in the config),
 * or mount(2) from the app when the type allows it.
 *
 * `mount(source, options)` returns a Filesystem: a root Inode and statfs. Inodes carry
 * the dentry operations (lookup, create, mkdir, mknod, unlink, rmdir, rename, link,
 * symlink, readlink, stat, setattr, xattrs, readdir); `Inode.open` returns a
 * FileDescription with the file operations (read/write at offsets, seek, mmap through
 * `mappable()`, fsync, ioctl, readiness for poll/epoll). The VFS owns paths, mounts,
 * permission checks and fd tables; a filesystem only performs the operation asked.
 * Errors are thrown as SysError(errno). See core/vfs/README.md for the contracts.
 *
 * Helpers a plugin may reuse: `Overlay` (a writable tmpfs upper over a plugin's read-only
 * tree, exactly what the sandbox root uses), `Tmpfs`, the `FileDescription` base class
 * (Linux's defaults for missing operations), `DirectoryFile` (getdents over readdir()) and
 * `ReadOnlyInode` (EROFS for every change, for a read-only tree under the overlay).
 */
import type { Filesystem } from '../vfs/inode';

export const FilesystemType = Symbol('FilesystemType');

export interface FilesystemType {
  /** Name used by mount(2) and the config ("tmpfs", "directfs", ...). */
  readonly name: string;
  /** Whether an app may mount this type with mount(2) (default false). */
  readonly userMountable?: boolean;
  /**
   * Create a filesystem instance. `source` is the mount source (a host path for directfs);
   * `options` the parsed option string / config block. Throws SysError or Error.
   */
  mount(source: string, options: Record<string, unknown>): Filesystem | Promise<Filesystem>;
}

export type { Filesystem, Inode, Stat, SetAttr, Statfs, DirEntry, TimeSpec } from '../vfs/inode';
export { allocAnonDev, nowTime, blankStat, statFromHostAttrs } from '../vfs/inode';
export { FileDescription, DirectoryFile, PathFile, ioLength, copyToSegs, gatherSegs } from '../vfs/file';
export { ReadOnlyInode } from '../vfs/readonly-inode';
export type { IoDst, IoSrc, DirentSink } from '../vfs/file';
export type { VirtualDentry } from '../vfs/mount';
