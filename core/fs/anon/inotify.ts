/**
 * inotify instances (Linux's fs/notify/inotify): an anonymous file ("anon_inode:inotify")
 * holding watches (marks on inodes, core/vfs/fsnotify.ts) and a queue of events.
 *
 * Watch descriptors are per instance, allocated upward from 1 and not reused; watching the
 * same inode again returns the same wd (the mask is replaced, or OR-ed with IN_MASK_ADD).
 * Events are queued as struct inotify_event { s32 wd; u32 mask, cookie, len; char name[] }
 * with the name NUL-padded to a multiple of 16 bytes. An event identical to the last queued
 * one (wd, mask, cookie, name) is dropped, as inotify_merge does. At max_queued_events
 * (16384) one IN_Q_OVERFLOW event (wd -1) ends the queue until it drains.
 *
 * read(): whole events only; the first must fit (else EINVAL); -EAGAIN when empty (the
 * syscall layer blocks unless O_NONBLOCK). FIONREAD gives the bytes queued. Readable
 * (POLLIN) while the queue is not empty.
 */
import { EAGAIN, EINVAL, ESPIPE } from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import { POLLIN, POLLRDNORM } from '../../util/waiter';
import { copyToSegs, ioLength, type IoDst } from '../../vfs/file';
import {
  addMark,
  IN_ALL_EVENTS,
  IN_IGNORED,
  IN_ISDIR,
  IN_Q_OVERFLOW,
  removeMark,
  type FsnotifyMark,
} from '../../vfs/fsnotify';
import type { Inode } from '../../vfs/inode';
import { AnonFile } from './anon';

export const IN_NONBLOCK = 0o4000,
  IN_CLOEXEC = 0o2000000,
  IN_ONLYDIR = 0x01000000,
  IN_DONT_FOLLOW = 0x02000000,
  IN_EXCL_UNLINK = 0x04000000,
  IN_MASK_CREATE = 0x10000000,
  IN_MASK_ADD = 0x20000000,
  IN_ONESHOT = 0x80000000;
/** Every bit inotify_add_watch accepts (ALL_INOTIFY_BITS). */
export const ALL_INOTIFY_BITS =
  (IN_ALL_EVENTS |
    0x2000 /* IN_UNMOUNT */ |
    IN_Q_OVERFLOW |
    IN_IGNORED |
    IN_ONLYDIR |
    IN_DONT_FOLLOW |
    IN_EXCL_UNLINK |
    IN_MASK_CREATE |
    IN_MASK_ADD |
    IN_ISDIR |
    IN_ONESHOT) >>>
  0;
/** /proc/sys/fs/inotify defaults. */
export const MAX_QUEUED_EVENTS = 16384;
export const FIONREAD = 0x541b;
const EVENT_HDR = 16;

interface QueuedEvent {
  wd: number;
  mask: number;
  cookie: number;
  name: string | undefined;
  /** Bytes this event takes in read(): header + padded name. */
  size: number;
}

function eventSize(name: string | undefined): number {
  return name === undefined ? EVENT_HDR : EVENT_HDR + ((name.length + 1 + 15) & ~15);
}

class Watch implements FsnotifyMark {
  mask: number;
  constructor(
    readonly owner: InotifyFile,
    readonly wd: number,
    readonly inode: Inode,
    mask: number,
  ) {
    this.mask = mask;
  }
  get exclUnlink(): boolean {
    return (this.mask & IN_EXCL_UNLINK) !== 0;
  }
  handle(mask: number, name: string | undefined, cookie: number): void {
    this.owner.queue(this.wd, mask & (IN_ALL_EVENTS | IN_ISDIR), cookie, name);
    if ((this.mask & IN_ONESHOT) !== 0) this.owner.dropWatch(this);
  }
  inodeGone(): void {
    this.owner.watchGone(this);
  }
}

export class InotifyFile extends AnonFile {
  private readonly events: QueuedEvent[] = [];
  private head = 0;
  /** Bytes queued (FIONREAD). */
  bytes = 0;
  private nextWd = 1;
  private readonly byWd = new Map<number, Watch>();
  private readonly byInode = new Map<string, Watch>();
  maxQueued = MAX_QUEUED_EVENTS;
  private overflowQueued = false;

  constructor(flags: number) {
    super(flags, 'inotify');
  }

  private static key(inode: Inode): string {
    return `${inode.fs.dev}:${inode.ino}`;
  }

