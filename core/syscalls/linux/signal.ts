/** Signal syscalls: actions, masks, sending, waiting, alternate stacks, interval timers. */
import {
  EAGAIN,
  EFAULT,
  EINTR,
  EINVAL,
  ENOMEM,
  EPERM,
  ERESTARTNOHAND,
  ESRCH,
  ETIMEDOUT,
} from '../../abi/errno';
import { CAP_KILL, capable } from '../../kernel/caps';
import type { SyscallArgs } from '../../kernel/api';
import type { Task } from '../../kernel/task';
import type { ThreadGroup } from '../../kernel/threadgroup';
import {
  MINSIGSTKSZ,
  NSIG,
  SIGALRM,
  SIGKILL,
  SIGSTOP,
  SIG_BLOCK,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SI_QUEUE,
  SI_TIMER,
  SI_TKILL,
  SI_USER,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
  UNBLOCKABLE,
  type SigInfo,
  encodeSigInfo,
  sigbit,
} from '../../kernel/signal-defs';
import type { SyscallDef } from '../types';
import { LongTimer } from '../../util/timer';

type A = SyscallArgs;

function validSig(s: number): boolean {
  return s >= 1 && s <= NSIG;
}

/** rt_sigaction implements Linux syscall rt_sigaction(2). */
export function rt_sigaction(t: Task, a: A) {
  const sig = a.int(0);
  const act = a.ptr(1),
    oact = a.ptr(2);
  if (a.ptr(3) !== 8) return -EINVAL;
  if (!validSig(sig)) return -EINVAL;
  const actions = t.tg.sighand.actions;
  const old = actions[sig];
  let next = old;
  if (act) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = Buffer.from(t.mm.copyIn(act, 32));
    next = {
      handler: Number(b.readBigUInt64LE(0)),
      flags: Number(b.readBigUInt64LE(8) & 0xffffffffn),
      restorer: Number(b.readBigUInt64LE(16)),
      mask: b.readBigUInt64LE(24) & ~UNBLOCKABLE,
    };
  }
  if (oact) {
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(BigInt(old.handler), 0);
    b.writeBigUInt64LE(BigInt(old.flags >>> 0), 8);
    b.writeBigUInt64LE(BigInt(old.restorer), 16);
    b.writeBigUInt64LE(old.mask, 24);
    t.mm.copyOut(oact, b);
  }
  if (act) {
    actions[sig] = next;
    // Setting SIG_IGN (or default-ignore) discards pending instances (POSIX).
    if (next.handler === 1 || (next.handler === 0 && (sig === 17 || sig === 23 || sig === 28))) {
      t.tg.sharedPending.discard(sigbit(sig));
      for (const o of t.tg.tasks) o.pending.discard(sigbit(sig));
    }
  }
  return 0;
}

/** rt_sigprocmask implements Linux syscall rt_sigprocmask(2). */
export function rt_sigprocmask(t: Task, a: A) {
  const how = a.int(0);
  const set = a.ptr(1),
    oset = a.ptr(2);
  if (a.ptr(3) !== 8) return -EINVAL;
  const old = t.sigmask;
  if (set) {
    const m = t.mm.readBigU64(set);
    switch (how) {
      case SIG_BLOCK:
        t.sigmask |= m;
        break;
      case SIG_UNBLOCK:
        t.sigmask &= ~m;
        break;
      case SIG_SETMASK:
        t.sigmask = m;
        break;
      default:
        return -EINVAL;
    }
    t.sigmask &= ~UNBLOCKABLE;
  }
  if (oset) t.mm.writeU64(oset, old);
  return 0;
}

/** rt_sigreturn implements Linux syscall rt_sigreturn(2). */
export function rt_sigreturn(t: Task) {
  t.sigreturn();
  return 0;
}

