/**
 * Inodes and filesystems: what a filesystem implementation provides to the VFS.
 *
 * Model (Linux's): an Inode is a file object (regular file, directory, symlink, device
 * node, fifo, socket) with attributes; a directory inode maps names to child inodes. The
 * VFS owns names, paths, mounts and permission checks (core/vfs/walk.ts, ops.ts); an
 * inode only performs the operation it is asked for, after the VFS has checked that the
 * caller may. Directory operations are optional methods: a non-directory simply lacks
 * them. Errors are thrown as SysError(errno).
 *
 * Strings are "byte strings": every path and name is a latin1 string whose char codes
 * are the bytes of the Linux name (lossless for any byte sequence, including non-UTF-8).
 */
import type { Credentials, TaskApi } from '../kernel/api';
import type { FileDescription } from './file';
import type { VirtualDentry } from './mount';

/** Attributes of an inode: struct stat / struct statx, in numbers. Times are (sec, nsec). */
export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** Birth time when known. */
  btimeSec?: number;
  btimeNsec?: number;
}

/** A time for setattr: [sec, nsec], or 'now'. */
export type TimeSpec = readonly [number, number] | 'now';

/** What setattr may change (chmod, chown, truncate, utimes). Absent = unchanged. */
export interface SetAttr {
  mode?: number; // permission bits only (07777)
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSpec;
  mtime?: TimeSpec;
}

/** One directory entry as a filesystem lists it ('.' and '..' are added by the VFS). */
export interface DirEntry {
  name: string;
  ino: number;
  /** d_type (DT_*) */
  type: number;
}

/** struct statfs, in numbers. */
export interface Statfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: [number, number];
  namelen: number;
  frsize: number;
  flags: number;
}

/** Filesystem magic numbers (statfs f_type). */
export const TMPFS_MAGIC = 0x01021994,
  OVERLAYFS_MAGIC = 0x794c7630,
  PROC_SUPER_MAGIC = 0x9fa0,
  SYSFS_MAGIC = 0x62656572,
  DEVPTS_SUPER_MAGIC = 0x1cd1,
  PIPEFS_MAGIC = 0x50495045,
  ANON_INODE_FS_MAGIC = 0x09041934,
  EXT4_SUPER_MAGIC = 0xef53;

/** A mounted filesystem instance (a Linux super_block). */
export interface Filesystem {
  /** Type name as /proc/mounts shows it ("tmpfs", "overlay", ...). */
  readonly typeName: string;
  /** st_dev of its inodes. */
  readonly dev: number;
  /** The root directory inode. */
  root(): Inode;
  statfs(): Statfs;
  /** Mount options as /proc/mounts shows them ("rw,size=..."); optional. */
  options?(): string;
  /** Called when the last mount of this filesystem goes away. */
  release?(): void;
  /** sync(2)/syncfs(2): write back what a cache holds; 0 or a negative errno (optional). */
  sync?(): number;
}

/**
 * An inode. Attribute fields are read often (permission checks on every walk step), so
 * they are plain properties; stat() returns the full set.
 */
export interface Inode {
  readonly fs: Filesystem;
  readonly ino: number;
  /** File type and permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;

  stat(): Stat;
  /** Change attributes (the VFS checked ownership/permission). EPERM/EROFS when unsupported. */
  setattr(attr: SetAttr, creds: Credentials): void;

  /**
   * Open this inode (regular file, directory, or a special file the fs serves itself).
   * `flags` are the open flags; the VFS already checked access and type rules. The VFS
   * sets `file.vd` and `file.inode` afterwards. Device nodes and fifos are opened by the
   * VFS (devices.ts, pipe) unless the inode defines openSpecial.
   */
  open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription | Promise<FileDescription>;

