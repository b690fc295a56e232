/**
 * POSIX message queues (Linux's ipc/mqueue.c; man 7 mq_overview).
 *
 * Queues live in the IPC namespace by name (the syscall's name has no leading slash:
 * glibc strips it). mq_open gives a file description (MqFile) that is pollable — readable
 * while messages are queued, writable while there is room — and whose read() returns
 * Linux's "QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:..." line. Messages are received
 * highest priority first, oldest first within a priority. mq_notify registers one process
 * per queue for SIGEV_SIGNAL or SIGEV_NONE; the notification fires when a message arrives
 * on an empty queue with no receiver waiting, and is then removed. The registration is
 * dropped when its owner closes a descriptor of the queue (Linux's flush).
 *
 * Not done: the mqueue filesystem (no /dev/mqueue to mount or list), RLIMIT_MSGQUEUE
 * accounting, SIGEV_THREAD (needs netlink sockets).
 */
import {
  EACCES,
  EAGAIN,
  EBUSY,
  EEXIST,
  EINVAL,
  EMSGSIZE,
  ENAMETOOLONG,
  ENOENT,
  ENOSPC,
  EPERM,
  SysError,
} from '../../abi/errno';
import { CAP_FOWNER, CAP_SYS_RESOURCE, hasCap } from '../../kernel/caps';
import type { Credentials, TaskApi } from '../api';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, WaitQueue } from '../../util/waiter';
import { O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY } from '../../vfs/abi';
import { FileDescription, copyToSegs, type IoDst } from '../../vfs/file';
import { allocAnonDev, blankStat, type Stat } from '../../vfs/inode';
import { permits } from '../../vfs/perm';
import { nowSec } from './perm';

export const MQ_PRIO_MAX = 32768;
/** Linux's defaults (/proc/sys/fs/mqueue) and hard ceilings. */
export const MQ_MSG_MAX = 10,
  MQ_MSGSIZE_MAX = 8192,
  MQ_MSG_DEFAULT = 10,
  MQ_MSGSIZE_DEFAULT = 8192,
  MQ_QUEUES_MAX = 256,
  HARD_MSGMAX = 65536,
  HARD_MSGSIZEMAX = 16 * 1024 * 1024;
export const SIGEV_SIGNAL = 0,
  SIGEV_NONE = 1,
  SIGEV_THREAD = 2;
/** What i_size of an mqueue inode says (FILENT_SIZE). */
const FILENT_SIZE = 80;
const S_IFREG = 0o100000;
const MQUEUE_DEV = allocAnonDev();
let nextIno = 1;

export interface MqAttr {
  flags: number;
  maxmsg: number;
  msgsize: number;
  curmsgs: number;
}

export interface MqNotification {
  /** Registering process (tgid). */
  owner: number;
  notify: number;
  signo: number;
  /** Sends the notification for a message from (pid, uid). */
  fire: (pid: number, uid: number) => void;
}

interface MqMessage {
  prio: number;
  data: Uint8Array;
}

export class PosixMq {
  readonly msgs: MqMessage[] = [];
  /** Bytes of message data queued (QSIZE). */
  qsize = 0;
  readonly q = new WaitQueue();
  notification: MqNotification | null = null;
  /** Receivers blocked in mq_timedreceive (a notification is not sent while any waits). */
  receiversWaiting = 0;
  readonly ino = nextIno++;
  readonly ctime = nowSec();
  mtime = this.ctime;

  constructor(
    readonly name: string,
    public mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly maxmsg: number,
    readonly msgsize: number,
  ) {}

  attr(flags: number): MqAttr {
    return {
      flags: flags & O_NONBLOCK,
      maxmsg: this.maxmsg,
      msgsize: this.msgsize,
      curmsgs: this.msgs.length,
    };
  }

  readiness(): number {
    let r = 0;
    if (this.msgs.length) r |= POLLIN | POLLRDNORM;
    if (this.msgs.length < this.maxmsg) r |= POLLOUT | POLLWRNORM;
    return r;
  }

