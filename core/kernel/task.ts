/**
 * Task: one application thread (Linux task_struct) and its run loop.
 *
 * The platform reports each stop synchronously through onStop(). A syscall is served
 * synchronously when its handler returns a number (the hot path: no promise, no
 * allocation), or when it returns a Promise the task is parked until it settles — the
 * event loop keeps turning and other tasks run. On the way back to the app, pending
 * signals are delivered (signal frames, default actions, group stop) exactly once, in
 * returnToUser().
 *
 * Ordering: a task is in exactly one state: 'user' (app code running on the platform),
 * 'kernel' (inside onStop/returnToUser), 'blocked' (awaiting a syscall's promise),
 * 'stopped' (group stop), 'dead'.
 */
import { Reg, StopReason, type Context, type ContextOwner } from '../plugins/platform';
import type { Credentials, SyscallArgs, TaskApi } from './api';
import { BLOCK_READY } from './api';
import {
  EFAULT,
  EINTR,
  ENOSYS,
  ERESTARTNOHAND,
  ERESTARTNOINTR,
  ERESTARTSYS,
  ERESTART_RESTARTBLOCK,
  ETIMEDOUT,
  SysError,
  errnoName,
} from '../abi/errno';
import { WaitQueue } from '../util/waiter';
import { LongTimer } from '../util/timer';
import type { MemoryManager } from '../mm/mm';
import type { Kernel } from './kernel';
import type { ThreadGroup } from './threadgroup';
import { PendingSignals } from './threadgroup';
import {
  DefaultAction,
  SA_NODEFER,
  SA_ONSTACK,
  SA_RESETHAND,
  SA_RESTART,
  SA_SIGINFO,
  SIGKILL,
  SIGSEGV,
  SIG_DFL,
  SIG_IGN,
  SIGSTOP,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
  UNBLOCKABLE,
  type SigInfo,
  defaultAction,
  encodeSigInfo,
  sigbit,
  SI_KERNEL,
  SI_TKILL,
  STOP_SIGNALS,
} from './signal-defs';

const ARG_REGS = [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9];

/** struct sigcontext's register order (arch/x86/include/uapi/asm/sigcontext.h), eflags last. */
const SIGCONTEXT_REGS = [
  Reg.R8,
  Reg.R9,
  Reg.R10,
  Reg.R11,
  Reg.R12,
  Reg.R13,
  Reg.R14,
  Reg.R15,
  Reg.RDI,
  Reg.RSI,
  Reg.RBP,
  Reg.RBX,
  Reg.RDX,
  Reg.RAX,
  Reg.RCX,
  Reg.RSP,
  Reg.RIP,
  Reg.EFLAGS,
];

class RegArgs implements SyscallArgs {
  constructor(
    private readonly u32: Uint32Array,
    private readonly i32: Int32Array,
    private readonly regs: BigUint64Array,
  ) {}
  int(i: number): number {
    return this.i32[ARG_REGS[i] * 2];
  }
  uint(i: number): number {
    return this.u32[ARG_REGS[i] * 2];
  }
  ptr(i: number): number {
    const r = ARG_REGS[i] * 2;
    return this.u32[r] + this.u32[r + 1] * 4294967296;
  }
  i64(i: number): number {
    const r = ARG_REGS[i] * 2;
    return this.u32[r] + this.i32[r + 1] * 4294967296;
  }
  big(i: number): bigint {
    return this.regs[ARG_REGS[i]];
  }
}

export type TaskState = 'new' | 'user' | 'kernel' | 'blocked' | 'stopped' | 'dead';

/** Files and filesystem context as the kernel needs them (implemented by core/vfs). */
export interface TaskFiles {
  /** Descriptors must be below this (the process's RLIMIT_NOFILE soft limit). */
  limit: number;
  /** A copy (fork without CLONE_FILES). */
  fork(): TaskFiles;
  closeOnExec(): void;
  /** Close every fd (the last task using the table is gone). */
  releaseAll(): void;
}
export interface TaskFsContext {
  fork(): TaskFsContext;
}

