/**
 * Anonymous-inode file syscalls: epoll (create, create1, ctl, wait, pwait, pwait2),
 * eventfd/eventfd2, timerfd_create/settime/gettime and signalfd/signalfd4. The files
 * themselves live in core/fs/anon; handlers here decode arguments, check them in Linux's
 * order (fs/eventpoll.c, fs/eventfd.c, fs/timerfd.c, fs/signalfd.c) and block.
 *
 * Blocking (epoll_wait): the ready list is harvested and, when empty, the task subscribes
 * to the epoll file's wait queue in the same synchronous run — never an await between the
 * failed check and t.block() — so a wake-up from another task's stop is never lost. An
 * interrupted epoll_wait fails with EINTR and is never restarted, as Linux.
 */
import {
  EBADF,
  EFAULT,
  EINTR,
  EINVAL,
  EEXIST,
  ENOENT,
  ENOSYS,
  EPERM,
  ETIMEDOUT,
  SysError,
} from '../../abi/errno';
import { CAP_WAKE_ALARM, capable } from '../../kernel/caps';
import type { SyscallArgs } from '../../kernel/api';
import type { Task } from '../../kernel/task';
import { canPoll } from '../../fs/anon/anon';
import {
  EP_PRIVATE_BITS,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLERR,
  EPOLLEXCLUSIVE,
  EPOLLEXCLUSIVE_OK_BITS,
  EPOLLHUP,
  EPOLLWAKEUP,
  EpollFile,
} from '../../fs/anon/epoll';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, EventFd } from '../../fs/anon/eventfd';
import { asSignalSource, SFD_CLOEXEC, SFD_NONBLOCK, SignalFile } from '../../fs/anon/signalfd';
import {
  TFD_CLOEXEC,
  TFD_NONBLOCK,
  TFD_TIMER_ABSTIME,
  TFD_TIMER_CANCEL_ON_SET,
  TimerFile,
} from '../../fs/anon/timerfd';
import { POLLIN, POLLRDNORM } from '../../util/waiter';
import { O_CLOEXEC, O_RDWR } from '../../vfs/abi';
import type { FileDescription } from '../../vfs/file';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  clockNow,
} from './time';

type T = FileTask;
type A = SyscallArgs;

/** sizeof(struct epoll_event) on x86-64 (packed: u32 events, u64 data). */
const EPOLL_EVENT_SIZE = 12;
/** EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
const EP_MAX_EVENTS = Math.floor(0x7fffffff / EPOLL_EVENT_SIZE);
/** TASK_SIZE_MAX for access_ok. */
const TASK_SIZE_MAX = 0x7ffffffff000;
const EPOLL_CLOEXEC = O_CLOEXEC;
const KTIME_MAX = (1n << 63n) - 1n;