  /** Queue a message if there is room (notifying as Linux's __do_notify); false when full. */
  put(data: Uint8Array, prio: number, pid: number, uid: number): boolean {
    if (this.msgs.length >= this.maxmsg) return false;
    let i = this.msgs.length;
    while (i > 0 && this.msgs[i - 1].prio < prio) i--;
    this.msgs.splice(i, 0, { prio, data });
    this.qsize += data.length;
    this.mtime = nowSec();
    if (this.msgs.length === 1 && this.receiversWaiting === 0 && this.notification) {
      const n = this.notification;
      this.notification = null;
      n.fire(pid, uid);
    }
    this.q.notify(POLLIN | POLLRDNORM);
    return true;
  }

  take(): MqMessage | undefined {
    const m = this.msgs.shift();
    if (!m) return undefined;
    this.qsize -= m.data.length;
    this.mtime = nowSec();
    this.q.notify(POLLOUT | POLLWRNORM);
    return m;
  }

  /** The text read() returns. */
  statusLine(): string {
    const n = this.notification;
    return (
      `QSIZE:${String(this.qsize).padEnd(10)} NOTIFY:${String(n ? n.notify : 0).padEnd(5)} ` +
      `SIGNO:${String(n && n.notify === SIGEV_SIGNAL ? n.signo : 0).padEnd(5)} ` +
      `NOTIFY_PID:${String(n ? n.owner : 0).padEnd(6)}\n`
    );
  }
}

/** An open message queue descriptor. */
export class MqFile extends FileDescription {
  constructor(
    readonly mq: PosixMq,
    flags: number,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    const text = Buffer.from(this.mq.statusLine(), 'latin1');
    const pos = off >= 0 ? off : this.pos;
    if (pos >= text.length) return 0;
    const n = copyToSegs(dst, text.subarray(pos));
    if (off < 0) this.pos += n;
    return n;
  }

  override seek(off: number, whence: number): number {
    return this.seekWithSize(off, whence, FILENT_SIZE);
  }

  override readiness(mask: number): number {
    return this.mq.readiness() & mask;
  }

  override waitQueue(): WaitQueue {
    return this.mq.q;
  }

  override stat(): Stat {
    const mq = this.mq;
    const s = blankStat(MQUEUE_DEV, mq.ino, S_IFREG | mq.mode);
    s.uid = mq.uid;
    s.gid = mq.gid;
    s.size = FILENT_SIZE;
    s.atimeSec = s.mtimeSec = mq.mtime;
    s.ctimeSec = mq.ctime;
    return s;
  }

  override flush(owner: number): void {
    if (this.mq.notification?.owner === owner) this.mq.notification = null;
  }

  procLinkName(): string {
    return `/${this.mq.name}`;
  }
}

/** One IPC namespace's POSIX message queues. */
export class MqRegistry {
  readonly queues = new Map<string, PosixMq>();
  msgMax = MQ_MSG_MAX;
  msgsizeMax = MQ_MSGSIZE_MAX;
  msgDefault = MQ_MSG_DEFAULT;
  msgsizeDefault = MQ_MSGSIZE_DEFAULT;
  queuesMax = MQ_QUEUES_MAX;

  /** Linux's lookup_one_len rules for the name (after getname). */
  private checkName(name: string): void {
    if (name.length > 255) throw new SysError(ENAMETOOLONG);
    if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new SysError(EACCES);
  }

  /**
   * mq_open(2): a new MqFile (the caller installs it), or throw. `attr` is the caller's
   * struct mq_attr for O_CREAT, or null for the defaults; `mode` is already umasked.
   */
  open(c: Credentials, name: string, oflag: number, mode: number, attr: MqAttr | null): MqFile {
    this.checkName(name);
    const acc = oflag & O_ACCMODE;
    if (acc === O_ACCMODE) throw new SysError(EINVAL);
    let mq = this.queues.get(name);
    if (mq) {
      if (oflag & O_CREAT && oflag & O_EXCL) throw new SysError(EEXIST);
      const may = acc === O_RDONLY ? 4 : acc === O_WRONLY ? 2 : 6;
      if (!permits(c, mq.mode, mq.uid, mq.gid, may)) throw new SysError(EACCES);
    } else {
      if (!(oflag & O_CREAT)) throw new SysError(ENOENT);
      const root = hasCap(c, CAP_SYS_RESOURCE);
      let maxmsg = Math.min(this.msgDefault, this.msgMax),
        msgsize = Math.min(this.msgsizeDefault, this.msgsizeMax);
      if (attr) {
        if (attr.maxmsg <= 0 || attr.msgsize <= 0) throw new SysError(EINVAL);
        if (root) {
          if (attr.maxmsg > HARD_MSGMAX || attr.msgsize > HARD_MSGSIZEMAX) throw new SysError(EINVAL);
        } else if (attr.maxmsg > this.msgMax || attr.msgsize > this.msgsizeMax) throw new SysError(EINVAL);
        maxmsg = attr.maxmsg;
        msgsize = attr.msgsize;
      }
      if (this.queues.size >= this.queuesMax && !root) throw new SysError(ENOSPC);
      mq = new PosixMq(name, mode & 0o777, c.fsuid, c.fsgid, maxmsg, msgsize);
      this.queues.set(name, mq);
    }
    return new MqFile(mq, acc | (oflag & O_NONBLOCK));
  }

