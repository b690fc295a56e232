/**
 * Moving data between files without a user buffer: splice, tee, vmsplice and
 * copy_file_range (sendfile is in file.ts). Linux's fs/splice.c and fs/read_write.c.
 *
 * Pipes are byte rings here (core/fs/pipe.ts), not rings of page buffers, so splice
 * copies bytes: SPLICE_F_MOVE and SPLICE_F_GIFT are hints Linux also ignores, and
 * SPLICE_F_MORE only matters to sockets. SPLICE_F_NONBLOCK (or O_NONBLOCK on a pipe end)
 * makes a pipe that is empty (reading) or full (writing) fail with EAGAIN; otherwise the
 * call waits, registering the wait in the same synchronous run as the check that failed.
 *
 * copy_file_range copies between regular files through the files' read/write at offsets,
 * on any filesystem; as Linux 6.x, files on different filesystems give EXDEV (callers such
 * as coreutils then fall back to read/write).
 */
import { EAGAIN, EBADF, EINVAL, EISDIR, EPIPE, ESPIPE, EXDEV, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { Pipe, PipeFile } from '../../fs/pipe';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../../util/waiter';
import { O_NONBLOCK, S_IFDIR, S_IFMT, S_IFREG, SIGPIPE } from '../../vfs/abi';
import type { FileDescription } from '../../vfs/file';
import { fsnotifyFile, IN_ACCESS, IN_MODIFY } from '../../vfs/fsnotify';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { iovecViews, MAX_RW_COUNT } from './file';

type T = FileTask;
type A = SyscallArgs;

export const SPLICE_F_MOVE = 1,
  SPLICE_F_NONBLOCK = 2,
  SPLICE_F_MORE = 4,
  SPLICE_F_GIFT = 8;
const SPLICE_F_ALL = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

const CHUNK = 65536;

function pipeOf(f: FileDescription): Pipe | null {
  return f instanceof PipeFile ? f.pipe : null;
}

/** Read a loff_t argument (EFAULT); negative offsets are EINVAL. */
function readOff(t: T, addr: number): number {
  const v = Number(BigInt.asIntN(64, t.mem.readBigU64(addr)));
  if (v < 0) throw new SysError(EINVAL);
  return v;
}

/**
 * Data in `p`? 0 yes, 1 EOF (empty without writers), -EAGAIN (non-blocking), or a Promise
 * of a wait registered now (resolves 0 to re-check, or -ERESTARTSYS).
 */
function dataState(t: T, p: Pipe, nonblock: boolean): number | Promise<number> {
  if (p.len > 0) return 0;
  if (p.writers === 0) return 1;
  if (nonblock) return -EAGAIN;
  return t.block(p.wq, POLLIN | POLLERR | POLLHUP);
}

/** Room in `p`? 0 yes, -EPIPE (and SIGPIPE) without readers, -EAGAIN, or a Promise of a wait. */
function roomState(t: T, p: Pipe, nonblock: boolean): number | Promise<number> {
  if (p.readers === 0) {
    t.sendSignal(SIGPIPE);
    return -EPIPE;
  }
  if (p.free > 0) return 0;
  if (nonblock) return -EAGAIN;
  return t.block(p.wq, POLLOUT | POLLERR | POLLHUP);
}

/** Read from a non-pipe file, waiting while it would block (unless `nonblock`). */
async function readFile(
  t: T,
  f: FileDescription,
  buf: Uint8Array,
  off: number,
  nonblock: boolean,
): Promise<number> {
  for (;;) {
    let n = f.read(t, [buf], off);
    if (typeof n !== 'number') n = await n;
    if (n !== -EAGAIN || nonblock || f.flags & O_NONBLOCK) return n;
    // Registered in the same run as the read that found nothing.
    const r = await t.block(f.waitQueue(), POLLIN | POLLERR | POLLHUP);
    if (r < 0) return r;
  }
}

/** Write all of `buf` to a non-pipe file (partial on a signal or error after progress). */
async function writeFile(
  t: T,
  f: FileDescription,
  buf: Uint8Array,
  off: number,
  nonblock: boolean,
): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    let n = f.write(t, [buf.subarray(done)], off < 0 ? -1 : off + done);
    if (typeof n !== 'number') n = await n;
    if (n > 0) {
      done += n;
      continue;
    }
    if (n === 0) break;
    if (n !== -EAGAIN || nonblock || f.flags & O_NONBLOCK) return done || n;
    const r = await t.block(f.waitQueue(), POLLOUT | POLLERR | POLLHUP);
    if (r < 0) return done || r;
  }
  return done;
}

function notifyMoved(n: number, inp: FileDescription, out: FileDescription): number {
  if (n > 0) {
    fsnotifyFile(out, IN_MODIFY);
    fsnotifyFile(inp, IN_ACCESS);
  }
  return n;
}

