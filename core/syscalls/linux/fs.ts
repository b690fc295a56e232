/**
 * Attribute and filesystem syscalls: chmod/chown/utimes families, access, umask,
 * extended attributes, mount/umount2.
 */
import { E2BIG, EBUSY, EINVAL, ENODEV, ENOTDIR, EOPNOTSUPP, EPERM, ERANGE, SysError } from '../../abi/errno';
import { CAP_SYS_ADMIN, capable } from '../../kernel/caps';
import type { SyscallArgs } from '../../kernel/api';
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  MNT_DETACH,
  MNT_EXPIRE,
  MNT_FORCE,
  MS_BIND,
  MS_MOVE,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_SHARED,
  MS_SLAVE,
  MS_UNBINDABLE,
  S_IFDIR,
  S_IFMT,
  UMOUNT_NOFOLLOW,
} from '../../vfs/abi';
import type { Filesystem, Inode, TimeSpec } from '../../vfs/inode';
import type { Dentry, Mount, VirtualDentry } from '../../vfs/mount';
import { accessAt, chmodInode, chownInode, emptyPathFile, lookupAt, utimesInode } from '../../vfs/ops';
import { checkPermission, MAY_READ, MAY_WRITE } from '../../vfs/perm';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { fileArg, ioFileArg, pathArg } from './fd';

type T = FileTask;
type A = SyscallArgs;

// ---------------------------------------------------------------- chmod / chown

/** Chmod implements Linux syscall chmod(2). */
export function Chmod(t: T, a: A): number {
  const vd = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true);
  chmodInode(t, vd.inode, vd.mount, a.uint(1), vd.dentry);
  return 0;
}
/** Fchmod implements Linux syscall fchmod(2). */
export function Fchmod(t: T, a: A): number {
  const f = ioFileArg(t, a.int(0));
  if (!f.inode) return -EINVAL;
  chmodInode(t, f.inode, f.vd?.mount ?? null, a.uint(1), f.vd?.dentry);
  return 0;
}
/** Fchmodat implements Linux syscall fchmodat(2) (and fchmodat2 with flags). */
export function Fchmodat(t: T, a: A): number {
  const vd = lookupAt(t, a.int(0), pathArg(t, a.ptr(1)), true);
  chmodInode(t, vd.inode, vd.mount, a.uint(2), vd.dentry);
  return 0;
}
/** Fchmodat2 implements Linux syscall fchmodat2(2). */
export function Fchmodat2(t: T, a: A): number {
  const flags = a.int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const vd = lookupAt(t, a.int(0), pathArg(t, a.ptr(1)), !(flags & AT_SYMLINK_NOFOLLOW), flags);
  if ((vd.inode.mode & S_IFMT) === 0o120000) return -EOPNOTSUPP;
  chmodInode(t, vd.inode, vd.mount, a.uint(2), vd.dentry);
  return 0;
}

/** Chown implements Linux syscall chown(2). */
export function Chown(t: T, a: A): number {
  const vd = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true);
  chownInode(t, vd.inode, vd.mount, a.int(1), a.int(2), vd.dentry);
  return 0;
}
/** Lchown implements Linux syscall lchown(2). */
export function Lchown(t: T, a: A): number {
  const vd = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), false);
  chownInode(t, vd.inode, vd.mount, a.int(1), a.int(2), vd.dentry);
  return 0;
}
/** Fchown implements Linux syscall fchown(2). */
export function Fchown(t: T, a: A): number {
  const f = ioFileArg(t, a.int(0));
  if (!f.inode) return -EINVAL;
  chownInode(t, f.inode, f.vd?.mount ?? null, a.int(1), a.int(2), f.vd?.dentry);
  return 0;
}
/** Fchownat implements Linux syscall fchownat(2). */
export function Fchownat(t: T, a: A): number {
  const flags = a.int(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const path = pathArg(t, a.ptr(1));
  const f = emptyPathFile(t, a.int(0), path, flags);
  if (f) {
    if (!f.inode) return -EINVAL;
    chownInode(t, f.inode, f.vd?.mount ?? null, a.int(2), a.int(3), f.vd?.dentry);
    return 0;
  }
  const vd = lookupAt(t, a.int(0), path, !(flags & AT_SYMLINK_NOFOLLOW), flags);
  chownInode(t, vd.inode, vd.mount, a.int(2), a.int(3), vd.dentry);
  return 0;
}

// ---------------------------------------------------------------- times

const UTIME_NOW = (1 << 30) - 1,
  UTIME_OMIT = (1 << 30) - 2;

function readTimespec(t: T, addr: number): TimeSpec | undefined {
  const sec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr)));
  const nsec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr + 8)));
  if (nsec === UTIME_NOW) return 'now';
  if (nsec === UTIME_OMIT) return undefined;
  if (nsec < 0 || nsec > 999999999) throw new SysError(EINVAL);
  return [sec, nsec];
}

