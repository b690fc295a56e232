/**
 * MemoryManager: one application address space (Linux's mm_struct).
 *
 * Two levels, as in gVisor's mm (see mm/README.md):
 *  - VMAs record what the app asked for: [start, end) -> (MemObject, offset), protection,
 *    private/shared. Anonymous memory, private file mappings (copied in on first touch by
 *    the object's filler) and shared mappings (the file's own object) are all MemObjects.
 *  - Host mappings are installed lazily: a fault on an address in a VMA maps the
 *    containing 64 KiB extent of its object (clipped to the VMA and, for files, to EOF)
 *    into the platform AddressSpace. `mapped` remembers which extents are installed, so a
 *    fault on an installed extent is an access violation (SEGV_ACCERR).
 * Changing protections or unmapping removes host mappings; they come back on the next fault.
 *
 * The sentry reads and writes app memory through the memory file (UserMemory), never
 * through the platform, honouring the VMA protections as copy_{from,to}_user do.
 */
import type { AddressSpace } from '../plugins/platform';
import { EFAULT, EINVAL, ENAMETOOLONG, ENOMEM, EEXIST, SysError } from '../abi/errno';
import type { UserMemory } from './api';
import { EXTENT_SIZE, MemoryFile, PAGE_SIZE } from './memfile';
import { MemObject } from './memobject';
import * as os from 'node:os';

export const PROT_NONE = 0,
  PROT_READ = 1,
  PROT_WRITE = 2,
  PROT_EXEC = 4,
  PROT_GROWSDOWN = 0x01000000,
  PROT_GROWSUP = 0x02000000;

export const MAP_SHARED = 0x01,
  MAP_PRIVATE = 0x02,
  MAP_SHARED_VALIDATE = 0x03,
  MAP_TYPE = 0x0f,
  MAP_FIXED = 0x10,
  MAP_ANONYMOUS = 0x20,
  MAP_GROWSDOWN = 0x0100,
  MAP_DENYWRITE = 0x0800,
  MAP_EXECUTABLE = 0x1000,
  MAP_LOCKED = 0x2000,
  MAP_NORESERVE = 0x4000,
  MAP_POPULATE = 0x8000,
  MAP_NONBLOCK = 0x10000,
  MAP_STACK = 0x20000,
  MAP_HUGETLB = 0x40000,
  MAP_SYNC = 0x80000,
  MAP_FIXED_NOREPLACE = 0x100000;

/** Linux x86-64 TASK_SIZE: one past the highest user address. */
export const TASK_SIZE = 0x7ffffffff000;

export function pageRoundDown(a: number): number {
  return a - (a % PAGE_SIZE);
}
export function pageRoundUp(a: number): number {
  const r = a % PAGE_SIZE;
  return r ? a + PAGE_SIZE - r : a;
}

/** What /proc/<pid>/maps shows for a mapping. */
export interface VmaName {
  path?: string;
  dev?: number;
  ino?: number;
  special?: '[heap]' | '[stack]' | '[vdso]' | '[vvar]';
}

export class Vma {
  /** Extent indices of `obj` installed in the host address space. */
  mapped = new Set<number>();
  /**
   * Whether any part of the VMA may be installed in the host. Outlives `mapped` entries
   * dropped for re-installation (growEnd, growStack), so protection changes and unmaps
   * always reach the host.
   */
  installed = false;
  /** For file mappings: bytes of the object backed by the file (beyond: SIGBUS). -1 = unlimited. */
  objLimit = -1;
  locked = false;
  /** False for shared mappings of files opened read-only (mprotect PROT_WRITE gives EACCES). */
  mayWrite = true;
  /**
   * A private mapping whose object fork shared with another address space because neither
   * side could write it (program text, read-only data). Anything that would change the
   * object's content here (mprotect to writable, MADV_DONTNEED) first gives this VMA a
   * private copy (breakCow); unmapping leaves the shared content alone.
   */
  cow = false;
  /**
   * The object is a file's page cache (a read-only private file mapping, see mmap): its
   * content is the file's, so discarding pages (MADV_DONTNEED) changes nothing.
   */
  pageCache = false;
  constructor(
    public start: number,
    public end: number,
    public prot: number,
    public shared: boolean,
    public obj: MemObject,
    public objOff: number,
    public name: VmaName,
    public growsDown = false,
    /** Where the mapping came from, for file offsets in /proc/<pid>/maps. */
    public fileOff = 0,
  ) {}