export class Task implements ContextOwner, TaskApi {
  state: TaskState = 'new';
  tid: number;
  ctx!: Context;
  regs!: BigUint64Array;
  u32!: Uint32Array;
  i32!: Int32Array;
  args!: RegArgs;
  /** Blocked-signal mask. */
  sigmask = 0n;
  /** Mask to restore after a sigsuspend/pselect/ppoll, applied when the call returns. */
  savedMask: bigint | null = null;
  readonly pending = new PendingSignals();
  altStack = { sp: 0, size: 0, flags: SS_DISABLE };
  comm = '';
  clearChildTid = 0;
  robustList = 0;
  robustListLen = 0;
  /** Wakes a blocked syscall with -ERESTARTSYS (set while blocked). */
  private wakeup: (() => void) | null = null;
  /** Syscall number being served (for restart). */
  private curNr = -1;
  /** Set by handlers that replace all registers (execve, rt_sigreturn): do not write rax. */
  skipReturn = false;
  /** Called with the result instead of the standard path (restart_syscall support). */
  exitCode = 0;
  readonly fpScratch = new Uint8Array(512);
  /** The task is inside a vfork child until exec/exit. */
  vforkParent: Task | null = null;
  /** Counters for /proc. */
  syscalls = 0;
  startNs: bigint;
  cpuAffinity: bigint = 3n;
  /** For nanosleep restart: remaining time written on interrupt. */
  niceValue = 0;
  pdeathSig = 0;
  lastSyscall = -1;
  /** The last fault retried on an installed extent (MemoryManager.handleFault). */
  readonly lastFault = { addr: -1, gen: -1 };
  personality = 0;
  nameForLog: string;

  constructor(
    readonly kernel: Kernel,
    public tg: ThreadGroup,
    tid: number,
    public mm: MemoryManager,
    public creds: Credentials,
    public files: TaskFiles,
    public fs: TaskFsContext,
  ) {
    this.tid = tid;
    this.startNs = process.hrtime.bigint();
    this.nameForLog = String(tid);
  }

  get tgid(): number {
    return this.tg.pid;
  }
  get pgid(): number {
    return this.tg.pgid;
  }
  get sid(): number {
    return this.tg.sid;
  }
  get mem(): MemoryManager {
    return this.mm;
  }

  attachContext(ctx: Context): void {
    this.ctx = ctx;
    this.regs = ctx.regs;
    this.u32 = new Uint32Array(ctx.regs.buffer, ctx.regs.byteOffset, ctx.regs.length * 2);
    this.i32 = new Int32Array(ctx.regs.buffer, ctx.regs.byteOffset, ctx.regs.length * 2);
    this.args = new RegArgs(this.u32, this.i32, this.regs);
  }

  // ---- registers ----

  reg(r: Reg): number {
    return this.u32[r * 2] + this.u32[r * 2 + 1] * 4294967296;
  }
  setReg(r: Reg, v: number): void {
    this.u32[r * 2] = v >>> 0;
    this.u32[r * 2 + 1] = Math.floor(v / 4294967296) >>> 0;
  }

  // ---- the run loop ----

  /** Start (or continue) running app code. */
  start(): void {
    this.state = 'kernel';
    this.returnToUser();
  }

  onStop(reason: StopReason): void {
    if (this.state === 'dead') return;
    this.state = 'kernel';
    try {
      this.handleStop(reason);
    } catch (e) {
      // A sentry bug or a host I/O error must never take the sentry down: the app gets
      // SIGBUS for a fault we could not serve (as Linux for an unreadable mapped page),
      // and is killed otherwise; the error is logged with its stack.
      this.kernel.log.error(
        { tid: this.tid, reason, err: e instanceof Error ? e.stack : String(e) },
        'sentry error while serving the app',
      );
      try {
        if (reason === StopReason.Fault && e instanceof SysError) {
          this.forceSignal({ signo: 7, code: 2, addr: this.ctx.stopInfo.addr });
        } else this.kernel.groupExit(this.tg, SIGKILL);
        if (this.state === 'kernel') this.returnToUser();
      } catch (e2) {
        this.kernel.log.error(
          { tid: this.tid, err: e2 instanceof Error ? e2.stack : String(e2) },
          'could not recover the task; killing it',
        );
        this.kernel.groupExit(this.tg, SIGKILL);
        this.exitThread();
      }
    }
  }

