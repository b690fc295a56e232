/**
 * signalfd (Linux's fs/signalfd.c): pending signals read as struct signalfd_siginfo.
 *
 * A read takes signals in the file's mask from the *reading* task's pending set (its own
 * queue first, then the thread group's shared one) — the same dequeue as a delivery, so
 * a signal read here is no longer pending — and writes one 128-byte signalfd_siginfo per
 * signal, as many as fit (at least 128 bytes or EINVAL); -EAGAIN when none is pending.
 * Only signals the task blocks stay pending long enough to be read: an unblocked one is
 * delivered (or interrupts the wait) first, exactly as on Linux.
 *
 * Readiness and wake-ups: Linux polls `current`'s pending sets and waits on the signal
 * handlers' signalfd_wqh, which the kernel wakes whenever a signal is queued. Our
 * readiness() has no caller, so it looks at the task that created the file or read it
 * last (the common case: one process creating, polling and reading it); the wait queue is
 * that task's thread group `signalQueue`, notified by Kernel.signalTask/signalGroup.
 *
 * The kernel side is reached by duck typing (SignalSource), so this file depends on no
 * kernel class.
 */
import { EAGAIN, EINVAL, ESPIPE } from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import type { SigInfo } from '../../kernel/signal-defs';
import { POLLERR, POLLHUP, POLLIN, POLLRDNORM, type WaitQueue } from '../../util/waiter';
import { copyToSegs, ioLength, type IoDst } from '../../vfs/file';
import { AnonFile } from './anon';

export const SFD_NONBLOCK = 0o4000,
  SFD_CLOEXEC = 0o2000000;

/** sizeof(struct signalfd_siginfo). */
export const SIGNALFD_SIGINFO_SIZE = 128;

/** SIGKILL and SIGSTOP cannot be read through a signalfd (bits signo-1). */
const UNREADABLE = (1n << 8n) | (1n << 18n);

interface PendingSet {
  readonly mask: bigint;
  take(blocked: bigint): SigInfo | undefined;
}

/** What a signalfd needs of a task (kernel/Task provides it). */
export interface SignalSource {
  readonly pending: PendingSet;
  readonly tg: { readonly sharedPending: PendingSet; readonly signalQueue: WaitQueue };
}

/** The task as a SignalSource, or null (a task without signal state, e.g. a unit-test fake). */
export function asSignalSource(t: TaskApi): SignalSource | null {
  const s = t as unknown as Partial<SignalSource>;
  return s.pending && s.tg && s.tg.sharedPending && s.tg.signalQueue ? (s as SignalSource) : null;
}

// si_code values (include/uapi/asm-generic/siginfo.h)
const SI_KERNEL = 0x80,
  SI_TIMER = -2,
  SI_SIGIO = -5,
  NSIGPOLL = 6;
const SIGILL = 4,
  SIGTRAP = 5,
  SIGBUS = 7,
  SIGFPE = 8,
  SIGSEGV = 11,
  SIGCHLD = 17,
  SIGPOLL = 29;

