/**
 * Directory and name syscalls: getdents(64), mkdir, rmdir, unlink, rename, link, symlink,
 * readlink, mknod, chdir/fchdir/getcwd/chroot.
 */
import { EBADF, EINVAL, ENOENT, ENOTDIR, ERANGE } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, S_IFDIR, S_IFMT } from '../../vfs/abi';
import { pathOf } from '../../vfs/mount';
import {
  chdirVd,
  chrootVd,
  linkAt,
  lookupAt,
  mkdirAt,
  mknodAt,
  readlinkAt,
  renameAt,
  rmdirAt,
  symlinkAt,
  unlinkAt,
} from '../../vfs/ops';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { pathArg } from './fd';

type T = FileTask;
type A = SyscallArgs;

function getdents(t: T, a: A, v64: boolean): number {
  const f = t.files.get(a.int(0));
  if (!f || f.isPath) return -EBADF;
  const addr = a.ptr(1);
  const size = Math.min(a.uint(2), 1 << 20);
  if (!f.inode || (f.inode.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  // Validate the buffer first (EFAULT), then fill a staging buffer.
  t.mem.writeViews(addr, size);
  const buf = Buffer.alloc(size);
  let used = 0;
  f.getdents(t, (name, ino, type, nextOff) => {
    const nameLen = Buffer.byteLength(name, 'latin1');
    const reclen = v64 ? (19 + nameLen + 1 + 7) & ~7 : (18 + nameLen + 2 + 7) & ~7;
    if (used + reclen > size) return false;
    buf.writeBigUInt64LE(BigInt(ino), used);
    buf.writeBigInt64LE(BigInt(nextOff), used + 8);
    buf.writeUInt16LE(reclen, used + 16);
    if (v64) {
      buf.writeUInt8(type, used + 18);
      buf.write(name, used + 19, 'latin1');
    } else {
      buf.write(name, used + 18, 'latin1');
      buf.writeUInt8(type, used + reclen - 1);
    }
    used += reclen;
    return true;
  });
  if (used === 0) {
    // Either the end of the directory, or the first entry did not fit.
    let more = false;
    f.getdents(t, () => ((more = true), false));
    if (more) return -EINVAL;
    return 0;
  }
  t.mem.copyOut(addr, buf.subarray(0, used));
  return used;
}

/** Getdents64 implements Linux syscall getdents64(2). */
export function Getdents64(t: T, a: A): number {
  return getdents(t, a, true);
}
/** Getdents implements Linux syscall getdents(2). */
export function Getdents(t: T, a: A): number {
  return getdents(t, a, false);
}

/** Mkdir implements Linux syscall mkdir(2). */
export function Mkdir(t: T, a: A): number {
  mkdirAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), a.uint(1));
  return 0;
}
/** Mkdirat implements Linux syscall mkdirat(2). */
export function Mkdirat(t: T, a: A): number {
  mkdirAt(t, a.int(0), pathArg(t, a.ptr(1)), a.uint(2));
  return 0;
}
/** Rmdir implements Linux syscall rmdir(2). */
export function Rmdir(t: T, a: A): number {
  rmdirAt(t, AT_FDCWD, pathArg(t, a.ptr(0)));
  return 0;
}
/** Unlink implements Linux syscall unlink(2). */
export function Unlink(t: T, a: A): number {
  unlinkAt(t, AT_FDCWD, pathArg(t, a.ptr(0)));
  return 0;
}
/** Unlinkat implements Linux syscall unlinkat(2). */
export function Unlinkat(t: T, a: A): number {
  const flags = a.int(2);
  if (flags & ~AT_REMOVEDIR) return -EINVAL;
  const path = pathArg(t, a.ptr(1));
  if (flags & AT_REMOVEDIR) rmdirAt(t, a.int(0), path);
  else unlinkAt(t, a.int(0), path);
  return 0;
}
/** Rename implements Linux syscall rename(2). */
export function Rename(t: T, a: A): number {
  renameAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), AT_FDCWD, pathArg(t, a.ptr(1)), 0);
  return 0;
}
/** Renameat implements Linux syscall renameat(2). */
export function Renameat(t: T, a: A): number {
  renameAt(t, a.int(0), pathArg(t, a.ptr(1)), a.int(2), pathArg(t, a.ptr(3)), 0);
  return 0;
}
/** Renameat2 implements Linux syscall renameat2(2). */
export function Renameat2(t: T, a: A): number {
  renameAt(t, a.int(0), pathArg(t, a.ptr(1)), a.int(2), pathArg(t, a.ptr(3)), a.uint(4));
  return 0;
}
/** Link implements Linux syscall link(2). */
export function Link(t: T, a: A): number {
  linkAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), AT_FDCWD, pathArg(t, a.ptr(1)), false);
  return 0;
}
/** Linkat implements Linux syscall linkat(2). */
export function Linkat(t: T, a: A): number {
  const flags = a.int(4);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const oldpath = pathArg(t, a.ptr(1));
  linkAt(
    t,
    a.int(0),
    oldpath,
    a.int(2),
    pathArg(t, a.ptr(3)),
    (flags & AT_SYMLINK_FOLLOW) !== 0,
    flags & AT_EMPTY_PATH,
  );
  return 0;
}
/** Symlink implements Linux syscall symlink(2). */
export function Symlink(t: T, a: A): number {
  symlinkAt(t, pathArg(t, a.ptr(0)), AT_FDCWD, pathArg(t, a.ptr(1)));
  return 0;
}
/** Symlinkat implements Linux syscall symlinkat(2). */
export function Symlinkat(t: T, a: A): number {
  symlinkAt(t, pathArg(t, a.ptr(0)), a.int(1), pathArg(t, a.ptr(2)));
  return 0;
}

