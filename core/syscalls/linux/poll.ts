/**
 * poll(2), ppoll(2), select(2), pselect6(2): readiness of many files at once. Each
 * file's readiness(mask) answers now; to wait, the call subscribes one aggregate queue to
 * every file's WaitQueue and blocks the task on it (with the timeout), then re-checks.
 * An interrupted wait returns -ERESTARTNOHAND (EINTR for a handled signal, restart otherwise).
 */
import { EINVAL, ERESTARTNOHAND, ETIMEDOUT, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import type { FileDescription } from '../../vfs/file';
import type { FileTask } from '../../vfs/task';
import {
  ALWAYS_EVENTS,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLPRI,
  POLLRDBAND,
  POLLRDNORM,
  POLLWRBAND,
  POLLWRNORM,
  WaitEntry,
  WaitQueue,
} from '../../util/waiter';
import type { SyscallDef } from '../types';

type T = FileTask;
type A = SyscallArgs;

interface PollItem {
  fd: number;
  events: number;
  revents: number;
}

/** Optional kernel hook for ppoll/pselect6's temporary signal mask (kernel/Task has these fields). */
interface MaskableTask {
  sigmask: bigint;
  savedMask: bigint | null;
}
const UNBLOCKABLE = (1n << 8n) | (1n << 18n); // SIGKILL, SIGSTOP bits (signo-1)

function applyTempMask(t: T, addr: number, size: number): void {
  if (!addr) return;
  if (size !== 8) throw new SysError(EINVAL);
  const mask = t.mem.readBigU64(addr);
  const mt = t as unknown as Partial<MaskableTask>;
  if (typeof mt.sigmask === 'bigint') {
    mt.savedMask = mt.sigmask;
    mt.sigmask = mask & ~UNBLOCKABLE;
  }
}

function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Wait until some item is ready, the deadline passes (-1: forever), or a signal.
 * Returns the ready count, 0 on timeout, or -ERESTARTNOHAND.
 */
async function waitReady(
  t: T,
  check: () => number,
  files: FileDescription[],
  deadline: number,
): Promise<number> {
  const agg = new WaitQueue();
  const entries: [WaitQueue, WaitEntry][] = [];
  for (const f of files) {
    const q = f.waitQueue();
    entries.push([q, q.subscribe(-1 >>> 0, (ev) => agg.notify(ev | POLLIN))]);
  }
  try {
    for (;;) {
      const n = check();
      if (n > 0) return n;
      let timeout: number | undefined;
      if (deadline >= 0) {
        timeout = deadline - nowNs();
        if (timeout <= 0) return 0;
      }
      const r = await t.block(agg, -1 >>> 0, timeout);
      if (r === -ETIMEDOUT) return check();
      if (r < 0) return -ERESTARTNOHAND;
    }
  } finally {
    for (const [q, e] of entries) q.unsubscribe(e);
  }
}

function pollItems(t: T, items: PollItem[], files: (FileDescription | undefined)[]): number {
  let n = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (it.fd < 0) {
      it.revents = 0;
      continue;
    }
    const f = files[i];
    if (!f || t.files.get(it.fd) !== f) {
      it.revents = POLLNVAL;
    } else {
      it.revents = f.readiness(it.events | ALWAYS_EVENTS) & (it.events | ALWAYS_EVENTS);
    }
    if (it.revents) n++;
  }
  return n;
}

function doPoll(t: T, addr: number, nfds: number, timeoutNs: number): number | Promise<number> {
  if (nfds > t.files.limit || nfds < 0) return -EINVAL;
  const raw = nfds ? t.mem.copyIn(addr, nfds * 8) : new Uint8Array(0);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const items: PollItem[] = [];
  const files: (FileDescription | undefined)[] = [];
  for (let i = 0; i < nfds; i++) {
    const fd = dv.getInt32(i * 8, true);
    items.push({ fd, events: dv.getUint16(i * 8 + 4, true), revents: 0 });
    files.push(fd >= 0 ? t.files.get(fd) : undefined);
  }
  const finish = (n: number): number => {
    if (n < 0) return n;
    for (let i = 0; i < nfds; i++) dv.setInt16(i * 8 + 6, items[i].revents, true);
    if (nfds) t.mem.copyOut(addr, raw);
    return n;
  };
  const n = pollItems(t, items, files);
  if (n > 0 || timeoutNs === 0) return finish(n);
  const deadline = timeoutNs < 0 ? -1 : nowNs() + timeoutNs;
  const live = files.filter((f): f is FileDescription => f !== undefined);
  return waitReady(t, () => pollItems(t, items, files), live, deadline).then(finish);
}

/** Poll implements Linux syscall poll(2). */
export function Poll(t: T, a: A): number | Promise<number> {
  const ms = a.int(2);
  return doPoll(t, a.ptr(0), a.uint(1), ms < 0 ? -1 : ms * 1e6);
}

function readTimespecNs(t: T, addr: number): number {
  const sec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr)));
  const nsec = Number(BigInt.asIntN(64, t.mem.readBigU64(addr + 8)));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) throw new SysError(EINVAL);
  return sec * 1e9 + nsec;
}

