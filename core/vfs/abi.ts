/** Linux x86-64 ABI constants used by the VFS and the file syscalls. */

// open(2) flags.
export const O_RDONLY = 0,
  O_WRONLY = 1,
  O_RDWR = 2,
  O_ACCMODE = 3,
  O_CREAT = 0o100,
  O_EXCL = 0o200,
  O_NOCTTY = 0o400,
  O_TRUNC = 0o1000,
  O_APPEND = 0o2000,
  O_NONBLOCK = 0o4000,
  O_DSYNC = 0o10000,
  O_ASYNC = 0o20000,
  O_DIRECT = 0o40000,
  O_LARGEFILE = 0o100000,
  O_DIRECTORY = 0o200000,
  O_NOFOLLOW = 0o400000,
  O_NOATIME = 0o1000000,
  O_CLOEXEC = 0o2000000,
  O_SYNC = 0o4010000,
  O_PATH = 0o10000000,
  O_TMPFILE = 0o20200000;

/** Every flag open(2) accepts (others are ignored by open, rejected by openat2). */
export const O_VALID =
  O_ACCMODE |
  O_CREAT |
  O_EXCL |
  O_NOCTTY |
  O_TRUNC |
  O_APPEND |
  O_NONBLOCK |
  O_SYNC |
  O_ASYNC |
  O_DIRECT |
  O_LARGEFILE |
  O_DIRECTORY |
  O_NOFOLLOW |
  O_NOATIME |
  O_CLOEXEC |
  O_PATH |
  O_TMPFILE;

/** Status flags F_SETFL may change. */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

// File types and mode bits.
export const S_IFMT = 0o170000,
  S_IFSOCK = 0o140000,
  S_IFLNK = 0o120000,
  S_IFREG = 0o100000,
  S_IFBLK = 0o060000,
  S_IFDIR = 0o040000,
  S_IFCHR = 0o020000,
  S_IFIFO = 0o010000,
  S_ISUID = 0o4000,
  S_ISGID = 0o2000,
  S_ISVTX = 0o1000;

export const isDir = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isReg = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLnk = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;

// *at() flags.
export const AT_FDCWD = -100,
  AT_SYMLINK_NOFOLLOW = 0x100,
  AT_REMOVEDIR = 0x200,
  AT_EACCESS = 0x200,
  AT_SYMLINK_FOLLOW = 0x400,
  AT_NO_AUTOMOUNT = 0x800,
  AT_EMPTY_PATH = 0x1000,
  AT_STATX_SYNC_TYPE = 0x6000;

// getdents d_type values.
export const DT_UNKNOWN = 0,
  DT_FIFO = 1,
  DT_CHR = 2,
  DT_DIR = 4,
  DT_BLK = 6,
  DT_REG = 8,
  DT_LNK = 10,
  DT_SOCK = 12;

/** d_type for a mode. */
export function dtype(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

// lseek whence.
export const SEEK_SET = 0,
  SEEK_CUR = 1,
  SEEK_END = 2,
  SEEK_DATA = 3,
  SEEK_HOLE = 4;

// renameat2 flags.
export const RENAME_NOREPLACE = 1,
  RENAME_EXCHANGE = 2,
  RENAME_WHITEOUT = 4;

// access(2) mode bits / permission masks.
export const F_OK = 0,
  X_OK = 1,
  W_OK = 2,
  R_OK = 4;
export const MAY_EXEC = 1,
  MAY_WRITE = 2,
  MAY_READ = 4;

export const PATH_MAX = 4096;
export const NAME_MAX = 255;
export const MAXSYMLINKS = 40;

// mount(2) flags.
export const MS_RDONLY = 1,
  MS_NOSUID = 2,
  MS_NODEV = 4,
  MS_NOEXEC = 8,
  MS_SYNCHRONOUS = 16,
  MS_REMOUNT = 32,
  MS_MANDLOCK = 64,
  MS_DIRSYNC = 128,
  MS_NOSYMFOLLOW = 256,
  MS_NOATIME = 1024,
  MS_NODIRATIME = 2048,
  MS_BIND = 4096,
  MS_MOVE = 8192,
  MS_REC = 16384,
  MS_SILENT = 32768,
  MS_PRIVATE = 1 << 18,
  MS_SLAVE = 1 << 19,
  MS_SHARED = 1 << 20,
  MS_RELATIME = 1 << 21,
  MS_UNBINDABLE = 1 << 17,
  MS_STRICTATIME = 1 << 24,
  MS_LAZYTIME = 1 << 25;

// umount2 flags.
export const MNT_FORCE = 1,
  MNT_DETACH = 2,
  MNT_EXPIRE = 4,
  UMOUNT_NOFOLLOW = 8;

/** Linux's new_encode_dev. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}
export function major(dev: number): number {
  return (dev >>> 8) & 0xfff;
}
export function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

// Signals the VFS raises.
export const SIGPIPE = 13,
  SIGXFSZ = 25;