/** Splice implements Linux syscall splice(2). */
export async function Splice(t: T, a: A): Promise<number> {
  const [fdIn, offInAddr, fdOut, offOutAddr] = [a.int(0), a.ptr(1), a.int(2), a.ptr(3)];
  let len = a.ptr(4);
  let flags = a.uint(5);
  if (len === 0) return 0;
  if (flags & ~SPLICE_F_ALL) return -EINVAL;
  const inp = t.files.get(fdIn);
  const out = t.files.get(fdOut);
  if (!inp || !out || inp.isPath || out.isPath) return -EBADF;
  if (!inp.readable || !out.writable) return -EBADF;
  const ip = pipeOf(inp);
  const op = pipeOf(out);
  if (offInAddr && ip) return -ESPIPE;
  if (offOutAddr && op) return -ESPIPE;
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;

  if (ip && op) {
    if (ip === op) return -EINVAL;
    if ((inp.flags | out.flags) & O_NONBLOCK) flags |= SPLICE_F_NONBLOCK;
    return pipeToPipe(t, inp, out, ip, op, len, (flags & SPLICE_F_NONBLOCK) !== 0, true);
  }

  if (ip) {
    // pipe -> file
    let off = -1;
    if (offOutAddr) {
      if (out.stream) return -EINVAL;
      off = readOff(t, offOutAddr);
    }
    if (out.append) return -EINVAL;
    if (inp.flags & O_NONBLOCK) flags |= SPLICE_F_NONBLOCK;
    const nb = (flags & SPLICE_F_NONBLOCK) !== 0;
    for (;;) {
      const d = dataState(t, ip, nb);
      if (d instanceof Promise) {
        const r = await d;
        if (r < 0) return r;
        continue;
      }
      if (d === 1) return 0;
      if (d < 0) return d;
      break;
    }
    const buf = new Uint8Array(Math.min(len, ip.len));
    ip.peek(buf);
    const n = await writeFile(t, out, buf, off, nb);
    if (n <= 0) return n;
    ip.consume(n);
    if (offOutAddr) t.mem.writeU64(offOutAddr, off + n);
    return notifyMoved(n, inp, out);
  }

  if (op) {
    // file -> pipe
    let off = -1;
    if (offInAddr) {
      if (inp.stream) return -EINVAL;
      off = readOff(t, offInAddr);
    }
    if (out.flags & O_NONBLOCK) flags |= SPLICE_F_NONBLOCK;
    const nb = (flags & SPLICE_F_NONBLOCK) !== 0;
    for (;;) {
      const o = roomState(t, op, nb);
      if (o instanceof Promise) {
        const r = await o;
        if (r < 0) return r;
        continue;
      }
      if (o < 0) return o;
      break;
    }
    const buf = new Uint8Array(Math.min(len, op.free, CHUNK * 16));
    const n = await readFile(t, inp, buf, off, nb);
    if (n <= 0) return n;
    // An asynchronous read may have let others fill the pipe meanwhile: push all of it.
    let pushed = op.push(buf.subarray(0, n));
    while (pushed < n) {
      const o = roomState(t, op, false);
      if (typeof o === 'number') break;
      if ((await o) < 0) break;
      pushed += op.push(buf.subarray(pushed, n));
    }
    if (offInAddr) t.mem.writeU64(offInAddr, off + pushed);
    return notifyMoved(pushed, inp, out);
  }
  return -EINVAL;
}

/** Tee implements Linux syscall tee(2). */
export async function Tee(t: T, a: A): Promise<number> {
  let len = a.ptr(2);
  let flags = a.uint(3);
  if (flags & ~SPLICE_F_ALL) return -EINVAL;
  if (len === 0) return 0;
  const inp = t.files.get(a.int(0));
  const out = t.files.get(a.int(1));
  if (!inp || !out || !inp.readable || !out.writable) return -EBADF;
  const ip = pipeOf(inp);
  const op = pipeOf(out);
  if (!ip || !op || ip === op) return -EINVAL;
  if ((inp.flags | out.flags) & O_NONBLOCK) flags |= SPLICE_F_NONBLOCK;
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  return pipeToPipe(t, inp, out, ip, op, len, (flags & SPLICE_F_NONBLOCK) !== 0, false);
}

/**
 * Move (splice) or copy (tee) up to `len` bytes from pipe `ip` to pipe `op`, waiting for
 * data in the source and room in the destination unless non-blocking.
 */
async function pipeToPipe(
  t: T,
  inp: FileDescription,
  out: FileDescription,
  ip: Pipe,
  op: Pipe,
  len: number,
  nb: boolean,
  consume: boolean,
): Promise<number> {
  for (;;) {
    const d = dataState(t, ip, nb);
    if (d instanceof Promise) {
      const r = await d;
      if (r < 0) return r;
      continue;
    }
    if (d === 1) return 0;
    if (d < 0) return d;
    const o = roomState(t, op, nb);
    if (o instanceof Promise) {
      const r = await o;
      if (r < 0) return r;
      continue;
    }
    if (o < 0) return o;
    const buf = new Uint8Array(Math.min(len, ip.len, op.free));
    ip.peek(buf);
    if (consume) ip.consume(buf.length);
    op.push(buf);
    return notifyMoved(buf.length, inp, out);
  }
}