  /** Extend the end; the extent holding the old end was installed clipped, so it is installed again on the next fault. */
  growEnd(end: number): void {
    this.mapped.delete(Math.floor((this.objOff + (this.end - this.start) - 1) / EXTENT_SIZE));
    this.end = end;
  }

  get anonymous(): boolean {
    return !this.name.path;
  }
}

/** Per-thread record of its last retried fault (see handleFault). */
export interface LastFault {
  addr: number;
  gen: number;
}

export interface FaultResult {
  /** 0: handled (resume); otherwise the signal to raise. */
  signo: number;
  code: number;
}
const SIGSEGV = 11,
  SIGBUS = 7,
  SEGV_MAPERR = 1,
  SEGV_ACCERR = 2,
  BUS_ADRERR = 2;
const FAULT_OK: FaultResult = Object.freeze({ signo: 0, code: 0 });

export class MemoryManager implements UserMemory {
  /** Sorted, non-overlapping. */
  readonly vmas: Vma[] = [];
  brkStart = 0;
  brk = 0;
  /** Top of the mmap area (allocation goes down from here). */
  mmapBase = 0x7f0000000000;
  /** Initial stack bounds and argv/env ranges for /proc. */
  stackTop = 0;
  argStart = 0;
  argEnd = 0;
  envStart = 0;
  envEnd = 0;
  auxv: number[] = [];
  exePath = '';
  private users = 1;
  /** Lazily computed number of mapped bytes, for /proc. */

  /** Bumped whenever host mappings are removed or lose rights (see handleFault's retry). */
  gen = 0;
  /** The largest single private mapping or brk growth allowed (heuristic overcommit: RAM). */
  overcommitLimit = os.totalmem();

  constructor(
    readonly mf: MemoryFile,
    public as: AddressSpace,
  ) {}

  incUsers(): void {
    this.users++;
  }

  /** Drop one user (a thread group leaving via exit/exec); the last releases everything. */
  decUsers(): void {
    if (--this.users > 0) return;
    for (const v of this.vmas) v.obj.decRef();
    this.vmas.length = 0;
    this.as.release();
  }

  // ---- VMA lookup ----