  /** mq_unlink(2): the name goes; open descriptors keep the queue. */
  unlink(c: Credentials, name: string): void {
    this.checkName(name);
    const mq = this.queues.get(name);
    if (!mq) throw new SysError(ENOENT);
    // The mqueue root is sticky (01777): only the owner or CAP_FOWNER may remove.
    if (!hasCap(c, CAP_FOWNER) && c.fsuid !== mq.uid) throw new SysError(EPERM);
    this.queues.delete(name);
  }
}

/** The open MqFile at fd of a task's table, or EBADF. */
export function asMqFile(f: FileDescription | undefined): MqFile {
  if (!(f instanceof MqFile)) throw new SysError(9 /* EBADF */);
  return f;
}

/**
 * mq_timedsend after argument checks: 0, -errno, or a Promise while full.
 * `deadlineMs` is an absolute CLOCK_REALTIME time in ms, or undefined.
 */
export function mqSend(
  t: TaskApi,
  f: MqFile,
  data: Uint8Array,
  prio: number,
  deadlineMs: number | undefined,
): number | Promise<number> {
  if (!f.writable) return -9; // EBADF
  const mq = f.mq;
  if (data.length > mq.msgsize) return -EMSGSIZE;
  if (mq.put(data, prio, t.tgid, t.creds.uid)) return 0;
  if (f.flags & O_NONBLOCK) return -EAGAIN;
  const loop = async (): Promise<number> => {
    for (;;) {
      let left: number | undefined;
      if (deadlineMs !== undefined) {
        left = (deadlineMs - Date.now()) * 1e6;
        if (left <= 0) return -110; // ETIMEDOUT
      }
      const r = await t.block(mq.q, POLLOUT, left);
      if (r < 0) return r; // -ERESTARTSYS, -ETIMEDOUT
      if (mq.put(data, prio, t.tgid, t.creds.uid)) return 0;
    }
  };
  return loop();
}

/** mq_timedreceive after argument checks: the message, -errno, or a Promise while empty. */
export function mqReceive(
  t: TaskApi,
  f: MqFile,
  size: number,
  deadlineMs: number | undefined,
): MqMessage | number | Promise<MqMessage | number> {
  if (!f.readable) return -9; // EBADF
  const mq = f.mq;
  if (size < mq.msgsize) return -EMSGSIZE;
  const m = mq.take();
  if (m) return m;
  if (f.flags & O_NONBLOCK) return -EAGAIN;
  const loop = async (): Promise<MqMessage | number> => {
    for (;;) {
      let left: number | undefined;
      if (deadlineMs !== undefined) {
        left = (deadlineMs - Date.now()) * 1e6;
        if (left <= 0) return -110; // ETIMEDOUT
      }
      mq.receiversWaiting++;
      let r: number;
      try {
        r = await t.block(mq.q, POLLIN, left);
      } finally {
        mq.receiversWaiting--;
      }
      if (r < 0) return r;
      const got = mq.take();
      if (got) return got;
    }
  };
  return loop();
}

/** mq_notify(2) registration (null: remove the caller's). */
export function mqNotify(f: MqFile, owner: number, n: MqNotification | null): void {
  const mq = f.mq;
  if (!n) {
    if (mq.notification?.owner === owner) mq.notification = null;
    return;
  }
  if (mq.notification) throw new SysError(EBUSY);
  mq.notification = n;
}