function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** An fd for I/O-ish use: EBADF when closed or O_PATH (Linux's fdget). */
function fdget(t: T, fd: number): FileDescription | undefined {
  const f = t.files.get(fd);
  return f && !f.isPath ? f : undefined;
}

// ---------------------------------------------------------------- temporary signal masks

/** kernel/Task's fields for a p-variant's temporary mask (absent on unit-test fakes). */
interface MaskableTask {
  sigmask: bigint;
  savedMask: bigint | null;
}
const UNBLOCKABLE = (1n << 8n) | (1n << 18n); // SIGKILL, SIGSTOP

/** set_user_sigmask: install the call's mask, keeping the old one to restore. Returns whether one was set. */
function setTempMask(t: T, addr: number, size: number): boolean {
  if (!addr) return false;
  if (size !== 8) throw new SysError(EINVAL);
  const mask = t.mem.readBigU64(addr);
  const mt = t as unknown as Partial<MaskableTask>;
  if (typeof mt.sigmask !== 'bigint') return false;
  mt.savedMask = mt.sigmask;
  mt.sigmask = mask & ~UNBLOCKABLE;
  return true;
}

/** restore_saved_sigmask_unless(EINTR): on EINTR the mask is restored after the handler runs. */
function restoreMask(t: T, ret: number): number {
  const mt = t as unknown as MaskableTask;
  if (ret !== -EINTR && mt.savedMask !== null) {
    mt.sigmask = mt.savedMask;
    mt.savedMask = null;
  }
  return ret;
}

function withTempMask(t: T, masked: boolean, run: () => number | Promise<number>): number | Promise<number> {
  if (!masked) return run();
  let r: number | Promise<number>;
  try {
    r = run();
  } catch (e) {
    restoreMask(t, -EFAULT);
    throw e;
  }
  if (typeof r === 'number') return restoreMask(t, r);
  return r.then(
    (v) => restoreMask(t, v),
    (e) => {
      restoreMask(t, -EFAULT);
      throw e;
    },
  );
}

// ---------------------------------------------------------------- epoll

function newEpoll(t: T, flags: number): number {
  return t.files.install(new EpollFile(O_RDWR), (flags & EPOLL_CLOEXEC) !== 0);
}

/** EpollCreate implements Linux syscall epoll_create(2). */
export function EpollCreate(t: T, a: A): number {
  if (a.int(0) <= 0) return -EINVAL;
  return newEpoll(t, 0);
}

/** EpollCreate1 implements Linux syscall epoll_create1(2). */
export function EpollCreate1(t: T, a: A): number {
  const flags = a.int(0);
  if (flags & ~EPOLL_CLOEXEC) return -EINVAL;
  return newEpoll(t, flags);
}

/** EpollCtl implements Linux syscall epoll_ctl(2). */
export function EpollCtl(t: T, a: A): number {
  const epfd = a.int(0);
  const op = a.int(1);
  const fd = a.int(2);
  let events = 0;
  let data = 0n;
  if (op !== EPOLL_CTL_DEL) {
    const b = t.mem.copyIn(a.ptr(3), EPOLL_EVENT_SIZE);
    const dv = new DataView(b.buffer, b.byteOffset, EPOLL_EVENT_SIZE);
    events = dv.getUint32(0, true);
    data = dv.getBigUint64(4, true);
  }
  const ef = fdget(t, epfd);
  if (!ef) return -EBADF;
  const tf = fdget(t, fd);
  if (!tf) return -EBADF;
  if (!canPoll(tf)) return -EPERM;
  // EPOLLWAKEUP (keep the system awake) has no meaning here: dropped, as Linux does
  // without CAP_BLOCK_SUSPEND.
  events = (events & ~EPOLLWAKEUP) >>> 0;
  if (ef === tf || !(ef instanceof EpollFile)) return -EINVAL;
  if (op !== EPOLL_CTL_DEL && events & EPOLLEXCLUSIVE) {
    if (op === EPOLL_CTL_MOD) return -EINVAL;
    if (op === EPOLL_CTL_ADD && (tf instanceof EpollFile || (events & ~EPOLLEXCLUSIVE_OK_BITS) !== 0))
      return -EINVAL;
  }
  if (op === EPOLL_CTL_ADD && tf instanceof EpollFile) {
    const e = ef.loopCheck(tf);
    if (e) return -e;
  }
  const item = ef.find(tf, fd);
  switch (op) {
    case EPOLL_CTL_ADD:
      if (item) return -EEXIST;
      ef.insert(tf, fd, events | EPOLLERR | EPOLLHUP, data);
      return 0;
    case EPOLL_CTL_DEL:
      if (!item) return -ENOENT;
      ef.remove(item);
      return 0;
    case EPOLL_CTL_MOD:
      if (!item) return -ENOENT;
      if (item.events & EPOLLEXCLUSIVE) return -EINVAL;
      ef.modify(item, events | EPOLLERR | EPOLLHUP, data);
      return 0;
    default:
      return -EINVAL;
  }
}

/** Copy up to `max` ready events out; 0 when none. EFAULT before anything is consumed. */
function harvest(t: T, ep: EpollFile, addr: number, max: number): number {
  if (!ep.hasReady) return 0;
  const cap = Math.min(max, ep.readyCount);
  t.mem.writeViews(addr, cap * EPOLL_EVENT_SIZE);
  const out = new Uint8Array(cap * EPOLL_EVENT_SIZE);
  const dv = new DataView(out.buffer);
  let i = 0;
  const n = ep.collect(cap, (ev, data) => {
    dv.setUint32(i * EPOLL_EVENT_SIZE, ev & ~EP_PRIVATE_BITS, true);
    dv.setBigUint64(i * EPOLL_EVENT_SIZE + 4, data, true);
    i++;
  });
  if (n) t.mem.copyOut(addr, out.subarray(0, n * EPOLL_EVENT_SIZE));
  return n;
}

async function waitEvents(t: T, ep: EpollFile, addr: number, max: number, deadline: number): Promise<number> {
  const q = ep.waitQueue();
  for (;;) {
    let timeout: number | undefined;
    if (deadline >= 0) {
      timeout = deadline - nowNs();
      if (timeout <= 0) return 0;
    }
    const r = await t.block(q, POLLIN | POLLRDNORM, timeout);
    // Events win over a timeout or a signal that arrived meanwhile (ep_poll).
    const n = harvest(t, ep, addr, max);
    if (n > 0) return n;
    if (r === -ETIMEDOUT) return 0;
    if (r < 0) return -EINTR;
  }
}

/** do_epoll_wait; `timeoutNs` < 0 waits forever. */
function doEpollWait(
  t: T,
  epfd: number,
  addr: number,
  max: number,
  timeoutNs: number,
): number | Promise<number> {
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  if (addr + max * EPOLL_EVENT_SIZE > TASK_SIZE_MAX) return -EFAULT;
  const f = fdget(t, epfd);
  if (!f) return -EBADF;
  if (!(f instanceof EpollFile)) return -EINVAL;
  const n = harvest(t, f, addr, max);
  if (n > 0 || timeoutNs === 0) return n;
  return waitEvents(t, f, addr, max, timeoutNs < 0 ? -1 : nowNs() + timeoutNs);
}

function msTimeout(ms: number): number {
  return ms < 0 ? -1 : ms * 1e6;
}

/** EpollWait implements Linux syscall epoll_wait(2). */
export function EpollWait(t: T, a: A): number | Promise<number> {
  return doEpollWait(t, a.int(0), a.ptr(1), a.int(2), msTimeout(a.int(3)));
}

/** EpollPwait implements Linux syscall epoll_pwait(2). */
export function EpollPwait(t: T, a: A): number | Promise<number> {
  const masked = setTempMask(t, a.ptr(4), a.ptr(5));
  return withTempMask(t, masked, () => doEpollWait(t, a.int(0), a.ptr(1), a.int(2), msTimeout(a.int(3))));
}

/** EpollPwait2 implements Linux syscall epoll_pwait2(2) (timespec timeout; NULL waits forever). */
export function EpollPwait2(t: T, a: A): number | Promise<number> {
  let timeout = -1;
  const tsp = a.ptr(3);
  if (tsp) {
    const ns = readTimespec(t, tsp);
    if (ns < 0n) return -EINVAL;
    timeout = Number(ns);
  }
  const masked = setTempMask(t, a.ptr(4), a.ptr(5));
  return withTempMask(t, masked, () => doEpollWait(t, a.int(0), a.ptr(1), a.int(2), timeout));
}

// ---------------------------------------------------------------- eventfd

function doEventfd(t: T, initval: number, flags: number): number {
  if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return -EINVAL;
  const f = new EventFd(initval, O_RDWR | (flags & EFD_NONBLOCK), (flags & EFD_SEMAPHORE) !== 0);
  return t.files.install(f, (flags & EFD_CLOEXEC) !== 0);
}

/** Eventfd implements Linux syscall eventfd(2). */
export function Eventfd(t: T, a: A): number {
  return doEventfd(t, a.uint(0), 0);
}

/** Eventfd2 implements Linux syscall eventfd2(2). */
export function Eventfd2(t: T, a: A): number {
  return doEventfd(t, a.uint(0), a.int(1));
}

// ---------------------------------------------------------------- timerfd

/** A struct timespec as bigint ns (saturating at KTIME_MAX); -1n when invalid (timespec64_valid). */
function readTimespec(t: T, addr: number): bigint {
  const b = t.mem.copyIn(addr, 16);
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const sec = dv.getBigInt64(0, true);
  const nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1000000000n) return -1n;
  const ns = sec * 1000000000n + nsec;
  return ns > KTIME_MAX ? KTIME_MAX : ns;
}

