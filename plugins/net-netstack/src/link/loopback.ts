/**
 * The loopback link: packets sent are delivered back to the same stack on a later turn of
 * the event loop (one setImmediate drains everything queued so far), never re-entrantly;
 * the socket layer may `flush` at the end of a syscall.
 * The MTU is Linux's lo default, 65536.
 */
import { newLinkStats, type LinkEndpoint } from './link';

export class LoopbackLink implements LinkEndpoint {
  readonly name = 'lo';
  readonly ethernet = false;
  readonly mac = new Uint8Array(6);
  readonly checksumOffload = true;
  readonly stableFrames = true;
  readonly batches = true;
  readonly stats = newLinkStats();
  private deliver: ((frame: Uint8Array) => void) | undefined;
  private endBatch: (() => void) | undefined;
  private queue: Uint8Array[] = [];
  private scheduled = false;
  private closed = false;

  constructor(readonly mtu = 65536) {}

  attach(deliver: (frame: Uint8Array) => void, endBatch?: () => void): void {
    this.deliver = deliver;
    this.endBatch = endBatch;
  }

  send(frame: Uint8Array): void {
    if (this.closed) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    // The stack hands over buffers it no longer touches, so no copy is needed.
    this.queue.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const f of q) {
      if (this.closed) return;
      this.stats.rxFrames++;
      this.stats.rxBytes += f.length;
      this.deliver?.(f);
    }
    this.endBatch?.();
  };

  /**
   * Delivers what is queued now (and what that delivery sends in turn, up to `rounds`
   * passes), instead of on the next turn. For a caller outside the stack (the socket layer
   * at the end of a syscall), so a datagram or FIN is at its peer when the syscall returns,
   * as on Linux's loopback; never called from inside the stack.
   */
  flush(rounds = 4): void {
    while (this.queue.length && !this.closed && rounds-- > 0) this.drain();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }
}