/** sigaltstack implements Linux syscall sigaltstack(2). */
export function sigaltstack(t: Task, a: A) {
  const ss = a.ptr(0),
    oss = a.ptr(1);
  const onStack = t.onAltStack();
  if (oss) {
    const b = Buffer.alloc(24);
    b.writeBigUInt64LE(BigInt(t.altStack.sp), 0);
    const f =
      t.altStack.flags === SS_DISABLE
        ? SS_DISABLE
        : (onStack ? SS_ONSTACK : 0) | (t.altStack.flags & SS_AUTODISARM);
    b.writeInt32LE(f | 0, 8);
    b.writeBigUInt64LE(BigInt(t.altStack.size), 16);
    t.mm.copyOut(oss, b);
  }
  if (ss) {
    const b = Buffer.from(t.mm.copyIn(ss, 24));
    const sp = Number(b.readBigUInt64LE(0));
    const flags = b.readInt32LE(8);
    const size = Number(b.readBigUInt64LE(16));
    if (onStack) return -EPERM;
    const mode = flags & ~SS_AUTODISARM;
    if (mode !== 0 && mode !== SS_DISABLE && mode !== SS_ONSTACK) return -EINVAL;
    if (mode === SS_DISABLE) t.altStack = { sp: 0, size: 0, flags: SS_DISABLE };
    else {
      if (size < MINSIGSTKSZ) return -ENOMEM;
      t.altStack = { sp, size, flags: flags & SS_AUTODISARM };
    }
  }
  return 0;
}

function senderInfo(t: Task, sig: number, code: number): SigInfo {
  return { signo: sig, code, pid: t.tg.pid, uid: t.creds.uid };
}

/** May t signal tg? (CAP_KILL, or the sender's real/effective uid is the target's real/saved uid). */
function maySignal(t: Task, tg: ThreadGroup, sig: number): boolean {
  if (capable(t, CAP_KILL)) return true;
  const l = tg.leader;
  if (!l) return true;
  if (sig === 18 && tg.sid === t.tg.sid) return true;
  return [t.creds.uid, t.creds.euid].some((u) => u === l.creds.uid || u === l.creds.suid);
}

/** kill implements Linux syscall kill(2). */
export function kill(t: Task, a: A) {
  const pid = a.int(0);
  const sig = a.int(1);
  if (sig < 0 || sig > NSIG) return -EINVAL;
  const k = t.kernel;
  let targets: ThreadGroup[];
  if (pid > 0) {
    const tg = k.tgs.get(pid);
    if (!tg || tg.exitStatus >= 0) return -ESRCH;
    targets = [tg];
  } else if (pid === 0) targets = k.processGroup(t.tg.pgid);
  else if (pid === -1)
    targets = [...k.tgs.values()].filter((g) => g.pid !== 1 && g !== t.tg && g.exitStatus < 0);
  else targets = k.processGroup(-pid);
  if (pid === -2147483648) return -ESRCH;
  if (!targets.length) return -ESRCH;
  let sent = 0,
    denied = 0;
  for (const tg of targets) {
    if (!maySignal(t, tg, sig)) {
      denied++;
      continue;
    }
    // init ignores signals it has no handler for (except from outside).
    // (Linux: sig_ignored checks the blocked mask before the init rule, so a signal init
    // blocks is still queued.)
    const blocked = [...tg.tasks].some((o) => (o.sigmask & sigbit(sig)) !== 0n);
    if (tg.pid === 1 && tg !== t.tg && sig && tg.sighand.actions[sig].handler === 0 && !blocked) {
      sent++;
      continue;
    }
    if (sig) k.signalGroup(tg, senderInfo(t, sig, SI_USER));
    sent++;
  }
  return sent ? 0 : denied ? -EPERM : -ESRCH;
}

function killThread(t: Task, tgid: number, tid: number, sig: number): number {
  if (sig < 0 || sig > NSIG || tid <= 0) return -EINVAL;
  const target = t.kernel.tasks.get(tid);
  if (!target || target.state === 'dead' || (tgid > 0 && target.tg.pid !== tgid)) return -ESRCH;
  if (!maySignal(t, target.tg, sig)) return -EPERM;
  if (sig) t.kernel.signalTask(target, senderInfo(t, sig, SI_TKILL));
  return 0;
}