function writeItimerspec(t: T, addr: number, interval: bigint, value: bigint): void {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setBigInt64(0, interval / 1000000000n, true);
  dv.setBigInt64(8, interval % 1000000000n, true);
  dv.setBigInt64(16, value / 1000000000n, true);
  dv.setBigInt64(24, value % 1000000000n, true);
  t.mem.copyOut(addr, b);
}

/** The file at fd as a timerfd: EBADF, or EINVAL for another kind of file (timerfd_fget). */
function timerArg(t: T, fd: number): TimerFile {
  const f = fdget(t, fd);
  if (!f) throw new SysError(EBADF);
  if (!(f instanceof TimerFile)) throw new SysError(EINVAL);
  return f;
}

function isAlarm(clockid: number): boolean {
  return clockid === CLOCK_REALTIME_ALARM || clockid === CLOCK_BOOTTIME_ALARM;
}

/** TimerfdCreate implements Linux syscall timerfd_create(2). */
export function TimerfdCreate(t: T, a: A): number {
  const clockid = a.int(0);
  const flags = a.int(1);
  if (
    flags & ~(TFD_CLOEXEC | TFD_NONBLOCK) ||
    (clockid !== CLOCK_MONOTONIC &&
      clockid !== CLOCK_REALTIME &&
      clockid !== CLOCK_REALTIME_ALARM &&
      clockid !== CLOCK_BOOTTIME &&
      clockid !== CLOCK_BOOTTIME_ALARM)
  )
    return -EINVAL;
  // CAP_WAKE_ALARM: root only (the alarm clocks then behave as REALTIME/BOOTTIME).
  if (isAlarm(clockid) && !capable(t, CAP_WAKE_ALARM)) return -EPERM;
  const now = (): bigint => clockNow(t as unknown as Task, clockid);
  const f = new TimerFile(O_RDWR | (flags & TFD_NONBLOCK), clockid, now);
  return t.files.install(f, (flags & TFD_CLOEXEC) !== 0);
}

