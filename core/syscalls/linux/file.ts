/**
 * Read/write family, lseek, open family, sendfile, truncation, allocation, sync, memfd.
 * Reads and writes go straight between the file and zero-copy views of app memory.
 */
import { E2BIG, EBADF, EFAULT, EINVAL, EISDIR, ENODEV, EOPNOTSUPP, ESPIPE, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { Tmpfs, TmpfsRegularFile } from '../../fs/tmpfs';
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_CREAT,
  O_RDWR,
  O_TMPFILE,
  O_TRUNC,
  O_VALID,
  O_WRONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from '../../vfs/abi';
import type { FileDescription } from '../../vfs/file';
import { fsnotifyChange } from '../../vfs/fsnotify';
import { lookupAt, openAt, truncateVd } from '../../vfs/ops';
import type { FileTask } from '../../vfs/task';
import { Dentry, Mount, MountNamespace, VirtualDentry } from '../../vfs/mount';
import type { SyscallDef } from '../types';
import { doRead, doWrite, fileArg, ioFileArg, pathArg } from './fd';

type T = FileTask;
type A = SyscallArgs;

/** Linux caps a single read/write at MAX_RW_COUNT. */
export const MAX_RW_COUNT = 0x7ffff000;
const UIO_MAXIOV = 1024;

// ---------------------------------------------------------------- read / write

/** Read implements Linux syscall read(2). */
export function Read(t: T, a: A): number | Promise<number> {
  const f = t.files.get(a.int(0));
  if (f === undefined || !f.readable) return -EBADF;
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  const dst = t.mem.writeViews(a.ptr(1), len);
  return doRead(t, f, dst, -1);
}

/** Write implements Linux syscall write(2). */
export function Write(t: T, a: A): number | Promise<number> {
  const f = t.files.get(a.int(0));
  if (f === undefined || !f.writable) return -EBADF;
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  const src = t.mem.readViews(a.ptr(1), len);
  return doWrite(t, f, src, -1, len);
}

function checkPos(f: FileDescription, off: number): void {
  if (f.stream) throw new SysError(ESPIPE);
  if (off < 0) throw new SysError(EINVAL);
}

/** Pread64 implements Linux syscall pread64(2). */
export function Pread64(t: T, a: A): number | Promise<number> {
  const f = t.files.get(a.int(0));
  if (f === undefined || !f.readable) return -EBADF;
  const off = a.i64(3);
  checkPos(f, off);
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  return doRead(t, f, t.mem.writeViews(a.ptr(1), len), off);
}

/** Pwrite64 implements Linux syscall pwrite64(2). */
export function Pwrite64(t: T, a: A): number | Promise<number> {
  const f = t.files.get(a.int(0));
  if (f === undefined || !f.writable) return -EBADF;
  const off = a.i64(3);
  checkPos(f, off);
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  return doWrite(t, f, t.mem.readViews(a.ptr(1), len), off, len);
}

/** Views of app memory for an iovec array; total is capped at MAX_RW_COUNT. */
export function iovecViews(
  t: T,
  addr: number,
  cnt: number,
  forWrite: boolean,
): { segs: Uint8Array[]; total: number } {
  if (cnt < 0 || cnt > UIO_MAXIOV) throw new SysError(EINVAL);
  const segs: Uint8Array[] = [];
  if (cnt === 0) return { segs, total: 0 };
  const raw = t.mem.copyIn(addr, cnt * 16);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = Number(dv.getBigUint64(i * 16, true));
    const lenBig = dv.getBigInt64(i * 16 + 8, true);
    if (lenBig < 0n) throw new SysError(EINVAL);
    let len = Number(lenBig);
    if (total + len > MAX_RW_COUNT) len = MAX_RW_COUNT - total;
    if (len === 0) continue;
    const v = forWrite ? t.mem.writeViews(base, len) : t.mem.readViews(base, len);
    for (const s of v) segs.push(s);
    total += len;
  }
  return { segs, total };
}