/** tkill implements Linux syscall tkill(2). */
export const tkill = (t: Task, a: A) => killThread(t, -1, a.int(0), a.int(1));
/** tgkill implements Linux syscall tgkill(2). */
export function tgkill(t: Task, a: A) {
  if (a.int(0) <= 0) return -EINVAL;
  return killThread(t, a.int(0), a.int(1), a.int(2));
}

/** rt_sigqueueinfo implements Linux syscall rt_sigqueueinfo(2). */
export function rt_sigqueueinfo(t: Task, a: A) {
  const tg = t.kernel.tgs.get(a.int(0));
  const sig = a.int(1);
  if (!validSig(sig)) return -EINVAL;
  if (!tg || tg.exitStatus >= 0) return -ESRCH;
  const b = Buffer.from(t.mm.copyIn(a.ptr(2), 128));
  const code = b.readInt32LE(8);
  if ((code >= 0 || code === SI_TKILL) && tg !== t.tg) return -EPERM;
  t.kernel.signalGroup(tg, {
    signo: sig,
    code,
    pid: b.readInt32LE(16),
    uid: b.readUInt32LE(20),
    value: b.readBigUInt64LE(24),
  });
  return 0;
}

/** rt_tgsigqueueinfo implements Linux syscall rt_tgsigqueueinfo(2). */
export function rt_tgsigqueueinfo(t: Task, a: A) {
  const target = t.kernel.tasks.get(a.int(1));
  const sig = a.int(2);
  if (!validSig(sig)) return -EINVAL;
  if (!target || target.tg.pid !== a.int(0)) return -ESRCH;
  const b = Buffer.from(t.mm.copyIn(a.ptr(3), 128));
  const code = b.readInt32LE(8);
  if ((code >= 0 || code === SI_TKILL) && target.tg !== t.tg) return -EPERM;
  t.kernel.signalTask(target, {
    signo: sig,
    code,
    pid: b.readInt32LE(16),
    uid: b.readUInt32LE(20),
    value: b.readBigUInt64LE(24),
  });
  return 0;
}

/** rt_sigpending implements Linux syscall rt_sigpending(2). */
export function rt_sigpending(t: Task, a: A) {
  if (a.ptr(1) > 8) return -EINVAL;
  t.mm.writeU64(a.ptr(0), (t.pending.mask | t.tg.sharedPending.mask) & t.sigmask);
  return 0;
}

/** rt_sigsuspend implements Linux syscall rt_sigsuspend(2). */
export async function rt_sigsuspend(t: Task, a: A): Promise<number> {
  if (a.ptr(1) !== 8) return -EINVAL;
  const m = t.mm.readBigU64(a.ptr(0)) & ~UNBLOCKABLE;
  t.savedMask = t.sigmask;
  t.sigmask = m;
  const r = await t.waitFor(() => () => {});
  return r < 0 ? -ERESTARTNOHAND : -EINTR;
}

/** pause implements Linux syscall pause(2). */
export async function pause(t: Task): Promise<number> {
  await t.waitFor(() => () => {});
  return -ERESTARTNOHAND;
}

/** rt_sigtimedwait implements Linux syscall rt_sigtimedwait(2). */
export async function rt_sigtimedwait(t: Task, a: A): Promise<number> {
  if (a.ptr(3) !== 8) return -EINVAL;
  const set = t.mm.readBigU64(a.ptr(0)) & ~UNBLOCKABLE;
  const infoAddr = a.ptr(1);
  let timeoutNs: number | undefined;
  if (a.ptr(2)) {
    const sec = t.mm.readU64(a.ptr(2)),
      nsec = t.mm.readU64(a.ptr(2) + 8);
    if (nsec >= 1e9) return -EINVAL;
    timeoutNs = sec * 1e9 + nsec;
  }
  const take = (): SigInfo | undefined => t.pending.take(~set) ?? t.tg.sharedPending.take(~set);
  let info = take();
  if (!info) {
    if (timeoutNs === 0) return -EAGAIN;
    // Temporarily unblock the set so arrivals wake us, as Linux does.
    const saved = t.sigmask;
    t.sigmask &= ~set;
    const r = await t.waitFor(() => () => {}, timeoutNs);
    t.sigmask = saved;
    info = take();
    if (!info) return r === -ETIMEDOUT ? -EAGAIN : -EINTR;
  }
  if (infoAddr) t.mm.copyOut(infoAddr, encodeSigInfo(info));
  return info.signo;
}