/** Vmsplice implements Linux syscall vmsplice(2): user pages into a pipe, or out of one. */
export async function Vmsplice(t: T, a: A): Promise<number> {
  const flags = a.uint(3);
  if (flags & ~SPLICE_F_ALL) return -EINVAL;
  const f = t.files.get(a.int(0));
  if (!f || (!f.writable && !f.readable)) return -EBADF;
  const toPipe = f.writable;
  const { segs, total } = iovecViews(t, a.ptr(1), a.int(2), !toPipe);
  if (total === 0) return 0;
  const p = pipeOf(f);
  if (!p) return -EBADF;
  const nb = (flags & SPLICE_F_NONBLOCK) !== 0 || (f.flags & O_NONBLOCK) !== 0;
  for (;;) {
    const st = toPipe ? roomState(t, p, nb) : dataState(t, p, nb);
    if (st instanceof Promise) {
      const r = await st;
      if (r < 0) return r;
      continue;
    }
    if (st === 1) return 0;
    if (st < 0) return st;
    break;
  }
  if (!toPipe) return p.read(segs);
  let done = 0;
  for (const s of segs) {
    const n = p.push(s);
    done += n;
    if (n < s.length) break;
  }
  return done;
}

/** CopyFileRange implements Linux syscall copy_file_range(2). */
export async function CopyFileRange(t: T, a: A): Promise<number> {
  const [fdIn, offInAddr, fdOut, offOutAddr] = [a.int(0), a.ptr(1), a.int(2), a.ptr(3)];
  let len = a.ptr(4);
  const inp = t.files.get(fdIn);
  if (!inp || inp.isPath) return -EBADF;
  const out = t.files.get(fdOut);
  if (!out || out.isPath) return -EBADF;
  let posIn = offInAddr ? Number(BigInt.asIntN(64, t.mem.readBigU64(offInAddr))) : inp.pos;
  let posOut = offOutAddr ? Number(BigInt.asIntN(64, t.mem.readBigU64(offOutAddr))) : out.pos;
  if (a.uint(5) !== 0) return -EINVAL;
  const ii = inp.inode;
  const oi = out.inode;
  const ti = ii ? ii.mode & S_IFMT : 0;
  const to = oi ? oi.mode & S_IFMT : 0;
  if (ti === S_IFDIR || to === S_IFDIR) return -EISDIR;
  if (ti !== S_IFREG || to !== S_IFREG || !ii || !oi) return -EINVAL;
  if (!inp.readable || !out.writable || out.append) return -EBADF;
  if (ii.fs !== oi.fs) return -EXDEV;
  if (posIn < 0 || posOut < 0) return -EINVAL;
  // No overflow error: Linux's check adds the offset to an unsigned count, which cannot
  // wrap for a valid loff_t and size_t; the count is cut to what the file holds (cp passes
  // SSIZE_MAX).
  const size = ii.stat().size;
  len = posIn >= size ? 0 : Math.min(len, size - posIn, MAX_RW_COUNT);
  const sameFile = ii.fs === oi.fs && ii.ino === oi.ino;
  if (sameFile && posOut + len > posIn && posOut < posIn + len) return -EINVAL;
  if (len === 0) return 0;
  let done = 0;
  const buf = new Uint8Array(Math.min(len, CHUNK * 16));
  while (done < len) {
    const want = Math.min(buf.length, len - done);
    const n = await inp.read(t, [buf.subarray(0, want)], posIn);
    if (n <= 0) {
      if (done) break;
      return n;
    }
    const w = await writeFile(t, out, buf.subarray(0, n), posOut, false);
    if (w <= 0) {
      if (done) break;
      return w;
    }
    done += w;
    posIn += w;
    posOut += w;
    if (w < n) break;
  }
  if (offInAddr) t.mem.writeU64(offInAddr, posIn);
  else inp.pos = posIn;
  if (offOutAddr) t.mem.writeU64(offOutAddr, posOut);
  else out.pos = posOut;
  if (done > 0) {
    fsnotifyFile(inp, IN_ACCESS);
    fsnotifyFile(out, IN_MODIFY);
  }
  return done;
}

export const spliceSyscalls: SyscallDef<FileTask>[] = [
  {
    nr: 275,
    name: 'splice',
    handler: Splice,
    support: 'full',
    note: 'data is copied (pipes are byte rings): SPLICE_F_MOVE/GIFT are accepted hints',
    args: ['fd', 'ptr', 'fd', 'ptr', 'uint', 'hex'],
  },
  { nr: 276, name: 'tee', handler: Tee, support: 'full', args: ['fd', 'fd', 'uint', 'hex'] },
  {
    nr: 278,
    name: 'vmsplice',
    handler: Vmsplice,
    support: 'full',
    note: 'user pages are copied into the pipe (never gifted or mapped)',
    args: ['fd', 'ptr', 'uint', 'hex'],
  },
  {
    nr: 326,
    name: 'copy_file_range',
    handler: CopyFileRange,
    support: 'full',
    note: 'copies through read/write; files on different filesystems give EXDEV as Linux 6.x',
    args: ['fd', 'ptr', 'fd', 'ptr', 'uint', 'hex'],
  },
];
