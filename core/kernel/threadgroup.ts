/**
 * ThreadGroup (a Linux process): pid, parent/children, process group and session,
 * signal handlers and shared pending signals, exit status, resource limits, timers.
 */
import { WaitQueue } from '../util/waiter';
import type { LongTimer } from '../util/timer';
import type { Task } from './task';
import { type SigAction, type SigInfo, defaultSigAction } from './signal-defs';
import type { MemoryManager } from '../mm/mm';

export const RLIMIT_CPU = 0,
  RLIMIT_FSIZE = 1,
  RLIMIT_DATA = 2,
  RLIMIT_STACK = 3,
  RLIMIT_CORE = 4,
  RLIMIT_RSS = 5,
  RLIMIT_NPROC = 6,
  RLIMIT_NOFILE = 7,
  RLIMIT_MEMLOCK = 8,
  RLIMIT_AS = 9,
  RLIMIT_LOCKS = 10,
  RLIMIT_SIGPENDING = 11,
  RLIMIT_MSGQUEUE = 12,
  RLIMIT_NICE = 13,
  RLIMIT_RTPRIO = 14,
  RLIMIT_RTTIME = 15,
  RLIM_NLIMITS = 16;
export const RLIM_INFINITY = 2n ** 64n - 1n;

export class SignalHandlers {
  readonly actions: SigAction[] = [];
  constructor() {
    for (let i = 0; i <= 64; i++) this.actions.push(defaultSigAction());
  }
  clone(): SignalHandlers {
    const c = new SignalHandlers();
    for (let i = 0; i <= 64; i++) c.actions[i] = { ...this.actions[i] };
    return c;
  }
}

export class PendingSignals {
  /** Queued signals in arrival order (standard signals at most once). */
  readonly queue: SigInfo[] = [];
  mask = 0n;
  add(info: SigInfo): boolean {
    const bit = 1n << BigInt(info.signo - 1);
    if (info.signo < 32 && this.mask & bit) return false;
    this.queue.push(info);
    this.mask |= bit;
    return true;
  }
  /** Remove and return the first pending signal not in `blocked`, lowest synchronous first. */
  take(blocked: bigint): SigInfo | undefined {
    const avail = this.mask & ~blocked;
    if (!avail) return undefined;
    // Linux delivers synchronous fault signals first, then the lowest-numbered.
    let best = -1;
    for (let i = 0; i < this.queue.length; i++) {
      const s = this.queue[i].signo;
      if (!(avail & (1n << BigInt(s - 1)))) continue;
      if (best < 0 || s < this.queue[best].signo) best = i;
    }
    if (best < 0) return undefined;
    const [info] = this.queue.splice(best, 1);
    if (!this.queue.some((q) => q.signo === info.signo)) this.mask &= ~(1n << BigInt(info.signo - 1));
    return info;
  }
  discard(set: bigint): void {
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (set & (1n << BigInt(this.queue[i].signo - 1))) this.queue.splice(i, 1);
    this.mask &= ~set;
  }
}

export class ThreadGroup {
  readonly tasks = new Set<Task>();
  readonly children = new Set<ThreadGroup>();
  parent: ThreadGroup | null = null;
  pgid: number;
  sid: number;
  sighand = new SignalHandlers();
  readonly sharedPending = new PendingSignals();
  /** Wait-status of the group once it has exited (Linux encoding), or -1. */
  exitStatus = -1;
  /** The group is exiting (exit_group or a fatal signal); value is the wait status. */
  groupExiting = -1;
  zombie = false;
  reaped = false;
  /** Group stop in effect (signal number) or 0. */
  stopSignal = 0;
  /** Pending report of a stop/continue to the parent's wait (WUNTRACED/WCONTINUED). */
  stopReport = 0;
  continueReport = false;
  /** Notified when a child changes state (exit, stop, continue). */
  readonly childEvents = new WaitQueue();
  /** Notified (POLLIN) whenever a signal is queued to the group or one of its threads (signalfd). */
  readonly signalQueue = new WaitQueue();
  readonly limits: [bigint, bigint][];
  /** Signal sent to the parent on exit (clone's low byte; SIGCHLD for fork). */
  exitSignal = 17;
  /** ITIMER_REAL */
  realTimer: { handle: LongTimer | null; intervalNs: number; deadline: number } = {
    handle: null,
    intervalNs: 0,
    deadline: 0,
  };
  /** CPU time (ns) of reaped children and their reaped descendants (times' cutime/cstime, RUSAGE_CHILDREN). */
  childUserNs = 0;
  childSysNs = 0;
  /** CPU time (ns) of this group's threads that have exited. */
  deadUserNs = 0;
  deadSysNs = 0;
  readonly startTime: number;
  subreaper = false;
  /** Process-wide "no new privileges" and dumpable. */
  noNewPrivs = false;
  dumpable = 1;
  vforkDone: (() => void) | null = null;
  /** exit(2) code of the leader thread, once it has exited. */
  leaderExitCode: number | undefined;
  mm: MemoryManager | null = null;
  /**
   * Run once, in order, when the last thread has exited and before the parent hears of it
   * (Linux's exit_sem and friends: System V semaphore SEM_UNDO adjustments).
   */
  readonly exitHooks: (() => void)[] = [];

  constructor(
    readonly pid: number,
    parent: ThreadGroup | null,
    limits: [bigint, bigint][],
    startTime: number,
  ) {
    this.parent = parent;
    this.pgid = parent ? parent.pgid : pid;
    this.sid = parent ? parent.sid : pid;
    this.limits = limits.map(([a, b]) => [a, b]);
    this.startTime = startTime;
  }

  get leader(): Task | undefined {
    for (const t of this.tasks) if (t.tid === this.pid) return t;
    return this.tasks.values().next().value;
  }

  /** CPU time (ns) of the whole group: live threads plus those that exited. */
  cpuTime(): { user: number; system: number } {
    let user = this.deadUserNs,
      system = this.deadSysNs;
    for (const t of this.tasks) {
      const c = t.cpuTime();
      user += c.user;
      system += c.system;
    }
    return { user, system };
  }

  /** Clock ticks (USER_HZ) in ns. */
  static readonly TICK_NS = 10_000_000;

  limit(r: number): number {
    const v = this.limits[r][0];
    return v >= 2n ** 53n ? Number.MAX_SAFE_INTEGER : Number(v);
  }
}