function vread(
  t: T,
  fd: number,
  iov: number,
  cnt: number,
  off: number,
  flags: number,
): number | Promise<number> {
  const f = t.files.get(fd);
  if (f === undefined || !f.readable) return -EBADF;
  if (flags & ~RWF_VALID) return -EOPNOTSUPP;
  if (off !== -1) checkPos(f, off);
  const { segs } = iovecViews(t, iov, cnt, true);
  if (flags & RWF_NOWAIT) {
    const r = f.read(t, segs, off);
    return r;
  }
  return doRead(t, f, segs, off);
}

function vwrite(
  t: T,
  fd: number,
  iov: number,
  cnt: number,
  off: number,
  flags: number,
): number | Promise<number> {
  const f = t.files.get(fd);
  if (f === undefined || !f.writable) return -EBADF;
  if (flags & ~RWF_VALID) return -EOPNOTSUPP;
  if (off !== -1) checkPos(f, off);
  const { segs, total } = iovecViews(t, iov, cnt, false);
  if (flags & RWF_APPEND && off >= 0) off = -1; // appends ignore the offset
  return doWrite(t, f, segs, off, total);
}

export const RWF_HIPRI = 1,
  RWF_DSYNC = 2,
  RWF_SYNC = 4,
  RWF_NOWAIT = 8,
  RWF_APPEND = 16;
const RWF_VALID = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;

/** Readv implements Linux syscall readv(2). */
export function Readv(t: T, a: A): number | Promise<number> {
  return vread(t, a.int(0), a.ptr(1), a.int(2), -1, 0);
}
/** Writev implements Linux syscall writev(2). */
export function Writev(t: T, a: A): number | Promise<number> {
  return vwrite(t, a.int(0), a.ptr(1), a.int(2), -1, 0);
}
/** Preadv implements Linux syscall preadv(2). */
export function Preadv(t: T, a: A): number | Promise<number> {
  const off = a.i64(3);
  if (off < 0) return -EINVAL;
  return vread(t, a.int(0), a.ptr(1), a.int(2), off, 0);
}
/** Pwritev implements Linux syscall pwritev(2). */
export function Pwritev(t: T, a: A): number | Promise<number> {
  const off = a.i64(3);
  if (off < 0) return -EINVAL;
  return vwrite(t, a.int(0), a.ptr(1), a.int(2), off, 0);
}
/** Preadv2 implements Linux syscall preadv2(2) (offset -1: current position). */
export function Preadv2(t: T, a: A): number | Promise<number> {
  const off = a.i64(3);
  if (off < -1) return -EINVAL;
  return vread(t, a.int(0), a.ptr(1), a.int(2), off, a.int(5));
}
/** Pwritev2 implements Linux syscall pwritev2(2). */
export function Pwritev2(t: T, a: A): number | Promise<number> {
  const off = a.i64(3);
  if (off < -1) return -EINVAL;
  return vwrite(t, a.int(0), a.ptr(1), a.int(2), off, a.int(5));
}

/** Lseek implements Linux syscall lseek(2). */
export function Lseek(t: T, a: A): number {
  const f = t.files.get(a.int(0));
  if (f === undefined || f.isPath) return -EBADF;
  if (f.stream) return -ESPIPE;
  return f.seek(a.i64(1), a.uint(2));
}

// ---------------------------------------------------------------- open

function install(
  t: T,
  f: FileDescription | Promise<FileDescription>,
  flags: number,
): number | Promise<number> {
  const cloexec = (flags & O_CLOEXEC) !== 0;
  if (f instanceof Promise) return f.then((file) => t.files.install(file, cloexec));
  return t.files.install(f, cloexec);
}

function doOpen(
  t: T,
  dirfd: number,
  pathAddr: number,
  flags: number,
  mode: number,
  resolve = 0,
): number | Promise<number> {
  const path = pathArg(t, pathAddr);
  // open/openat silently drop unknown flags (openat2 rejects them).
  flags &= O_VALID;
  if (!(flags & O_CREAT) && (flags & O_TMPFILE) !== O_TMPFILE) mode = 0;
  return install(t, openAt(t, dirfd, path, { flags, mode: mode & 0o7777, resolve }), flags);
}

