/**
 * System V semaphores (Linux's ipc/sem.c; man 2 semget, semop, semctl).
 *
 * semop applies its operations atomically: all succeed or none is applied. When one
 * would block, the caller waits on the set's queue, which is notified whenever a value
 * changes (or the set is removed), and tries the whole array again — a simpler scheme
 * than Linux's per-operation pending lists with the same results for a single waiter,
 * though among several waiters the first to run wins rather than the first to queue.
 * GETNCNT/GETZCNT count the waiters by the operation that blocked them, as Linux does.
 *
 * SEM_UNDO adjustments live in a per-process undo list (shared by the threads, not
 * inherited by fork, kept across execve) and are applied when the process exits,
 * through the thread group's exit hooks.
 */
import { E2BIG, EAGAIN, EFBIG, EIDRM, EINTR, EINVAL, ENOSPC, ERANGE, SysError } from '../../abi/errno';
import type { TaskApi } from '../api';
import { POLLIN, WaitQueue } from '../../util/waiter';
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

export const SEM_UNDO = 0x1000;
export const GETPID = 11,
  GETVAL = 12,
  GETALL = 13,
  GETNCNT = 14,
  GETZCNT = 15,
  SETVAL = 16,
  SETALL = 17,
  SEM_STAT = 18,
  SEM_INFO = 19,
  SEM_STAT_ANY = 20;

/** Linux's defaults (include/uapi/linux/sem.h). */
export const SEMMNI = 32000,
  SEMMSL = 32000,
  SEMMNS = SEMMNI * SEMMSL,
  SEMOPM = 500,
  SEMVMX = 32767,
  SEMAEM = SEMVMX,
  SEMMNU = SEMMNS,
  SEMMAP = SEMMNS,
  SEMUME = SEMOPM,
  SEMUSZ = 20;

const SEMID_DS_SIZE = 104;

/** The process an operation is made for: where SEM_UNDO lists live and exit is heard. */
export interface IpcProcess {
  readonly pid: number;
  /** Called once when the last thread of the process has exited. */
  readonly exitHooks: (() => void)[];
}

/** One sembuf. */
export interface SemOp {
  num: number;
  op: number;
  flg: number;
}

interface Waiter {
  num: number;
  zero: boolean;
}

export class SemSet implements IpcObject {
  readonly vals: Int32Array;
  readonly pids: Int32Array;
  otime = 0;
  readonly q = new WaitQueue();
  readonly waiters = new Set<Waiter>();
  /** Undo lists with an entry for this set. */
  readonly undos = new Set<UndoList>();

  constructor(
    readonly perm: IpcPerm,
    readonly nsems: number,
  ) {
    this.vals = new Int32Array(nsems);
    this.pids = new Int32Array(nsems);
  }

  encode(): Buffer {
    const b = Buffer.alloc(SEMID_DS_SIZE);
    this.perm.encode(b, 0);
    b.writeBigInt64LE(BigInt(this.otime), 48);
    b.writeBigInt64LE(BigInt(this.perm.ctime), 64);
    b.writeBigUInt64LE(BigInt(this.nsems), 80);
    return b;
  }

  /** Values changed (or the set is gone): waiters try again. */
  wake(): void {
    this.q.notify(POLLIN);
  }
}

/** A process's SEM_UNDO adjustments, per set. */
export class UndoList {
  readonly adj = new Map<SemSet, Int32Array>();

  forSet(s: SemSet): Int32Array {
    let a = this.adj.get(s);
    if (!a) {
      a = new Int32Array(s.nsems);
      this.adj.set(s, a);
      s.undos.add(this);
    }
    return a;
  }

  /** exit_sem: apply the adjustments (clamped to [0, SEMVMX]) and forget them. */
  apply(pid: number): void {
    for (const [s, a] of this.adj) {
      s.undos.delete(this);
      if (s.perm.deleted) continue;
      let changed = false;
      for (let i = 0; i < s.nsems; i++) {
        if (!a[i]) continue;
        s.vals[i] = Math.min(SEMVMX, Math.max(0, s.vals[i] + a[i]));
        s.pids[i] = pid;
        changed = true;
      }
      if (changed) s.wake();
    }
    this.adj.clear();
  }
}

type Attempt = { ok: true } | { ok: false; err: number } | { ok: false; block: Waiter };