// ---- interval timers and alarm (ITIMER_REAL; virtual/prof timers are recorded but never fire) ----

function armReal(tg: ThreadGroup, t: Task, valueNs: number, intervalNs: number) {
  const rt = tg.realTimer;
  rt.handle?.clear();
  rt.handle = null;
  rt.intervalNs = intervalNs;
  rt.deadline = 0;
  if (valueNs <= 0) return;
  rt.deadline = Number(process.hrtime.bigint()) + valueNs;
  const fire = () => {
    rt.handle = null;
    t.kernel.signalGroup(tg, { signo: SIGALRM, code: 0x80 });
    if (rt.intervalNs > 0) {
      rt.deadline = Number(process.hrtime.bigint()) + rt.intervalNs;
      rt.handle = new LongTimer(fire, Math.max(1, Math.round(rt.intervalNs / 1e6)));
    } else rt.deadline = 0;
  };
  rt.handle = new LongTimer(fire, Math.max(1, Math.round(valueNs / 1e6)));
}

function remainingNs(tg: ThreadGroup): number {
  if (!tg.realTimer.deadline) return 0;
  return Math.max(1000, tg.realTimer.deadline - Number(process.hrtime.bigint()));
}

/** alarm implements Linux syscall alarm(2). */
export function alarm(t: Task, a: A) {
  const rem = remainingNs(t.tg);
  armReal(t.tg, t, a.uint(0) * 1e9, 0);
  return rem ? Math.max(1, Math.round(rem / 1e9)) : 0;
}

function writeItimerval(t: Task, addr: number, intervalNs: number, valueNs: number) {
  const b = Buffer.alloc(32);
  b.writeBigInt64LE(BigInt(Math.floor(intervalNs / 1e9)), 0);
  b.writeBigInt64LE(BigInt(Math.floor((intervalNs % 1e9) / 1e3)), 8);
  b.writeBigInt64LE(BigInt(Math.floor(valueNs / 1e9)), 16);
  b.writeBigInt64LE(BigInt(Math.floor((valueNs % 1e9) / 1e3)), 24);
  t.mm.copyOut(addr, b);
}

/** getitimer implements Linux syscall getitimer(2). */
export function getitimer(t: Task, a: A) {
  const which = a.int(0);
  if (which < 0 || which > 2) return -EINVAL;
  if (which === 0) writeItimerval(t, a.ptr(1), t.tg.realTimer.intervalNs, remainingNs(t.tg));
  else {
    const ct = cpuTimers(t.tg)[which];
    writeItimerval(
      t,
      a.ptr(1),
      ct?.intervalNs ?? 0,
      ct ? Math.max(1000, ct.expiresNs - cpuNs(t.tg, which)) : 0,
    );
  }
  return 0;
}

// ---- ITIMER_VIRTUAL / ITIMER_PROF: CPU-time timers ----
//
// App code runs on the host, so its CPU time is known only by asking the platform. An
// armed timer polls the group's CPU time (user for VIRTUAL, user+system for PROF) every
// 10 ms — the host's tick — and sends SIGVTALRM/SIGPROF when it passes the expiry.

