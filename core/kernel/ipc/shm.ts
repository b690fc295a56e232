/**
 * System V shared memory (Linux's ipc/shm.c; man 2 shmget, shmat, shmdt, shmctl).
 *
 * A segment's pages are a MemObject (ShmObject), mapped by shmat as a MAP_SHARED mapping
 * of that object, so the mm's ordinary machinery does the rest: fork shares the object,
 * exit and exec drop their VMAs, munmap of part of an attachment works as for any shared
 * mapping. ShmObject counts the references its VMAs hold — Linux's shm_nattch, which
 * also counts each VMA (a split attachment counts twice there too) — and when the last
 * goes away a segment marked for removal (IPC_RMID while attached: SHM_DEST) is freed.
 */
import { EINVAL, ENOSPC, EPERM, SysError } from '../../abi/errno';
import { CAP_IPC_LOCK, hasCap } from '../../kernel/caps';
import type { TaskApi } from '../api';
import { EXTENT_SIZE, PAGE_SIZE, type MemoryFile } from '../../mm/memfile';
import { MemObject } from '../../mm/memobject';
import { type MemoryManager, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE, pageRoundUp } from '../../mm/mm';
import {
  IPC_64,
  IPC_INFO,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  IpcPerm,
  IpcRegistry,
  MAY_EXEC,
  MAY_READ,
  MAY_WRITE,
  decodePermSet,
  nowSec,
  type IpcObject,
} from './perm';

export const SHM_RDONLY = 0o10000,
  SHM_RND = 0o20000,
  SHM_REMAP = 0o40000,
  SHM_EXEC = 0o100000;
/** shmget flags accepted and ignored (no huge pages, no accounting). */
export const SHM_HUGETLB = 0o4000,
  SHM_NORESERVE = 0o10000;
/** Mode bits: removal pending until the last detach; locked in memory. */
export const SHM_DEST = 0o1000,
  SHM_LOCKED = 0o2000;
export const SHM_LOCK = 11,
  SHM_UNLOCK = 12,
  SHM_STAT = 13,
  SHM_INFO = 14,
  SHM_STAT_ANY = 15;

/** Linux's defaults (include/uapi/linux/shm.h). */
export const SHMMIN = 1,
  SHMMNI = 4096,
  SHMMAX = 2n ** 64n - 1n - (1n << 24n),
  SHMALL = 2n ** 64n - 1n - (1n << 24n),
  SHMSEG = SHMMNI;
/** x86-64's attach alignment. */
export const SHMLBA = PAGE_SIZE;

const SHMID_DS_SIZE = 112;

/** A segment's pages; counts the references its mappings hold (shm_nattch). */
export class ShmObject extends MemObject {
  /** References held by VMAs (everything but the segment's own). */
  attaches = 0;
  onIdle: (() => void) | null = null;

  constructor(mf: MemoryFile) {
    super(mf);
  }

  override incRef(): this {
    this.attaches++;
    return super.incRef();
  }

  override decRef(): void {
    this.attaches--;
    super.decRef();
    if (this.attaches === 0) this.onIdle?.();
  }

  /** Drop the segment's own reference (frees the pages once no mapping holds them). */
  releaseOwner(): void {
    super.decRef();
  }
}

export class ShmSegment implements IpcObject {
  readonly perm: IpcPerm;
  readonly obj: ShmObject;
  atime = 0;
  dtime = 0;
  lpid = 0;
  /** The key it was created with (the mapping's name, /SYSV<key>). */
  readonly createKey: number;

  constructor(
    perm: IpcPerm,
    mf: MemoryFile,
    readonly size: number,
    readonly cpid: number,
  ) {
    this.perm = perm;
    this.createKey = perm.key;
    this.obj = new ShmObject(mf);
  }

  get pages(): number {
    return Math.ceil(this.size / PAGE_SIZE);
  }
  get nattch(): number {
    return this.obj.attaches;
  }

  encode(): Buffer {
    const b = Buffer.alloc(SHMID_DS_SIZE);
    this.perm.encode(b, 0);
    b.writeBigUInt64LE(BigInt(this.size), 48);
    b.writeBigInt64LE(BigInt(this.atime), 56);
    b.writeBigInt64LE(BigInt(this.dtime), 64);
    b.writeBigInt64LE(BigInt(this.perm.ctime), 72);
    b.writeInt32LE(this.cpid, 80);
    b.writeInt32LE(this.lpid, 84);
    b.writeBigUInt64LE(BigInt(this.nattch), 88);
    return b;
  }
}

/** One IPC namespace's shared memory segments. */
export class ShmRegistry {
  readonly reg = new IpcRegistry<ShmSegment>(SHMMNI);
  shmmax = SHMMAX;
  shmall = SHMALL;
  /** Pages of every segment (shm_tot). */
  totalPages = 0;

  constructor(readonly mf: MemoryFile) {}

  /** shmget(2): the segment's id. */
  get(t: TaskApi, key: number, size: number, flags: number): number {
    return this.reg.getOrCreate(
      t.creds,
      key,
      flags,
      () => {
        if (size < SHMMIN || BigInt(size) > this.shmmax) throw new SysError(EINVAL);
        const pages = Math.ceil(size / PAGE_SIZE);
        if (BigInt(this.totalPages + pages) > this.shmall) throw new SysError(ENOSPC);
        const seg = new ShmSegment(new IpcPerm(key, t.creds, flags), this.mf, size, t.tgid);
        this.totalPages += pages;
        seg.obj.onIdle = () => {
          if (seg.perm.mode & SHM_DEST) this.destroy(seg);
        };
        return seg;
      },
      (seg) => {
        if (size > seg.size) throw new SysError(EINVAL);
      },
    );
  }