/** Open implements Linux syscall open(2). */
export function Open(t: T, a: A): number | Promise<number> {
  return doOpen(t, AT_FDCWD, a.ptr(0), a.int(1), a.uint(2));
}
/** Openat implements Linux syscall openat(2). */
export function Openat(t: T, a: A): number | Promise<number> {
  return doOpen(t, a.int(0), a.ptr(1), a.int(2), a.uint(3));
}
/** Creat implements Linux syscall creat(2). */
export function Creat(t: T, a: A): number | Promise<number> {
  return doOpen(t, AT_FDCWD, a.ptr(0), O_CREAT | O_WRONLY | O_TRUNC, a.uint(1));
}

/** Openat2 implements Linux syscall openat2(2). */
export function Openat2(t: T, a: A): number | Promise<number> {
  const size = a.ptr(3);
  if (size < 24) return -EINVAL;
  if (size > 4096) return -E2BIG;
  const how = t.mem.copyIn(a.ptr(2), size);
  for (let i = 24; i < size; i++) if (how[i] !== 0) return -E2BIG;
  const dv = new DataView(how.buffer, how.byteOffset, 24);
  const flags = dv.getBigUint64(0, true);
  const mode = dv.getBigUint64(8, true);
  const resolve = dv.getBigUint64(16, true);
  if (flags & ~BigInt(O_VALID)) return -EINVAL;
  if (resolve & ~0x3fn) return -EINVAL;
  const f = Number(flags);
  if (mode & ~0o7777n) return -EINVAL;
  if (!(f & O_CREAT) && (f & O_TMPFILE) !== O_TMPFILE && mode !== 0n) return -EINVAL;
  if ((resolve & 0x08n) !== 0n && (resolve & 0x10n) !== 0n) return -EINVAL; // BENEATH|IN_ROOT
  const path = pathArg(t, a.ptr(1));
  return install(t, openAt(t, a.int(0), path, { flags: f, mode: Number(mode), resolve: Number(resolve) }), f);
}

// ---------------------------------------------------------------- sendfile

const bounce = new Uint8Array(65536);

/** Sendfile implements Linux syscall sendfile(2). */
export async function Sendfile(t: T, a: A): Promise<number> {
  const out = t.files.get(a.int(0));
  const inp = t.files.get(a.int(1));
  if (!out || !inp || !inp.readable || !out.writable) return -EBADF;
  if (out.append) return -EINVAL;
  const offAddr = a.ptr(2);
  let count = a.ptr(3);
  if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
  let off = -1;
  if (offAddr) {
    if (inp.stream) return -ESPIPE;
    off = Number(BigInt.asIntN(64, t.mem.readBigU64(offAddr)));
    if (off < 0) return -EINVAL;
  }
  let done = 0;
  while (done < count) {
    const want = Math.min(bounce.length, count - done);
    const chunk = bounce.subarray(0, want);
    const n = await (done === 0 ? doRead(t, inp, [chunk], off) : inp.read(t, [chunk], off));
    if (n < 0) {
      if (done) break;
      return n;
    }
    if (n === 0) break;
    const data = Uint8Array.from(chunk.subarray(0, n));
    const w = await doWrite(t, out, [data], -1, n);
    if (w < 0) {
      if (done) break;
      return w;
    }
    done += w;
    if (off >= 0) off += w;
    if (w < n) {
      if (off < 0 && !inp.stream) inp.pos -= n - w;
      break;
    }
  }
  if (offAddr) t.mem.writeU64(offAddr, off);
  return done;
}

// ---------------------------------------------------------------- size, allocation, sync

/** Truncate implements Linux syscall truncate(2). */
export function Truncate(t: T, a: A): number {
  const path = pathArg(t, a.ptr(0));
  const len = a.i64(1);
  if (len < 0) return -EINVAL;
  truncateVd(t, lookupAt(t, AT_FDCWD, path, true), len);
  return 0;
}