  /** Index of the first VMA with end > addr. */
  private lowerBound(addr: number): number {
    let lo = 0,
      hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.vmas[mid].end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  findVma(addr: number): Vma | undefined {
    const i = this.lowerBound(addr);
    const v = this.vmas[i];
    return v && v.start <= addr ? v : undefined;
  }

  /** Split the VMA containing `addr` (if any and not at its start) so a VMA boundary lies at addr. */
  private splitAt(addr: number): void {
    const i = this.lowerBound(addr);
    const v = this.vmas[i];
    if (!v || v.start >= addr) return;
    const right = new Vma(
      addr,
      v.end,
      v.prot,
      v.shared,
      v.obj.incRef(),
      v.objOff + (addr - v.start),
      v.name,
      v.growsDown,
      v.fileOff + (addr - v.start),
    );
    right.objLimit = v.objLimit;
    right.locked = v.locked;
    right.mayWrite = v.mayWrite;
    right.cow = v.cow;
    right.pageCache = v.pageCache;
    right.installed = v.installed;
    v.end = addr;
    // Each half keeps only the installed extents it overlaps: an extent wholly in the other
    // half must not count as installed if this half later grows over it (brk, mremap).
    const splitObj = v.objOff + (addr - v.start);
    for (const idx of v.mapped) {
      if ((idx + 1) * EXTENT_SIZE > splitObj) right.mapped.add(idx);
      if (idx * EXTENT_SIZE >= splitObj) v.mapped.delete(idx);
    }
    this.vmas.splice(i + 1, 0, right);
  }

  /** Remove [start, end) from the VMA list (and host), releasing object ranges of private mappings. */
  private removeRange(start: number, end: number): void {
    this.splitAt(start);
    this.splitAt(end);
    let i = this.lowerBound(start);
    const first = i;
    while (i < this.vmas.length && this.vmas[i].start < end) {
      const v = this.vmas[i];
      if (v.installed) this.hostUnmap(v.start, v.end - v.start);
      if (!v.shared && !v.cow) v.obj.zeroRange(v.objOff, v.objOff + (v.end - v.start));
      v.obj.decRef();
      i++;
    }
    this.vmas.splice(first, i - first);
  }

  private insertVma(v: Vma): void {
    const i = this.lowerBound(v.start);
    this.vmas.splice(i, 0, v);
    this.watch(v.obj, v.shared);
  }

  /**
   * Host mappings go away or lose rights only through these: each bumps `gen`, so a thread
   * that faults again at an address it already retried (handleFault) retries once more
   * instead of taking a SIGSEGV meant for a real violation.
   */
  private hostUnmap(addr: number, len: number): void {
    this.gen++;
    this.as.unmap(addr, len);
  }
  private hostProtect(addr: number, len: number, prot: number): void {
    this.gen++;
    this.as.protect(addr, len, prot);
  }

  /** Private objects tell this address space when a write moved one of their extents. */
  private watch(obj: MemObject, shared: boolean): void {
    if (!shared) obj.onMove = (idx) => this.extentMoved(obj, idx);
  }

  /**
   * Extent `idx` of `obj` got a new memory-file offset (a copy-on-write copy): host mappings
   * of the old one, in every VMA of `obj`, must go (the next access installs the new one).
   */
  private extentMoved(obj: MemObject, idx: number): void {
    for (const v of this.vmas) {
      if (v.obj !== obj || !v.mapped.has(idx)) continue;
      const [lo, hi] = this.extentRange(v, idx);
      if (hi > lo) this.hostUnmap(lo, hi - lo);
      v.mapped.delete(idx);
    }
  }

  /** The app addresses of extent `idx` of v's object inside v (as installExtent maps them). */
  private extentRange(v: Vma, idx: number): [number, number] {
    const extStart = idx * EXTENT_SIZE;
    let objFrom = Math.max(extStart, v.objOff);
    let objTo = Math.min(extStart + EXTENT_SIZE, v.objOff + (v.end - v.start));
    if (v.objLimit >= 0) objTo = Math.min(objTo, pageRoundUp(v.objLimit));
    objFrom = pageRoundDown(objFrom);
    return [v.start + (objFrom - v.objOff), v.start + (objTo - v.objOff)];
  }

  /** True if [start, end) intersects no VMA. */
  isFree(start: number, end: number): boolean {
    const i = this.lowerBound(start);
    const v = this.vmas[i];
    return !v || v.start >= end;
  }

  /** Find a free range of `len` bytes, top-down below mmapBase (as Linux's default layout). */
  findFree(len: number, hint = 0): number {
    if (hint && hint + len <= TASK_SIZE && this.isFree(hint, hint + len) && hint >= 0x10000) return hint;
    let top = this.mmapBase;
    let i = this.lowerBound(top) - 1;
    if (i >= this.vmas.length) i = this.vmas.length - 1;
    while (true) {
      // Skip VMAs at or above `top`.
      while (i >= 0 && this.vmas[i].start >= top) i--;
      const below = i >= 0 ? this.vmas[i].end : 0x10000;
      if (i >= 0 && this.vmas[i].end > top) {
        top = this.vmas[i].start;
        i--;
        continue;
      }
      if (top - below >= len) return top - len;
      if (i < 0) throw new SysError(ENOMEM, 'address space exhausted');
      top = this.vmas[i].start;
      i--;
    }
  }

  // ---- mapping operations (addresses are validated by the syscall layer) ----

  /**
   * Create a mapping. `obj` is consumed (its reference moves to the VMA).
   * Returns the address.
   */
  map(opts: {
    addr: number;
    len: number;
    prot: number;
    fixed: boolean;
    noReplace?: boolean;
    shared: boolean;
    obj: MemObject;
    objOff: number;
    name: VmaName;
    growsDown?: boolean;
    objLimit?: number;
    fileOff?: number;
  }): number {
    const len = pageRoundUp(opts.len);
    let addr: number;
    if (opts.fixed) {
      addr = opts.addr;
      if (opts.noReplace && !this.isFree(addr, addr + len)) {
        opts.obj.decRef();
        throw new SysError(EEXIST);
      }
      this.removeRange(addr, addr + len);
    } else {
      addr = this.findFree(len, opts.addr ? pageRoundDown(opts.addr) : 0);
    }
    const v = new Vma(
      addr,
      addr + len,
      opts.prot,
      opts.shared,
      opts.obj,
      opts.objOff,
      opts.name,
      opts.growsDown ?? false,
      opts.fileOff ?? opts.objOff,
    );
    if (opts.objLimit !== undefined) v.objLimit = opts.objLimit;
    this.insertVma(v);
    return addr;
  }

  /** Anonymous private (or shared) memory. */
  mapAnon(
    addr: number,
    len: number,
    prot: number,
    fixed: boolean,
    shared = false,
    name: VmaName = {},
    noReplace = false,
  ): number {
    return this.map({
      addr,
      len,
      prot,
      fixed,
      noReplace,
      shared,
      obj: new MemObject(this.mf),
      objOff: 0,
      name,
    });
  }

  unmap(start: number, len: number): void {
    this.removeRange(start, start + pageRoundUp(len));
  }

  /**
   * mprotect(2). As Linux, the VMAs from `start` up to the first hole are changed, then
   * -ENOMEM is returned if the range is not wholly mapped.
   */
  protect(start: number, len: number, prot: number): number {
    const end = start + pageRoundUp(len);
    let a = start;
    let i = this.lowerBound(start);
    while (a < end) {
      const v = this.vmas[i];
      if (!v || v.start > a) break;
      a = v.end;
      i++;
    }
    const mappedEnd = Math.min(a, end);
    if (mappedEnd > start) {
      this.splitAt(start);
      this.splitAt(mappedEnd);
      i = this.lowerBound(start);
      while (i < this.vmas.length && this.vmas[i].start < mappedEnd) {
        const v = this.vmas[i];
        if (v.cow && prot & PROT_WRITE) this.breakCow(v);
        if (v.prot !== prot) {
          if (v.installed) {
            this.hostUnmap(v.start, v.end - v.start);
            v.mapped.clear();
            v.installed = false;
          }
          v.prot = prot;
        }
        i++;
      }
      // Neighbours that now agree become one VMA again, as Linux's vma_merge (mremap of a
      // range that was split by mprotect and restored must see one mapping).
      this.mergeAround(start);
      this.mergeAround(mappedEnd);
    }
    return mappedEnd < end ? -ENOMEM : 0;
  }

  /** Merge the VMA ending at `addr` with the one starting there when they continue each other. */
  private mergeAround(addr: number): void {
    const i = this.lowerBound(addr) - 1;
    const a = this.vmas[i],
      b = this.vmas[i + 1];
    if (!a || !b || a.end !== addr || b.start !== addr) return;
    if (
      a.obj !== b.obj ||
      a.objOff + (a.end - a.start) !== b.objOff ||
      a.prot !== b.prot ||
      a.shared !== b.shared ||
      a.cow !== b.cow ||
      a.pageCache !== b.pageCache ||
      a.locked !== b.locked ||
      a.mayWrite !== b.mayWrite ||
      a.growsDown !== b.growsDown ||
      a.objLimit !== b.objLimit ||
      a.name.path !== b.name.path ||
      a.name.special !== b.name.special
    )
      return;
    // An extent installed on one side only of a boundary inside it would count as installed
    // over the whole merged range, and the other side's next fault would look like an
    // access error: take that side's part out of the host so the next fault installs it.
    const boundary = b.objOff;
    const straddle = Math.floor(boundary / EXTENT_SIZE);
    if (boundary % EXTENT_SIZE !== 0 && a.mapped.has(straddle) !== b.mapped.has(straddle)) {
      const extAddr = a.start + (straddle * EXTENT_SIZE - a.objOff);
      const lo = Math.max(a.start, extAddr),
        hi = Math.min(b.end, extAddr + EXTENT_SIZE);
      this.hostUnmap(lo, hi - lo);
      a.mapped.delete(straddle);
      b.mapped.delete(straddle);
    }
    a.end = b.end;
    a.installed ||= b.installed;
    for (const idx of b.mapped) a.mapped.add(idx);
    b.obj.decRef();
    this.vmas.splice(i + 1, 1);
  }

  /** madvise(MADV_DONTNEED): private anonymous pages read back as zero (file pages from the file). */
  dontNeed(start: number, len: number): number {
    const end = start + pageRoundUp(len);
    let i = this.lowerBound(start);
    while (i < this.vmas.length && this.vmas[i].start < end) {
      const v = this.vmas[i];
      // Linux refuses locked and VM_PFNMAP mappings (the vDSO's parameter page is one).
      if (v.locked || v.name.special === '[vvar]') return -EINVAL;
      if (v.cow && v.pageCache) {
        // The page cache already holds the file's bytes: only the host mapping goes.
        if (v.installed) {
          this.hostUnmap(v.start, v.end - v.start);
          v.mapped.clear();
          v.installed = false;
        }
        i++;
        continue;
      }
      if (v.cow) this.breakCow(v);
      if (!v.shared) {
        const s = Math.max(start, v.start),
          e = Math.min(end, v.end);
        if (v.installed) {
          this.hostUnmap(v.start, v.end - v.start);
          v.mapped.clear();
          v.installed = false;
        }
        v.obj.discard(v.objOff + (s - v.start), v.objOff + (e - v.start));
      }
      i++;
    }
    return 0;
  }

  /** mremap(2) core: grow/shrink/move. Returns new address or -errno. */
  remap(
    oldAddr: number,
    oldLen: number,
    newLen: number,
    mayMove: boolean,
    fixed: boolean,
    newAddr: number,
  ): number {
    oldLen = pageRoundUp(oldLen);
    newLen = pageRoundUp(newLen);
    const v = this.findVma(oldAddr);
    if (!v || oldAddr + Math.max(oldLen, 1) > v.end) return -14; /* EFAULT */
    if (fixed) {
      if (newAddr < oldAddr + oldLen && oldAddr < newAddr + newLen) return -EINVAL;
      return this.moveVmaRange(v, oldAddr, oldLen, newLen, newAddr);
    }
    if (newLen <= oldLen) {
      if (newLen < oldLen) this.unmap(oldAddr + newLen, oldLen - newLen);
      return oldAddr;
    }
    // Grow in place if the VMA ends at the old range end and the space after it is free.
    if (oldAddr + oldLen === v.end && this.isFree(v.end, oldAddr + newLen) && oldAddr + newLen <= TASK_SIZE) {
      v.growEnd(oldAddr + newLen);
      return oldAddr;
    }
    if (!mayMove) return -ENOMEM;
    const dst = this.findFree(newLen);
    return this.moveVmaRange(v, oldAddr, oldLen, newLen, dst);
  }

  private moveVmaRange(v: Vma, oldAddr: number, oldLen: number, newLen: number, dst: number): number {
    const obj = v.obj.incRef();
    const objOff = v.objOff + (oldAddr - v.start);
    const { prot, shared, name, growsDown, objLimit, cow, pageCache } = v;
    const fileOff = v.fileOff + (oldAddr - v.start);
    // Detach the old range without zeroing its (private) object range: the pages move.
    this.splitAt(oldAddr);
    this.splitAt(oldAddr + oldLen);
    let i = this.lowerBound(oldAddr);
    const first = i;
    while (i < this.vmas.length && this.vmas[i].start < oldAddr + oldLen) {
      const w = this.vmas[i];
      if (w.installed) this.hostUnmap(w.start, w.end - w.start);
      w.obj.decRef();
      i++;
    }
    this.vmas.splice(first, i - first);
    if (newLen < oldLen && !shared && !cow) obj.zeroRange(objOff + newLen, objOff + oldLen);
    this.removeRange(dst, dst + newLen);
    const nv = new Vma(dst, dst + newLen, prot, shared, obj, objOff, name, growsDown, fileOff);
    nv.objLimit = objLimit;
    nv.cow = cow;
    nv.pageCache = pageCache;
    this.insertVma(nv);
    return dst;
  }

  /** Give a fork-shared private VMA its own copy of the object before its content changes. */
  private breakCow(v: Vma): void {
    const copy = v.obj.clone(v.objOff, v.objOff + (v.end - v.start));
    v.obj.decRef();
    v.obj = copy;
    this.watch(copy, v.shared);
    v.cow = false;
    v.pageCache = false;
    if (v.installed) {
      this.hostUnmap(v.start, v.end - v.start);
      v.mapped.clear();
      v.installed = false;
    }
  }

  // ---- faults ----

  /**
   * Handle an app fault at `addr`. Installs the host mapping when the access is allowed;
   * otherwise says which signal to raise.
   */
  handleFault(addr: number, last?: LastFault): FaultResult {
    let v = this.findVma(addr);
    if (!v) {
      v = this.growStack(addr);
      if (!v) return { signo: SIGSEGV, code: SEGV_MAPERR };
    }
    if (v.prot === PROT_NONE) return { signo: SIGSEGV, code: SEGV_ACCERR };
    const objPos = v.objOff + (addr - v.start);
    if (v.objLimit >= 0 && objPos >= pageRoundUp(v.objLimit)) return { signo: SIGBUS, code: BUS_ADRERR };
    const idx = Math.floor(objPos / EXTENT_SIZE);
    if (v.mapped.has(idx) && v.prot & PROT_WRITE && v.obj.cowIdx.has(idx)) {
      // Installed read-only because a fork shares it: this is the write. Copy (if still
      // shared) and install it writable.
      v.obj.own(idx);
      this.installExtent(v, idx);
      return FAULT_OK;
    }
    if (v.mapped.has(idx)) {
      // Installed already. Either the access is not allowed, or this thread faulted while
      // another thread's fault was installing the same extent. ptrace does not tell the
      // access type, so the thread retries once: a second fault at the same address with
      // no mapping change in between is a real violation.
      if (last && (last.addr !== addr || last.gen !== this.gen)) {
        last.addr = addr;
        last.gen = this.gen;
        return FAULT_OK;
      }
      return { signo: SIGSEGV, code: SEGV_ACCERR };
    }
    this.installExtent(v, idx);
    return FAULT_OK;
  }

  private installExtent(v: Vma, idx: number): void {
    const extStart = idx * EXTENT_SIZE; // object offset
    let objFrom = Math.max(extStart, v.objOff);
    let objTo = Math.min(extStart + EXTENT_SIZE, v.objOff + (v.end - v.start));
    if (v.objLimit >= 0) objTo = Math.min(objTo, pageRoundUp(v.objLimit));
    objFrom = pageRoundDown(objFrom);
    const f = v.obj.foreign;
    if (f && this.as.mapForeign && objTo > objFrom) {
      // A host file's pages (a layer image), mapped as they are: never writable.
      const addr = v.start + (objFrom - v.objOff);
      if (this.as.mapForeign(addr, objTo - objFrom, f.file, f.offset + objFrom, v.prot & 7 & ~PROT_WRITE)) {
        v.mapped.add(idx);
        v.installed = true;
        return;
      }
    }
    const fileOff = v.obj.extent(idx, true);
    let prot = v.prot & 7;
    // An extent a fork still shares is installed read-only: the first write faults and copies it.
    if (prot & PROT_WRITE && v.obj.sharesExtent(idx)) prot &= ~PROT_WRITE;
    this.as.mapFile(v.start + (objFrom - v.objOff), objTo - objFrom, fileOff + (objFrom - extStart), prot);
    v.mapped.add(idx);
    v.installed = true;
  }

  /** Grow a MAP_GROWSDOWN VMA down to cover addr (within 1 MiB below it, as a stack guard gap). */
  private growStack(addr: number): Vma | undefined {
    const i = this.lowerBound(addr);
    const v = this.vmas[i];
    if (!v || !v.growsDown || v.start - addr > 1 << 20) return undefined;
    const newStart = pageRoundDown(addr);
    if (!this.isFree(newStart, v.start) || v.objOff < v.start - newStart) return undefined;
    // The extent holding the old start was installed clipped to the VMA: install it again.
    v.mapped.delete(Math.floor(v.objOff / EXTENT_SIZE));
    v.objOff -= v.start - newStart;
    v.fileOff = v.objOff;
    v.start = newStart;
    return v;
  }

  /** Populate (MAP_POPULATE / mlock): install host mappings for a whole range now. */
  populate(start: number, len: number): void {
    const end = start + len;
    for (let i = this.lowerBound(start); i < this.vmas.length && this.vmas[i].start < end; i++) {
      const v = this.vmas[i];
      if (v.prot === PROT_NONE) continue;
      const s = Math.max(start, v.start),
        e = Math.min(end, v.end);
      for (let p = s; p < e;) {
        const objPos = v.objOff + (p - v.start);
        if (v.objLimit >= 0 && objPos >= pageRoundUp(v.objLimit)) break;
        const idx = Math.floor(objPos / EXTENT_SIZE);
        if (!v.mapped.has(idx)) this.installExtent(v, idx);
        p += (idx + 1) * EXTENT_SIZE - objPos;
      }
    }
  }

  // ---- fork ----

  /** Make v's installed extents read-only in the host, in as few calls as possible. */
  private writeProtectInstalled(v: Vma): void {
    if (!v.mapped.size || !(v.prot & PROT_WRITE)) return;
    const prot = v.prot & 7 & ~PROT_WRITE;
    let runLo = -1,
      runHi = -1;
    for (const idx of [...v.mapped].sort((a, b) => a - b)) {
      const [lo, hi] = this.extentRange(v, idx);
      if (hi <= lo) continue;
      if (lo === runHi) runHi = hi;
      else {
        if (runHi > runLo) this.hostProtect(runLo, runHi - runLo, prot);
        runLo = lo;
        runHi = hi;
      }
    }
    if (runHi > runLo) this.hostProtect(runLo, runHi - runLo, prot);
  }

  /** A copy for fork(2): private objects are copied, shared ones shared. Nothing is host-mapped in the child. */
  fork(as: AddressSpace): MemoryManager {
    const c = new MemoryManager(this.mf, as);
    // Objects split across several VMAs must stay one object in the child.
    const copies = new Map<MemObject, MemObject>();
    // Private objects this side can write (through any of its VMAs) are copied — lazily,
    // extent by extent — and the child uses the copy for every VMA of them. Only objects
    // nobody can write are shared as they are (Vma.cow): a shared object is never written
    // in place, so its extents never move under another address space.
    const writable = new Set<MemObject>();
    for (const v of this.vmas) if (!v.shared && v.prot & PROT_WRITE) writable.add(v.obj);
    for (const v of this.vmas) {
      let obj: MemObject;
      let cow = false;
      if (v.shared) obj = v.obj.incRef();
      else if (!writable.has(v.obj)) {
        // Neither side can write it: share instead of copying (see Vma.cow).
        obj = v.obj.incRef();
        v.cow = cow = true;
      } else {
        const prev = copies.get(v.obj);
        if (prev) obj = prev.incRef();
        else {
          obj = v.obj.clone();
          copies.set(v.obj, obj);
        }
        // Both sides now share the extents: this side's writable host mappings become
        // read-only so its next write to each extent faults and copies it.
        this.writeProtectInstalled(v);
      }
      const nv = new Vma(v.start, v.end, v.prot, v.shared, obj, v.objOff, v.name, v.growsDown, v.fileOff);
      nv.objLimit = v.objLimit;
      nv.mayWrite = v.mayWrite;
      nv.cow = cow;
      nv.pageCache = cow && v.pageCache;
      c.vmas.push(nv);
      c.watch(obj, v.shared);
    }
    c.brkStart = this.brkStart;
    c.brk = this.brk;
    c.mmapBase = this.mmapBase;
    c.stackTop = this.stackTop;
    c.argStart = this.argStart;
    c.argEnd = this.argEnd;
    c.envStart = this.envStart;
    c.envEnd = this.envEnd;
    c.auxv = this.auxv;
    c.exePath = this.exePath;
    return c;
  }

  // ---- brk ----

  setBrk(addr: number): number {
    if (addr < this.brkStart) return this.brk;
    const oldEnd = pageRoundUp(this.brk),
      newEnd = pageRoundUp(addr);
    if (newEnd > oldEnd) {
      // Heuristic overcommit: growth beyond all of memory fails, as Linux's brk.
      if (newEnd - oldEnd > this.overcommitLimit || newEnd > TASK_SIZE || !this.isFree(oldEnd, newEnd))
        return this.brk;
      const v = this.findVma(oldEnd - 1);
      if (v && v.name.special === '[heap]' && v.end === oldEnd) v.growEnd(newEnd);
      else
        this.map({
          addr: oldEnd,
          len: newEnd - oldEnd,
          prot: PROT_READ | PROT_WRITE,
          fixed: true,
          shared: false,
          obj: new MemObject(this.mf),
          objOff: 0,
          name: { special: '[heap]' },
        });
    } else if (newEnd < oldEnd) {
      this.unmap(newEnd, oldEnd - newEnd);
    }
    this.brk = addr;
    return addr;
  }

  // ---- UserMemory ----

  /** Views of app memory; `write` (writes through them) first copies extents a fork shares. */
  private views(addr: number, len: number, need: number, write = (need & PROT_WRITE) !== 0): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (len === 0) return out;
    if (addr < 0 || addr + len > TASK_SIZE || !Number.isSafeInteger(addr + len)) throw new SysError(EFAULT);
    let a = addr;
    const end = addr + len;
    let i = this.lowerBound(a);
    while (a < end) {
      const v = this.vmas[i];
      if (!v || v.start > a || (v.prot & need) !== need) throw new SysError(EFAULT);
      const e = Math.min(end, v.end);
      while (a < e) {
        const objPos = v.objOff + (a - v.start);
        if (v.objLimit >= 0 && objPos >= pageRoundUp(v.objLimit)) throw new SysError(EFAULT);
        const n = Math.min(e - a, EXTENT_SIZE - (objPos % EXTENT_SIZE));
        out.push(v.obj.viewWithinExtent(objPos, n, write));
        a += n;
      }
      i++;
    }
    return out;
  }

