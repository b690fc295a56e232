/**
 * Timers for arbitrary delays. Node's setTimeout takes at most 2^31-1 ms and fires at
 * once (with a warning) for more; an app can ask for years. LongTimer re-arms in steps.
 */
const MAX_DELAY = 0x7fffffff;

export class LongTimer {
  private handle: NodeJS.Timeout | null = null;
  private readonly deadline: number;

  /** Call `fn` after `ms` milliseconds (clamped at 0; Infinity never fires). */
  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.deadline = Date.now() + Math.max(0, ms);
    if (Number.isFinite(ms)) this.arm();
  }

  private arm(): void {
    const left = this.deadline - Date.now();
    if (left > MAX_DELAY) this.handle = setTimeout(() => this.arm(), MAX_DELAY);
    else this.handle = setTimeout(this.fn, Math.max(0, left));
  }

  clear(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }
}