interface CpuTimer {
  expiresNs: number;
  intervalNs: number;
  poll: NodeJS.Timeout;
}
const cpuTimerState = new WeakMap<ThreadGroup, (CpuTimer | undefined)[]>();
function cpuTimers(tg: ThreadGroup): (CpuTimer | undefined)[] {
  let s = cpuTimerState.get(tg);
  if (!s) {
    s = [];
    cpuTimerState.set(tg, s);
    const timers = s;
    tg.exitHooks.push(() => {
      for (const ct of timers) if (ct) clearInterval(ct.poll);
    });
  }
  return s;
}
function cpuNs(tg: ThreadGroup, which: number): number {
  const c = tg.cpuTime();
  return which === 1 ? c.user : c.user + c.system;
}
function armCpuTimer(t: Task, which: number, valueNs: number, intervalNs: number): void {
  const timers = cpuTimers(t.tg);
  const old = timers[which];
  if (old) clearInterval(old.poll);
  timers[which] = undefined;
  if (valueNs <= 0) return;
  const tg = t.tg;
  const k = t.kernel;
  const ct: CpuTimer = {
    expiresNs: cpuNs(tg, which) + valueNs,
    intervalNs,
    poll: setInterval(() => {
      if (tg.exitStatus >= 0) return clearInterval(ct.poll);
      const now = cpuNs(tg, which);
      if (now < ct.expiresNs) return;
      k.signalGroup(tg, { signo: which === 1 ? SIGVTALRM : SIGPROF, code: 0x80 });
      if (ct.intervalNs > 0) ct.expiresNs = Math.max(ct.expiresNs + ct.intervalNs, now);
      else {
        clearInterval(ct.poll);
        timers[which] = undefined;
      }
    }, 10),
  };
  ct.poll.unref();
  timers[which] = ct;
}
const SIGVTALRM = 26,
  SIGPROF = 27;

/** setitimer implements Linux syscall setitimer(2). */
export function setitimer(t: Task, a: A) {
  const which = a.int(0);
  if (which < 0 || which > 2) return -EINVAL;
  let valueNs = 0,
    intervalNs = 0;
  if (a.ptr(1)) {
    const b = Buffer.from(t.mm.copyIn(a.ptr(1), 32));
    const isec = Number(b.readBigInt64LE(0)),
      iusec = Number(b.readBigInt64LE(8));
    const vsec = Number(b.readBigInt64LE(16)),
      vusec = Number(b.readBigInt64LE(24));
    if (iusec < 0 || iusec >= 1e6 || vusec < 0 || vusec >= 1e6 || isec < 0 || vsec < 0) return -EINVAL;
    intervalNs = isec * 1e9 + iusec * 1e3;
    valueNs = vsec * 1e9 + vusec * 1e3;
  }
  if (a.ptr(2)) getitimer(t, { int: () => which, ptr: () => a.ptr(2) } as unknown as A);
  if (which === 0) armReal(t.tg, t, valueNs, intervalNs);
  else armCpuTimer(t, which, valueNs, intervalNs);
  return 0;
}

/** POSIX timers (timer_create family) on CLOCK_REALTIME/MONOTONIC/BOOTTIME. */
interface PosixTimer {
  id: number;
  signo: number;
  notify: number;
  tid: number;
  value: bigint;
  handle: LongTimer | null;
  deadline: number;
  intervalNs: number;
  overrun: number;
}
const timersOf = new WeakMap<ThreadGroup, Map<number, PosixTimer>>();
function timers(tg: ThreadGroup) {
  let m = timersOf.get(tg);
  if (!m) {
    m = new Map();
    timersOf.set(tg, m);
  }
  return m;
}

/** timer_create implements Linux syscall timer_create(2). */
export function timer_create(t: Task, a: A) {
  const clock = a.int(0);
  if (![0, 1, 7, 2, 3].includes(clock)) return -EINVAL;
  const m = timers(t.tg);
  let id = 0;
  while (m.has(id)) id++;
  const tm: PosixTimer = {
    id,
    signo: SIGALRM,
    notify: 0,
    tid: t.tid,
    value: BigInt(id),
    handle: null,
    deadline: 0,
    intervalNs: 0,
    overrun: 0,
  };
  if (a.ptr(1)) {
    const b = Buffer.from(t.mm.copyIn(a.ptr(1), 64));
    tm.value = b.readBigUInt64LE(0);
    tm.signo = b.readInt32LE(8);
    tm.notify = b.readInt32LE(12);
    if (tm.notify & 4) tm.tid = b.readInt32LE(16);
    if (tm.notify !== 1 && !validSig(tm.signo)) return -EINVAL;
    if (![0, 1, 2, 4].includes(tm.notify)) return -EINVAL;
  }
  m.set(id, tm);
  t.mm.writeI32(a.ptr(2), id);
  return 0;
}

