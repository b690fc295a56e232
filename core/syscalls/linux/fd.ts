/**
 * File-descriptor syscalls: close, close_range, dup, dup2, dup3, fcntl, flock; plus the
 * small helpers every file syscall family shares (fd lookup, path arguments, blocking
 * I/O loops).
 */
import { EAGAIN, EBADF, EINVAL, SysError } from '../../abi/errno';
import { CAP_SYS_RESOURCE, capable } from '../../kernel/caps';
import type { SyscallArgs } from '../../kernel/api';
import { F_GETPIPE_SZ, F_SETPIPE_SZ, PipeFile } from '../../fs/pipe';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../../util/waiter';
import { O_CLOEXEC, O_NONBLOCK, PATH_MAX, SETFL_MASK } from '../../vfs/abi';
import { CLOSE_RANGE_CLOEXEC, CLOSE_RANGE_UNSHARE } from '../../vfs/fdtable';
import type { FileDescription, IoDst, IoSrc } from '../../vfs/file';
import {
  IN_ACCESS,
  IN_ATTRIB,
  IN_CREATE,
  IN_DELETE,
  IN_MODIFY,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  addMark,
  markCount,
  notifyIo,
  removeMark,
  type FsnotifyMark,
} from '../../vfs/fsnotify';
import { fcntlGetLock, fcntlSetLock, flockFile, LOCK_NB } from '../../vfs/lock';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';

type T = FileTask;
type A = SyscallArgs;

// ---------------------------------------------------------------- shared helpers

/** Read a path argument (at most PATH_MAX-1 bytes): EFAULT, ENAMETOOLONG. */
export function pathArg(t: T, addr: number): string {
  return t.mem.readCString(addr, PATH_MAX - 1);
}

/** The file at fd, or throw EBADF. O_PATH files are returned too (callers check). */
export function fileArg(t: T, fd: number): FileDescription {
  const f = t.files.get(fd);
  if (!f) throw new SysError(EBADF);
  return f;
}

/** The file at fd for I/O-ish operations: EBADF for O_PATH descriptors. */
export function ioFileArg(t: T, fd: number): FileDescription {
  const f = t.files.get(fd);
  if (!f || f.isPath) throw new SysError(EBADF);
  return f;
}

/** Skip `n` bytes of a segment list (slow path after partial writes). */
export function advanceSegs(segs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of segs) {
    if (n >= s.length) {
      n -= s.length;
      continue;
    }
    out.push(n ? s.subarray(n) : s);
    n = 0;
  }
  return out;
}

/**
 * Finish a read that returned -EAGAIN (or a Promise): wait on the file's queue and retry
 * until data, EOF, an error, or a signal (-ERESTARTSYS).
 */
export function readBlocking(
  t: T,
  f: FileDescription,
  dst: IoDst,
  off: number,
  first: number | Promise<number>,
): Promise<number> {
  const q = f.waitQueue();
  // The wait must be registered in the same synchronous run as the failed attempt: the
  // platform serves other tasks' stops (the writer's included) before any microtask runs.
  const loop = async (n: number): Promise<number> => {
    while (n === -EAGAIN && !(f.flags & O_NONBLOCK)) {
      const r = await t.block(q, POLLIN | POLLHUP | POLLERR);
      if (r < 0) return r;
      n = await f.read(t, dst, off);
    }
    return n;
  };
  return typeof first === 'number' ? loop(first) : first.then(loop);
}

/** Hot-path read: returns synchronously unless the file would block or answers asynchronously. */
export function doRead(t: T, f: FileDescription, dst: IoDst, off: number): number | Promise<number> {
  const n = f.read(t, dst, off);
  if (typeof n === 'number' && (n !== -EAGAIN || f.flags & O_NONBLOCK))
    return markCount ? notifyIo(f, n, IN_ACCESS) : n;
  return notifyIo(f, readBlocking(t, f, dst, off, n), IN_ACCESS);
}

/** Hot-path write: a blocking file is written completely unless a signal interrupts (then the partial count). */
export function doWrite(
  t: T,
  f: FileDescription,
  src: IoSrc,
  off: number,
  total: number,
): number | Promise<number> {
  const n = f.write(t, src, off);
  if (typeof n === 'number' && (n === total || (n < 0 && n !== -EAGAIN)))
    return markCount ? notifyIo(f, n, IN_MODIFY) : n;
  if (typeof n === 'number' && f.flags & O_NONBLOCK) return notifyIo(f, n, IN_MODIFY);
  return notifyIo(f, writeBlocking(t, f, src, off, total, n), IN_MODIFY);
}

