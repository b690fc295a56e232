/**
 * Discretionary access control (Linux's generic_permission): owner / group / other bits
 * against the caller's fsuid/fsgid and supplementary groups, then the capabilities that
 * override them: CAP_DAC_READ_SEARCH (read any file, search any directory),
 * CAP_DAC_OVERRIDE (read/write anything, search any directory, execute a file with at
 * least one x bit), CAP_FOWNER (owner checks), CAP_FSETID (keep S_ISGID on chmod).
 */
import { EACCES, EPERM, SysError } from '../abi/errno';
import type { Credentials } from '../kernel/api';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, hasCap } from '../kernel/caps';
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
  let bits: number;
  if (c.fsuid === uid) bits = (mode >>> 6) & 7;
  else if (inGroup(c, gid)) bits = (mode >>> 3) & 7;
  else bits = mode & 7;
  if ((bits & may) === may) return true;
  if (c.capEff === 0n) return false;
  if ((mode & S_IFMT) === S_IFDIR) {
    if (!(may & MAY_WRITE) && hasCap(c, CAP_DAC_READ_SEARCH)) return true;
    return hasCap(c, CAP_DAC_OVERRIDE);
  }
  if ((may & 7) === MAY_READ && hasCap(c, CAP_DAC_READ_SEARCH)) return true;
  if (!(may & MAY_EXEC) || (mode & 0o111) !== 0) return hasCap(c, CAP_DAC_OVERRIDE);
  return false;
}

/** Throw EACCES unless `c` may access `inode` for `may`. */
export function checkPermission(c: Credentials, inode: Inode, may: number): void {
  if (!permits(c, inode.mode, inode.uid, inode.gid, may)) throw new SysError(EACCES);
}

/** Owner or CAP_FOWNER (chmod, utimes with explicit times, sticky override). */
export function isOwner(c: Credentials, inode: Inode): boolean {
  return c.fsuid === inode.uid || hasCap(c, CAP_FOWNER);
}

export function checkOwner(c: Credentials, inode: Inode): void {
  if (!isOwner(c, inode)) throw new SysError(EPERM);
}

/** Sticky directories: only the file's owner, the directory's owner or CAP_FOWNER may remove/rename entries. */
export function checkSticky(c: Credentials, dir: Inode, victim: Inode): void {
  if (!(dir.mode & S_ISVTX)) return;
  if (c.fsuid === victim.uid || c.fsuid === dir.uid || hasCap(c, CAP_FOWNER)) return;
  throw new SysError(EPERM);
}

/** Mode bits chmod actually stores: S_ISGID is dropped for a caller outside the group without CAP_FSETID. */
export function chmodBits(c: Credentials, inode: Inode, mode: number): number {
  let m = mode & 0o7777;
  if (m & S_ISGID && !inGroup(c, inode.gid) && !hasCap(c, CAP_FSETID)) m &= ~S_ISGID;
  return m;
}

export { MAY_EXEC, MAY_READ, MAY_WRITE };