function readItimerspec(t: Task, addr: number): [number, number] {
  const b = Buffer.from(t.mm.copyIn(addr, 32));
  const is = Number(b.readBigInt64LE(0)),
    ins = Number(b.readBigInt64LE(8));
  const vs = Number(b.readBigInt64LE(16)),
    vns = Number(b.readBigInt64LE(24));
  if (ins < 0 || ins >= 1e9 || vns < 0 || vns >= 1e9 || is < 0 || vs < 0)
    throw Object.assign(new Error(), { errno: EINVAL });
  return [is * 1e9 + ins, vs * 1e9 + vns];
}
function writeItimerspec(t: Task, addr: number, intervalNs: number, valueNs: number) {
  const b = Buffer.alloc(32);
  b.writeBigInt64LE(BigInt(Math.floor(intervalNs / 1e9)), 0);
  b.writeBigInt64LE(BigInt(Math.floor(intervalNs % 1e9)), 8);
  b.writeBigInt64LE(BigInt(Math.floor(valueNs / 1e9)), 16);
  b.writeBigInt64LE(BigInt(Math.floor(valueNs % 1e9)), 24);
  t.mm.copyOut(addr, b);
}

/** timer_settime implements Linux syscall timer_settime(2). */
export function timer_settime(t: Task, a: A) {
  const tm = timers(t.tg).get(a.int(0));
  if (!tm) return -EINVAL;
  const flags = a.int(1);
  let interval: number, value: number;
  try {
    [interval, value] = readItimerspec(t, a.ptr(2));
  } catch {
    return -EINVAL;
  }
  if (a.ptr(3))
    writeItimerspec(
      t,
      a.ptr(3),
      tm.intervalNs,
      tm.deadline ? Math.max(1, tm.deadline - Date.now() * 1e6) : 0,
    );
  if (flags & 1 /* TIMER_ABSTIME */ && value) value = Math.max(1, value - Date.now() * 1e6);
  tm.handle?.clear();
  tm.handle = null;
  tm.intervalNs = interval;
  tm.deadline = 0;
  if (value) {
    const k = t.kernel,
      tg = t.tg;
    const fire = () => {
      tm.handle = null;
      if (tm.notify !== 1) {
        const info: SigInfo = {
          signo: tm.signo,
          code: SI_TIMER,
          timerid: tm.id,
          overrun: 0,
          value: tm.value,
        };
        const target = tm.notify & 4 ? k.tasks.get(tm.tid) : undefined;
        if (target) k.signalTask(target, info);
        else k.signalGroup(tg, info);
      }
      if (tm.intervalNs) {
        tm.deadline = Date.now() * 1e6 + tm.intervalNs;
        tm.handle = new LongTimer(fire, Math.max(1, Math.round(tm.intervalNs / 1e6)));
      } else tm.deadline = 0;
    };
    tm.deadline = Date.now() * 1e6 + value;
    tm.handle = new LongTimer(fire, Math.max(1, Math.round(value / 1e6)));
  }
  return 0;
}

/** timer_gettime implements Linux syscall timer_gettime(2). */
export function timer_gettime(t: Task, a: A) {
  const tm = timers(t.tg).get(a.int(0));
  if (!tm) return -EINVAL;
  writeItimerspec(t, a.ptr(1), tm.intervalNs, tm.deadline ? Math.max(1, tm.deadline - Date.now() * 1e6) : 0);
  return 0;
}
/** timer_getoverrun implements Linux syscall timer_getoverrun(2). */
export function timer_getoverrun(t: Task, a: A) {
  const tm = timers(t.tg).get(a.int(0));
  return tm ? tm.overrun : -EINVAL;
}
/** timer_delete implements Linux syscall timer_delete(2). */
export function timer_delete(t: Task, a: A) {
  const m = timers(t.tg);
  const tm = m.get(a.int(0));
  if (!tm) return -EINVAL;
  tm.handle?.clear();
  m.delete(tm.id);
  return 0;
}

