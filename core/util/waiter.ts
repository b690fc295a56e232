/**
 * Wait queues: the sentry's equivalent of Linux wait_queue_head_t / gVisor's waiter.Queue.
 * An object that can become ready (a pipe, a socket, a futex word...) owns a WaitQueue and
 * calls notify(mask) when readiness changes; a blocked task or an epoll instance subscribes
 * with the event mask it cares about. Callbacks run synchronously inside notify().
 */

/** poll(2) event bits (also epoll's low bits). */
export const POLLIN = 0x1,
  POLLPRI = 0x2,
  POLLOUT = 0x4,
  POLLERR = 0x8,
  POLLHUP = 0x10,
  POLLNVAL = 0x20,
  POLLRDNORM = 0x40,
  POLLRDBAND = 0x80,
  POLLWRNORM = 0x100,
  POLLWRBAND = 0x200,
  POLLMSG = 0x400,
  POLLRDHUP = 0x2000;

/** Events that are always reported whatever the subscriber asked for. */
export const ALWAYS_EVENTS = POLLERR | POLLHUP | POLLNVAL;

export interface WaitEntry {
  mask: number;
  callback: (events: number) => void;
  /** @internal */ next: WaitEntry | null;
  /** @internal */ prev: WaitEntry | null;
  /** @internal */ queue: WaitQueue | null;
}

export class WaitQueue {
  private head: WaitEntry | null = null;

  /** Subscribe `callback` to events in `mask` (ALWAYS_EVENTS are added). */
  subscribe(mask: number, callback: (events: number) => void): WaitEntry {
    const e: WaitEntry = { mask: mask | ALWAYS_EVENTS, callback, next: this.head, prev: null, queue: this };
    if (this.head) this.head.prev = e;
    this.head = e;
    return e;
  }

  unsubscribe(e: WaitEntry): void {
    if (e.queue !== this) return;
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    e.next = e.prev = e.queue = null;
  }

  /** Wake every subscriber whose mask intersects `events`. Safe against unsubscribe during the walk. */
  notify(events: number): void {
    let e = this.head;
    while (e) {
      const next = e.next;
      if (e.mask & events) e.callback(events & e.mask);
      e = next;
    }
  }

  get empty(): boolean {
    return this.head === null;
  }
}