function readTimeval(t: T, addr: number): TimeSpec {
  const sec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr)));
  const usec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr + 8)));
  if (usec < 0 || usec > 999999) throw new SysError(EINVAL);
  return [sec, usec * 1000];
}

function setTimes(
  t: T,
  target: { inode: Inode; mount: Mount | null; dentry?: Dentry },
  at: TimeSpec | undefined,
  mt: TimeSpec | undefined,
): number {
  utimesInode(t, target.inode, target.mount, at, mt, target.dentry);
  return 0;
}

/** Utimensat implements Linux syscall utimensat(2). */
export function Utimensat(t: T, a: A): number {
  const dirfd = a.int(0);
  const pathAddr = a.ptr(1);
  const times = a.ptr(2);
  const flags = a.int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  let at: TimeSpec | undefined = 'now';
  let mt: TimeSpec | undefined = 'now';
  if (times) {
    at = readTimespec(t, times);
    mt = readTimespec(t, times + 16);
  }
  if (!pathAddr) {
    // futimens: utimensat(fd, NULL, times, 0)
    if (dirfd === AT_FDCWD) return -14; // EFAULT, as Linux
    const f = fileArg(t, dirfd);
    if (!f.inode) return -EINVAL;
    return setTimes(t, { inode: f.inode, mount: f.vd?.mount ?? null, dentry: f.vd?.dentry }, at, mt);
  }
  const path = pathArg(t, pathAddr);
  const f = emptyPathFile(t, dirfd, path, flags);
  if (f) {
    if (!f.inode) return -EINVAL;
    return setTimes(t, { inode: f.inode, mount: f.vd?.mount ?? null, dentry: f.vd?.dentry }, at, mt);
  }
  const vd = lookupAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags);
  return setTimes(t, vd, at, mt);
}

function utimesPath(t: T, dirfd: number, pathAddr: number, times: number, usec: boolean): number {
  let at: TimeSpec = 'now';
  let mt: TimeSpec = 'now';
  if (times) {
    if (usec) {
      at = readTimeval(t, times);
      mt = readTimeval(t, times + 16);
    } else {
      at = [Number(BigInt.asIntN(64, t.mem.readBigU64(times))), 0];
      mt = [Number(BigInt.asIntN(64, t.mem.readBigU64(times + 8))), 0];
    }
  }
  const vd = lookupAt(t, dirfd, pathArg(t, pathAddr), true);
  return setTimes(t, vd, at, mt);
}

/** Utime implements Linux syscall utime(2). */
export function Utime(t: T, a: A): number {
  return utimesPath(t, AT_FDCWD, a.ptr(0), a.ptr(1), false);
}
/** Utimes implements Linux syscall utimes(2). */
export function Utimes(t: T, a: A): number {
  return utimesPath(t, AT_FDCWD, a.ptr(0), a.ptr(1), true);
}
/** Futimesat implements Linux syscall futimesat(2). */
export function Futimesat(t: T, a: A): number {
  return utimesPath(t, a.int(0), a.ptr(1), a.ptr(2), true);
}

// ---------------------------------------------------------------- access / umask

/** Access implements Linux syscall access(2). */
export function Access(t: T, a: A): number {
  const mode = a.int(1);
  if (mode & ~7) return -EINVAL;
  accessAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), mode, 0, false);
  return 0;
}
/** Faccessat implements Linux syscall faccessat(2) (no flags argument). */
export function Faccessat(t: T, a: A): number {
  const mode = a.int(2);
  if (mode & ~7) return -EINVAL;
  accessAt(t, a.int(0), pathArg(t, a.ptr(1)), mode, 0, false);
  return 0;
}
/** Faccessat2 implements Linux syscall faccessat2(2). */
export function Faccessat2(t: T, a: A): number {
  const mode = a.int(2);
  const flags = a.int(3);
  if (mode & ~7) return -EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  accessAt(t, a.int(0), pathArg(t, a.ptr(1)), mode, flags, (flags & AT_EACCESS) !== 0);
  return 0;
}

