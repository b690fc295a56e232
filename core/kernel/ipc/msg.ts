/**
 * System V message queues (Linux's ipc/msg.c; man 2 msgget, msgsnd, msgrcv, msgctl).
 *
 * A queue holds typed messages in arrival order, bounded by msg_qbytes (bytes, and also
 * messages, as Linux counts both against it). msgrcv picks by type: 0 the first message,
 * >0 the first of that type (or, with MSG_EXCEPT, of any other type), <0 the first of the
 * lowest type not above |msgtyp|; MSG_COPY (with IPC_NOWAIT) copies the n-th message
 * without removing it. Senders and receivers wait on the queue's WaitQueue; removal
 * wakes them with EIDRM, and a signal ends the wait with EINTR (never restarted after a
 * handler, as Linux's -ERESTARTNOHAND).
 */
import { E2BIG, EAGAIN, EIDRM, EINVAL, ENOMSG, EPERM, ERESTARTNOHAND, SysError } from '../../abi/errno';
import { CAP_SYS_RESOURCE, hasCap } from '../../kernel/caps';
import type { TaskApi } from '../api';
import { POLLIN, POLLOUT, WaitQueue } from '../../util/waiter';
import {
  IPC_64,
  IPC_INFO,
  IPC_NOWAIT,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  IpcPerm,
  IpcRegistry,
  MAY_READ,
  MAY_WRITE,
  decodePermSet,
  nowSec,
  type IpcObject,
} from './perm';

export const MSG_NOERROR = 0o10000,
  MSG_EXCEPT = 0o20000,
  MSG_COPY = 0o40000;
export const MSG_STAT = 11,
  MSG_INFO = 12,
  MSG_STAT_ANY = 13;

/** Linux's defaults (include/uapi/linux/msg.h). */
export const MSGMNI = 32000,
  MSGMAX = 8192,
  MSGMNB = 16384,
  MSGPOOL = (MSGMNI * MSGMNB) / 1024,
  MSGMAP = MSGMNB,
  MSGSSZ = 16,
  MSGTQL = MSGMNB,
  MSGSEG = 0xffff;

const MSQID_DS_SIZE = 120;

export interface Message {
  type: bigint;
  data: Uint8Array;
}

export class MsgQueue implements IpcObject {
  readonly msgs: Message[] = [];
  cbytes = 0;
  qbytes = MSGMNB;
  stime = 0;
  rtime = 0;
  lspid = 0;
  lrpid = 0;
  readonly q = new WaitQueue();

  constructor(readonly perm: IpcPerm) {}

  encode(): Buffer {
    const b = Buffer.alloc(MSQID_DS_SIZE);
    this.perm.encode(b, 0);
    b.writeBigInt64LE(BigInt(this.stime), 48);
    b.writeBigInt64LE(BigInt(this.rtime), 56);
    b.writeBigInt64LE(BigInt(this.perm.ctime), 64);
    b.writeBigUInt64LE(BigInt(this.cbytes), 72);
    b.writeBigUInt64LE(BigInt(this.msgs.length), 80);
    b.writeBigUInt64LE(BigInt(this.qbytes), 88);
    b.writeInt32LE(this.lspid, 96);
    b.writeInt32LE(this.lrpid, 100);
    return b;
  }

  /** Index of the message msgrcv would take, or -1. */
  find(msgtyp: bigint, flags: number): number {
    const m = this.msgs;
    if (flags & MSG_COPY) return msgtyp >= 0n && msgtyp < BigInt(m.length) ? Number(msgtyp) : -1;
    if (msgtyp === 0n) return m.length ? 0 : -1;
    if (msgtyp > 0n) {
      const except = (flags & MSG_EXCEPT) !== 0;
      return m.findIndex((x) => (x.type === msgtyp) !== except);
    }
    const limit = -msgtyp;
    let best = -1;
    for (let i = 0; i < m.length; i++)
      if (m[i].type <= limit && (best < 0 || m[i].type < m[best].type)) best = i;
    return best;
  }
}

/** One IPC namespace's message queues. */
export class MsgRegistry {
  readonly reg = new IpcRegistry<MsgQueue>(MSGMNI);
  msgmax = MSGMAX;
  msgmnb = MSGMNB;

  /** msgget(2). */
  get(t: TaskApi, key: number, flags: number): number {
    return this.reg.getOrCreate(
      t.creds,
      key,
      flags,
      () => {
        const q = new MsgQueue(new IpcPerm(key, t.creds, flags));
        q.qbytes = this.msgmnb;
        return q;
      },
      () => {},
    );
  }

  /** Validation msgsnd does before reading the message (EINVAL). */
  checkSend(msqid: number, size: number): void {
    if (size > this.msgmax || size < 0 || msqid < 0) throw new SysError(EINVAL);
  }