  // --- directories (absent on non-directories) ---
  /** Child named `name` or null. `name` is never '', '.', '..', and has no '/'. */
  lookup?(name: string): Inode | null;
  /**
   * A filesystem whose files may change behind the sandbox (a shared 9p mount) checks a
   * cached child on every walk through it (Linux's d_revalidate): the same inode, a new one
   * (replaced), or null (gone). Absent: cached children are trusted.
   */
  revalidateChild?(name: string, child: Inode): Inode | null;
  /** All entries except '.' and '..', in a stable order. */
  readdir?(): DirEntry[];
  /** Create a regular file. EEXIST when present. */
  create?(name: string, mode: number, creds: Credentials): Inode;
  mkdir?(name: string, mode: number, creds: Credentials): Inode;
  /** Device node, fifo or socket; `mode` includes the file type. */
  mknod?(name: string, mode: number, rdev: number, creds: Credentials): Inode;
  symlink?(name: string, target: string, creds: Credentials): Inode;
  /** Hard link `target` (same filesystem, not a directory) as `name`. */
  link?(name: string, target: Inode): void;
  /** Remove a non-directory entry. */
  unlink?(name: string): void;
  /** Remove an empty directory entry (ENOTEMPTY otherwise). */
  rmdir?(name: string): void;
  /**
   * Move entry `oldName` to `newDir`/`newName` (same filesystem). The VFS has checked
   * types and RENAME_NOREPLACE; the fs replaces an existing target (ENOTEMPTY for a
   * non-empty directory) or, with RENAME_EXCHANGE, swaps the two.
   */
  rename?(oldName: string, newDir: Inode, newName: string, flags: number): void;

  // --- symlinks ---
  /** Link text; `t` is the reader (procfs's /proc/self names it). */
  readlink?(t?: TaskApi): string;
  /**
   * A "magic" link (procfs fd/N, cwd, root): the object itself, jumped to without
   * resolving the text; null means follow the text as an ordinary symlink.
   */
  followLink?(t: TaskApi): VirtualDentry | null;

  // --- special files ---
  /** Open a device node / fifo / socket the filesystem serves itself (overrides the VFS default). */
  openSpecial?(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription | Promise<FileDescription>;

  // --- extended attributes (ENOTSUP/EOPNOTSUPP when absent) ---
  getxattr?(name: string): Uint8Array | null;
  setxattr?(name: string, value: Uint8Array, flags: number): void;
  listxattr?(): string[];
  removexattr?(name: string): void;
}

// --- time ---

const origin = BigInt(Math.round(performance.timeOrigin * 1e6));
/** Current wall time as [sec, nsec]. */
export function nowTime(): [number, number] {
  const ns = origin + BigInt(Math.round(performance.now() * 1e6));
  return [Number(ns / 1000000000n), Number(ns % 1000000000n)];
}

// --- anonymous device numbers (major 0), as Linux's get_anon_bdev ---
let nextAnonMinor = 16;
/** A fresh st_dev for a filesystem without a backing device. */
export function allocAnonDev(): number {
  const m = nextAnonMinor++;
  return (m & 0xff) | ((m & ~0xff) << 12);
}

/** A zeroed Stat with the given type/ino/dev, for synthetic files. */
export function blankStat(dev: number, ino: number, mode: number): Stat {
  return {
    dev,
    ino,
    mode,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0,
    blksize: 4096,
    blocks: 0,
    atimeSec: 0,
    atimeNsec: 0,
    mtimeSec: 0,
    mtimeNsec: 0,
    ctimeSec: 0,
    ctimeNsec: 0,
  };
}

/**
 * A Stat from the 16 numbers the native fstatat helpers fill (dev, ino, mode, nlink, uid,
 * gid, rdev, size, blksize, blocks, then atime, mtime and ctime as sec/nsec pairs).
 */
export function statFromHostAttrs(a: ArrayLike<number>): Stat {
  return {
    dev: a[0],
    ino: a[1],
    mode: a[2],
    nlink: a[3],
    uid: a[4],
    gid: a[5],
    rdev: a[6],
    size: a[7],
    blksize: a[8],
    blocks: a[9],
    atimeSec: a[10],
    atimeNsec: a[11],
    mtimeSec: a[12],
    mtimeNsec: a[13],
    ctimeSec: a[14],
    ctimeNsec: a[15],
  };
}