  private handleStop(reason: StopReason): void {
    switch (reason) {
      case StopReason.Syscall:
        this.syscall();
        return;
      case StopReason.Fault: {
        const si = this.ctx.stopInfo;
        const r = this.mm.handleFault(si.addr, this.lastFault);
        if (r.signo) {
          this.kernel.log.debug(
            {
              tid: this.tid,
              addr: '0x' + si.addr.toString(16),
              rip: '0x' + this.reg(Reg.RIP).toString(16),
              signo: r.signo,
              code: r.code,
            },
            'fault: signal to the app',
          );
          this.forceSignal({ signo: r.signo, code: r.code, addr: si.addr });
        }
        this.returnToUser();
        return;
      }
      case StopReason.Signal: {
        const si = this.ctx.stopInfo;
        this.kernel.log.debug(
          { tid: this.tid, signo: si.signo, code: si.code, rip: '0x' + this.reg(Reg.RIP).toString(16) },
          'synchronous signal from the app',
        );
        this.forceSignal({ signo: si.signo, code: si.code, addr: si.addr });
        this.returnToUser();
        return;
      }
      case StopReason.Interrupt:
        this.returnToUser();
        return;
      case StopReason.Died:
        this.kernel.log.warn({ tid: this.tid }, 'app thread vanished on the host; treating as killed');
        this.tg.groupExiting = this.tg.groupExiting >= 0 ? this.tg.groupExiting : SIGKILL;
        this.exitThread();
        return;
    }
  }

  private syscall(): void {
    const nr = this.i32[Reg.ORIG_RAX * 2];
    this.curNr = nr;
    this.lastSyscall = nr;
    this.syscalls++;
    const k = this.kernel;
    const def = nr >= 0 && nr < k.table.length ? k.table[nr] : undefined;
    if (k.strace) k.straceEnter(this, nr, def);
    let ret: number | Promise<number>;
    try {
      ret = def?.handler ? def.handler(this, this.args) : k.missingSyscall(this, nr);
    } catch (e) {
      ret = this.errorToRet(e, nr);
    }
    if (typeof ret === 'number') this.syscallDone(ret);
    else {
      this.state = 'blocked';
      ret.then(
        (v) => this.afterBlock(v),
        (e) => this.afterBlock(this.errorToRet(e, nr)),
      );
    }
  }

  private afterBlock(v: number): void {
    if (this.state === 'dead') return;
    this.state = 'kernel';
    this.syscallDone(v);
  }

  private errorToRet(e: unknown, nr: number): number {
    if (e instanceof SysError) return -e.errno;
    this.kernel.log.error(
      { tid: this.tid, syscall: nr, err: e instanceof Error ? e.stack : String(e) },
      'sentry error in syscall handler; returning EFAULT/ENOSYS to the app',
    );
    return e instanceof RangeError ? -EFAULT : -ENOSYS;
  }

  private syscallDone(ret: number): void {
    if (this.state === 'dead') return;
    if (this.skipReturn) {
      this.skipReturn = false;
      if (this.kernel.strace) this.kernel.straceExit(this, this.curNr, ret, true);
    } else {
      if (this.kernel.strace) this.kernel.straceExit(this, this.curNr, ret, false);
      this.setReg(Reg.RAX, ret);
    }
    this.returnToUser();
  }

