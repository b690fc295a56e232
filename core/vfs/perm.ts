/**
 * Discretionary access control (Linux's generic_permission): owner / group / other bits
 * against the caller's fsuid/fsgid and supplementary groups. A caller with fsuid 0 has
 * CAP_DAC_OVERRIDE (the sentry does not model capabilities separately yet): it may read
 * and write anything, search any directory, and execute a file with at least one x bit.
 */
import { EACCES, EPERM, SysError } from '../abi/errno';
import type { Credentials } from '../kernel/api';
import { MAY_EXEC, MAY_READ, MAY_WRITE, S_IFDIR, S_IFMT, S_ISGID, S_ISVTX } from './abi';
import type { Inode } from './inode';

export function inGroup(c: Credentials, gid: number): boolean {
  if (c.fsgid === gid) return true;
  const g = c.groups;
  for (let i = 0; i < g.length; i++) if (g[i] === gid) return true;
  return false;
}

/** Whether `c` may access a file with (mode, uid, gid) for `may` (MAY_* bits). */
export function permits(c: Credentials, mode: number, uid: number, gid: number, may: number): boolean {
  if (c.fsuid === 0) {
    if (!(may & MAY_EXEC)) return true;
    return (mode & S_IFMT) === S_IFDIR || (mode & 0o111) !== 0;
  }
  let bits: number;
  if (c.fsuid === uid) bits = (mode >>> 6) & 7;
  else if (inGroup(c, gid)) bits = (mode >>> 3) & 7;
  else bits = mode & 7;
  return (bits & may) === may;
}

/** Throw EACCES unless `c` may access `inode` for `may`. */
export function checkPermission(c: Credentials, inode: Inode, may: number): void {
  if (!permits(c, inode.mode, inode.uid, inode.gid, may)) throw new SysError(EACCES);
}

/** Owner or CAP_FOWNER (chmod, utimes with explicit times, sticky override). */
export function isOwner(c: Credentials, inode: Inode): boolean {
  return c.fsuid === 0 || c.fsuid === inode.uid;
}

export function checkOwner(c: Credentials, inode: Inode): void {
  if (!isOwner(c, inode)) throw new SysError(EPERM);
}

/** Sticky directories: only the file's owner, the directory's owner or root may remove/rename entries. */
export function checkSticky(c: Credentials, dir: Inode, victim: Inode): void {
  if (!(dir.mode & S_ISVTX) || c.fsuid === 0) return;
  if (c.fsuid === victim.uid || c.fsuid === dir.uid) return;
  throw new SysError(EPERM);
}

/** Mode bits chmod actually stores: S_ISGID is dropped for a non-member non-root caller. */
export function chmodBits(c: Credentials, inode: Inode, mode: number): number {
  let m = mode & 0o7777;
  if (c.fsuid !== 0 && m & S_ISGID && !inGroup(c, inode.gid)) m &= ~S_ISGID;
  return m;
}

export { MAY_EXEC, MAY_READ, MAY_WRITE };