function doReadlink(t: T, dirfd: number, pathAddr: number, buf: number, size: number): number {
  if (size <= 0 || size > 0x7fffffff) return -EINVAL;
  const target = readlinkAt(t, dirfd, pathArg(t, pathAddr));
  const bytes = Buffer.from(target, 'latin1');
  const n = Math.min(bytes.length, size);
  t.mem.copyOut(buf, bytes.subarray(0, n));
  return n;
}
/** Readlink implements Linux syscall readlink(2). */
export function Readlink(t: T, a: A): number {
  return doReadlink(t, AT_FDCWD, a.ptr(0), a.ptr(1), a.int(2));
}
/** Readlinkat implements Linux syscall readlinkat(2). */
export function Readlinkat(t: T, a: A): number {
  return doReadlink(t, a.int(0), a.ptr(1), a.ptr(2), a.int(3));
}
/** Mknod implements Linux syscall mknod(2). */
export function Mknod(t: T, a: A): number {
  mknodAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), a.uint(1), a.uint(2));
  return 0;
}
/** Mknodat implements Linux syscall mknodat(2). */
export function Mknodat(t: T, a: A): number {
  mknodAt(t, a.int(0), pathArg(t, a.ptr(1)), a.uint(2), a.uint(3));
  return 0;
}

/** Chdir implements Linux syscall chdir(2). */
export function Chdir(t: T, a: A): number {
  chdirVd(t, lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true));
  return 0;
}
/** Fchdir implements Linux syscall fchdir(2). */
export function Fchdir(t: T, a: A): number {
  const f = t.files.get(a.int(0));
  if (!f || !f.vd) return -EBADF;
  chdirVd(t, f.vd);
  return 0;
}
/** Chroot implements Linux syscall chroot(2). */
export function Chroot(t: T, a: A): number {
  chrootVd(t, lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true));
  return 0;
}

/** Getcwd implements Linux syscall getcwd(2). */
export function Getcwd(t: T, a: A): number {
  const cwd = t.fs.cwd;
  if (cwd.dentry.dead) return -ENOENT;
  const { path, reachable } = pathOf(cwd, t.fs.root);
  const s = reachable ? path : '(unreachable)' + path;
  const bytes = Buffer.from(s + '\0', 'latin1');
  const size = a.ptr(1);
  if (bytes.length > size) return -ERANGE;
  t.mem.copyOut(a.ptr(0), bytes);
  return bytes.length;
}

export const dirSyscalls: SyscallDef<FileTask>[] = [
  { nr: 78, name: 'getdents', handler: Getdents, support: 'full', args: ['fd', 'ptr', 'uint'] },
  { nr: 79, name: 'getcwd', handler: Getcwd, support: 'full', args: ['ptr', 'uint'] },
  { nr: 80, name: 'chdir', handler: Chdir, support: 'full', args: ['path'] },
  { nr: 81, name: 'fchdir', handler: Fchdir, support: 'full', args: ['fd'] },
  { nr: 82, name: 'rename', handler: Rename, support: 'full', args: ['path', 'path'] },
  { nr: 83, name: 'mkdir', handler: Mkdir, support: 'full', args: ['path', 'mode'] },
  { nr: 84, name: 'rmdir', handler: Rmdir, support: 'full', args: ['path'] },
  { nr: 86, name: 'link', handler: Link, support: 'full', args: ['path', 'path'] },
  { nr: 87, name: 'unlink', handler: Unlink, support: 'full', args: ['path'] },
  { nr: 88, name: 'symlink', handler: Symlink, support: 'full', args: ['path', 'path'] },
  { nr: 89, name: 'readlink', handler: Readlink, support: 'full', args: ['path', 'ptr', 'int'] },
  { nr: 133, name: 'mknod', handler: Mknod, support: 'full', args: ['path', 'mode', 'hex'] },
  { nr: 161, name: 'chroot', handler: Chroot, support: 'full', args: ['path'] },
  { nr: 217, name: 'getdents64', handler: Getdents64, support: 'full', args: ['fd', 'ptr', 'uint'] },
  { nr: 258, name: 'mkdirat', handler: Mkdirat, support: 'full', args: ['fd', 'path', 'mode'] },
  { nr: 259, name: 'mknodat', handler: Mknodat, support: 'full', args: ['fd', 'path', 'mode', 'hex'] },
  { nr: 263, name: 'unlinkat', handler: Unlinkat, support: 'full', args: ['fd', 'path', 'hex'] },
  { nr: 264, name: 'renameat', handler: Renameat, support: 'full', args: ['fd', 'path', 'fd', 'path'] },
  { nr: 265, name: 'linkat', handler: Linkat, support: 'full', args: ['fd', 'path', 'fd', 'path', 'hex'] },
  { nr: 266, name: 'symlinkat', handler: Symlinkat, support: 'full', args: ['path', 'fd', 'path'] },
  { nr: 267, name: 'readlinkat', handler: Readlinkat, support: 'full', args: ['fd', 'path', 'ptr', 'int'] },
  {
    nr: 316,
    name: 'renameat2',
    handler: Renameat2,
    support: 'partial',
    note: 'RENAME_WHITEOUT is not supported (EINVAL)',
    args: ['fd', 'path', 'fd', 'path', 'hex'],
  },
];