/** Ftruncate implements Linux syscall ftruncate(2). */
export function Ftruncate(t: T, a: A): number {
  const len = a.i64(1);
  if (len < 0) return -EINVAL;
  const f = ioFileArg(t, a.int(0));
  if (!f.inode || (f.inode.mode & S_IFMT) !== S_IFREG || !f.writable) return -EINVAL;
  if (f.vd?.mount.readOnly) return -30; // EROFS
  f.inode.setattr({ size: len, mtime: 'now' }, t.creds);
  fsnotifyChange(f.inode, { size: len }, f.vd?.dentry);
  return 0;
}

/** Fallocate implements Linux syscall fallocate(2). */
export function Fallocate(t: T, a: A): number {
  const f = ioFileArg(t, a.int(0));
  const mode = a.int(1);
  const off = a.i64(2);
  const len = a.i64(3);
  if (off < 0 || len <= 0) return -EINVAL;
  if (!f.writable) return -EBADF;
  if (f.stream) return -ESPIPE;
  if (f.inode && (f.inode.mode & S_IFMT) === S_IFDIR) return -EISDIR;
  if (f.inode && (f.inode.mode & S_IFMT) !== S_IFREG) return -ENODEV;
  const alloc = (f as unknown as Partial<TmpfsRegularFile>).allocate;
  if (!alloc) return -EOPNOTSUPP;
  alloc.call(f, mode, off, len);
  return 0;
}

/** Fsync implements Linux syscall fsync(2). */
export function Fsync(t: T, a: A): number | Promise<number> {
  const f = ioFileArg(t, a.int(0));
  if (f.stream) return -EINVAL;
  const r = f.fsync(false);
  return r instanceof Promise ? r.then(() => 0) : 0;
}
/** Fdatasync implements Linux syscall fdatasync(2). */
export function Fdatasync(t: T, a: A): number | Promise<number> {
  const f = ioFileArg(t, a.int(0));
  if (f.stream) return -EINVAL;
  const r = f.fsync(true);
  return r instanceof Promise ? r.then(() => 0) : 0;
}
/** Sync implements Linux syscall sync(2): every filesystem of the mount namespace writes back (errors are not reported, as Linux). */
export function Sync(t: T): number {
  const seen = new Set<unknown>();
  for (const m of t.fs.root.mount.ns.all())
    if (!seen.has(m.fs)) {
      seen.add(m.fs);
      m.fs.sync?.();
    }
  return 0;
}
/** Syncfs implements Linux syscall syncfs(2): the filesystem of the fd writes back; its error is returned. */
export function Syncfs(t: T, a: A): number {
  const f = fileArg(t, a.int(0));
  const fs = f.vd?.mount.fs;
  const r = fs?.sync?.() ?? 0;
  return r < 0 ? r : 0;
}

// ---------------------------------------------------------------- memfd

let memfdFs: Tmpfs | null = null;
let memfdMount: Mount | null = null;

/** The hidden tmpfs memfd_create files live on (set by the mount-namespace builder). */
export function setMemfdFilesystem(fs: Tmpfs): void {
  memfdFs = fs;
  memfdMount = new MountNamespace(fs).root;
}

export const MFD_CLOEXEC = 1,
  MFD_ALLOW_SEALING = 2,
  MFD_HUGETLB = 4,
  MFD_NOEXEC_SEAL = 8,
  MFD_EXEC = 0x10;

/** MemfdCreate implements Linux syscall memfd_create(2). */
export function MemfdCreate(t: T, a: A): number {
  const flags = a.uint(1);
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC)) return -EINVAL;
  let name: string;
  try {
    name = t.mem.readCString(a.ptr(0), 249);
  } catch (e) {
    if (e instanceof SysError && e.errno !== EFAULT) return -EINVAL;
    throw e;
  }
  if (!memfdFs || !memfdMount) return -ENODEV;
  const root = memfdFs.root();
  const node = root.create(`memfd:${name}`, 0o777, t.creds);
  const d = new Dentry(`memfd:${name}`, memfdMount.root, node);
  root.unlink(`memfd:${name}`);
  d.dead = true;
  const vd = new VirtualDentry(memfdMount, d);
  const f = node.open(t, O_RDWR | 0o100000, vd);
  f.vd = vd;
  f.inode = node;
  return t.files.install(f, (flags & MFD_CLOEXEC) !== 0);
}