  get queued(): number {
    return this.events.length - this.head;
  }

  /**
   * inotify_add_watch on a resolved inode; `mask` is already validated. Returns the wd.
   * Throws EEXIST (via the caller) for IN_MASK_CREATE on a watched inode: returns -EEXIST.
   */
  addWatch(inode: Inode, mask: number): number {
    const key = InotifyFile.key(inode);
    const events = mask & ALL_INOTIFY_BITS & ~(IN_MASK_ADD | IN_MASK_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW);
    const old = this.byInode.get(key);
    if (old) {
      if (mask & IN_MASK_CREATE) return -17; // EEXIST
      old.mask = (mask & IN_MASK_ADD ? old.mask | events : events) >>> 0;
      return old.wd;
    }
    const w = new Watch(this, this.nextWd++, inode, events >>> 0);
    this.byWd.set(w.wd, w);
    this.byInode.set(key, w);
    addMark(inode, w);
    return w.wd;
  }

  /** inotify_rm_watch: EINVAL for an unknown wd; queues IN_IGNORED. */
  rmWatch(wd: number): number {
    const w = this.byWd.get(wd);
    if (!w) return -EINVAL;
    this.dropWatch(w);
    return 0;
  }

  /** Remove a watch and report IN_IGNORED (rm_watch, oneshot). */
  dropWatch(w: Watch): void {
    if (this.byWd.get(w.wd) !== w) return;
    removeMark(w.inode, w);
    this.watchGone(w);
  }

  /** The mark is gone (its inode was deleted, or dropWatch): forget it, queue IN_IGNORED. */
  watchGone(w: Watch): void {
    if (this.byWd.get(w.wd) !== w) return;
    this.byWd.delete(w.wd);
    this.byInode.delete(InotifyFile.key(w.inode));
    this.queue(w.wd, IN_IGNORED, 0, undefined);
  }

  get watchCount(): number {
    return this.byWd.size;
  }

  /** Queue an event (merging with an identical last one; one IN_Q_OVERFLOW at the limit). */
  queue(wd: number, mask: number, cookie: number, name: string | undefined): void {
    let ev: QueuedEvent;
    if (this.queued >= this.maxQueued) {
      if (this.overflowQueued) return;
      this.overflowQueued = true;
      ev = { wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: undefined, size: EVENT_HDR };
    } else {
      const n = this.events.length;
      const last = n > this.head ? this.events[n - 1] : undefined;
      if (last && last.wd === wd && last.mask === mask && last.cookie === cookie && last.name === name)
        return;
      ev = { wd, mask, cookie, name, size: eventSize(name) };
    }
    this.events.push(ev);
    this.bytes += ev.size;
    if (this.queued === 1) this.waitQueue().notify(POLLIN | POLLRDNORM);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    if (off >= 0) return -ESPIPE;
    if (this.queued === 0) return -EAGAIN;
    const room = ioLength(dst);
    if (this.events[this.head].size > room) return -EINVAL;
    let total = 0;
    for (let i = this.head; i < this.events.length && this.events[i].size <= room - total; i++)
      total += this.events[i].size;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    for (let p = 0; p < total;) {
      const e = this.events[this.head++];
      dv.setInt32(p, e.wd, true);
      dv.setUint32(p + 4, e.mask >>> 0, true);
      dv.setUint32(p + 8, e.cookie >>> 0, true);
      dv.setUint32(p + 12, e.size - EVENT_HDR, true);
      if (e.name !== undefined)
        for (let j = 0; j < e.name.length; j++) out[p + 16 + j] = e.name.charCodeAt(j);
      if (e.mask === IN_Q_OVERFLOW && e.wd === -1) this.overflowQueued = false;
      p += e.size;
    }
    this.bytes -= total;
    if (this.head === this.events.length) {
      this.events.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
    copyToSegs(dst, out);
    return total;
  }

  override readiness(mask: number): number {
    return this.queued > 0 ? mask & (POLLIN | POLLRDNORM) : 0;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === FIONREAD) {
      t.mem.writeI32(arg, this.bytes);
      return 0;
    }
    return -25; // ENOTTY
  }

  protected override release(): void {
    for (const w of this.byWd.values()) removeMark(w.inode, w);
    this.byWd.clear();
    this.byInode.clear();
    this.events.length = 0;
    this.head = 0;
    this.bytes = 0;
    this.overflowQueued = false;
  }
}