/** Encode a signal as struct signalfd_siginfo (signalfd_copyinfo, by siginfo_layout). */
export function encodeSignalfdSiginfo(si: SigInfo, out = new Uint8Array(SIGNALFD_SIGINFO_SIZE)): Uint8Array {
  out.fill(0);
  const d = new DataView(out.buffer, out.byteOffset, SIGNALFD_SIGINFO_SIZE);
  d.setUint32(0, si.signo, true); // ssi_signo
  d.setInt32(4, si.errno ?? 0, true); // ssi_errno
  d.setInt32(8, si.code, true); // ssi_code
  const pidUid = () => {
    d.setUint32(12, (si.pid ?? 0) >>> 0, true); // ssi_pid
    d.setUint32(16, (si.uid ?? 0) >>> 0, true); // ssi_uid
  };
  const value = () => {
    const v = BigInt.asUintN(64, si.value ?? 0n);
    d.setInt32(44, Number(BigInt.asIntN(32, v)), true); // ssi_int
    d.setBigUint64(48, v, true); // ssi_ptr
  };
  const code = si.code;
  if (code > 0 && code < SI_KERNEL) {
    const sig = si.signo;
    if (sig === SIGCHLD) {
      pidUid();
      d.setInt32(40, si.status ?? 0, true); // ssi_status
      d.setBigUint64(56, BigInt(si.utime ?? 0), true); // ssi_utime
      d.setBigUint64(64, BigInt(si.stime ?? 0), true); // ssi_stime
    } else if (sig === SIGILL || sig === SIGFPE || sig === SIGSEGV || sig === SIGBUS || sig === SIGTRAP) {
      d.setBigUint64(72, BigInt(si.addr ?? 0), true); // ssi_addr
    } else if (sig === SIGPOLL || code <= NSIGPOLL) {
      d.setUint32(28, (si.band ?? 0) >>> 0, true); // ssi_band
      d.setInt32(20, si.fd ?? 0, true); // ssi_fd
    }
  } else if (code === SI_TIMER) {
    d.setUint32(24, (si.timerid ?? 0) >>> 0, true); // ssi_tid
    d.setUint32(32, (si.overrun ?? 0) >>> 0, true); // ssi_overrun
    value();
  } else if (code === SI_SIGIO) {
    d.setUint32(28, (si.band ?? 0) >>> 0, true);
    d.setInt32(20, si.fd ?? 0, true);
  } else if (code < 0) {
    pidUid(); // SIL_RT: tkill, sigqueue, mq_notify...
    value();
  } else {
    pidUid(); // SIL_KILL: kill(2), SI_KERNEL
  }
  return out;
}

export class SignalFile extends AnonFile {
  /** Signals this file reads (bit signo-1), never SIGKILL/SIGSTOP. */
  private sigset: bigint;
  private readonly scratch = new Uint8Array(SIGNALFD_SIGINFO_SIZE);

  constructor(
    flags: number,
    mask: bigint,
    /** The task readiness and wake-ups follow (the creator, then the last reader). */
    private owner: SignalSource,
  ) {
    super(flags, '[signalfd]');
    this.sigset = mask & ~UNREADABLE;
  }

  get mask(): bigint {
    return this.sigset;
  }

  /** signalfd(fd, ...) on an existing signalfd: replace the mask and wake waiters. */
  setMask(mask: bigint, owner: SignalSource): void {
    this.sigset = mask & ~UNREADABLE;
    this.owner = owner;
    this.waitQueue().notify(POLLIN | POLLRDNORM);
  }

  private dequeue(src: SignalSource): SigInfo | undefined {
    const blocked = ~this.sigset;
    return src.pending.take(blocked) ?? src.tg.sharedPending.take(blocked);
  }

  override read(t: TaskApi, dst: IoDst, off: number): number {
    if (off >= 0) return -ESPIPE;
    const count = Math.floor(ioLength(dst) / SIGNALFD_SIGINFO_SIZE);
    if (count === 0) return -EINVAL;
    const src = asSignalSource(t) ?? this.owner;
    this.owner = src;
    let done = 0;
    for (let i = 0; i < count; i++) {
      const info = this.dequeue(src);
      if (!info) break;
      copyToSegs(dst, encodeSignalfdSiginfo(info, this.scratch), done);
      done += SIGNALFD_SIGINFO_SIZE;
    }
    return done > 0 ? done : -EAGAIN;
  }

  override readiness(mask: number): number {
    const o = this.owner;
    const ready = ((o.pending.mask | o.tg.sharedPending.mask) & this.sigset) !== 0n;
    return (ready ? POLLIN | POLLRDNORM : 0) & (mask | POLLERR | POLLHUP);
  }

  /** The owner's thread-group signal queue (Linux's sighand->signalfd_wqh). */
  override waitQueue(): WaitQueue {
    return this.owner.tg.signalQueue;
  }
}
