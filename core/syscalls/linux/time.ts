/** Clocks, sleeps and futexes. */
import {
  EFAULT,
  EINVAL,
  ENOSYS,
  EPERM,
  ERESTARTSYS,
  ERESTART_RESTARTBLOCK,
  ETIMEDOUT,
} from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import type { Task } from '../../kernel/task';
import {
  FUTEX_CLOCK_REALTIME,
  FUTEX_CMP_REQUEUE,
  FUTEX_PRIVATE_FLAG,
  FUTEX_REQUEUE,
  FUTEX_WAIT,
  FUTEX_WAIT_BITSET,
  FUTEX_WAKE,
  FUTEX_WAKE_BITSET,
  FUTEX_WAKE_OP,
  futexWakeOp,
} from '../../kernel/futex';
import type { SyscallDef } from '../types';
import { VDSO_BOOT, VDSO_MONO, VDSO_REAL } from '../../kernel/vdso';

type A = SyscallArgs;

export const CLOCK_REALTIME = 0,
  CLOCK_MONOTONIC = 1,
  CLOCK_PROCESS_CPUTIME_ID = 2,
  CLOCK_THREAD_CPUTIME_ID = 3,
  CLOCK_MONOTONIC_RAW = 4,
  CLOCK_REALTIME_COARSE = 5,
  CLOCK_MONOTONIC_COARSE = 6,
  CLOCK_BOOTTIME = 7,
  CLOCK_REALTIME_ALARM = 8,
  CLOCK_BOOTTIME_ALARM = 9,
  CLOCK_TAI = 11;

const hrOrigin = process.hrtime.bigint();
const wallOriginNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** Nanoseconds on `clock` (bigint), or -1n for an invalid clock id. */
export function clockNow(t: Task, clock: number): bigint {
  // With a vDSO the clocks come from its formula, so a time read in the app and one read
  // through a system call agree (core/kernel/vdso.ts).
  const vdso = t.kernel?.vdso;
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
      if (vdso) return vdso.clockNs(VDSO_REAL);
      return wallOriginNs + (process.hrtime.bigint() - hrOrigin);
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
      if (vdso) return vdso.clockNs(VDSO_MONO);
      return process.hrtime.bigint();
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      if (vdso) return vdso.clockNs(VDSO_BOOT);
      return process.hrtime.bigint();
    case CLOCK_PROCESS_CPUTIME_ID: {
      const c = t.tg.cpuTime();
      return BigInt(c.user + c.system);
    }
    case CLOCK_THREAD_CPUTIME_ID: {
      const c = t.cpuTime();
      return BigInt(c.user + c.system);
    }
    default:
      if (clock < 0) return cpuClockNow(t, clock);
      return -1n;
  }
}

/**
 * Dynamic CPU-time clocks (clock_getcpuclockid / pthread_getcpuclockid): the id encodes
 * ~pid << 3, bit 2 for a thread clock, and the low bits for PROF/VIRT/SCHED (all read the
 * same CPU time here). pid 0 means the caller.
 */
function cpuClockNow(t: Task, clock: number): bigint {
  if ((clock & 7) === 7 || (clock & 3) === 3) return -1n;
  const pid = ~(clock >> 3);
  if (clock & 4) {
    const target = pid === 0 ? t : t.kernel.tasks.get(pid);
    if (!target || target.tg !== t.tg) return -1n;
    const c = target.cpuTime();
    return BigInt(c.user + c.system);
  }
  const tg = pid === 0 ? t.tg : t.kernel.tgs.get(pid);
  if (!tg || tg.exitStatus >= 0) return -1n;
  const c = tg.cpuTime();
  return BigInt(c.user + c.system);
}

function writeTimespec(t: Task, addr: number, ns: bigint) {
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(ns / 1000000000n, 0);
  b.writeBigInt64LE(ns % 1000000000n, 8);
  t.mm.copyOut(addr, b);
}

/** Read a struct timespec as ns; throws EINVAL for a bad tv_nsec or negative seconds. */
export function readTimespecNs(t: Task, addr: number): number {
  const b = Buffer.from(t.mm.copyIn(addr, 16));
  const sec = b.readBigInt64LE(0),
    nsec = b.readBigInt64LE(8);
  if (nsec < 0n || nsec >= 1000000000n || sec < 0n) return -1;
  const v = Number(sec) * 1e9 + Number(nsec);
  return Math.min(v, 2 ** 52);
}

