/**
 * What the three System V IPC families share (Linux's ipc/util.c): the ipc_perm record,
 * permission checks, and the per-namespace registry that maps keys and ids to objects.
 *
 * Ids are Linux's: `seq * 32768 + index`, where the index is allocated cyclically and the
 * sequence number grows whenever allocation wraps below the last index used, so a stale
 * id of a removed object does not silently name a new one. IPC_PRIVATE (key 0) always
 * creates; removing an object makes its key private at once (a later get with the same
 * key creates a new object) even while a shm segment stays alive until its last detach.
 *
 * The sentry does not model capabilities: an effective uid of 0 holds CAP_IPC_OWNER,
 * CAP_SYS_ADMIN and CAP_SYS_RESOURCE. Everything here is synchronous; the families own
 * their blocking.
 */
import { EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM, SysError } from '../../abi/errno';
import { CAP_IPC_OWNER, CAP_SYS_ADMIN, hasCap } from '../../kernel/caps';
import type { Credentials } from '../api';

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000,
  IPC_EXCL = 0o2000,
  IPC_NOWAIT = 0o4000;
export const IPC_RMID = 0,
  IPC_SET = 1,
  IPC_STAT = 2,
  IPC_INFO = 3;
/** Old-style/64-bit command flag; x86-64 always uses the 64-bit layouts. */
export const IPC_64 = 0x100;

/** ipcperms' request bits. */
export const MAY_READ = 4,
  MAY_WRITE = 2,
  MAY_EXEC = 1;

/** IPCMNI_SHIFT: ids are seq << 15 | index. */
const IDX_SHIFT = 15;
const IDX_MAX = 1 << IDX_SHIFT;
const SEQ_MAX = 0x7fffffff >> IDX_SHIFT;

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** CAP_IPC_OWNER: bypasses the permission bits of System V objects. */
export function isRoot(c: Credentials): boolean {
  return hasCap(c, CAP_IPC_OWNER);
}

function inGroup(c: Credentials, gid: number): boolean {
  return c.egid === gid || c.groups.includes(gid);
}

/** struct ipc64_perm (48 bytes on x86-64) and what Linux keeps with it. */
export class IpcPerm {
  uid: number;
  gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Permission bits (0777) plus family flags (SHM_DEST, SHM_LOCKED). */
  mode: number;
  id = -1;
  seq = 0;
  /** Set once removed: the object no longer has a key or an id. */
  deleted = false;
  ctime = nowSec();

  constructor(
    public key: number,
    c: Credentials,
    mode: number,
  ) {
    this.uid = this.cuid = c.euid;
    this.gid = this.cgid = c.egid;
    this.mode = mode & 0o777;
  }

  /** Linux's ipcperms: EACCES unless `c` holds every requested permission (or CAP_IPC_OWNER). */
  permits(c: Credentials, may: number): boolean {
    if (isRoot(c)) return true;
    let granted: number;
    if (c.euid === this.uid || c.euid === this.cuid) granted = this.mode >> 6;
    else if (inGroup(c, this.gid) || inGroup(c, this.cgid)) granted = this.mode >> 3;
    else granted = this.mode;
    return (may & ~granted & 7) === 0;
  }

  check(c: Credentials, may: number): void {
    if (!this.permits(c, may)) throw new SysError(EACCES);
  }

  /** IPC_SET/IPC_RMID: the creator, the owner, or CAP_SYS_ADMIN; else EPERM. */
  checkOwner(c: Credentials): void {
    if (!hasCap(c, CAP_SYS_ADMIN) && c.euid !== this.uid && c.euid !== this.cuid) throw new SysError(EPERM);
  }

  /** IPC_SET's part: owner and the permission bits. */
  set(uid: number, gid: number, mode: number): void {
    this.uid = uid;
    this.gid = gid;
    this.mode = (this.mode & ~0o777) | (mode & 0o777);
    this.ctime = nowSec();
  }

  /** Write struct ipc64_perm at `off` of `b`. */
  encode(b: Buffer, off: number): void {
    b.writeInt32LE(this.key | 0, off);
    b.writeUInt32LE(this.uid >>> 0, off + 4);
    b.writeUInt32LE(this.gid >>> 0, off + 8);
    b.writeUInt32LE(this.cuid >>> 0, off + 12);
    b.writeUInt32LE(this.cgid >>> 0, off + 16);
    b.writeUInt32LE(this.mode >>> 0, off + 20);
    b.writeUInt16LE(this.seq & 0xffff, off + 24);
  }
}

/** Read the fields IPC_SET takes from a struct ipc64_perm: uid, gid, mode. */
export function decodePermSet(b: Buffer, off: number): { uid: number; gid: number; mode: number } {
  return { uid: b.readUInt32LE(off + 4), gid: b.readUInt32LE(off + 8), mode: b.readUInt32LE(off + 20) };
}

