/** Memory-management syscalls: brk, mmap family, mprotect, mremap, madvise, msync, mincore, mlock. */
import { EACCES, EAGAIN, EBADF, EEXIST, EINVAL, ENODEV, ENOMEM, EPERM, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import type { Task } from '../../kernel/task';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  pageRoundUp,
} from '../../mm/mm';
import { MemObject } from '../../mm/memobject';
import type { Mappable } from '../../mm/api';
import { PAGE_SIZE } from '../../mm/memfile';
import type { SyscallDef } from '../types';
import * as os from 'node:os';

type A = SyscallArgs;

/** brk implements Linux syscall brk(2). */
export function brk(t: Task, a: A) {
  return t.mm.setBrk(a.ptr(0));
}

const KNOWN_MAP_FLAGS = 0x1fffff;

/** mmap implements Linux syscall mmap(2). */
export function mmap(t: Task, a: A) {
  const addr = a.ptr(0);
  const len = a.ptr(1);
  const prot = a.int(2);
  const flags = a.int(3);
  const fd = a.int(4);
  const off = a.ptr(5);
  if (len === 0) return -EINVAL;
  if (off % PAGE_SIZE) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if (type === MAP_SHARED_VALIDATE && flags & ~KNOWN_MAP_FLAGS) return -EOPNOTSUPP_;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  const rlen = pageRoundUp(len);
  if (rlen > TASK_SIZE || rlen === 0) return -ENOMEM;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed && (addr % PAGE_SIZE || addr + rlen > TASK_SIZE)) return addr % PAGE_SIZE ? -EINVAL : -ENOMEM;
  if (fixed && addr < 0x10000) return -EPERM; // vm.mmap_min_addr
  const shared = type !== MAP_PRIVATE;
  // Heuristic overcommit (vm.overcommit_memory=0): one private writable mapping larger
  // than all of memory fails, as Linux's __vm_enough_memory.
  if (!shared && prot & PROT_WRITE && !(flags & MAP_NORESERVE) && rlen > TOTAL_MEM) return -ENOMEM;
  const mm = t.mm;
  let ret: number;
  if (flags & MAP_ANONYMOUS) {
    ret = mm.map({
      addr,
      len: rlen,
      prot: prot & 7,
      fixed,
      noReplace: (flags & MAP_FIXED_NOREPLACE) !== 0 && !(flags & MAP_FIXED),
      shared,
      obj: new MemObject(mm.mf),
      objOff: 0,
      name: {},
      growsDown: (flags & MAP_GROWSDOWN) !== 0,
    });
  } else {
    const src = t.kernel.vfs.mmapSource(t, fd);
    if (!src.readable) return -EACCES;
    if (shared && prot & PROT_WRITE && (!src.writable || src.append)) return -EACCES;
    if (off + rlen > Number.MAX_SAFE_INTEGER) return -EOVERFLOW_;
    const m = src.mappable;
    let obj: MemObject;
    let objOff: number;
    let objLimit: number;
    // A private mapping nobody can write yet (program text, read-only data) maps the
    // file's page cache itself, as Linux does, marked copy-on-write: it sees the file's
    // current bytes and gets a private copy only when made writable (see Vma.cow).
    const cache = shared || prot & PROT_WRITE ? undefined : pageCacheOf(m);
    if (shared) {
      obj = m.sharedObject().incRef();
      objOff = off;
      objLimit = m.size();
    } else if (cache) {
      obj = cache.incRef();
      objOff = off;
      objLimit = m.size();
    } else {
      src.file.incRef();
      obj = new MemObject(
        mm.mf,
        (o, dst) => {
          m.readForMap(off + o, dst);
        },
        src.file,
      );
      objOff = 0;
      objLimit = Math.max(0, m.size() - off);
    }
    ret = mm.map({
      addr,
      len: rlen,
      prot: prot & 7,
      fixed,
      noReplace: (flags & MAP_FIXED_NOREPLACE) !== 0 && !(flags & MAP_FIXED),
      shared,
      obj,
      objOff,
      name: src.name,
      objLimit,
      fileOff: off,
    });
    if (shared && !src.writable) t.mm.findVma(ret)!.mayWrite = false;
    if (cache) {
      const v = t.mm.findVma(ret)!;
      v.cow = true;
      v.pageCache = true;
    }
  }
  if (flags & MAP_POPULATE) mm.populate(ret, rlen);
  return ret;
}
/** The file's immutable page cache, or undefined where the filesystem has none to offer. */
function pageCacheOf(m: Mappable): MemObject | undefined {
  if (!m.readOnlyPageCache) return undefined;
  try {
    return m.readOnlyPageCache();
  } catch {
    return undefined;
  }
}