  readViews(addr: number, len: number): Uint8Array[] {
    return this.views(addr, len, PROT_READ);
  }

  writeViews(addr: number, len: number): Uint8Array[] {
    return this.views(addr, len, PROT_WRITE);
  }

  /** Views ignoring protections (the kernel's own access: loader, ptrace-like peeks). */
  forceViews(addr: number, len: number): Uint8Array[] {
    return this.views(addr, len, 0);
  }

  copyIn(addr: number, len: number): Uint8Array {
    const vs = this.views(addr, len, PROT_READ);
    if (vs.length === 1) return vs[0].slice();
    const out = new Uint8Array(len);
    let o = 0;
    for (const v of vs) {
      out.set(v, o);
      o += v.length;
    }
    return out;
  }

  copyOut(addr: number, data: Uint8Array): void {
    let o = 0;
    for (const v of this.views(addr, data.length, PROT_WRITE)) {
      v.set(data.subarray(o, o + v.length));
      o += v.length;
    }
  }

  /** Kernel write ignoring protections (initial stack, loader). */
  forceCopyOut(addr: number, data: Uint8Array): void {
    let o = 0;
    for (const v of this.views(addr, data.length, 0, true)) {
      v.set(data.subarray(o, o + v.length));
      o += v.length;
    }
  }