  /** Deliver signals, honour group exit/stop, then resume the app. */
  returnToUser(): void {
    while (true) {
      if (this.state === 'dead') return;
      if (this.tg.groupExiting >= 0) {
        this.exitThread();
        return;
      }
      if (this.tg.stopSignal) {
        this.state = 'stopped';
        this.kernel.noteStopped(this);
        return;
      }
      const r = this.deliverSignal();
      if (r === 'none') break;
    }
    // A pending restart decision with no handler involved: restart.
    this.fixupRestart(null);
    if (this.savedMask !== null) {
      this.sigmask = this.savedMask;
      this.savedMask = null;
    }
    this.state = 'user';
    this.ctx.resume();
  }

  /** Called for a syscall return value in rax: restart codes become EINTR or a restart. */
  private fixupRestart(act: { flags: number } | null): void {
    const rax = this.i32[Reg.RAX * 2];
    const hi = this.i32[Reg.RAX * 2 + 1];
    if (hi !== -1) return;
    const err = -rax;
    if (
      err !== ERESTARTSYS &&
      err !== ERESTARTNOINTR &&
      err !== ERESTARTNOHAND &&
      err !== ERESTART_RESTARTBLOCK
    )
      return;
    let restart: boolean;
    if (!act) restart = true;
    else if (err === ERESTARTNOINTR) restart = true;
    else if (err === ERESTARTSYS) restart = (act.flags & SA_RESTART) !== 0;
    else restart = false;
    if (restart) {
      this.setReg(Reg.RAX, this.reg(Reg.ORIG_RAX));
      this.setReg(Reg.RIP, this.reg(Reg.RIP) - 2);
    } else this.setReg(Reg.RAX, -EINTR);
  }

  // ---- blocking ----

  block(q: WaitQueue, mask: number, timeoutNs?: number): Promise<number> {
    return this.waitFor((wake) => {
      const entry = q.subscribe(mask, () => wake(BLOCK_READY));
      return () => q.unsubscribe(entry);
    }, timeoutNs);
  }

  /**
   * The blocking primitive: `setup(wake)` registers interest and returns its undo. The
   * promise resolves with the value given to wake(), -ETIMEDOUT after `timeoutNs`, or
   * -ERESTARTSYS when a signal (or exit/stop) interrupts the task.
   */
  waitFor(setup: (wake: (v: number) => void) => () => void, timeoutNs?: number): Promise<number> {
    if (this.interrupted()) return Promise.resolve(-ERESTARTSYS);
    return new Promise((resolve) => {
      let timer: LongTimer | null = null;
      let settled = false;
      let undo: (() => void) | null = null;
      const done = (v: number) => {
        if (settled) return;
        settled = true;
        undo?.();
        timer?.clear();
        this.wakeup = null;
        resolve(v);
      };
      const u = setup(done);
      if (settled) {
        u();
        return;
      }
      undo = u;
      this.wakeup = () => done(-ERESTARTSYS);
      if (timeoutNs !== undefined) timer = new LongTimer(() => done(-ETIMEDOUT), Math.ceil(timeoutNs / 1e6));
    });
  }

  /** Sleep until the deadline or a signal. Resolves 0 or -ERESTARTSYS. */
  sleep(ns: number): Promise<number> {
    return this.block(new WaitQueue(), 0, ns).then((v) => (v === -ETIMEDOUT ? 0 : v));
  }

  /** True if an unblocked signal (or group exit/stop) is pending. */
  interrupted(): boolean {
    if (this.tg.groupExiting >= 0 || this.tg.stopSignal) return true;
    const blocked = this.sigmask & ~UNBLOCKABLE;
    return (this.pending.mask & ~blocked) !== 0n || (this.tg.sharedPending.mask & ~blocked) !== 0n;
  }

  /** Make the task notice a signal/exit/stop: interrupt app code or wake a blocked call. */
  kick(): void {
    if (this.state === 'user') this.ctx.interrupt();
    else if (this.state === 'blocked' && this.wakeup) this.wakeup();
    else if (this.state === 'stopped' && (this.tg.groupExiting >= 0 || !this.tg.stopSignal)) {
      this.state = 'kernel';
      this.returnToUser();
    }
  }

