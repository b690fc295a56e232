/**
 * timerfd (Linux's fs/timerfd.c): a timer whose expirations are read from a file.
 *
 * Linux's model, kept exactly: when the timer expires, `ticks` counts one expiration and
 * the file becomes readable; a periodic timer is *not* re-armed in the callback — the
 * next read (or timerfd_gettime) forwards the expiry past "now" in whole intervals,
 * adding the intervals that were missed to the count (hrtimer_forward_now), and restarts
 * it. read(8+ bytes) returns the count as a u64 and resets it; -EAGAIN while it is 0;
 * shorter buffers are EINVAL.
 *
 * Times are bigint nanoseconds on the timer's clock, read through the `now` function the
 * syscall layer gives (the same clocks as clock_gettime). A Node timer stands in for the
 * hrtimer; because Node's timers have millisecond resolution and may run a little early
 * or late, the file also checks the clock whenever it is asked (readiness, read,
 * gettime), so an expiration is never seen before its time nor missed after it.
 */
import { EAGAIN, EINVAL, ESPIPE } from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import { POLLERR, POLLHUP, POLLIN, POLLRDNORM } from '../../util/waiter';
import { copyToSegs, ioLength, type IoDst } from '../../vfs/file';
import { AnonFile } from './anon';

export const TFD_TIMER_ABSTIME = 1,
  TFD_TIMER_CANCEL_ON_SET = 2,
  TFD_NONBLOCK = 0o4000,
  TFD_CLOEXEC = 0o2000000;

/** Longest Node timer delay (setTimeout clamps larger values to 1 ms). */
const MAX_DELAY_MS = 0x7fffffff;

export interface TimerSpec {
  /** Nanoseconds until the next expiration (0: disarmed). */
  value: bigint;
  /** Period in nanoseconds (0: one-shot). */
  interval: bigint;
}

export class TimerFile extends AnonFile {
  /** Expirations not yet read. */
  private ticks = 0n;
  /** The timer is running (expiry is meaningful and not yet reached). */
  private armed = false;
  /** It expired and a periodic timer has not been forwarded since. */
  private expired = false;
  /** Absolute expiry on the clock. */
  private expiry = 0n;
  private interval = 0n;
  private handle: NodeJS.Timeout | null = null;
  private readonly scratch = new Uint8Array(8);

  constructor(
    flags: number,
    readonly clockid: number,
    private readonly now: () => bigint,
  ) {
    super(flags, '[timerfd]');
  }

  /** timerfd_settime: returns the previous setting. `abs`: `value` is a time on the clock. */
  set(value: bigint, interval: bigint, abs: boolean): TimerSpec {
    const old = this.get();
    this.cancel();
    this.ticks = 0n;
    this.expired = false;
    this.interval = interval;
    this.armed = false;
    if (value > 0n) {
      this.expiry = abs ? value : this.now() + value;
      this.armed = true;
      this.fireIfDue();
      if (this.armed) this.schedule();
    }
    return old;
  }

  /** timerfd_gettime: time left and period. */
  get(): TimerSpec {
    this.fireIfDue();
    if (this.expired && this.interval) {
      this.expired = false;
      this.ticks += this.forward() - 1n;
      this.schedule();
    }
    let value = 0n;
    if (this.armed) {
      const left = this.expiry - this.now();
      value = left > 0n ? left : 0n;
    }
    return { value, interval: this.interval };
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    if (off >= 0) return -ESPIPE;
    if (ioLength(dst) < 8) return -EINVAL;
    this.fireIfDue();
    if (this.ticks === 0n) return -EAGAIN;
    let n = this.ticks;
    if (this.expired && this.interval) {
      n += this.forward() - 1n;
      this.schedule();
    }
    this.expired = false;
    this.ticks = 0n;
    new DataView(this.scratch.buffer).setBigUint64(0, n, true);
    copyToSegs(dst, this.scratch);
    return 8;
  }

  override readiness(mask: number): number {
    this.fireIfDue();
    return (this.ticks > 0n ? POLLIN | POLLRDNORM : 0) & (mask | POLLERR | POLLHUP);
  }

  /** The hrtimer callback (timerfd_tmrproc), run as soon as the clock says it is due. */
  private fireIfDue(): void {
    if (!this.armed || this.now() < this.expiry) return;
    this.armed = false;
    this.cancel();
    this.ticks++;
    this.expired = true;
    this.waitQueue().notify(POLLIN | POLLRDNORM);
  }

  /** hrtimer_forward_now: move the expiry past now by whole intervals; returns how many. */
  private forward(): bigint {
    const now = this.now();
    const delta = now - this.expiry;
    if (delta < 0n) return 0n;
    const k = delta / this.interval + 1n;
    this.expiry += k * this.interval;
    this.armed = true;
    return k;
  }

  private schedule(): void {
    this.cancel();
    if (!this.armed) return;
    const ms = Number((this.expiry - this.now() + 999999n) / 1000000n);
    this.handle = setTimeout(
      () => {
        this.handle = null;
        this.fireIfDue();
        if (this.armed) this.schedule(); // woke early (or the delay was clamped)
      },
      Math.min(Math.max(ms, 0), MAX_DELAY_MS),
    );
  }

  private cancel(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }

  protected override release(): void {
    this.cancel();
    this.armed = false;
  }
}