/** One IPC namespace's semaphore sets. */
export class SemRegistry {
  readonly reg = new IpcRegistry<SemSet>(SEMMNI);
  semmsl = SEMMSL;
  semmns = SEMMNS;
  semopm = SEMOPM;
  /** Semaphores in all sets. */
  totalSems = 0;
  private readonly undoLists = new WeakMap<IpcProcess, UndoList>();

  /** semget(2). */
  get(t: TaskApi, key: number, nsems: number, flags: number): number {
    if (nsems < 0 || nsems > this.semmsl) throw new SysError(EINVAL);
    return this.reg.getOrCreate(
      t.creds,
      key,
      flags,
      () => {
        if (nsems === 0) throw new SysError(EINVAL);
        if (this.totalSems + nsems > this.semmns) throw new SysError(ENOSPC);
        this.totalSems += nsems;
        return new SemSet(new IpcPerm(key, t.creds, flags), nsems);
      },
      (s) => {
        if (nsems > s.nsems) throw new SysError(EINVAL);
      },
    );
  }

  private undoList(p: IpcProcess): UndoList {
    let u = this.undoLists.get(p);
    if (!u) {
      const list = new UndoList();
      u = list;
      this.undoLists.set(p, list);
      p.exitHooks.push(() => {
        this.undoLists.delete(p);
        list.apply(p.pid);
      });
    }
    return u;
  }

  /** Try every operation on a scratch copy; apply them all if none blocks or fails. */
  private attempt(s: SemSet, sops: readonly SemOp[], undo: UndoList | null, pid: number): Attempt {
    const vals = s.vals.slice();
    const adj = undo ? undo.forSet(s).slice() : null;
    for (const o of sops) {
      const cur = vals[o.num];
      if (o.op === 0) {
        if (cur !== 0)
          return o.flg & IPC_NOWAIT
            ? { ok: false, err: EAGAIN }
            : { ok: false, block: { num: o.num, zero: true } };
        continue;
      }
      const r = cur + o.op;
      if (r < 0)
        return o.flg & IPC_NOWAIT
          ? { ok: false, err: EAGAIN }
          : { ok: false, block: { num: o.num, zero: false } };
      if (r > SEMVMX) return { ok: false, err: ERANGE };
      if (o.flg & SEM_UNDO && adj) {
        const u = adj[o.num] - o.op;
        if (u < -SEMAEM - 1 || u > SEMAEM) return { ok: false, err: ERANGE };
        adj[o.num] = u;
      }
      vals[o.num] = r;
    }
    let changed = false;
    for (const o of sops) {
      s.pids[o.num] = pid;
      if (o.op) changed = true;
    }
    s.vals.set(vals);
    if (adj && undo) undo.forSet(s).set(adj);
    s.otime = nowSec();
    if (changed) s.wake();
    return { ok: true };
  }

  /**
   * semop(2)/semtimedop(2) after the arguments were read: 0, -errno, or a Promise when
   * the caller waits. `timeoutNs` is relative (semtimedop); its expiry is EAGAIN.
   */
  op(
    t: TaskApi,
    proc: IpcProcess,
    semid: number,
    sops: readonly SemOp[],
    timeoutNs?: number,
  ): number | Promise<number> {
    if (sops.length < 1 || semid < 0) return -EINVAL;
    if (sops.length > this.semopm) return -E2BIG;
    const s = this.reg.get(semid);
    let max = 0,
      alter = false,
      undos = false;
    for (const o of sops) {
      if (o.num > max) max = o.num;
      if (o.op !== 0) alter = true;
      if (o.flg & SEM_UNDO) undos = true;
    }
    if (max >= s.nsems) return -EFBIG;
    s.perm.check(t.creds, alter ? MAY_WRITE : MAY_READ);
    const undo = undos ? this.undoList(proc) : null;
    const first = this.attempt(s, sops, undo, proc.pid);
    if (first.ok) return 0;
    if ('err' in first) return -first.err;
    const deadline =
      timeoutNs === undefined ? undefined : process.hrtime.bigint() + BigInt(Math.ceil(timeoutNs));
    // Each wait is registered in the same synchronous run as the attempt that failed.
    const loop = async (w: Waiter): Promise<number> => {
      for (;;) {
        let left: number | undefined;
        if (deadline !== undefined) {
          left = Number(deadline - process.hrtime.bigint());
          if (left <= 0) return -EAGAIN;
        }
        s.waiters.add(w);
        let r: number;
        try {
          r = await t.block(s.q, POLLIN, left);
        } finally {
          s.waiters.delete(w);
        }
        if (s.perm.deleted) return -EIDRM;
        if (r === -110 /* ETIMEDOUT */) return -EAGAIN;
        if (r < 0) return -EINTR;
        const a = this.attempt(s, sops, undo, proc.pid);
        if (a.ok) return 0;
        if ('err' in a) return -a.err;
        w = a.block;
      }
    };
    return loop(first.block);
  }