  // ---- signals ----

  sendSignal(signo: number): void {
    this.kernel.signalTask(this, { signo, code: SI_KERNEL });
  }

  /** A synchronous signal caused by this task (fault): unblocked and un-ignored if needed, as Linux's force_sig_info. */
  forceSignal(info: SigInfo): void {
    const act = this.tg.sighand.actions[info.signo];
    const bit = sigbit(info.signo);
    if (act.handler === SIG_IGN || this.sigmask & bit) {
      act.handler = SIG_DFL;
      this.sigmask &= ~bit;
    }
    this.pending.add(info);
  }

  private dequeue(): SigInfo | undefined {
    const blocked = this.sigmask & ~UNBLOCKABLE;
    return this.pending.take(blocked) ?? this.tg.sharedPending.take(blocked);
  }

  /** Deliver one signal. */
  private deliverSignal(): 'none' | 'handled' {
    const info = this.dequeue();
    if (!info) return 'none';
    const sig = info.signo;
    const act = this.tg.sighand.actions[sig];
    if (sig === SIGKILL || act.handler === SIG_DFL) {
      const da = sig === SIGKILL ? DefaultAction.Term : defaultAction(sig);
      switch (da) {
        case DefaultAction.Ignore:
        case DefaultAction.Continue:
          return 'handled';
        case DefaultAction.Stop:
          // Terminal stop signals do not stop an orphaned process group (Linux's get_signal):
          // nothing would be left to continue it.
          if (sig !== SIGSTOP && this.kernel.isPgrpOrphaned(this.tg.pgid)) return 'handled';
          this.kernel.groupStop(this.tg, sig);
          return 'handled';
        case DefaultAction.Term:
        case DefaultAction.Core:
          this.fixupRestart(null);
          this.kernel.groupExit(
            this.tg,
            sig | (da === DefaultAction.Core && this.kernel.coreFlag ? 0x80 : 0),
          );
          return 'handled';
      }
    }
    if (act.handler === SIG_IGN) return 'handled';
    this.fixupRestart(act);
    try {
      this.setupFrame(info, act);
    } catch {
      // Could not write the frame: the task dies with SIGSEGV, as Linux's force_sigsegv.
      this.kernel.groupExit(this.tg, SIGSEGV);
      return 'handled';
    }
    if (act.flags & SA_RESETHAND) act.handler = SIG_DFL;
    return 'handled';
  }

