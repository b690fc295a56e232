/**
 * Advisory file locks (Linux's fs/locks.c):
 *  - POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK): byte ranges owned by a process
 *    (tgid); released when the process closes *any* fd of the file, or exits.
 *  - OFD locks (F_OFD_*): the same ranges, owned by the open file description.
 *  - flock(2): whole-file locks owned by the open file description.
 * Locks live per inode; waiters block on the inode's lock queue and retry after any
 * unlock. Deadlock detection (EDEADLK) is not supported: a cycle of F_SETLKW waiters
 * stays blocked until a signal interrupts one of them.
 */
import { EAGAIN, EBADF, EINVAL, EWOULDBLOCK, SysError } from '../abi/errno';
import { POLLIN, WaitQueue } from '../util/waiter';
import type { FileDescription } from './file';
import type { Inode } from './inode';
import type { FileTask } from './task';

export const F_RDLCK = 0,
  F_WRLCK = 1,
  F_UNLCK = 2;
export const LOCK_SH = 1,
  LOCK_EX = 2,
  LOCK_NB = 4,
  LOCK_UN = 8;

type Owner = number | FileDescription;

interface RecordLock {
  owner: Owner;
  type: number;
  start: number;
  /** Inclusive end; Infinity for "to EOF and beyond". */
  end: number;
  pid: number;
}

class InodeLocks {
  records: RecordLock[] = [];
  flocks = new Map<FileDescription, number>();
  readonly wq = new WaitQueue();
}

const table = new WeakMap<Inode, InodeLocks>();

function locksOf(inode: Inode): InodeLocks {
  let l = table.get(inode);
  if (!l) table.set(inode, (l = new InodeLocks()));
  return l;
}

function conflict(l: InodeLocks, owner: Owner, type: number, start: number, end: number): RecordLock | null {
  for (const r of l.records) {
    if (r.owner === owner) continue;
    if (r.end < start || r.start > end) continue;
    if (type === F_WRLCK || r.type === F_WRLCK) return r;
  }
  return null;
}

/** Remove [start, end] from `owner`'s locks (splitting as needed). */
function carve(l: InodeLocks, owner: Owner, start: number, end: number): void {
  const out: RecordLock[] = [];
  for (const r of l.records) {
    if (r.owner !== owner || r.end < start || r.start > end) {
      out.push(r);
      continue;
    }
    if (r.start < start) out.push({ ...r, end: start - 1 });
    if (r.end > end) out.push({ ...r, start: end + 1 });
  }
  l.records = out;
}

/** Decode struct flock at addr into an absolute [start, end] range. */
function readFlock(
  t: FileTask,
  f: FileDescription,
  addr: number,
): { type: number; start: number; end: number } {
  const b = t.mem.copyIn(addr, 32);
  const dv = new DataView(b.buffer, b.byteOffset, 32);
  const type = dv.getInt16(0, true);
  const whence = dv.getInt16(2, true);
  const start = Number(dv.getBigInt64(8, true));
  const len = Number(dv.getBigInt64(16, true));
  let base: number;
  if (whence === 0) base = 0;
  else if (whence === 1) base = f.pos;
  else if (whence === 2) base = f.stat().size;
  else throw new SysError(EINVAL);
  let s = base + start;
  let e: number;
  if (len > 0) e = s + len - 1;
  else if (len === 0) e = Infinity;
  else {
    e = s - 1;
    s = s + len;
  }
  if (s < 0) throw new SysError(EINVAL);
  if (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK) throw new SysError(EINVAL);
  return { type, start: s, end: e };
}

function writeFlock(t: FileTask, addr: number, type: number, start: number, end: number, pid: number): void {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setInt16(0, type, true);
  dv.setInt16(2, 0, true);
  dv.setBigInt64(8, BigInt(type === F_UNLCK ? 0 : start), true);
  dv.setBigInt64(16, BigInt(type === F_UNLCK || end === Infinity ? 0 : end - start + 1), true);
  dv.setInt32(24, pid, true);
  t.mem.copyOut(addr, b);
}