  readCString(addr: number, max: number): string {
    // Scan page by page so a string ending just before an unmapped page works.
    const chunks: Uint8Array[] = [];
    let total = 0;
    let a = addr;
    while (true) {
      const n = PAGE_SIZE - (a % PAGE_SIZE);
      const vs = this.views(a, n, PROT_READ);
      for (const v of vs) {
        const z = v.indexOf(0);
        if (z >= 0) {
          if (total + z > max) throw new SysError(ENAMETOOLONG);
          chunks.push(v.subarray(0, z));
          // A byte string: one char per byte (latin1), as the VFS expects.
          return Buffer.concat(chunks).toString('latin1');
        }
        chunks.push(v);
        total += v.length;
        if (total > max) throw new SysError(ENAMETOOLONG);
      }
      a += n;
    }
  }

  private scratch = new DataView(new ArrayBuffer(8));
  private scratchBytes = new Uint8Array(this.scratch.buffer);

  private readSmall(addr: number, n: number): DataView {
    const vs = this.views(addr, n, PROT_READ);
    if (vs.length === 1) return new DataView(vs[0].buffer, vs[0].byteOffset, n);
    let o = 0;
    for (const v of vs) {
      this.scratchBytes.set(v, o);
      o += v.length;
    }
    return this.scratch;
  }