/** Umask implements Linux syscall umask(2). */
export function Umask(t: T, a: A): number {
  const old = t.fs.umask;
  t.fs.umask = a.uint(0) & 0o777;
  return old;
}

// ---------------------------------------------------------------- xattrs

const XATTR_NAME_MAX = 255,
  XATTR_SIZE_MAX = 65536,
  XATTR_LIST_MAX = 65536;

interface XTarget {
  inode: Inode;
  mount: Mount | null;
}

function xattrTarget(t: T, a: A, kind: 'path' | 'lpath' | 'fd'): XTarget {
  if (kind === 'fd') {
    const f = ioFileArg(t, a.int(0));
    if (!f.inode) throw new SysError(EOPNOTSUPP);
    return { inode: f.inode, mount: f.vd?.mount ?? null };
  }
  const vd = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), kind === 'path');
  return { inode: vd.inode, mount: vd.mount };
}

function xattrName(t: T, addr: number): string {
  let name: string;
  try {
    name = t.mem.readCString(addr, XATTR_NAME_MAX);
  } catch (e) {
    if (e instanceof SysError && e.errno === 36) throw new SysError(ERANGE);
    throw e;
  }
  if (name.length === 0) throw new SysError(ERANGE);
  return name;
}

function xattrAccess(t: T, x: XTarget, name: string, write: boolean): void {
  if (name.startsWith('trusted.') || name.startsWith('security.')) {
    if (!capable(t, CAP_SYS_ADMIN) && name.startsWith('trusted.'))
      throw new SysError(write ? EPERM : 61 /* ENODATA */);
  } else if (name.startsWith('user.')) {
    const type = x.inode.mode & S_IFMT;
    if (type !== 0o100000 && type !== S_IFDIR) throw new SysError(write ? EPERM : 61);
    checkPermission(t.creds, x.inode, write ? MAY_WRITE : MAY_READ);
  } else if (!name.startsWith('system.')) {
    throw new SysError(EOPNOTSUPP);
  }
  if (write && x.mount?.readOnly) throw new SysError(30 /* EROFS */);
}

function setxattr(t: T, a: A, kind: 'path' | 'lpath' | 'fd'): number {
  const flags = a.int(4);
  if (flags & ~3) return -EINVAL;
  const x = xattrTarget(t, a, kind);
  const name = xattrName(t, a.ptr(1));
  const size = a.ptr(3);
  if (size > XATTR_SIZE_MAX) return -E2BIG;
  const value = size ? t.mem.copyIn(a.ptr(2), size) : new Uint8Array(0);
  xattrAccess(t, x, name, true);
  if (!x.inode.setxattr) return -EOPNOTSUPP;
  x.inode.setxattr(name, value, flags);
  return 0;
}

function getxattr(t: T, a: A, kind: 'path' | 'lpath' | 'fd'): number {
  const x = xattrTarget(t, a, kind);
  const name = xattrName(t, a.ptr(1));
  xattrAccess(t, x, name, false);
  if (!x.inode.getxattr) return -EOPNOTSUPP;
  const v = x.inode.getxattr(name);
  if (!v) return -61;
  const size = a.ptr(3);
  if (size === 0) return v.length;
  if (size < v.length) return -ERANGE;
  t.mem.copyOut(a.ptr(2), v);
  return v.length;
}

function listxattr(t: T, a: A, kind: 'path' | 'lpath' | 'fd'): number {
  const x = xattrTarget(t, a, kind);
  let names = x.inode.listxattr ? x.inode.listxattr() : [];
  if (!capable(t, CAP_SYS_ADMIN)) names = names.filter((n) => !n.startsWith('trusted.'));
  const buf = Buffer.from(names.map((n) => n + '\0').join(''), 'latin1');
  const size = a.ptr(2);
  if (buf.length > XATTR_LIST_MAX) return -E2BIG;
  if (size === 0) return buf.length;
  if (size < buf.length) return -ERANGE;
  t.mem.copyOut(a.ptr(1), buf);
  return buf.length;
}

function removexattr(t: T, a: A, kind: 'path' | 'lpath' | 'fd'): number {
  const x = xattrTarget(t, a, kind);
  const name = xattrName(t, a.ptr(1));
  xattrAccess(t, x, name, true);
  if (!x.inode.removexattr) return -EOPNOTSUPP;
  x.inode.removexattr(name);
  return 0;
}