function writeBlocking(
  t: T,
  f: FileDescription,
  src: IoSrc,
  off: number,
  total: number,
  first: number | Promise<number>,
): Promise<number> {
  const q = f.waitQueue();
  let done = 0;
  // As readBlocking: each wait is registered synchronously after the attempt that failed.
  const loop = async (n: number): Promise<number> => {
    for (;;) {
      if (n > 0) {
        done += n;
        if (done >= total || f.flags & O_NONBLOCK || !f.stream) return done;
        src = advanceSegs(src, n);
        if (off >= 0) off += n;
      } else if (n !== -EAGAIN || f.flags & O_NONBLOCK) {
        return done > 0 ? done : n;
      }
      const r = await t.block(q, POLLOUT | POLLERR | POLLHUP);
      if (r < 0) return done > 0 ? done : r;
      n = await f.write(t, src, off);
    }
  };
  return typeof first === 'number' ? loop(first) : first.then(loop);
}

// ---------------------------------------------------------------- close / dup

/** Close implements Linux syscall close(2). */
export function Close(t: T, a: A): number {
  return t.files.close(a.int(0));
}

/** CloseRange implements Linux syscall close_range(2). */
export function CloseRange(t: T, a: A): number {
  const first = a.uint(0);
  const last = a.uint(1);
  const flags = a.uint(2);
  if (flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE) || first > last) return -EINVAL;
  t.files.closeRange(first, last, flags);
  return 0;
}

/** Dup implements Linux syscall dup(2). */
export function Dup(t: T, a: A): number {
  const f = t.files.get(a.int(0));
  if (!f) return -EBADF;
  return t.files.install(f.incRef(), false);
}

/** Dup2 implements Linux syscall dup2(2). */
export function Dup2(t: T, a: A): number {
  const oldfd = a.int(0);
  const newfd = a.int(1);
  const f = t.files.get(oldfd);
  if (!f) return -EBADF;
  if (oldfd === newfd) return newfd;
  t.files.installAt(newfd, f.incRef(), false);
  return newfd;
}

/** Dup3 implements Linux syscall dup3(2). */
export function Dup3(t: T, a: A): number {
  const oldfd = a.int(0);
  const newfd = a.int(1);
  const flags = a.int(2);
  if (flags & ~O_CLOEXEC) return -EINVAL;
  const f = t.files.get(oldfd);
  if (!f) return -EBADF;
  if (oldfd === newfd) return -EINVAL;
  t.files.installAt(newfd, f.incRef(), (flags & O_CLOEXEC) !== 0);
  return newfd;
}

// ---------------------------------------------------------------- fcntl

export const F_DUPFD = 0,
  F_GETFD = 1,
  F_SETFD = 2,
  F_GETFL = 3,
  F_SETFL = 4,
  F_GETLK = 5,
  F_SETLK = 6,
  F_SETLKW = 7,
  F_SETOWN = 8,
  F_GETOWN = 9,
  F_SETSIG = 10,
  F_GETSIG = 11,
  F_SETOWN_EX = 15,
  F_GETOWN_EX = 16,
  F_OFD_GETLK = 36,
  F_OFD_SETLK = 37,
  F_OFD_SETLKW = 38,
  F_SETLEASE = 1024,
  F_GETLEASE = 1025,
  F_NOTIFY = 1026,
  F_DUPFD_CLOEXEC = 1030,
  F_ADD_SEALS = 1033,
  F_GET_SEALS = 1034,
  FD_CLOEXEC = 1;

const owners = new WeakMap<FileDescription, number>();

/** Fcntl implements Linux syscall fcntl(2). */
export function Fcntl(t: T, a: A): number | Promise<number> {
  const fd = a.int(0);
  const cmd = a.int(1);
  const f = t.files.get(fd);
  if (!f) return -EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = a.int(2);
      if (min < 0) return -EINVAL;
      return t.files.install(f.incRef(), cmd === F_DUPFD_CLOEXEC, min);
    }
    case F_GETFD:
      return t.files.getCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      t.files.setCloexec(fd, (a.int(2) & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL: {
      if (f.isPath) return -EBADF;
      const nf = (f.flags & ~SETFL_MASK) | (a.int(2) & SETFL_MASK);
      f.setStatusFlags(nf);
      return 0;
    }
    case F_GETLK:
    case F_OFD_GETLK:
      if (f.isPath) return -EBADF;
      return fcntlGetLock(t, f, a.ptr(2), cmd === F_OFD_GETLK);
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      if (f.isPath) return -EBADF;
      return fcntlSetLock(
        t,
        f,
        a.ptr(2),
        cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW,
        cmd === F_SETLKW || cmd === F_OFD_SETLKW,
      );
    case F_GETPIPE_SZ:
      if (!(f instanceof PipeFile)) return -EBADF;
      return f.pipe.capacity;
    case F_SETPIPE_SZ:
      if (!(f instanceof PipeFile)) return -EBADF;
      return f.pipe.setSize(a.ptr(2), capable(t, CAP_SYS_RESOURCE));
    case F_GETOWN:
      return owners.get(f) ?? 0;
    case F_SETOWN:
      owners.set(f, a.int(2));
      return 0;
    case F_GETSIG:
      return 0;
    case F_SETSIG:
      return a.int(2) < 0 || a.int(2) > 64 ? -EINVAL : 0;
    case F_GETLEASE:
      return 2; // F_UNLCK
    case F_SETLEASE:
      return -EAGAIN;
    case F_NOTIFY:
      return dnotify(t, f, a.uint(2));
    case F_GET_SEALS:
    case F_ADD_SEALS:
      return -EINVAL;
    default:
      return -EINVAL;
  }
}