/** clock_gettime implements Linux syscall clock_gettime(2). */
export function clock_gettime(t: Task, a: A) {
  const clock = a.int(0);
  const ns = clockNow(t, clock);
  if (ns < 0n) return -EINVAL;
  writeTimespec(t, a.ptr(1), ns);
  return 0;
}

/** clock_getres implements Linux syscall clock_getres(2). */
export function clock_getres(t: Task, a: A) {
  const clock = a.int(0);
  if (clockNow(t, clock) < 0n) return -EINVAL;
  if (a.ptr(1))
    writeTimespec(
      t,
      a.ptr(1),
      clock === CLOCK_REALTIME_COARSE || clock === CLOCK_MONOTONIC_COARSE ? 4000000n : 1n,
    );
  return 0;
}

/** clock_settime implements Linux syscall clock_settime(2): the sandbox cannot set host clocks. */
export function clock_settime(t: Task, a: A) {
  const clock = a.int(0);
  if (clockNow(t, clock) < 0n) return -EINVAL;
  // Only CLOCK_REALTIME (and TAI's base) can be set on Linux; the others are EINVAL. The
  // sandbox may not change the host's wall clock.
  return clock === CLOCK_REALTIME ? -EPERM : -EINVAL;
}

/** gettimeofday implements Linux syscall gettimeofday(2). */
export function gettimeofday(t: Task, a: A) {
  if (a.ptr(0)) {
    const ns = clockNow(t, CLOCK_REALTIME);
    const b = Buffer.alloc(16);
    b.writeBigInt64LE(ns / 1000000000n, 0);
    b.writeBigInt64LE((ns % 1000000000n) / 1000n, 8);
    t.mm.copyOut(a.ptr(0), b);
  }
  if (a.ptr(1)) t.mm.copyOut(a.ptr(1), new Uint8Array(8));
  return 0;
}

/** time implements Linux syscall time(2). */
export function time(t: Task, a: A) {
  const s = Number(clockNow(t, CLOCK_REALTIME) / 1000000000n);
  if (a.ptr(0)) t.mm.writeU64(a.ptr(0), s);
  return s;
}

/** settimeofday implements Linux syscall settimeofday(2). */
export const settimeofday = () => -EPERM;

async function sleepFor(t: Task, ns: number, remAddr: number, abs: boolean): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await t.sleep(ns);
  if (r === -ERESTARTSYS) {
    if (remAddr && !abs) {
      const left = BigInt(Math.max(0, ns)) - (process.hrtime.bigint() - start);
      writeTimespec(t, remAddr, left > 0n ? left : 0n);
    }
    // Linux restarts through restart_syscall with the remaining time; we report EINTR to
    // handlers and restart (with the full interval) otherwise.
    return -ERESTART_RESTARTBLOCK;
  }
  return 0;
}

/** nanosleep implements Linux syscall nanosleep(2). */
export function nanosleep(t: Task, a: A) {
  const ns = readTimespecNs(t, a.ptr(0));
  if (ns < 0) return -EINVAL;
  return sleepFor(t, ns, a.ptr(1), false);
}

/** clock_nanosleep implements Linux syscall clock_nanosleep(2). */
export function clock_nanosleep(t: Task, a: A) {
  const clock = a.int(0);
  const flags = a.int(1);
  if (clock === CLOCK_THREAD_CPUTIME_ID) return -EINVAL;
  const now = clockNow(t, clock);
  if (now < 0n) return -EINVAL;
  let ns = readTimespecNs(t, a.ptr(2));
  if (ns < 0) return -EINVAL;
  const abs = (flags & 1) !== 0;
  if (abs) ns = Math.max(0, ns - Number(now));
  return sleepFor(t, ns, a.ptr(3), abs).then((r) => (r === -ERESTART_RESTARTBLOCK ? r : 0));
}