/** F_GETLK / F_OFD_GETLK. */
export function fcntlGetLock(t: FileTask, f: FileDescription, addr: number, ofd: boolean): number {
  if (!f.inode) return -EBADF;
  const { type, start, end } = readFlock(t, f, addr);
  if (type === F_UNLCK) return -EINVAL;
  const l = table.get(f.inode);
  const c = l ? conflict(l, ofd ? f : t.tgid, type, start, end) : null;
  if (!c) writeFlock(t, addr, F_UNLCK, 0, 0, 0);
  else writeFlock(t, addr, c.type, c.start, c.end, typeof c.owner === 'number' ? c.owner : -1);
  return 0;
}

/** F_SETLK(W) / F_OFD_SETLK(W). */
export function fcntlSetLock(
  t: FileTask,
  f: FileDescription,
  addr: number,
  ofd: boolean,
  wait: boolean,
): number | Promise<number> {
  if (!f.inode) return -EBADF;
  const req = readFlock(t, f, addr);
  if (req.type === F_RDLCK && !f.readable) return -EBADF;
  if (req.type === F_WRLCK && !f.writable) return -EBADF;
  const owner: Owner = ofd ? f : t.tgid;
  const l = locksOf(f.inode);
  f.locked = true;
  const attempt = (): boolean => {
    if (req.type === F_UNLCK) {
      carve(l, owner, req.start, req.end);
      l.wq.notify(POLLIN);
      return true;
    }
    if (conflict(l, owner, req.type, req.start, req.end)) return false;
    carve(l, owner, req.start, req.end);
    l.records.push({ owner, type: req.type, start: req.start, end: req.end, pid: t.tgid });
    l.wq.notify(POLLIN);
    return true;
  };
  if (attempt()) return 0;
  if (!wait) return -EAGAIN;
  return (async () => {
    for (;;) {
      const r = await t.block(l.wq, POLLIN);
      if (r < 0) return r;
      if (attempt()) return 0;
    }
  })();
}

/** flock(2). */
export function flockFile(
  t: FileTask,
  f: FileDescription,
  op: number,
  nonblock: boolean,
): number | Promise<number> {
  if (!f.inode) return -EBADF;
  if (op !== LOCK_SH && op !== LOCK_EX && op !== LOCK_UN) return -EINVAL;
  const l = locksOf(f.inode);
  f.locked = true;
  if (op === LOCK_UN) {
    if (l.flocks.delete(f)) l.wq.notify(POLLIN);
    return 0;
  }
  const type = op === LOCK_EX ? F_WRLCK : F_RDLCK;
  const attempt = (): boolean => {
    for (const [o, ty] of l.flocks) if (o !== f && (ty === F_WRLCK || type === F_WRLCK)) return false;
    l.flocks.set(f, type);
    l.wq.notify(POLLIN);
    return true;
  };
  // Converting a lock first drops the old one (as Linux does).
  if (l.flocks.has(f) && l.flocks.get(f) !== type) {
    l.flocks.delete(f);
    l.wq.notify(POLLIN);
  }
  if (attempt()) return 0;
  if (nonblock) return -EWOULDBLOCK;
  return (async () => {
    for (;;) {
      const r = await t.block(l.wq, POLLIN);
      if (r < 0) return r;
      if (attempt()) return 0;
    }
  })();
}

/** close(2) of any fd of `f` by process `owner`: drop its POSIX locks on the file. */
export function releasePosixLocks(f: FileDescription, owner: number): void {
  if (!f.inode) return;
  const l = table.get(f.inode);
  if (!l || !l.records.length) return;
  const before = l.records.length;
  l.records = l.records.filter((r) => r.owner !== owner);
  if (l.records.length !== before) l.wq.notify(POLLIN);
}

/** The last reference to `f` is gone: drop its OFD and flock locks. */
export function releaseFileLocks(f: FileDescription): void {
  if (!f.inode) return;
  const l = table.get(f.inode);
  if (!l) return;
  let changed = l.flocks.delete(f);
  const before = l.records.length;
  l.records = l.records.filter((r) => r.owner !== f);
  changed ||= l.records.length !== before;
  if (changed) l.wq.notify(POLLIN);
}
