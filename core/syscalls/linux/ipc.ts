/**
 * System V IPC (shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl, msgget,
 * msgsnd, msgrcv, msgctl) and POSIX message queues (mq_open, mq_unlink, mq_timedsend,
 * mq_timedreceive, mq_notify, mq_getsetattr). Handlers decode arguments; the objects and
 * their semantics are in core/kernel/ipc (one IPC namespace per sandbox).
 */
import { EBADF, EFAULT, EINVAL, ENOTSOCK, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { ipcNamespace } from '../../kernel/ipc/namespace';
import {
  MQ_PRIO_MAX,
  SIGEV_NONE,
  SIGEV_SIGNAL,
  SIGEV_THREAD,
  asMqFile,
  mqNotify,
  mqReceive,
  mqSend,
  type MqAttr,
} from '../../kernel/ipc/mqueue';
import type { SemOp } from '../../kernel/ipc/sem';
import { SI_MESGQ } from '../../kernel/signal-defs';
import type { Task } from '../../kernel/task';
import { O_CLOEXEC, O_NONBLOCK } from '../../vfs/abi';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { pathArg } from './fd';

type T = Task & FileTask;
type A = SyscallArgs;

const ns = (t: T) => ipcNamespace(t.kernel);

/** A key_t argument. */
const key = (a: A, i: number) => a.int(i);

/** size_t as the kernel's signed long: values of 2^63 and above are negative. */
function ssize(a: A, i: number): number {
  const v = BigInt.asIntN(64, a.big(i));
  return v < 0n ? -1 : Number(v);
}

/** A relative timespec in ns: EFAULT, or EINVAL for a bad one. */
function relTimeout(t: T, addr: number): number {
  const b = Buffer.from(t.mem.copyIn(addr, 16));
  const sec = b.readBigInt64LE(0),
    nsec = b.readBigInt64LE(8);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw new SysError(EINVAL);
  return Math.min(Number(sec) * 1e9 + Number(nsec), 2 ** 62);
}

/** An absolute CLOCK_REALTIME timespec as ms since the epoch: EFAULT, or EINVAL. */
function absTimeoutMs(t: T, addr: number): number {
  const b = Buffer.from(t.mem.copyIn(addr, 16));
  const sec = b.readBigInt64LE(0),
    nsec = b.readBigInt64LE(8);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw new SysError(EINVAL);
  return Math.min(Number(sec) * 1000 + Number(nsec) / 1e6, 2 ** 62);
}

// ---------------------------------------------------------------- shm

/** Shmget implements Linux syscall shmget(2). */
export function Shmget(t: T, a: A): number {
  const size = Number(BigInt.asUintN(64, a.big(1)));
  return ns(t).shm.get(t, key(a, 0), size, a.int(2));
}

/** Shmat implements Linux syscall shmat(2). */
export function Shmat(t: T, a: A): number {
  return ns(t).shm.attach(t, t.mm, a.int(0), a.ptr(1), a.int(2));
}

/** Shmdt implements Linux syscall shmdt(2). */
export function Shmdt(t: T, a: A): number {
  ns(t).shm.detach(t, t.mm, a.ptr(0));
  return 0;
}

/** Shmctl implements Linux syscall shmctl(2). */
export function Shmctl(t: T, a: A): number {
  return ns(t).shm.ctl(t, a.int(0), a.int(1), a.ptr(2));
}

// ---------------------------------------------------------------- sem

/** Semget implements Linux syscall semget(2). */
export function Semget(t: T, a: A): number {
  return ns(t).sem.get(t, key(a, 0), a.int(1), a.int(2));
}

function semopCommon(t: T, semid: number, sopsAddr: number, nsops: number, timeout: number) {
  const sem = ns(t).sem;
  if (nsops < 1 || semid < 0) return -EINVAL;
  if (nsops > sem.semopm) return -7; // E2BIG
  const b = Buffer.from(t.mem.copyIn(sopsAddr, nsops * 6));
  const sops: SemOp[] = [];
  for (let i = 0; i < nsops; i++)
    sops.push({ num: b.readUInt16LE(i * 6), op: b.readInt16LE(i * 6 + 2), flg: b.readInt16LE(i * 6 + 4) });
  const ns_ = timeout ? relTimeout(t, timeout) : undefined;
  return sem.op(t, t.tg, semid, sops, ns_);
}

/** Semop implements Linux syscall semop(2). */
export function Semop(t: T, a: A): number | Promise<number> {
  return semopCommon(t, a.int(0), a.ptr(1), a.uint(2), 0);
}

/** Semtimedop implements Linux syscall semtimedop(2). */
export function Semtimedop(t: T, a: A): number | Promise<number> {
  return semopCommon(t, a.int(0), a.ptr(1), a.uint(2), a.ptr(3));
}

/** Semctl implements Linux syscall semctl(2). */
export function Semctl(t: T, a: A): number {
  return ns(t).sem.ctl(t, a.int(0), a.int(1), a.int(2), a.ptr(3));
}

// ---------------------------------------------------------------- msg

/** Msgget implements Linux syscall msgget(2). */
export function Msgget(t: T, a: A): number {
  return ns(t).msg.get(t, key(a, 0), a.int(1));
}

/** Msgsnd implements Linux syscall msgsnd(2). */
export function Msgsnd(t: T, a: A): number | Promise<number> {
  const msg = ns(t).msg;
  const id = a.int(0),
    addr = a.ptr(1),
    size = ssize(a, 2);
  msg.checkSend(id, size);
  const type = BigInt.asIntN(64, t.mem.readBigU64(addr));
  if (type < 1n) return -EINVAL;
  const data = t.mem.copyIn(addr + 8, size);
  return msg.send(t, id, type, data, a.int(3));
}

/** Msgrcv implements Linux syscall msgrcv(2). */
export function Msgrcv(t: T, a: A): number | Promise<number> {
  const addr = a.ptr(1);
  const r = ns(t).msg.receive(t, a.int(0), ssize(a, 2), BigInt.asIntN(64, a.big(3)), a.int(4));
  const out = (m: Awaited<typeof r>): number => {
    if (typeof m === 'number') return m;
    // The message is already taken; a fault loses it, as Linux.
    try {
      t.mem.writeU64(addr, m.type);
      t.mem.copyOut(addr + 8, m.data);
    } catch {
      return -EFAULT;
    }
    return m.data.length;
  };
  return r instanceof Promise ? r.then(out) : out(r);
}

/** Msgctl implements Linux syscall msgctl(2). */
export function Msgctl(t: T, a: A): number {
  return ns(t).msg.ctl(t, a.int(0), a.int(1), a.ptr(2));
}

// ---------------------------------------------------------------- POSIX mqueue

function readAttr(t: T, addr: number): MqAttr {
  const b = Buffer.from(t.mem.copyIn(addr, 64));
  const n = (o: number) => {
    const v = b.readBigInt64LE(o);
    return v > 2n ** 53n ? 2 ** 53 : v < -(2n ** 53n) ? -(2 ** 53) : Number(v);
  };
  return { flags: n(0), maxmsg: n(8), msgsize: n(16), curmsgs: n(24) };
}

function writeAttr(t: T, addr: number, at: MqAttr): void {
  const b = Buffer.alloc(64);
  b.writeBigInt64LE(BigInt(at.flags), 0);
  b.writeBigInt64LE(BigInt(at.maxmsg), 8);
  b.writeBigInt64LE(BigInt(at.msgsize), 16);
  b.writeBigInt64LE(BigInt(at.curmsgs), 24);
  t.mem.copyOut(addr, b);
}

/** MqOpen implements Linux syscall mq_open(2) (the name has no leading slash). */
export function MqOpen(t: T, a: A): number {
  const name = pathArg(t, a.ptr(0));
  const oflag = a.int(1);
  const mode = a.uint(2) & ~t.fs.umask;
  const attr = oflag & 0o100 /* O_CREAT */ && a.ptr(3) ? readAttr(t, a.ptr(3)) : null;
  const f = ns(t).mq.open(t.creds, name, oflag, mode, attr);
  return t.files.install(f, (oflag & O_CLOEXEC) !== 0);
}

/** MqUnlink implements Linux syscall mq_unlink(2). */
export function MqUnlink(t: T, a: A): number {
  ns(t).mq.unlink(t.creds, pathArg(t, a.ptr(0)));
  return 0;
}

/** MqTimedsend implements Linux syscall mq_timedsend(2). */
export function MqTimedsend(t: T, a: A): number | Promise<number> {
  const prio = a.uint(3);
  if (prio >= MQ_PRIO_MAX) return -EINVAL;
  const deadline = a.ptr(4) ? absTimeoutMs(t, a.ptr(4)) : undefined;
  const f = asMqFile(t.files.get(a.int(0)));
  if (!f.writable) return -EBADF;
  const len = a.ptr(2);
  if (len > f.mq.msgsize) return -90; // EMSGSIZE
  const data = t.mem.copyIn(a.ptr(1), len);
  return mqSend(t, f, data, prio, deadline);
}

/** MqTimedreceive implements Linux syscall mq_timedreceive(2). */
export function MqTimedreceive(t: T, a: A): number | Promise<number> {
  const deadline = a.ptr(4) ? absTimeoutMs(t, a.ptr(4)) : undefined;
  const f = asMqFile(t.files.get(a.int(0)));
  const buf = a.ptr(1),
    prioAddr = a.ptr(3);
  const r = mqReceive(t, f, a.ptr(2), deadline);
  const out = (m: Awaited<typeof r>): number => {
    if (typeof m === 'number') return m;
    try {
      if (prioAddr) t.mem.writeU32(prioAddr, m.prio);
      t.mem.copyOut(buf, m.data);
    } catch {
      return -EFAULT;
    }
    return m.data.length;
  };
  return r instanceof Promise ? r.then(out) : out(r);
}

/** MqNotify implements Linux syscall mq_notify(2): SIGEV_SIGNAL and SIGEV_NONE. */
export function MqNotify(t: T, a: A): number {
  const sevp = a.ptr(1);
  if (!sevp) {
    mqNotify(asMqFile(t.files.get(a.int(0))), t.tgid, null);
    return 0;
  }
  const b = Buffer.from(t.mem.copyIn(sevp, 64));
  const value = b.readBigUInt64LE(0),
    signo = b.readInt32LE(8),
    notify = b.readInt32LE(12);
  if (notify !== SIGEV_NONE && notify !== SIGEV_SIGNAL && notify !== SIGEV_THREAD) return -EINVAL;
  if (notify === SIGEV_SIGNAL && (signo <= 0 || signo > 64)) return -EINVAL;
  if (notify === SIGEV_THREAD) {
    // The kernel side of SIGEV_THREAD is a netlink socket in sigev_signo; we have none.
    if (!t.files.get(signo)) return -EBADF;
    return -ENOTSOCK;
  }
  const f = asMqFile(t.files.get(a.int(0)));
  const tg = t.tg,
    kernel = t.kernel;
  mqNotify(f, t.tgid, {
    owner: t.tgid,
    notify,
    signo,
    fire: (pid, uid) => {
      if (notify === SIGEV_SIGNAL && tg.exitStatus < 0)
        kernel.signalGroup(tg, { signo, code: SI_MESGQ, pid, uid, value });
    },
  });
  return 0;
}

/** MqGetsetattr implements Linux syscall mq_getsetattr(2). */
export function MqGetsetattr(t: T, a: A): number {
  const newAddr = a.ptr(1),
    oldAddr = a.ptr(2);
  const nw = newAddr ? readAttr(t, newAddr) : null;
  if (nw && nw.flags & ~O_NONBLOCK) return -EINVAL;
  const f = asMqFile(t.files.get(a.int(0)));
  const old = f.mq.attr(f.flags);
  if (nw) f.setStatusFlags((f.flags & ~O_NONBLOCK) | (nw.flags & O_NONBLOCK));
  if (oldAddr) writeAttr(t, oldAddr, old);
  return 0;
}

export const ipcSyscalls: SyscallDef<T>[] = [
  {
    nr: 29,
    name: 'shmget',
    handler: Shmget,
    support: 'full',
    note: 'SHM_HUGETLB and SHM_NORESERVE are accepted and ignored',
    args: ['int', 'uint', 'hex'],
  },
  { nr: 30, name: 'shmat', handler: Shmat, support: 'full', args: ['int', 'ptr', 'hex'], hexResult: true },
  {
    nr: 31,
    name: 'shmctl',
    handler: Shmctl,
    support: 'partial',
    note: 'shm_lpid/shm_dtime are updated by shmdt only (not by exit or munmap); SHM_LOCK only sets the flag',
    args: ['int', 'int', 'ptr'],
  },
  { nr: 67, name: 'shmdt', handler: Shmdt, support: 'full', args: ['ptr'] },
  { nr: 64, name: 'semget', handler: Semget, support: 'full', args: ['int', 'int', 'hex'] },
  {
    nr: 65,
    name: 'semop',
    handler: Semop,
    support: 'partial',
    note: 'waiters retry on every change: among several blocked callers the first to run wins, not the first queued',
    args: ['int', 'ptr', 'uint'],
  },
  {
    nr: 220,
    name: 'semtimedop',
    handler: Semtimedop,
    support: 'partial',
    note: 'as semop',
    args: ['int', 'ptr', 'uint', 'ptr'],
  },
  { nr: 66, name: 'semctl', handler: Semctl, support: 'full', args: ['int', 'int', 'int', 'hex'] },
  { nr: 68, name: 'msgget', handler: Msgget, support: 'full', args: ['int', 'hex'] },
  { nr: 69, name: 'msgsnd', handler: Msgsnd, support: 'full', args: ['int', 'ptr', 'uint', 'hex'] },
  { nr: 70, name: 'msgrcv', handler: Msgrcv, support: 'full', args: ['int', 'ptr', 'uint', 'int', 'hex'] },
  { nr: 71, name: 'msgctl', handler: Msgctl, support: 'full', args: ['int', 'int', 'ptr'] },
  {
    nr: 240,
    name: 'mq_open',
    handler: MqOpen,
    support: 'partial',
    note: 'no mqueue filesystem (/dev/mqueue cannot be mounted); RLIMIT_MSGQUEUE is not enforced',
    args: ['path', 'oflags', 'mode', 'ptr'],
  },
  { nr: 241, name: 'mq_unlink', handler: MqUnlink, support: 'full', args: ['path'] },
  {
    nr: 242,
    name: 'mq_timedsend',
    handler: MqTimedsend,
    support: 'full',
    args: ['fd', 'buf', 'uint', 'uint', 'ptr'],
  },
  {
    nr: 243,
    name: 'mq_timedreceive',
    handler: MqTimedreceive,
    support: 'full',
    args: ['fd', 'ptr', 'uint', 'ptr', 'ptr'],
  },
  {
    nr: 244,
    name: 'mq_notify',
    handler: MqNotify,
    support: 'partial',
    note: 'SIGEV_THREAD fails (ENOTSOCK/EBADF: it needs a netlink socket)',
    args: ['fd', 'ptr'],
  },
  { nr: 245, name: 'mq_getsetattr', handler: MqGetsetattr, support: 'full', args: ['fd', 'ptr', 'ptr'] },
];
