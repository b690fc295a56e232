/**
 * inotify syscalls: inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch.
 * The instance is core/fs/anon/inotify.ts; events come from the VFS hooks in
 * core/vfs/fsnotify.ts. Reading an instance goes through read(2) (blocking via the file's
 * wait queue like any file).
 */
import { EBADF, EINVAL, ENOTDIR, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import {
  ALL_INOTIFY_BITS,
  IN_CLOEXEC,
  IN_DONT_FOLLOW,
  IN_MASK_ADD,
  IN_MASK_CREATE,
  IN_NONBLOCK,
  IN_ONLYDIR,
  InotifyFile,
} from '../../fs/anon/inotify';
import { AT_FDCWD, MAY_READ, O_RDONLY, S_IFDIR, S_IFMT } from '../../vfs/abi';
import { lookupAt } from '../../vfs/ops';
import { checkPermission } from '../../vfs/perm';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { pathArg } from './fd';

type T = FileTask;
type A = SyscallArgs;

function doInit(t: T, flags: number): number {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return -EINVAL;
  const f = new InotifyFile(O_RDONLY | (flags & IN_NONBLOCK));
  return t.files.install(f, (flags & IN_CLOEXEC) !== 0);
}

/** InotifyInit implements Linux syscall inotify_init(2). */
export function InotifyInit(t: T): number {
  return doInit(t, 0);
}

/** InotifyInit1 implements Linux syscall inotify_init1(2). */
export function InotifyInit1(t: T, a: A): number {
  return doInit(t, a.int(0));
}

function inotifyArg(t: T, fd: number): InotifyFile {
  const f = t.files.get(fd);
  if (!f) throw new SysError(EBADF);
  if (!(f instanceof InotifyFile)) throw new SysError(EINVAL);
  return f;
}

/** InotifyAddWatch implements Linux syscall inotify_add_watch(2). */
export function InotifyAddWatch(t: T, a: A): number {
  const mask = a.uint(2);
  if (mask & IN_MASK_ADD && mask & IN_MASK_CREATE) return -EINVAL;
  if (!(mask & ALL_INOTIFY_BITS)) return -EINVAL;
  const f = inotifyArg(t, a.int(0));
  const path = pathArg(t, a.ptr(1));
  const vd = lookupAt(t, AT_FDCWD, path, !(mask & IN_DONT_FOLLOW));
  if (mask & IN_ONLYDIR && (vd.inode.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  checkPermission(t.creds, vd.inode, MAY_READ);
  return f.addWatch(vd.inode, mask);
}

/** InotifyRmWatch implements Linux syscall inotify_rm_watch(2). */
export function InotifyRmWatch(t: T, a: A): number {
  return inotifyArg(t, a.int(0)).rmWatch(a.int(1));
}

export const notifySyscalls: SyscallDef<FileTask>[] = [
  {
    nr: 253,
    name: 'inotify_init',
    handler: InotifyInit,
    support: 'full',
    args: [],
  },
  {
    nr: 294,
    name: 'inotify_init1',
    handler: InotifyInit1,
    support: 'full',
    args: ['hex'],
  },
  {
    nr: 254,
    name: 'inotify_add_watch',
    handler: InotifyAddWatch,
    support: 'partial',
    note: 'events come from the VFS (path and fd operations of the sandbox); no IN_UNMOUNT, no max_user_watches/instances limits; getdents does not report IN_ACCESS',
    args: ['fd', 'path', 'hex'],
  },
  { nr: 255, name: 'inotify_rm_watch', handler: InotifyRmWatch, support: 'full', args: ['fd', 'int'] },
];