const EOPNOTSUPP_ = 95;
const TOTAL_MEM = os.totalmem();
const EOVERFLOW_ = 75;

/** munmap implements Linux syscall munmap(2). */
export function munmap(t: Task, a: A) {
  const addr = a.ptr(0),
    len = a.ptr(1);
  if (addr % PAGE_SIZE || len === 0 || addr + len > TASK_SIZE) return -EINVAL;
  t.mm.unmap(addr, len);
  return 0;
}

/** mprotect implements Linux syscall mprotect(2). */
export function mprotect(t: Task, a: A) {
  const addr = a.ptr(0),
    len = a.ptr(1),
    prot = a.int(2);
  if (addr % PAGE_SIZE) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (len === 0) return 0;
  // Shared file mappings opened read-only cannot become writable.
  if (prot & PROT_WRITE) {
    for (let v = t.mm.findVma(addr); v && v.start < addr + len; v = t.mm.findVma(v.end))
      if (!v.mayWrite) return -EACCES;
  }
  return t.mm.protect(addr, len, prot & 7);
}

const MREMAP_MAYMOVE = 1,
  MREMAP_FIXED = 2,
  MREMAP_DONTUNMAP = 4;

/** mremap implements Linux syscall mremap(2). */
export function mremap(t: Task, a: A) {
  const old = a.ptr(0),
    oldLen = a.ptr(1),
    newLen = a.ptr(2),
    flags = a.int(3),
    newAddr = a.ptr(4);
  if (old % PAGE_SIZE || flags & ~7) return -EINVAL;
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  if (flags & MREMAP_DONTUNMAP) return -EINVAL;
  if (newLen === 0) return -EINVAL;
  if (flags & MREMAP_FIXED && newAddr % PAGE_SIZE) return -EINVAL;
  if (oldLen === 0) return -EINVAL; // duplicating shared mappings is not supported
  return t.mm.remap(
    old,
    oldLen,
    newLen,
    (flags & MREMAP_MAYMOVE) !== 0,
    (flags & MREMAP_FIXED) !== 0,
    newAddr,
  );
}

/** madvise implements Linux syscall madvise(2). */
export function madvise(t: Task, a: A) {
  const addr = a.ptr(0),
    len = a.ptr(1),
    advice = a.int(2);
  if (addr % PAGE_SIZE) return -EINVAL;
  if (len === 0) return 0;
  switch (advice) {
    case 4: // MADV_DONTNEED
    case 8: // MADV_FREE
      return t.mm.dontNeed(addr, len);
    case 0:
    case 1:
    case 2:
    case 3: // NORMAL RANDOM SEQUENTIAL WILLNEED
    case 9:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
    case 19:
    case 20:
    case 21:
    case 22:
    case 23:
    case 25:
      return 0;
    case 100: // MADV_HWPOISON
      return -EPERM;
    default:
      return -EINVAL;
  }
}

/** msync implements Linux syscall msync(2): shared pages already live in the file's object. */
export function msync(t: Task, a: A) {
  const addr = a.ptr(0),
    len = a.ptr(1),
    flags = a.int(2);
  if (addr % PAGE_SIZE || flags & ~7 || (flags & 1 && flags & 4)) return -EINVAL;
  const end = addr + pageRoundUp(len);
  for (let p = addr; p < end;) {
    const v = t.mm.findVma(p);
    if (!v) return -ENOMEM;
    p = v.end;
  }
  return 0;
}

/** mincore implements Linux syscall mincore(2): pages installed in the object count as resident. */
export function mincore(t: Task, a: A) {
  const addr = a.ptr(0),
    len = a.ptr(1),
    vec = a.ptr(2);
  if (addr % PAGE_SIZE) return -EINVAL;
  if (addr + len > TASK_SIZE) return -ENOMEM;
  const pages = pageRoundUp(len) / PAGE_SIZE;
  // The whole range must be mapped (ENOMEM) before anything is written.
  for (let p = addr; p < addr + pages * PAGE_SIZE;) {
    const v = t.mm.findVma(p);
    if (!v) return -ENOMEM;
    p = v.end;
  }
  const out = new Uint8Array(pages);
  for (let i = 0; i < pages; i++) {
    const p = addr + i * PAGE_SIZE;
    const v = t.mm.findVma(p)!;
    const objPos = v.objOff + (p - v.start);
    out[i] = v.obj.extents.has(Math.floor(objPos / 65536)) ? 1 : 0;
  }
  t.mm.copyOut(vec, out);
  return 0;
}

function lockRange(t: Task, addr: number, len: number, lock: boolean): number {
  const start = addr - (addr % PAGE_SIZE);
  const end = pageRoundUp(addr + len);
  for (let p = start; p < end;) {
    const v = t.mm.findVma(p);
    if (!v) return -ENOMEM;
    v.locked = lock;
    p = v.end;
  }
  if (lock) t.mm.populate(start, end - start);
  return 0;
}