/** Ppoll implements Linux syscall ppoll(2). */
export function Ppoll(t: T, a: A): number | Promise<number> {
  const tsp = a.ptr(2);
  const timeout = tsp ? readTimespecNs(t, tsp) : -1;
  applyTempMask(t, a.ptr(3), a.ptr(4));
  return doPoll(t, a.ptr(0), a.uint(1), timeout);
}

const SELECT_IN = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR,
  SELECT_OUT = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR,
  SELECT_EX = POLLPRI;

function doSelect(
  t: T,
  nfds: number,
  rAddr: number,
  wAddr: number,
  eAddr: number,
  timeoutNs: number,
): number | Promise<number> {
  if (nfds < 0) return -EINVAL;
  if (nfds > t.files.limit) nfds = t.files.limit;
  const bytes = Math.ceil(nfds / 64) * 8;
  const load = (addr: number): Uint8Array | null => (addr && bytes ? t.mem.copyIn(addr, bytes) : null);
  const rs = load(rAddr),
    ws = load(wAddr),
    es = load(eAddr);
  const has = (s: Uint8Array | null, fd: number): boolean =>
    s !== null && (s[fd >> 3] & (1 << (fd & 7))) !== 0;
  const fds: number[] = [];
  const files: FileDescription[] = [];
  for (let fd = 0; fd < nfds; fd++) {
    if (!has(rs, fd) && !has(ws, fd) && !has(es, fd)) continue;
    const f = t.files.get(fd);
    if (!f) return -9; // EBADF
    fds.push(fd);
    files.push(f);
  }
  const ro = rs ? new Uint8Array(bytes) : null,
    wo = ws ? new Uint8Array(bytes) : null,
    eo = es ? new Uint8Array(bytes) : null;
  const check = (): number => {
    let n = 0;
    ro?.fill(0);
    wo?.fill(0);
    eo?.fill(0);
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i];
      const r = files[i].readiness(SELECT_IN | SELECT_OUT | SELECT_EX);
      const bit = 1 << (fd & 7);
      if (has(rs, fd) && r & SELECT_IN) {
        ro![fd >> 3] |= bit;
        n++;
      }
      if (has(ws, fd) && r & SELECT_OUT) {
        wo![fd >> 3] |= bit;
        n++;
      }
      if (has(es, fd) && r & SELECT_EX) {
        eo![fd >> 3] |= bit;
        n++;
      }
    }
    return n;
  };
  const finish = (n: number): number => {
    if (n < 0) return n;
    if (ro) t.mem.copyOut(rAddr, ro);
    if (wo) t.mem.copyOut(wAddr, wo);
    if (eo) t.mem.copyOut(eAddr, eo);
    return n;
  };
  const n = check();
  if (n > 0 || timeoutNs === 0) return finish(n);
  const deadline = timeoutNs < 0 ? -1 : nowNs() + timeoutNs;
  return waitReady(t, check, files, deadline).then(finish);
}

/** Select implements Linux syscall select(2). */
export function Select(t: T, a: A): number | Promise<number> {
  const tv = a.ptr(4);
  let timeout = -1;
  if (tv) {
    const sec = Number(BigInt.asIntN(64, t.mem.readBigU64(tv)));
    const usec = Number(BigInt.asIntN(64, t.mem.readBigU64(tv + 8)));
    if (sec < 0 || usec < 0 || usec >= 1e6) return -EINVAL;
    timeout = sec * 1e9 + usec * 1e3;
  }
  return doSelect(t, a.int(0), a.ptr(1), a.ptr(2), a.ptr(3), timeout);
}

/** Pselect6 implements Linux syscall pselect6(2). */
export function Pselect6(t: T, a: A): number | Promise<number> {
  const tsp = a.ptr(4);
  const timeout = tsp ? readTimespecNs(t, tsp) : -1;
  const sigArg = a.ptr(5);
  if (sigArg) {
    // struct { const sigset_t *ss; size_t ss_len; }
    const ss = t.mem.readU64(sigArg);
    const len = t.mem.readU64(sigArg + 8);
    applyTempMask(t, ss, len);
  }
  return doSelect(t, a.int(0), a.ptr(1), a.ptr(2), a.ptr(3), timeout);
}

export const pollSyscalls: SyscallDef<FileTask>[] = [
  { nr: 7, name: 'poll', handler: Poll, support: 'full', args: ['ptr', 'uint', 'int'] },
  {
    nr: 23,
    name: 'select',
    handler: Select,
    support: 'partial',
    note: 'the timeout is not updated with the time left',
    args: ['int', 'ptr', 'ptr', 'ptr', 'ptr'],
  },
  {
    nr: 270,
    name: 'pselect6',
    handler: Pselect6,
    support: 'full',
    args: ['int', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr'],
  },
  { nr: 271, name: 'ppoll', handler: Ppoll, support: 'full', args: ['ptr', 'uint', 'ptr', 'ptr', 'uint'] },
];