/** futex implements Linux syscall futex(2) (no PI operations). */
export function futex(t: Task, a: A) {
  const addr = a.ptr(0);
  const op = a.int(1);
  const cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const priv = (op & FUTEX_PRIVATE_FLAG) !== 0;
  const val = a.uint(2);
  const k = t.kernel;
  if (addr % 4) return -EINVAL;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? 0xffffffff : a.uint(5);
      if (!bitset) return -EINVAL;
      let timeout: number | undefined;
      if (a.ptr(3)) {
        const ns = readTimespecNs(t, a.ptr(3));
        if (ns < 0) return -EINVAL;
        if (cmd === FUTEX_WAIT) timeout = ns;
        else {
          const clock = op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
          timeout = Math.max(0, ns - Number(clockNow(t, clock)));
        }
      }
      const r = k.futexWait(t, addr, val, timeout, bitset, priv);
      if (typeof r === 'number') return r;
      return r.then((v) =>
        v === -ETIMEDOUT
          ? -ETIMEDOUT
          : v === -ERESTARTSYS
            ? cmd === FUTEX_WAIT && timeout === undefined
              ? -ERESTARTSYS
              : -ERESTART_RESTARTBLOCK
            : v,
      );
    }
    case FUTEX_WAKE:
      return k.futexWake(t, addr, val, priv);
    case FUTEX_WAKE_BITSET: {
      const bitset = a.uint(5);
      if (!bitset) return -EINVAL;
      return k.futexWake(t, addr, val, priv, bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const addr2 = a.ptr(4);
      if (addr2 % 4) return -EINVAL;
      const nRequeue = a.ptr(3);
      if (cmd === FUTEX_CMP_REQUEUE && t.mm.readU32(addr) !== a.uint(5)) return -11; // EAGAIN
      if (val > 0x7fffffff || nRequeue > 0x7fffffff) return -EINVAL;
      return k.futexes.requeue(k.futexKey(t, addr, priv), k.futexKey(t, addr2, priv), val, nRequeue);
    }
    case FUTEX_WAKE_OP: {
      const addr2 = a.ptr(4);
      const old = t.mm.readU32(addr2);
      const { newval, cond } = futexWakeOp(a.uint(5), old);
      t.mm.writeU32(addr2, newval);
      let n = k.futexWake(t, addr, val, priv);
      if (cond) n += k.futexWake(t, addr2, a.ptr(3), priv);
      return n;
    }
    default:
      return -ENOSYS;
  }
}

export const timeSyscalls: SyscallDef<Task>[] = [
  {
    nr: 228,
    name: 'clock_gettime',
    handler: clock_gettime,
    support: 'partial',
    note: 'CPU-time clocks have the host tick resolution (10 ms)',
    args: ['clockid', 'ptr'],
  },
  { nr: 229, name: 'clock_getres', handler: clock_getres, support: 'full', args: ['clockid', 'ptr'] },
  {
    nr: 227,
    name: 'clock_settime',
    handler: clock_settime,
    support: 'partial',
    note: 'CLOCK_REALTIME gives EPERM (the sandbox cannot set the clock), others EINVAL as Linux',
    args: ['clockid', 'ptr'],
  },
  { nr: 96, name: 'gettimeofday', handler: gettimeofday, support: 'full', args: ['ptr', 'ptr'] },
  { nr: 201, name: 'time', handler: time, support: 'full', args: ['ptr'] },
  {
    nr: 164,
    name: 'settimeofday',
    handler: settimeofday,
    support: 'partial',
    note: 'EPERM: the sandbox cannot set clocks',
    args: ['ptr', 'ptr'],
  },
  { nr: 35, name: 'nanosleep', handler: nanosleep, support: 'full', args: ['ptr', 'ptr'] },
  {
    nr: 230,
    name: 'clock_nanosleep',
    handler: clock_nanosleep,
    support: 'full',
    args: ['clockid', 'hex', 'ptr', 'ptr'],
  },
  {
    nr: 202,
    name: 'futex',
    handler: futex,
    support: 'partial',
    note: 'priority-inheritance operations (LOCK_PI...) give ENOSYS',
    args: ['ptr', 'hex', 'uint', 'ptr', 'ptr', 'hex'],
  },
];

export { EFAULT };