/** Setxattr implements Linux syscall setxattr(2). */
export const Setxattr = (t: T, a: A): number => setxattr(t, a, 'path');
/** Lsetxattr implements Linux syscall lsetxattr(2). */
export const Lsetxattr = (t: T, a: A): number => setxattr(t, a, 'lpath');
/** Fsetxattr implements Linux syscall fsetxattr(2). */
export const Fsetxattr = (t: T, a: A): number => setxattr(t, a, 'fd');
/** Getxattr implements Linux syscall getxattr(2). */
export const Getxattr = (t: T, a: A): number => getxattr(t, a, 'path');
/** Lgetxattr implements Linux syscall lgetxattr(2). */
export const Lgetxattr = (t: T, a: A): number => getxattr(t, a, 'lpath');
/** Fgetxattr implements Linux syscall fgetxattr(2). */
export const Fgetxattr = (t: T, a: A): number => getxattr(t, a, 'fd');
/** Listxattr implements Linux syscall listxattr(2). */
export const Listxattr = (t: T, a: A): number => listxattr(t, a, 'path');
/** Llistxattr implements Linux syscall llistxattr(2). */
export const Llistxattr = (t: T, a: A): number => listxattr(t, a, 'lpath');
/** Flistxattr implements Linux syscall flistxattr(2). */
export const Flistxattr = (t: T, a: A): number => listxattr(t, a, 'fd');
/** Removexattr implements Linux syscall removexattr(2). */
export const Removexattr = (t: T, a: A): number => removexattr(t, a, 'path');
/** Lremovexattr implements Linux syscall lremovexattr(2). */
export const Lremovexattr = (t: T, a: A): number => removexattr(t, a, 'lpath');
/** Fremovexattr implements Linux syscall fremovexattr(2). */
export const Fremovexattr = (t: T, a: A): number => removexattr(t, a, 'fd');

// ---------------------------------------------------------------- mount

/**
 * Filesystem types mount(2) can create, by name. Filled by the mount-namespace builder
 * (tmpfs; proc and sysfs when the kernel provides them) and by plugins.
 */
export const mountableTypes = new Map<string, (source: string, data: string) => Filesystem>();

/** Mount implements Linux syscall mount(2) (partial: new tmpfs/proc/sysfs mounts, bind, remount flags). */
export function MountSyscall(t: T, a: A): number {
  if (!capable(t, CAP_SYS_ADMIN)) return -EPERM;
  const flags = a.uint(3);
  const target = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(1)), true);
  const ns = target.mount.ns;
  const keep = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 0x400 | 0x800 | 0x100;
  if (flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)) return 0; // propagation: single namespace, nothing to do
  if (flags & MS_REMOUNT) {
    if (target.dentry !== target.mount.root) return -EINVAL;
    target.mount.flags = (target.mount.flags & ~keep) | (flags & keep);
    return 0;
  }
  if (flags & MS_MOVE) return -EINVAL;
  if (flags & MS_BIND) {
    const src = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true);
    ns.bind(src, target, (flags & keep) | (flags & MS_REC ? 0 : 0));
    return 0;
  }
  const type = t.mem.readCString(a.ptr(2), 255);
  const make = mountableTypes.get(type);
  if (!make) return -ENODEV;
  if ((target.inode.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  const source = a.ptr(0) ? t.mem.readCString(a.ptr(0), 4095) : 'none';
  const data = a.ptr(4) ? t.mem.readCString(a.ptr(4), 4095) : '';
  ns.mount(make(source, data), target, flags & keep, source);
  return 0;
}

/** Umount2 implements Linux syscall umount2(2). */
export function Umount2(t: T, a: A): number {
  const flags = a.int(1);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return -EINVAL;
  if (flags & MNT_EXPIRE && flags & (MNT_FORCE | MNT_DETACH)) return -EINVAL;
  if (!capable(t, CAP_SYS_ADMIN)) return -EPERM;
  const vd: VirtualDentry = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), !(flags & UMOUNT_NOFOLLOW));
  const m = vd.mount;
  if (vd.dentry !== m.root || !m.parent) return -EINVAL;
  if (m.children.size && !(flags & MNT_DETACH)) return -EBUSY;
  if (t.fs.root.mount === m || (t.fs.cwd.mount === m && !(flags & MNT_DETACH))) return -EBUSY;
  m.ns.umount(m);
  return 0;
}