/** restart_syscall: only reached if the app calls it directly. */
export const restart_syscall = () => -EINTR;

export const signalSyscalls: SyscallDef<Task>[] = [
  {
    nr: 13,
    name: 'rt_sigaction',
    handler: rt_sigaction,
    support: 'full',
    args: ['signal', 'ptr', 'ptr', 'uint'],
  },
  {
    nr: 14,
    name: 'rt_sigprocmask',
    handler: rt_sigprocmask,
    support: 'full',
    args: ['int', 'ptr', 'ptr', 'uint'],
  },
  { nr: 15, name: 'rt_sigreturn', handler: rt_sigreturn, support: 'full', args: [] },
  { nr: 131, name: 'sigaltstack', handler: sigaltstack, support: 'full', args: ['ptr', 'ptr'] },
  { nr: 62, name: 'kill', handler: kill, support: 'full', args: ['int', 'signal'] },
  { nr: 200, name: 'tkill', handler: tkill, support: 'full', args: ['int', 'signal'] },
  { nr: 234, name: 'tgkill', handler: tgkill, support: 'full', args: ['int', 'int', 'signal'] },
  {
    nr: 129,
    name: 'rt_sigqueueinfo',
    handler: rt_sigqueueinfo,
    support: 'full',
    args: ['int', 'signal', 'ptr'],
  },
  {
    nr: 297,
    name: 'rt_tgsigqueueinfo',
    handler: rt_tgsigqueueinfo,
    support: 'full',
    args: ['int', 'int', 'signal', 'ptr'],
  },
  { nr: 127, name: 'rt_sigpending', handler: rt_sigpending, support: 'full', args: ['ptr', 'uint'] },
  { nr: 130, name: 'rt_sigsuspend', handler: rt_sigsuspend, support: 'full', args: ['ptr', 'uint'] },
  { nr: 34, name: 'pause', handler: pause, support: 'full', args: [] },
  {
    nr: 128,
    name: 'rt_sigtimedwait',
    handler: rt_sigtimedwait,
    support: 'full',
    args: ['ptr', 'ptr', 'ptr', 'uint'],
  },
  { nr: 37, name: 'alarm', handler: alarm, support: 'full', args: ['uint'] },
  {
    nr: 36,
    name: 'getitimer',
    handler: getitimer,
    support: 'partial',
    note: 'ITIMER_VIRTUAL/ITIMER_PROF follow CPU time polled every 10 ms',
    args: ['int', 'ptr'],
  },
  {
    nr: 38,
    name: 'setitimer',
    handler: setitimer,
    support: 'partial',
    note: 'ITIMER_VIRTUAL/ITIMER_PROF follow CPU time polled every 10 ms',
    args: ['int', 'ptr', 'ptr'],
  },
  {
    nr: 222,
    name: 'timer_create',
    handler: timer_create,
    support: 'partial',
    note: 'CPU-time clocks fire on wall time; overrun counts are 0',
    args: ['clockid', 'ptr', 'ptr'],
  },
  {
    nr: 223,
    name: 'timer_settime',
    handler: timer_settime,
    support: 'full',
    args: ['int', 'hex', 'ptr', 'ptr'],
  },
  { nr: 224, name: 'timer_gettime', handler: timer_gettime, support: 'full', args: ['int', 'ptr'] },
  {
    nr: 225,
    name: 'timer_getoverrun',
    handler: timer_getoverrun,
    support: 'partial',
    note: 'always 0',
    args: ['int'],
  },
  { nr: 226, name: 'timer_delete', handler: timer_delete, support: 'full', args: ['int'] },
  {
    nr: 219,
    name: 'restart_syscall',
    handler: restart_syscall,
    support: 'partial',
    note: 'interrupted sleeps restart the original call instead',
    args: [],
  },
];

export { EFAULT, SI_QUEUE };