// ---------------------------------------------------------------- dnotify

const DN_ACCESS = 0x1,
  DN_MODIFY = 0x2,
  DN_CREATE = 0x4,
  DN_DELETE = 0x8,
  DN_RENAME = 0x10,
  DN_ATTRIB = 0x20,
  DN_MULTISHOT = 0x80000000;
const SIGIO = 29;
const dnotifyMarks = new WeakMap<FileDescription, FsnotifyMark>();

/**
 * fcntl(F_NOTIFY): directory notification (Linux's dnotify) over the fsnotify marks that
 * inotify uses. An event in the directory sends SIGIO to the process that asked; without
 * DN_MULTISHOT the request is used up by the first event. 0 cancels.
 */
function dnotify(t: T, f: FileDescription, arg: number): number {
  const inode = f.inode;
  if (!inode || (inode.mode & 0o170000) !== 0o040000) return -ENOTDIR_;
  const old = dnotifyMarks.get(f);
  if (old) {
    removeMark(inode, old);
    dnotifyMarks.delete(f);
  }
  const events = arg & ~DN_MULTISHOT;
  if (!events) return 0;
  let mask = 0;
  if (events & DN_ACCESS) mask |= IN_ACCESS;
  if (events & DN_MODIFY) mask |= IN_MODIFY;
  if (events & DN_CREATE) mask |= IN_CREATE | IN_MOVED_TO;
  if (events & DN_DELETE) mask |= IN_DELETE | IN_MOVED_FROM;
  if (events & DN_RENAME) mask |= IN_MOVED_FROM | IN_MOVED_TO;
  if (events & DN_ATTRIB) mask |= IN_ATTRIB;
  const mark: FsnotifyMark = {
    mask,
    exclUnlink: false,
    handle: (_m, name) => {
      if (name === undefined) return; // dnotify reports what happens in the directory
      if (f.refCount === 0 || !(arg & DN_MULTISHOT)) {
        removeMark(inode, mark);
        dnotifyMarks.delete(f);
        if (f.refCount === 0) return;
      }
      t.sendSignal(SIGIO);
    },
    inodeGone: () => dnotifyMarks.delete(f),
  };
  addMark(inode, mark);
  dnotifyMarks.set(f, mark);
  return 0;
}
const ENOTDIR_ = 20;

/** Flock implements Linux syscall flock(2). */
export function Flock(t: T, a: A): number | Promise<number> {
  const f = t.files.get(a.int(0));
  if (!f || f.isPath) return -EBADF;
  const op = a.int(1);
  return flockFile(t, f, op & ~LOCK_NB, (op & LOCK_NB) !== 0);
}

export const fdSyscalls: SyscallDef<FileTask>[] = [
  { nr: 3, name: 'close', handler: Close, support: 'full', args: ['fd'] },
  { nr: 32, name: 'dup', handler: Dup, support: 'full', args: ['fd'] },
  { nr: 33, name: 'dup2', handler: Dup2, support: 'full', args: ['fd', 'fd'] },
  { nr: 292, name: 'dup3', handler: Dup3, support: 'full', args: ['fd', 'fd', 'oflags'] },
  {
    nr: 72,
    name: 'fcntl',
    handler: Fcntl,
    support: 'partial',
    note: 'F_SETOWN/F_SETSIG record values but deliver no SIGIO (F_NOTIFY sends SIGIO to the caller); leases and seals are not supported',
    args: ['fd', 'int', 'hex'],
  },
  { nr: 73, name: 'flock', handler: Flock, support: 'full', args: ['fd', 'int'] },
  { nr: 436, name: 'close_range', handler: CloseRange, support: 'full', args: ['uint', 'uint', 'hex'] },
];