  private writeSmall(addr: number, n: number, fill: (d: DataView) => void): void {
    const vs = this.views(addr, n, PROT_WRITE);
    if (vs.length === 1) {
      fill(new DataView(vs[0].buffer, vs[0].byteOffset, n));
      return;
    }
    fill(this.scratch);
    let o = 0;
    for (const v of vs) {
      v.set(this.scratchBytes.subarray(o, o + v.length));
      o += v.length;
    }
  }

  readU32(addr: number): number {
    return this.readSmall(addr, 4).getUint32(0, true);
  }
  readI32(addr: number): number {
    return this.readSmall(addr, 4).getInt32(0, true);
  }
  readU64(addr: number): number {
    const d = this.readSmall(addr, 8);
    return d.getUint32(0, true) + d.getUint32(4, true) * 4294967296;
  }
  readBigU64(addr: number): bigint {
    return this.readSmall(addr, 8).getBigUint64(0, true);
  }
  writeU32(addr: number, v: number): void {
    this.writeSmall(addr, 4, (d) => d.setUint32(0, v >>> 0, true));
  }
  writeI32(addr: number, v: number): void {
    this.writeSmall(addr, 4, (d) => d.setInt32(0, v | 0, true));
  }
  writeU64(addr: number, v: number | bigint): void {
    this.writeSmall(addr, 8, (d) => d.setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true));
  }

  /** Bytes of all VMAs (VmSize). */
  get totalBytes(): number {
    let t = 0;
    for (const v of this.vmas) t += v.end - v.start;
    return t;
  }
}