/** TimerfdSettime implements Linux syscall timerfd_settime(2). */
export function TimerfdSettime(t: T, a: A): number {
  const fd = a.int(0);
  const flags = a.int(1);
  const newAddr = a.ptr(2);
  const oldAddr = a.ptr(3);
  const interval = readTimespec(t, newAddr);
  const value = readTimespec(t, newAddr + 16);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) || interval < 0n || value < 0n) return -EINVAL;
  const f = timerArg(t, fd);
  if (isAlarm(f.clockid) && !capable(t, CAP_WAKE_ALARM)) return -EPERM;
  // TFD_TIMER_CANCEL_ON_SET is accepted: the sandbox's realtime clock is never set, so
  // reads never fail with ECANCELED.
  const old = f.set(value, interval, (flags & TFD_TIMER_ABSTIME) !== 0);
  if (oldAddr) writeItimerspec(t, oldAddr, old.interval, old.value);
  return 0;
}

/** TimerfdGettime implements Linux syscall timerfd_gettime(2). */
export function TimerfdGettime(t: T, a: A): number {
  const f = timerArg(t, a.int(0));
  const cur = f.get();
  writeItimerspec(t, a.ptr(1), cur.interval, cur.value);
  return 0;
}

// ---------------------------------------------------------------- signalfd