export const fileSyscalls: SyscallDef<FileTask>[] = [
  { nr: 0, name: 'read', handler: Read, support: 'full', args: ['fd', 'outbuf', 'uint'] },
  { nr: 1, name: 'write', handler: Write, support: 'full', args: ['fd', 'buf', 'uint'] },
  { nr: 2, name: 'open', handler: Open, support: 'full', args: ['path', 'oflags', 'mode'] },
  { nr: 8, name: 'lseek', handler: Lseek, support: 'full', args: ['fd', 'int', 'int'] },
  { nr: 17, name: 'pread64', handler: Pread64, support: 'full', args: ['fd', 'outbuf', 'uint', 'int'] },
  { nr: 18, name: 'pwrite64', handler: Pwrite64, support: 'full', args: ['fd', 'buf', 'uint', 'int'] },
  { nr: 19, name: 'readv', handler: Readv, support: 'full', args: ['fd', 'ptr', 'int'] },
  { nr: 20, name: 'writev', handler: Writev, support: 'full', args: ['fd', 'ptr', 'int'] },
  { nr: 40, name: 'sendfile', handler: Sendfile, support: 'full', args: ['fd', 'fd', 'ptr', 'uint'] },
  { nr: 74, name: 'fsync', handler: Fsync, support: 'full', args: ['fd'] },
  { nr: 75, name: 'fdatasync', handler: Fdatasync, support: 'full', args: ['fd'] },
  { nr: 76, name: 'truncate', handler: Truncate, support: 'full', args: ['path', 'int'] },
  { nr: 77, name: 'ftruncate', handler: Ftruncate, support: 'full', args: ['fd', 'int'] },
  { nr: 85, name: 'creat', handler: Creat, support: 'full', args: ['path', 'mode'] },
  { nr: 162, name: 'sync', handler: Sync, support: 'full', args: [] },
  {
    nr: 257,
    name: 'openat',
    handler: Openat,
    support: 'partial',
    note: 'O_TMPFILE is not supported (EOPNOTSUPP)',
    args: ['fd', 'path', 'oflags', 'mode'],
  },
  {
    nr: 285,
    name: 'fallocate',
    handler: Fallocate,
    support: 'partial',
    note: 'tmpfs files: modes 0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE; others EOPNOTSUPP',
    args: ['fd', 'int', 'int', 'int'],
  },
  { nr: 295, name: 'preadv', handler: Preadv, support: 'full', args: ['fd', 'ptr', 'int', 'int'] },
  { nr: 296, name: 'pwritev', handler: Pwritev, support: 'full', args: ['fd', 'ptr', 'int', 'int'] },
  { nr: 306, name: 'syncfs', handler: Syncfs, support: 'full', args: ['fd'] },
  {
    nr: 319,
    name: 'memfd_create',
    handler: MemfdCreate,
    support: 'partial',
    note: 'no sealing (F_ADD_SEALS is EINVAL), no MFD_HUGETLB',
    args: ['path', 'hex'],
  },
  {
    nr: 327,
    name: 'preadv2',
    handler: Preadv2,
    support: 'full',
    args: ['fd', 'ptr', 'int', 'int', 'int', 'hex'],
  },
  {
    nr: 328,
    name: 'pwritev2',
    handler: Pwritev2,
    support: 'full',
    args: ['fd', 'ptr', 'int', 'int', 'int', 'hex'],
  },
  {
    nr: 437,
    name: 'openat2',
    handler: Openat2,
    support: 'partial',
    note: 'RESOLVE_NO_MAGICLINKS and RESOLVE_CACHED are accepted and ignored',
    args: ['fd', 'path', 'ptr', 'uint'],
  },
];