  /** Build an x86-64 rt_sigframe on the app stack (arch/x86/kernel/signal_64.c) and point the task at the handler. */
  private setupFrame(
    info: SigInfo,
    act: { handler: number; flags: number; restorer: number; mask: bigint },
  ): void {
    let sp = this.reg(Reg.RSP);
    const onAlt =
      this.altStack.flags === 0 && sp > this.altStack.sp && sp <= this.altStack.sp + this.altStack.size;
    if (act.flags & SA_ONSTACK && this.altStack.flags === 0 && !onAlt)
      sp = this.altStack.sp + this.altStack.size;
    else sp -= 128; // red zone
    // FPU state (FXSAVE), 64-byte aligned.
    sp = Math.floor((sp - 512) / 64) * 64;
    const fpAddr = sp;
    this.ctx.getFpState(this.fpScratch);
    this.mm.copyOut(fpAddr, this.fpScratch);
    const FRAME = 440;
    sp = Math.floor((sp - FRAME) / 16) * 16 - 8;
    const f = Buffer.alloc(FRAME);
    f.writeBigUInt64LE(BigInt(act.restorer), 0);
    // ucontext at 8
    f.writeBigUInt64LE(0x2n | 0x4n, 8); // UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    f.writeBigUInt64LE(0n, 16);
    f.writeBigUInt64LE(BigInt(this.altStack.sp), 24);
    f.writeInt32LE(
      this.altStack.flags === SS_DISABLE
        ? SS_DISABLE
        : onAlt
          ? SS_ONSTACK
          : this.altStack.flags & ~SS_AUTODISARM,
      32,
    );
    f.writeBigUInt64LE(BigInt(this.altStack.size), 40);
    // sigcontext at 48
    const r = this.regs;
    for (let i = 0; i < SIGCONTEXT_REGS.length; i++) f.writeBigUInt64LE(r[SIGCONTEXT_REGS[i]], 48 + i * 8);
    f.writeUInt16LE(Number(r[Reg.CS]), 192);
    f.writeUInt16LE(Number(r[Reg.GS]), 194);
    f.writeUInt16LE(Number(r[Reg.FS]), 196);
    f.writeUInt16LE(Number(r[Reg.SS]), 198);
    const fault = info.addr !== undefined && info.code > 0 && info.code < SI_KERNEL;
    f.writeBigUInt64LE(fault ? 14n : 0n, 208); // trapno: page fault for SEGV/BUS
    f.writeBigUInt64LE(this.sigmask & 0xffffffffn, 216); // oldmask
    f.writeBigUInt64LE(BigInt(fault ? info.addr! : 0), 224); // cr2
    f.writeBigUInt64LE(BigInt(fpAddr), 232);
    // uc_sigmask: the mask to restore on sigreturn (the one saved by sigsuspend/ppoll if any).
    f.writeBigUInt64LE(this.savedMask ?? this.sigmask, 304);
    this.savedMask = null;
    encodeSigInfo(info).copy(f, 312);
    this.mm.copyOut(sp, f);
    if (act.flags & SA_ONSTACK && this.altStack.flags & SS_AUTODISARM)
      this.altStack = { sp: 0, size: 0, flags: SS_DISABLE };
    this.setReg(Reg.RSP, sp);
    this.setReg(Reg.RIP, act.handler);
    this.setReg(Reg.RDI, info.signo);
    this.setReg(Reg.RSI, act.flags & SA_SIGINFO ? sp + 312 : 0);
    this.setReg(Reg.RDX, act.flags & SA_SIGINFO ? sp + 8 : 0);
    this.setReg(Reg.RAX, 0);
    // DF cleared, TF cleared, as the kernel does for handlers.
    this.regs[Reg.EFLAGS] &= ~(0x400n | 0x100n);
    this.sigmask |= act.mask;
    if (!(act.flags & SA_NODEFER)) this.sigmask |= sigbit(info.signo);
    this.sigmask &= ~UNBLOCKABLE;
  }

  /** rt_sigreturn: restore registers, mask and FPU state from the frame at rsp-8. */
  sigreturn(): void {
    const frame = this.reg(Reg.RSP) - 8;
    const f = Buffer.from(this.mm.copyIn(frame, 440));
    // rip and the general registers (not eflags: below).
    for (let i = 0; i < SIGCONTEXT_REGS.length - 1; i++)
      this.regs[SIGCONTEXT_REGS[i]] = f.readBigUInt64LE(48 + i * 8);
    // Only the user-changeable flags (AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF) come from the frame.
    const FIX = 0x40000n | 0x800n | 0x400n | 0x100n | 0x80n | 0x40n | 0x10n | 0x4n | 0x1n | 0x10000n;
    this.regs[Reg.EFLAGS] = (this.regs[Reg.EFLAGS] & ~FIX) | (f.readBigUInt64LE(48 + 17 * 8) & FIX);
    this.regs[Reg.ORIG_RAX] = 0xffffffffffffffffn; // no syscall restart after sigreturn
    const fp = Number(f.readBigUInt64LE(232));
    if (fp) {
      const st = this.mm.copyIn(fp, 512);
      // Sanitize MXCSR reserved bits so the host never rejects the state.
      const dv = new DataView(st.buffer, st.byteOffset, 512);
      dv.setUint32(24, dv.getUint32(24, true) & 0xffff, true);
      this.ctx.setFpState(st);
    }
    this.sigmask = f.readBigUInt64LE(304) & ~UNBLOCKABLE;
    // Restore the alternate stack settings (restore_altstack).
    const ssSp = Number(f.readBigUInt64LE(24));
    const ssFlags = f.readInt32LE(32);
    const ssSize = Number(f.readBigUInt64LE(40));
    if (!this.onAltStack())
      this.altStack = {
        sp: ssSp,
        size: ssSize,
        flags: ssFlags & SS_DISABLE ? SS_DISABLE : ssFlags & SS_AUTODISARM,
      };
    this.skipReturn = true;
  }

