/**
 * A re-armable timer with a lazily moved host timeout: re-arming to a later deadline (the
 * common case for retransmission timers, re-armed on every ACK) does not touch the host
 * timer; when it fires early it re-arms itself for the remainder. Host timeouts are
 * unref'd: the stack never keeps a process alive by itself. Every live host timeout is
 * counted in `counters.timers`, so tests can check that closed endpoints leave none.
 */
export interface TimerCounters {
  timers: number;
}

export class Timer {
  private deadline = 0;
  private handle: NodeJS.Timeout | undefined;
  private handleAt = 0;

  constructor(
    private readonly counters: TimerCounters,
    private readonly fire: () => void,
  ) {}

  get armed(): boolean {
    return this.deadline !== 0;
  }

  /** Milliseconds until the deadline (0 if unarmed). */
  remaining(now = performance.now()): number {
    return this.deadline === 0 ? 0 : Math.max(0, this.deadline - now);
  }

  arm(ms: number): void {
    const now = performance.now();
    this.deadline = now + ms;
    if (this.handle && this.handleAt <= this.deadline + 1) return;
    this.setHost(ms, now);
  }

  /** Arms only if not armed already. */
  ensure(ms: number): void {
    if (!this.armed) this.arm(ms);
  }

  cancel(): void {
    this.deadline = 0;
  }

  /** Cancels and releases the host timeout (endpoint teardown). */
  dispose(): void {
    this.deadline = 0;
    if (this.handle) {
      clearTimeout(this.handle);
      this.handle = undefined;
      this.counters.timers--;
    }
  }

  private setHost(ms: number, now: number): void {
    if (this.handle) clearTimeout(this.handle);
    else this.counters.timers++;
    this.handleAt = now + ms;
    this.handle = setTimeout(this.onHost, Math.max(1, Math.ceil(ms)));
    this.handle.unref();
  }

  private readonly onHost = (): void => {
    this.handle = undefined;
    this.counters.timers--;
    if (this.deadline === 0) return;
    const now = performance.now();
    if (now + 0.5 < this.deadline) {
      this.setHost(this.deadline - now, now);
      return;
    }
    this.deadline = 0;
    this.fire();
  };
}