export const fsSyscalls: SyscallDef<FileTask>[] = [
  { nr: 21, name: 'access', handler: Access, support: 'full', args: ['path', 'int'] },
  { nr: 90, name: 'chmod', handler: Chmod, support: 'full', args: ['path', 'mode'] },
  { nr: 91, name: 'fchmod', handler: Fchmod, support: 'full', args: ['fd', 'mode'] },
  { nr: 92, name: 'chown', handler: Chown, support: 'full', args: ['path', 'int', 'int'] },
  { nr: 93, name: 'fchown', handler: Fchown, support: 'full', args: ['fd', 'int', 'int'] },
  { nr: 94, name: 'lchown', handler: Lchown, support: 'full', args: ['path', 'int', 'int'] },
  { nr: 95, name: 'umask', handler: Umask, support: 'full', args: ['mode'] },
  { nr: 132, name: 'utime', handler: Utime, support: 'full', args: ['path', 'ptr'] },
  {
    nr: 165,
    name: 'mount',
    handler: MountSyscall,
    support: 'partial',
    note: 'new tmpfs (and proc/sysfs when provided), bind mounts, MS_REMOUNT flag changes; propagation flags accepted as no-ops; MS_MOVE EINVAL; other types ENODEV',
    args: ['path', 'path', 'path', 'hex', 'ptr'],
  },
  { nr: 166, name: 'umount2', handler: Umount2, support: 'full', args: ['path', 'hex'] },
  {
    nr: 188,
    name: 'setxattr',
    handler: Setxattr,
    support: 'full',
    args: ['path', 'path', 'ptr', 'uint', 'hex'],
  },
  {
    nr: 189,
    name: 'lsetxattr',
    handler: Lsetxattr,
    support: 'full',
    args: ['path', 'path', 'ptr', 'uint', 'hex'],
  },
  {
    nr: 190,
    name: 'fsetxattr',
    handler: Fsetxattr,
    support: 'full',
    args: ['fd', 'path', 'ptr', 'uint', 'hex'],
  },
  { nr: 191, name: 'getxattr', handler: Getxattr, support: 'full', args: ['path', 'path', 'ptr', 'uint'] },
  { nr: 192, name: 'lgetxattr', handler: Lgetxattr, support: 'full', args: ['path', 'path', 'ptr', 'uint'] },
  { nr: 193, name: 'fgetxattr', handler: Fgetxattr, support: 'full', args: ['fd', 'path', 'ptr', 'uint'] },
  { nr: 194, name: 'listxattr', handler: Listxattr, support: 'full', args: ['path', 'ptr', 'uint'] },
  { nr: 195, name: 'llistxattr', handler: Llistxattr, support: 'full', args: ['path', 'ptr', 'uint'] },
  { nr: 196, name: 'flistxattr', handler: Flistxattr, support: 'full', args: ['fd', 'ptr', 'uint'] },
  { nr: 197, name: 'removexattr', handler: Removexattr, support: 'full', args: ['path', 'path'] },
  { nr: 198, name: 'lremovexattr', handler: Lremovexattr, support: 'full', args: ['path', 'path'] },
  { nr: 199, name: 'fremovexattr', handler: Fremovexattr, support: 'full', args: ['fd', 'path'] },
  { nr: 235, name: 'utimes', handler: Utimes, support: 'full', args: ['path', 'ptr'] },
  {
    nr: 260,
    name: 'fchownat',
    handler: Fchownat,
    support: 'full',
    args: ['fd', 'path', 'int', 'int', 'hex'],
  },
  { nr: 261, name: 'futimesat', handler: Futimesat, support: 'full', args: ['fd', 'path', 'ptr'] },
  { nr: 268, name: 'fchmodat', handler: Fchmodat, support: 'full', args: ['fd', 'path', 'mode'] },
  { nr: 269, name: 'faccessat', handler: Faccessat, support: 'full', args: ['fd', 'path', 'int'] },
  { nr: 280, name: 'utimensat', handler: Utimensat, support: 'full', args: ['fd', 'path', 'ptr', 'hex'] },
  { nr: 439, name: 'faccessat2', handler: Faccessat2, support: 'full', args: ['fd', 'path', 'int', 'hex'] },
  { nr: 452, name: 'fchmodat2', handler: Fchmodat2, support: 'full', args: ['fd', 'path', 'mode', 'hex'] },
];