function doSignalfd(t: T, fd: number, maskAddr: number, size: number, flags: number): number {
  if (size !== 8) return -EINVAL;
  const mask = t.mem.readBigU64(maskAddr);
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return -EINVAL;
  const src = asSignalSource(t);
  if (!src) return -ENOSYS;
  if (fd === -1) {
    const f = new SignalFile(O_RDWR | (flags & SFD_NONBLOCK), mask, src);
    return t.files.install(f, (flags & SFD_CLOEXEC) !== 0);
  }
  const f = fdget(t, fd);
  if (!f) return -EBADF;
  if (!(f instanceof SignalFile)) return -EINVAL;
  f.setMask(mask, src);
  return fd;
}

/** Signalfd implements Linux syscall signalfd(2). */
export function Signalfd(t: T, a: A): number {
  return doSignalfd(t, a.int(0), a.ptr(1), a.ptr(2), 0);
}

/** Signalfd4 implements Linux syscall signalfd4(2). */
export function Signalfd4(t: T, a: A): number {
  return doSignalfd(t, a.int(0), a.ptr(1), a.ptr(2), a.int(3));
}

export const epollSyscalls: SyscallDef<FileTask>[] = [
  { nr: 213, name: 'epoll_create', handler: EpollCreate, support: 'full', args: ['int'] },
  {
    nr: 233,
    name: 'epoll_ctl',
    handler: EpollCtl,
    support: 'partial',
    note: 'EPOLLEXCLUSIVE is accepted but every watcher is woken; EPOLLWAKEUP is ignored; no max_user_watches limit',
    args: ['fd', 'int', 'fd', 'ptr'],
  },
  { nr: 232, name: 'epoll_wait', handler: EpollWait, support: 'full', args: ['fd', 'ptr', 'int', 'int'] },
  {
    nr: 281,
    name: 'epoll_pwait',
    handler: EpollPwait,
    support: 'full',
    args: ['fd', 'ptr', 'int', 'int', 'ptr', 'uint'],
  },
  { nr: 291, name: 'epoll_create1', handler: EpollCreate1, support: 'full', args: ['hex'] },
  {
    nr: 441,
    name: 'epoll_pwait2',
    handler: EpollPwait2,
    support: 'full',
    args: ['fd', 'ptr', 'int', 'ptr', 'ptr', 'uint'],
  },
  { nr: 284, name: 'eventfd', handler: Eventfd, support: 'full', args: ['uint'] },
  { nr: 290, name: 'eventfd2', handler: Eventfd2, support: 'full', args: ['uint', 'hex'] },
  {
    nr: 283,
    name: 'timerfd_create',
    handler: TimerfdCreate,
    support: 'partial',
    note: 'the *_ALARM clocks behave as REALTIME/BOOTTIME (no suspend); the TFD_IOC_SET_TICKS ioctl is not supported',
    args: ['clockid', 'hex'],
  },
  {
    nr: 286,
    name: 'timerfd_settime',
    handler: TimerfdSettime,
    support: 'partial',
    note: 'TFD_TIMER_CANCEL_ON_SET is accepted but never cancels (the sandbox clock is never set)',
    args: ['fd', 'hex', 'ptr', 'ptr'],
  },
  { nr: 287, name: 'timerfd_gettime', handler: TimerfdGettime, support: 'full', args: ['fd', 'ptr'] },
  {
    nr: 282,
    name: 'signalfd',
    handler: Signalfd,
    support: 'partial',
    note: 'poll/epoll readiness follows the creating (or last reading) task rather than the polling one',
    args: ['fd', 'ptr', 'uint'],
  },
  {
    nr: 289,
    name: 'signalfd4',
    handler: Signalfd4,
    support: 'partial',
    note: 'poll/epoll readiness follows the creating (or last reading) task rather than the polling one',
    args: ['fd', 'ptr', 'uint', 'hex'],
  },
];
