/**
 * epoll instances (Linux's fs/eventpoll.c; gVisor's vfs.EpollInstance).
 *
 * The Linux picture: an epoll file holds *items* keyed by (file description, fd number).
 * Each item hooks a callback into the watched file's wait queue; when the file signals an
 * event the item asked for, the callback puts the item on the instance's ready list and
 * wakes epoll_wait callers and anyone polling the epoll file itself (nesting). epoll_wait
 * walks the ready list, asks each file for its current readiness, and reports the items
 * that are ready: a level-triggered item goes back on the list (it is reported again
 * while the file stays ready), an edge-triggered one (EPOLLET) does not — it returns only
 * when a new event arrives on the file's wait queue — and an EPOLLONESHOT item is
 * disarmed (events cleared down to the private bits) until EPOLL_CTL_MOD re-arms it.
 * Items that turn out not ready are simply dropped from the list.
 *
 * Our mapping: EpollItem subscribes to `file.waitQueue()`; `ready` is an insertion-ordered
 * Set (the rdllist). An item holds no reference on its file, as Linux: it vanishes when
 * the file description is released. Without a release hook on FileDescription we notice
 * that lazily — an item whose file's refCount is 0 is removed the next time its callback
 * fires (a pipe end's release notifies the shared queue), or when the list is scanned
 * or the items are walked — so a released file is never reported and never matched by
 * epoll_ctl.
 *
 * Ordering: everything here is synchronous; callbacks run inside WaitQueue.notify(). The
 * syscall layer must call collect() and subscribe to waitQueue() in one synchronous run.
 */
import { ELOOP } from '../../abi/errno';
import { ALWAYS_EVENTS, POLLIN, POLLRDNORM, type WaitEntry, type WaitQueue } from '../../util/waiter';
import type { FileDescription } from '../../vfs/file';
import { AnonFile } from './anon';

export const EPOLLIN = 0x1,
  EPOLLPRI = 0x2,
  EPOLLOUT = 0x4,
  EPOLLERR = 0x8,
  EPOLLHUP = 0x10,
  EPOLLRDNORM = 0x40,
  EPOLLRDBAND = 0x80,
  EPOLLWRNORM = 0x100,
  EPOLLWRBAND = 0x200,
  EPOLLMSG = 0x400,
  EPOLLRDHUP = 0x2000,
  EPOLLEXCLUSIVE = 1 << 28,
  EPOLLWAKEUP = 1 << 29,
  EPOLLONESHOT = 1 << 30,
  EPOLLET = 0x80000000;

/** Flags that are not events (Linux's EP_PRIVATE_BITS). */
export const EP_PRIVATE_BITS = (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE) >>> 0;
/** What may accompany EPOLLEXCLUSIVE (EPOLLEXCLUSIVE_OK_BITS). */
export const EPOLLEXCLUSIVE_OK_BITS =
  (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE) >>> 0;
/** Maximum nesting of epoll instances (EP_MAX_NESTS). */
export const EP_MAX_NESTS = 4;

export const EPOLL_CTL_ADD = 1,
  EPOLL_CTL_DEL = 2,
  EPOLL_CTL_MOD = 3;

/** One watched (file, fd). */
export class EpollItem {
  entry: WaitEntry | null = null;
  /** The queue `entry` is on (a file's waitQueue() may change, e.g. a signalfd's owner). */
  queue: WaitQueue | null = null;
  constructor(
    readonly ep: EpollFile,
    readonly file: FileDescription,
    readonly fd: number,
    /** Requested events (u32, EPOLLERR|EPOLLHUP always included) plus private flags. */
    public events: number,
    /** epoll_event.data, returned as is. */
    public data: bigint,
  ) {}

  /** Removed, or its file released. */
  get dead(): boolean {
    return this.entry === null || this.file.refCount === 0;
  }

  /** Armed (not a spent EPOLLONESHOT). */
  get armed(): boolean {
    return (this.events & ~EP_PRIVATE_BITS) !== 0;
  }

  /** Current events of the file that this item reports (ep_item_poll). */
  poll(): number {
    const want = this.events & ~EP_PRIVATE_BITS;
    if (!want) return 0;
    return (this.file.readiness(want | ALWAYS_EVENTS) & want) >>> 0;
  }
}

export class EpollFile extends AnonFile {
  private readonly items = new Map<FileDescription, Map<number, EpollItem>>();
  private ready = new Set<EpollItem>();
  /** Items of other epoll instances watching this one (Linux's ep->refs), for ELOOP. */
  readonly watchers = new Set<EpollItem>();

  constructor(flags: number) {
    super(flags, '[eventpoll]');
  }

  /** Number of live items. */
  get size(): number {
    let n = 0;
    for (const it of this.allItems()) if (!it.dead) n++;
    return n;
  }

  /** The item for (file, fd), if any. */
  find(file: FileDescription, fd: number): EpollItem | undefined {
    const it = this.items.get(file)?.get(fd);
    if (it && it.dead) {
      this.remove(it);
      return undefined;
    }
    return it;
  }

  /** EPOLL_CTL_ADD (after the syscall layer's checks): watch (file, fd). */
  insert(file: FileDescription, fd: number, events: number, data: bigint): EpollItem {
    const it = new EpollItem(this, file, fd, events >>> 0, data);
    let byFd = this.items.get(file);
    if (!byFd) this.items.set(file, (byFd = new Map()));
    byFd.set(fd, it);
    it.queue = file.waitQueue();
    it.entry = it.queue.subscribe(0xffffffff, (ev) => this.onEvent(it, ev));
    if (file instanceof EpollFile) file.watchers.add(it);
    if (it.poll()) this.makeReady(it);
    return it;
  }