  /** msgsnd(2) with the message read: 0, -errno, or a Promise while the queue is full. */
  send(t: TaskApi, msqid: number, type: bigint, data: Uint8Array, flags: number): number | Promise<number> {
    if (type < 1n) return -EINVAL;
    const q = this.reg.get(msqid);
    q.perm.check(t.creds, MAY_WRITE);
    const tryPut = (): boolean => {
      if (data.length + q.cbytes > q.qbytes || 1 + q.msgs.length > q.qbytes) return false;
      q.msgs.push({ type, data });
      q.cbytes += data.length;
      q.lspid = t.tgid;
      q.stime = nowSec();
      q.q.notify(POLLIN);
      return true;
    };
    if (tryPut()) return 0;
    if (flags & IPC_NOWAIT) return -EAGAIN;
    const loop = async (): Promise<number> => {
      for (;;) {
        const r = await t.block(q.q, POLLOUT);
        if (q.perm.deleted) return -EIDRM;
        if (r < 0) return -ERESTARTNOHAND;
        // A queue that became unwritable for us (IPC_SET) is checked again, as Linux.
        if (!q.perm.permits(t.creds, MAY_WRITE)) return -13; // EACCES
        if (tryPut()) return 0;
      }
    };
    return loop();
  }

  /**
   * msgrcv(2) after argument checks: the message (its data cut to `size` with
   * MSG_NOERROR), -errno, or a Promise while no message matches.
   */
  receive(
    t: TaskApi,
    msqid: number,
    size: number,
    msgtyp: bigint,
    flags: number,
  ): Message | number | Promise<Message | number> {
    if (msqid < 0 || size < 0) return -EINVAL;
    if (flags & MSG_COPY && (flags & MSG_EXCEPT || !(flags & IPC_NOWAIT))) return -EINVAL;
    const q = this.reg.get(msqid);
    q.perm.check(t.creds, MAY_READ);
    const tryTake = (): Message | number | null => {
      const i = q.find(msgtyp, flags);
      if (i < 0) return null;
      const m = q.msgs[i];
      if (m.data.length > size && !(flags & MSG_NOERROR)) return -E2BIG;
      const out = { type: m.type, data: m.data.length > size ? m.data.subarray(0, size) : m.data };
      if (flags & MSG_COPY) return out;
      q.msgs.splice(i, 1);
      q.cbytes -= m.data.length;
      q.lrpid = t.tgid;
      q.rtime = nowSec();
      q.q.notify(POLLOUT);
      return out;
    };
    const first = tryTake();
    if (first !== null) return first;
    if (flags & IPC_NOWAIT) return -ENOMSG;
    const loop = async (): Promise<Message | number> => {
      for (;;) {
        const r = await t.block(q.q, POLLIN);
        if (q.perm.deleted) return -EIDRM;
        if (r < 0) return -ERESTARTNOHAND;
        const m = tryTake();
        if (m !== null) return m;
      }
    };
    return loop();
  }

  /** msgctl(2). */
  ctl(t: TaskApi, msqid: number, cmd: number, buf: number): number {
    cmd &= ~IPC_64;
    const c = t.creds;
    switch (cmd) {
      case IPC_INFO:
      case MSG_INFO: {
        const b = Buffer.alloc(32);
        let msgs = 0,
          bytes = 0;
        for (const q of this.reg.values()) {
          msgs += q.msgs.length;
          bytes += q.cbytes;
        }
        const info = cmd === MSG_INFO;
        b.writeInt32LE(info ? this.reg.size : MSGPOOL, 0);
        b.writeInt32LE(info ? msgs : MSGMAP, 4);
        b.writeInt32LE(this.msgmax, 8);
        b.writeInt32LE(this.msgmnb, 12);
        b.writeInt32LE(this.reg.mni, 16);
        b.writeInt32LE(MSGSSZ, 20);
        b.writeInt32LE(info ? bytes : MSGTQL, 24);
        b.writeUInt16LE(MSGSEG, 28);
        t.mem.copyOut(buf, b);
        return this.reg.maxIdx();
      }
      case IPC_STAT:
      case MSG_STAT:
      case MSG_STAT_ANY:
        return this.reg.stat(
          c,
          t.mem,
          cmd === IPC_STAT ? 'id' : cmd === MSG_STAT ? 'index' : 'any',
          msqid,
          buf,
        );
      case IPC_SET: {
        const b = Buffer.from(t.mem.copyIn(buf, MSQID_DS_SIZE));
        const q = this.reg.get(msqid);
        q.perm.checkOwner(c);
        const qbytes = Number(b.readBigUInt64LE(88));
        if (qbytes > this.msgmnb && !hasCap(c, CAP_SYS_RESOURCE)) throw new SysError(EPERM);
        const p = decodePermSet(b, 0);
        q.qbytes = qbytes;
        q.perm.set(p.uid, p.gid, p.mode);
        q.q.notify(POLLIN | POLLOUT);
        return 0;
      }
      case IPC_RMID: {
        const q = this.reg.get(msqid);
        q.perm.checkOwner(c);
        this.reg.remove(q);
        q.msgs.length = 0;
        q.cbytes = 0;
        q.q.notify(POLLIN | POLLOUT);
        return 0;
      }
      default:
        throw new SysError(EINVAL);
    }
  }
}
