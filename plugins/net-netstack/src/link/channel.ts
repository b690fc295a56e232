/**
 * A channel link for tests and injection: frames the stack sends go to `onSend` (a test's
 * scripted peer); `inject` hands a frame to the stack on a later turn of the event loop.
 */
import { newLinkStats, type LinkEndpoint } from './link';

export class ChannelLink implements LinkEndpoint {
  readonly ethernet = true;
  readonly stats = newLinkStats();
  private deliver: ((frame: Uint8Array) => void) | undefined;
  /** Receives a copy of every frame the stack sends. */
  onSend: (frame: Uint8Array) => void = () => {};
  private closed = false;

  constructor(
    readonly name: string,
    readonly mac: Uint8Array,
    readonly mtu = 1500,
  ) {}

  attach(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.onSend(frame.slice());
  }

  /** Delivers a frame to the stack (asynchronously, as a real link would). */
  inject(frame: Uint8Array): void {
    const f = frame.slice();
    setImmediate(() => this.injectNow(f));
  }

  /** Delivers a frame synchronously (for fuzzing loops). */
  injectNow(frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.deliver?.(frame);
  }

  close(): void {
    this.closed = true;
  }
}