  /** EPOLL_CTL_MOD: new events and data; reported at once if the file is ready. */
  modify(it: EpollItem, events: number, data: bigint): void {
    it.events = events >>> 0;
    it.data = data;
    if (it.poll()) this.makeReady(it);
  }

  /** EPOLL_CTL_DEL, or cleanup of a dead item. */
  remove(it: EpollItem): void {
    if (it.entry) {
      it.queue!.unsubscribe(it.entry);
      it.entry = null;
      it.queue = null;
    }
    this.ready.delete(it);
    const byFd = this.items.get(it.file);
    if (byFd?.get(it.fd) === it) {
      byFd.delete(it.fd);
      if (byFd.size === 0) this.items.delete(it.file);
    }
    if (it.file instanceof EpollFile) it.file.watchers.delete(it);
  }

  /** ep_poll_callback: the watched file signalled `ev`. */
  private onEvent(it: EpollItem, ev: number): void {
    if (it.file.refCount === 0) {
      this.remove(it);
      return;
    }
    if (!it.armed || (ev & it.events & ~EP_PRIVATE_BITS) === 0) return;
    this.makeReady(it);
  }

  private makeReady(it: EpollItem): void {
    this.ready.add(it);
    // Linux wakes epoll_wait callers and pollers of this file on every callback, even
    // when the item was already queued: an outer edge-triggered watcher sees each event.
    this.waitQueue().notify(POLLIN | POLLRDNORM);
  }

  /** True when some item may be ready (the ready list is not empty). */
  get hasReady(): boolean {
    return this.ready.size > 0;
  }
  /** Upper bound on the events collect() can return. */
  get readyCount(): number {
    return this.ready.size;
  }

  /**
   * ep_send_events: report up to `max` ready items through `emit`, in ready-list order.
   * Returns the number reported.
   */
  collect(max: number, emit: (events: number, data: bigint) => void): number {
    if (this.ready.size === 0) return 0;
    const tx = Array.from(this.ready);
    this.ready.clear();
    const relink: EpollItem[] = [];
    let n = 0;
    let i = 0;
    for (; i < tx.length && n < max; i++) {
      const it = tx[i];
      if (it.dead) {
        if (it.entry) this.remove(it);
        continue;
      }
      const rev = it.poll();
      if (!rev) continue;
      emit(rev, it.data);
      n++;
      if (it.events & EPOLLONESHOT) it.events = (it.events & EP_PRIVATE_BITS) >>> 0;
      else if (!(it.events & EPOLLET)) relink.push(it);
    }
    // Unscanned items stay first, then events that arrived during the scan, then the
    // level-triggered items just reported.
    const arrived = this.ready;
    this.ready = new Set(tx.slice(i));
    for (const it of arrived) this.ready.add(it);
    for (const it of relink) this.ready.add(it);
    return n;
  }

  /** An epoll file is readable when some queued item is actually ready (ep_eventpoll_poll). */
  override readiness(mask: number): number {
    if (!(mask & (POLLIN | POLLRDNORM))) return 0;
    for (const it of this.ready) {
      if (it.dead) {
        if (it.entry) this.remove(it);
        else this.ready.delete(it);
        continue;
      }
      if (it.poll()) return mask & (POLLIN | POLLRDNORM);
      this.ready.delete(it);
    }
    return 0;
  }

  /** Epoll instances this one watches directly. */
  private *childEpolls(): IterableIterator<EpollFile> {
    for (const it of this.allItems()) if (!it.dead && it.file instanceof EpollFile) yield it.file;
  }

  private *allItems(): IterableIterator<EpollItem> {
    for (const byFd of this.items.values()) yield* byFd.values();
  }

  /**
   * ep_loop_check: would adding `target` to this instance create a cycle, or nest epoll
   * instances more than EP_MAX_NESTS deep (counting the levels above this one too)?
   * Returns ELOOP or 0.
   */
  loopCheck(target: EpollFile): number {
    const down = (ep: EpollFile, depth: number, seen: Map<EpollFile, number>): number => {
      const known = seen.get(ep);
      if (known !== undefined) return known;
      let result = 0;
      for (const child of ep.childEpolls()) {
        if (child === this || depth > EP_MAX_NESTS) result = EP_MAX_NESTS + 1;
        else result = Math.max(result, down(child, depth + 1, seen) + 1);
        if (result > EP_MAX_NESTS) break;
      }
      seen.set(ep, result);
      return result;
    };
    const up = (ep: EpollFile, seen: Map<EpollFile, number>): number => {
      const known = seen.get(ep);
      if (known !== undefined) return known;
      seen.set(ep, EP_MAX_NESTS + 1); // a cycle above us cannot exist, but stay finite
      let result = 0;
      for (const w of ep.watchers) if (!w.dead) result = Math.max(result, up(w.ep, seen) + 1);
      seen.set(ep, result);
      return result;
    };
    const depth = down(target, 0, new Map());
    if (depth > EP_MAX_NESTS) return ELOOP;
    return depth + 1 + up(this, new Map()) > EP_MAX_NESTS ? ELOOP : 0;
  }

  /** The epoll file is gone: unhook every item. */
  protected override release(): void {
    for (const it of Array.from(this.allItems())) this.remove(it);
    this.ready.clear();
  }
}