  private destroy(seg: ShmSegment): void {
    if (seg.perm.deleted) return;
    this.reg.remove(seg);
    this.totalPages -= seg.pages;
    seg.obj.onIdle = null;
    seg.obj.releaseOwner();
  }

  /** shmat(2): map the segment into `mm`; returns the address. */
  attach(t: TaskApi, mm: MemoryManager, shmid: number, addr: number, flags: number): number {
    if (shmid < 0) throw new SysError(EINVAL);
    if (addr) {
      if (addr % SHMLBA) {
        if (!(flags & SHM_RND)) throw new SysError(EINVAL);
        addr -= addr % SHMLBA;
        if (addr === 0 && flags & SHM_REMAP) throw new SysError(EINVAL);
      }
    } else if (flags & SHM_REMAP) throw new SysError(EINVAL);
    let prot = PROT_READ,
      may = MAY_READ;
    if (!(flags & SHM_RDONLY)) {
      prot |= PROT_WRITE;
      may |= MAY_WRITE;
    }
    if (flags & SHM_EXEC) {
      prot |= PROT_EXEC;
      may |= MAY_EXEC;
    }
    const seg = this.reg.get(shmid);
    seg.perm.check(t.creds, may);
    const len = pageRoundUp(seg.size);
    if (addr) {
      if (addr + len > TASK_SIZE) throw new SysError(EINVAL);
      if (!(flags & SHM_REMAP) && !mm.isFree(addr, addr + len)) throw new SysError(EINVAL);
      if (addr < 0x10000) throw new SysError(EPERM); // vm.mmap_min_addr
    }
    const at = mm.map({
      addr,
      len,
      prot,
      fixed: addr !== 0,
      shared: true,
      obj: seg.obj.incRef(),
      objOff: 0,
      name: {
        path: `/SYSV${(seg.createKey >>> 0).toString(16).padStart(8, '0')} (deleted)`,
        ino: seg.perm.id,
      },
    });
    if (flags & SHM_RDONLY) {
      const v = mm.findVma(at);
      if (v) v.mayWrite = false;
    }
    seg.atime = nowSec();
    seg.lpid = t.tgid;
    return at;
  }

  /**
   * shmdt(2): unmap the attachment that starts at `addr` (every piece of it, as Linux
   * walks the VMAs of the same segment up to its size).
   */
  detach(t: TaskApi, mm: MemoryManager, addr: number): void {
    if (addr % PAGE_SIZE) throw new SysError(EINVAL);
    let seg: ShmSegment | undefined;
    for (const s of this.reg.values()) {
      const v = mm.vmas.find((w) => w.obj === s.obj && w.start >= addr && w.objOff === w.start - addr);
      if (v) {
        seg = s;
        break;
      }
    }
    if (!seg) throw new SysError(EINVAL);
    const end = addr + pageRoundUp(seg.size);
    const pieces = mm.vmas.filter(
      (w) => w.obj === seg.obj && w.start >= addr && w.end <= end && w.objOff === w.start - addr,
    );
    seg.lpid = t.tgid;
    seg.dtime = nowSec();
    for (const v of pieces) mm.unmap(v.start, v.end - v.start);
  }

  /** shmctl(2). `buf` is the user pointer for STAT/SET/INFO. */
  ctl(t: TaskApi, shmid: number, cmd: number, buf: number): number {
    cmd &= ~IPC_64;
    const c = t.creds;
    switch (cmd) {
      case IPC_INFO: {
        const b = Buffer.alloc(72);
        b.writeBigUInt64LE(this.shmmax, 0);
        b.writeBigUInt64LE(BigInt(SHMMIN), 8);
        b.writeBigUInt64LE(BigInt(this.reg.mni), 16);
        b.writeBigUInt64LE(BigInt(SHMSEG), 24);
        b.writeBigUInt64LE(this.shmall, 32);
        t.mem.copyOut(buf, b);
        return this.reg.maxIdx();
      }
      case SHM_INFO: {
        const b = Buffer.alloc(48);
        b.writeInt32LE(this.reg.size, 0);
        let rss = 0;
        for (const s of this.reg.values()) rss += s.obj.extents.size * (EXTENT_SIZE / PAGE_SIZE);
        b.writeBigUInt64LE(BigInt(this.totalPages), 8);
        b.writeBigUInt64LE(BigInt(rss), 16);
        t.mem.copyOut(buf, b);
        return this.reg.maxIdx();
      }
      case IPC_STAT:
      case SHM_STAT:
      case SHM_STAT_ANY:
        return this.reg.stat(
          c,
          t.mem,
          cmd === IPC_STAT ? 'id' : cmd === SHM_STAT ? 'index' : 'any',
          shmid,
          buf,
        );
      case IPC_SET: {
        const b = Buffer.from(t.mem.copyIn(buf, SHMID_DS_SIZE));
        const seg = this.reg.get(shmid);
        seg.perm.checkOwner(c);
        const s = decodePermSet(b, 0);
        seg.perm.set(s.uid, s.gid, s.mode);
        return 0;
      }
      case IPC_RMID: {
        const seg = this.reg.get(shmid);
        seg.perm.checkOwner(c);
        if (seg.nattch > 0) {
          seg.perm.mode |= SHM_DEST;
          this.reg.dropKey(seg);
        } else this.destroy(seg);
        return 0;
      }
      case SHM_LOCK:
      case SHM_UNLOCK: {
        const seg = this.reg.get(shmid);
        if (!hasCap(c, CAP_IPC_LOCK)) seg.perm.checkOwner(c);
        if (cmd === SHM_LOCK) seg.perm.mode |= SHM_LOCKED;
        else seg.perm.mode &= ~SHM_LOCKED;
        return 0;
      }
      default:
        throw new SysError(EINVAL);
    }
  }
}