  onAltStack(): boolean {
    const sp = this.reg(Reg.RSP);
    return (
      this.altStack.flags !== SS_DISABLE &&
      sp > this.altStack.sp &&
      sp <= this.altStack.sp + this.altStack.size
    );
  }

  // ---- exit ----

  /** The thread leaves: clear_child_tid, release the context, maybe the whole group exits. */
  exitThread(): void {
    if (this.state === 'dead') return;
    const wasState = this.state;
    // Keep the thread's CPU time in its group before the host thread goes away.
    const cpu = this.cpuTime();
    this.tg.deadUserNs += cpu.user;
    this.tg.deadSysNs += cpu.system;
    this.state = 'dead';
    if (this.tid === this.tg.pid) this.tg.leaderExitCode = this.exitCode;
    this.wakeup?.();
    this.wakeup = null;
    this.releaseRobustFutexes();
    if (this.clearChildTid) {
      try {
        this.mm.writeU32(this.clearChildTid, 0);
        this.kernel.futexWake(this, this.clearChildTid, 1, false);
      } catch {
        /* a bad address is ignored, as Linux does */
      }
    }
    this.kernel.taskExited(this, wasState);
  }

  /** CPU time of this thread in ns (0 when the platform cannot tell). */
  cpuTime(): { user: number; system: number } {
    return this.state === 'dead' || !this.ctx?.cpuTimeNs ? { user: 0, system: 0 } : this.ctx.cpuTimeNs();
  }

  /**
   * Linux's exit_robust_list: every futex on the thread's robust list that it still owns
   * gets FUTEX_OWNER_DIED and one waiter is woken, so a pthread robust mutex held by a
   * dying thread returns EOWNERDEAD to the next locker. Faults end the walk silently.
   */
  private releaseRobustFutexes(): void {
    const head = this.robustList;
    if (!head) return;
    this.robustList = 0;
    const FUTEX_WAITERS = 0x80000000,
      FUTEX_OWNER_DIED = 0x40000000,
      FUTEX_TID_MASK = 0x3fffffff;
    const release = (entry: number, off: number, pi: boolean) => {
      const uaddr = entry + off;
      const word = this.mm.readU32(uaddr);
      if ((word & FUTEX_TID_MASK) !== this.tid) return;
      this.mm.writeU32(uaddr, ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0);
      if (!pi && word & FUTEX_WAITERS) this.kernel.futexWake(this, uaddr, 1, false);
    };
    try {
      let entry = this.mm.readU64(head);
      const futexOffset = Number(BigInt.asIntN(64, this.mm.readBigU64(head + 8)));
      const pending = this.mm.readU64(head + 16);
      // At most ROBUST_LIST_LIMIT (2048) entries, as Linux, against cyclic lists.
      // Bit 0 of an entry marks a PI futex (addresses exceed 32 bits: no bitwise ops).
      for (let n = 0; entry !== head && n < 2048; n++) {
        const addr = entry - (entry % 2);
        const next = this.mm.readU64(addr);
        if (entry !== pending) release(addr, futexOffset, entry % 2 === 1);
        entry = next;
      }
      if (pending) release(pending - (pending % 2), futexOffset, pending % 2 === 1);
    } catch {
      /* a bad list: stop, as Linux does */
    }
  }

  toString(): string {
    return `task ${this.tid}`;
  }

  /** Format an errno result for logs. */
  static retString(v: number): string {
    return v < 0 && v > -4096 ? `${v} (${errnoName(-v)})` : String(v);
  }
}

export { SI_TKILL, STOP_SIGNALS };