/** mlock implements Linux syscall mlock(2) (pages are populated; the sentry never swaps). */
export const mlock = (t: Task, a: A) => lockRange(t, a.ptr(0), a.ptr(1), true);
/** mlock2 implements Linux syscall mlock2(2). */
export const mlock2 = (t: Task, a: A) => (a.int(2) & ~1 ? -EINVAL : lockRange(t, a.ptr(0), a.ptr(1), true));
/** munlock implements Linux syscall munlock(2). */
export const munlock = (t: Task, a: A) => lockRange(t, a.ptr(0), a.ptr(1), false);
/** mlockall implements Linux syscall mlockall(2). */
export function mlockall(_t: Task, a: A) {
  const f = a.int(0);
  if (!f || f & ~7 || f === 4) return -EINVAL;
  return 0;
}
/** munlockall implements Linux syscall munlockall(2). */
export const munlockall = () => 0;

/** The open file at fd, as fadvise/readahead see it (the Task's fd table is the VFS's). */
function fileAt(t: Task, fd: number): { stream: boolean; isPath: boolean; mappable(): unknown } | undefined {
  return (
    t.files as unknown as {
      get(fd: number): { stream: boolean; isPath: boolean; mappable(): unknown } | undefined;
    }
  ).get(fd);
}

/** fadvise64 implements Linux syscall fadvise64(2): advice is checked and accepted (the sentry has no readahead to tune). */
export function fadvise64(t: Task, a: A) {
  const f = fileAt(t, a.int(0));
  if (!f || f.isPath) return -EBADF;
  if (f.stream) return -ESPIPE_;
  const advice = a.int(3);
  if (advice < 0 || advice > 5) return -EINVAL;
  if (a.i64(2) < 0) return -EINVAL;
  return 0;
}

/** readahead implements Linux syscall readahead(2) (accepted; nothing to prefetch). */
export function readahead(t: Task, a: A) {
  const f = fileAt(t, a.int(0));
  if (!f || f.isPath) return -EBADF;
  if (f.stream || !f.mappable()) return -EINVAL;
  return 0;
}
const ESPIPE_ = 29;

export const mmapSyscalls: SyscallDef<Task>[] = [
  {
    nr: 221,
    name: 'fadvise64',
    handler: fadvise64,
    support: 'full',
    args: ['fd', 'int', 'uint', 'int'],
  },
  { nr: 187, name: 'readahead', handler: readahead, support: 'full', args: ['fd', 'int', 'uint'] },
  { nr: 12, name: 'brk', handler: brk, support: 'full', args: ['ptr'], hexResult: true },
  {
    nr: 9,
    name: 'mmap',
    handler: mmap,
    support: 'full',
    args: ['ptr', 'uint', 'prot', 'mmapflags', 'fd', 'hex'],
    hexResult: true,
  },
  { nr: 11, name: 'munmap', handler: munmap, support: 'full', args: ['ptr', 'uint'] },
  { nr: 10, name: 'mprotect', handler: mprotect, support: 'full', args: ['ptr', 'uint', 'prot'] },
  {
    nr: 25,
    name: 'mremap',
    handler: mremap,
    support: 'partial',
    note: 'MREMAP_DONTUNMAP and old_size 0 give EINVAL',
    args: ['ptr', 'uint', 'uint', 'hex', 'ptr'],
    hexResult: true,
  },
  {
    nr: 28,
    name: 'madvise',
    handler: madvise,
    support: 'partial',
    note: 'DONTNEED/FREE zero pages; other advice is accepted and ignored',
    args: ['ptr', 'uint', 'int'],
  },
  { nr: 26, name: 'msync', handler: msync, support: 'full', args: ['ptr', 'uint', 'hex'] },
  { nr: 27, name: 'mincore', handler: mincore, support: 'full', args: ['ptr', 'uint', 'ptr'] },
  { nr: 149, name: 'mlock', handler: mlock, support: 'full', args: ['ptr', 'uint'] },
  { nr: 325, name: 'mlock2', handler: mlock2, support: 'full', args: ['ptr', 'uint', 'hex'] },
  { nr: 150, name: 'munlock', handler: munlock, support: 'full', args: ['ptr', 'uint'] },
  {
    nr: 151,
    name: 'mlockall',
    handler: mlockall,
    support: 'partial',
    note: 'accepted; future mappings are not populated',
    args: ['hex'],
  },
  { nr: 152, name: 'munlockall', handler: munlockall, support: 'full', args: [] },
];

export { EAGAIN, EBADF, EEXIST, ENODEV, SysError };