export interface IpcObject {
  readonly perm: IpcPerm;
  /** The object's *id_ds structure, as IPC_STAT copies it out. */
  encode(): Buffer;
}

/**
 * One family's objects in one IPC namespace (Linux's struct ipc_ids): lookup by key and
 * by id, allocation bounded by the family's MNI limit.
 */
export class IpcRegistry<T extends IpcObject> {
  private readonly byIdx = new Map<number, T>();
  private readonly byKey = new Map<number, T>();
  private lastIdx = -1;
  private seq = 0;

  constructor(public mni: number) {}

  get size(): number {
    return this.byIdx.size;
  }

  /** Highest index in use, or 0 when empty (IPC_INFO/*_INFO's return value). */
  maxIdx(): number {
    let m = 0;
    for (const i of this.byIdx.keys()) if (i > m) m = i;
    return m;
  }

  values(): IterableIterator<T> {
    return this.byIdx.values();
  }

  /** The object named by `id`, or throw EINVAL (ipc_obtain_object_check). */
  get(id: number): T {
    if (id < 0) throw new SysError(EINVAL);
    const o = this.byIdx.get(id % IDX_MAX);
    if (!o || o.perm.id !== id) throw new SysError(EINVAL);
    return o;
  }

  /** The object at array index `idx` (the *_STAT commands), or EINVAL. */
  atIndex(idx: number): T {
    const o = idx >= 0 ? this.byIdx.get(idx) : undefined;
    if (!o) throw new SysError(EINVAL);
    return o;
  }

  /**
   * IPC_STAT and the family's *_STAT / *_STAT_ANY commands: IPC_STAT names the object by
   * id, the others by array index (returning its id); *_STAT_ANY skips the read check.
   */
  stat(
    c: Credentials,
    mem: { copyOut(addr: number, data: Uint8Array): void },
    kind: 'id' | 'index' | 'any',
    id: number,
    buf: number,
  ): number {
    const o = kind === 'id' ? this.get(id) : this.atIndex(id);
    if (kind !== 'any') o.perm.check(c, MAY_READ);
    mem.copyOut(buf, o.encode());
    return kind === 'id' ? 0 : o.perm.id;
  }

  /**
   * The get half of shmget/semget/msgget (Linux's ipcget): IPC_PRIVATE or a missing key
   * with IPC_CREAT creates through `create`; an existing key is checked with `check` and
   * the mode bits in `flags`. Returns the id.
   */
  getOrCreate(c: Credentials, key: number, flags: number, create: () => T, check: (o: T) => void): number {
    if (key !== IPC_PRIVATE) {
      const o = this.byKey.get(key);
      if (o) {
        if (flags & IPC_CREAT && flags & IPC_EXCL) throw new SysError(EEXIST);
        // The family's checks (sizes) come first, then ipcperms with flg's mode bits.
        check(o);
        const req = flags & 0o777;
        o.perm.check(c, (req >> 6) | (req >> 3) | req);
        return o.perm.id;
      }
      if (!(flags & IPC_CREAT)) throw new SysError(ENOENT);
    }
    if (this.byIdx.size >= this.mni) throw new SysError(ENOSPC);
    const o = create();
    this.add(o);
    return o.perm.id;
  }

  private add(o: T): void {
    const limit = Math.min(this.mni, IDX_MAX);
    let idx = -1;
    for (let n = 0, i = this.lastIdx + 1; n < limit; n++, i++) {
      if (i >= limit) i = 0;
      if (!this.byIdx.has(i)) {
        idx = i;
        break;
      }
    }
    if (idx < 0) throw new SysError(ENOSPC);
    if (idx <= this.lastIdx) this.seq = this.seq >= SEQ_MAX ? 0 : this.seq + 1;
    this.lastIdx = idx;
    o.perm.seq = this.seq;
    o.perm.id = this.seq * IDX_MAX + idx;
    this.byIdx.set(idx, o);
    if (o.perm.key !== IPC_PRIVATE) this.byKey.set(o.perm.key, o);
  }

  /** Forget the key (the object may live on, e.g. an attached shm segment). */
  dropKey(o: T): void {
    if (o.perm.key !== IPC_PRIVATE && this.byKey.get(o.perm.key) === o) this.byKey.delete(o.perm.key);
    o.perm.key = IPC_PRIVATE;
  }

  /** Remove the object: its key and id are gone. */
  remove(o: T): void {
    this.dropKey(o);
    const idx = o.perm.id % IDX_MAX;
    if (this.byIdx.get(idx) === o) this.byIdx.delete(idx);
    o.perm.deleted = true;
  }
}