  private remove(s: SemSet): void {
    this.reg.remove(s);
    this.totalSems -= s.nsems;
    for (const u of s.undos) u.adj.delete(s);
    s.undos.clear();
    s.wake();
  }

  private clearUndo(s: SemSet, num: number): void {
    for (const u of s.undos) {
      const a = u.adj.get(s);
      if (!a) continue;
      if (num < 0) a.fill(0);
      else a[num] = 0;
    }
  }

  /** semctl(2). `arg` is the union semun value (an int or a pointer). */
  ctl(t: TaskApi, semid: number, semnum: number, cmd: number, arg: number): number {
    cmd &= ~IPC_64;
    const c = t.creds;
    switch (cmd) {
      case IPC_INFO:
      case SEM_INFO: {
        const b = Buffer.alloc(40);
        const info = cmd === SEM_INFO;
        const vals = [
          SEMMAP,
          this.reg.mni,
          this.semmns,
          SEMMNU,
          this.semmsl,
          this.semopm,
          SEMUME,
          info ? this.reg.size : SEMUSZ,
          SEMVMX,
          info ? this.totalSems : SEMAEM,
        ];
        vals.forEach((v, i) => b.writeInt32LE(v, i * 4));
        t.mem.copyOut(arg, b);
        return this.reg.maxIdx();
      }
      case IPC_STAT:
      case SEM_STAT:
      case SEM_STAT_ANY:
        return this.reg.stat(
          c,
          t.mem,
          cmd === IPC_STAT ? 'id' : cmd === SEM_STAT ? 'index' : 'any',
          semid,
          arg,
        );
      case IPC_SET: {
        const b = Buffer.from(t.mem.copyIn(arg, SEMID_DS_SIZE));
        const s = this.reg.get(semid);
        s.perm.checkOwner(c);
        const p = decodePermSet(b, 0);
        s.perm.set(p.uid, p.gid, p.mode);
        return 0;
      }
      case IPC_RMID: {
        const s = this.reg.get(semid);
        s.perm.checkOwner(c);
        this.remove(s);
        return 0;
      }
      case GETVAL:
      case GETPID:
      case GETNCNT:
      case GETZCNT: {
        const s = this.reg.get(semid);
        s.perm.check(c, MAY_READ);
        if (semnum < 0 || semnum >= s.nsems) throw new SysError(EINVAL);
        if (cmd === GETVAL) return s.vals[semnum];
        if (cmd === GETPID) return s.pids[semnum];
        let n = 0;
        for (const w of s.waiters) if (w.num === semnum && w.zero === (cmd === GETZCNT)) n++;
        return n;
      }
      case GETALL: {
        const s = this.reg.get(semid);
        s.perm.check(c, MAY_READ);
        const b = Buffer.alloc(s.nsems * 2);
        for (let i = 0; i < s.nsems; i++) b.writeUInt16LE(s.vals[i], i * 2);
        t.mem.copyOut(arg, b);
        return 0;
      }
      case SETVAL: {
        const v = arg | 0;
        if (v < 0 || v > SEMVMX) throw new SysError(ERANGE);
        const s = this.reg.get(semid);
        if (semnum < 0 || semnum >= s.nsems) throw new SysError(EINVAL);
        s.perm.check(c, MAY_WRITE);
        this.clearUndo(s, semnum);
        s.vals[semnum] = v;
        s.pids[semnum] = t.tgid;
        s.perm.ctime = nowSec();
        s.wake();
        return 0;
      }
      case SETALL: {
        const s = this.reg.get(semid);
        s.perm.check(c, MAY_WRITE);
        const b = Buffer.from(t.mem.copyIn(arg, s.nsems * 2));
        for (let i = 0; i < s.nsems; i++) if (b.readUInt16LE(i * 2) > SEMVMX) throw new SysError(ERANGE);
        this.clearUndo(s, -1);
        for (let i = 0; i < s.nsems; i++) {
          s.vals[i] = b.readUInt16LE(i * 2);
          s.pids[i] = t.tgid;
        }
        s.perm.ctime = nowSec();
        s.wake();
        return 0;
      }
      default:
        throw new SysError(EINVAL);
    }
  }
}
