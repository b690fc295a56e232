/**
 * File descriptions (Linux's struct file; gVisor's vfs.FileDescription): an open file
 * with its status flags, current position and a reference count shared by every fd
 * (dup, fork, SCM_RIGHTS) that points at it.
 *
 * I/O goes through segment lists: `IoDst`/`IoSrc` are arrays of Uint8Array views — for a
 * syscall these are zero-copy views of app memory from UserMemory.readViews/writeViews,
 * so a file reads straight into the app's buffer.
 *
 * Return convention on the I/O hot path: read/write return the byte count, or a negative
 * errno (e.g. -EAGAIN when the file would block; the syscall layer then waits on the
 * file's WaitQueue unless O_NONBLOCK). They may also throw SysError, and may return a
 * Promise when the data arrives asynchronously (host files).
 *
 * Defaults in this base class are Linux's answers for a file that lacks the operation
 * (EINVAL for read/write, ENOTTY for ioctl, ESPIPE for seek, ENOTDIR for getdents),
 * so an implementation overrides only what it supports.
 */
import { EBADF, EINVAL, ENOTDIR, ENOTTY, ESPIPE, EOVERFLOW, SysError } from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import type { Mappable } from '../mm/api';
import { POLLIN, POLLOUT, WaitQueue } from '../util/waiter';
import { O_ACCMODE, O_APPEND, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET } from './abi';
import type { DirEntry, Inode, Stat } from './inode';
import { fsnotifyRelease } from './fsnotify';
import { releaseFileLocks } from './lock';
import type { VirtualDentry } from './mount';

/** Destination segments for a read. */
export type IoDst = readonly Uint8Array[];
/** Source segments for a write. */
export type IoSrc = readonly Uint8Array[];

export function ioLength(segs: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < segs.length; i++) n += segs[i].length;
  return n;
}

/** Copy `src` (contiguous) into the segments, starting `skip` bytes in; returns bytes copied. */
export function copyToSegs(dst: IoDst, src: Uint8Array, skip = 0): number {
  let done = 0;
  for (let i = 0; i < dst.length && done < src.length; i++) {
    const seg = dst[i];
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const n = Math.min(seg.length - skip, src.length - done);
    seg.set(src.subarray(done, done + n), skip);
    done += n;
    skip = 0;
  }
  return done;
}

/** Gather `len` bytes of the segments into one buffer (small writes only). */
export function gatherSegs(src: IoSrc, len = ioLength(src)): Uint8Array {
  if (src.length === 1 && src[0].length === len) return src[0];
  const out = new Uint8Array(len);
  let off = 0;
  for (const s of src) {
    const n = Math.min(s.length, len - off);
    out.set(n === s.length ? s : s.subarray(0, n), off);
    off += n;
    if (off >= len) break;
  }
  return out;
}

/** Callback for getdents: return false when the caller's buffer is full (the entry is not consumed). */
export type DirentSink = (name: string, ino: number, type: number, nextOff: number) => boolean;

export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

export abstract class FileDescription {
  /** Access mode and status flags (O_ACCMODE | O_APPEND | O_NONBLOCK | ... | O_PATH). */
  flags: number;
  /** Current file position. */
  pos = 0;
  /** Set by the VFS after open: the location opened, and the inode used for stat/setattr/locks. */
  vd: VirtualDentry | null = null;
  inode: Inode | null = null;
  /** A stream (pipe, socket, tty): no position, pread/pwrite fail with ESPIPE. */
  stream = false;
  /** Set once a lock was taken through this file (close/release then drop locks). */
  locked = false;
  private refs = 1;
  private wq: WaitQueue | null = null;

  constructor(flags: number) {
    this.flags = flags;
  }

  get readable(): boolean {
    const a = this.flags & O_ACCMODE;
    return (this.flags & O_PATH) === 0 && (a === O_RDONLY || a === O_RDWR);
  }
  get writable(): boolean {
    const a = this.flags & O_ACCMODE;
    return (this.flags & O_PATH) === 0 && (a === O_WRONLY || a === O_RDWR);
  }
  get isPath(): boolean {
    return (this.flags & O_PATH) !== 0;
  }
  get append(): boolean {
    return (this.flags & O_APPEND) !== 0;
  }

  incRef(): this {
    this.refs++;
    return this;
  }
  /** Drop a reference; the last one calls release(). */
  decRef(): void {
    if (--this.refs === 0) {
      if (this.locked) releaseFileLocks(this);
      if (this.inode) fsnotifyRelease(this);
      this.release();
    }
  }
  get refCount(): number {
    return this.refs;
  }

  /**
   * Read into `dst` at `off`, or at (and advancing) the current position when `off < 0`.
   * Returns bytes read (0 = EOF), or -errno (-EAGAIN: would block).
   */
  read(_t: TaskApi, _dst: IoDst, _off: number): number | Promise<number> {
    return -EINVAL;
  }
  /** Write `src` at `off`, or at the current position (end of file with O_APPEND) when `off < 0`. */
  write(_t: TaskApi, _src: IoSrc, _off: number): number | Promise<number> {
    return -EINVAL;
  }
  /** lseek(2); returns the new position. Default: ESPIPE (pipes, sockets, ttys). */
  seek(_off: number, _whence: number): number {
    throw new SysError(ESPIPE);
  }
  /** ioctl(2) requests the file understands; the syscall layer handles FIONBIO/FIOCLEX. */
  ioctl(_t: TaskApi, _cmd: number, _arg: number): number | Promise<number> {
    return -ENOTTY;
  }
  /** Which of the events in `mask` (POLL*) are ready now. Default: always readable and writable. */
  readiness(mask: number): number {
    return mask & (POLLIN | POLLOUT);
  }
  /** Queue notified when readiness changes (poll/epoll/blocking I/O subscribe here). */
  waitQueue(): WaitQueue {
    return (this.wq ??= new WaitQueue());
  }
  /** fstat(2). */
  stat(): Stat {
    if (!this.inode) throw new SysError(EBADF);
    return this.inode.stat();
  }
  /** getdents: emit entries from the current position; returns without error at the end. */
  getdents(_t: TaskApi, _sink: DirentSink): void {
    throw new SysError(ENOTDIR);
  }
  fsync(_dataOnly: boolean): void | Promise<void> {}
  /** What mmap(2) maps, or null (ENODEV). */
  mappable(): Mappable | null {
    return null;
  }
  /** F_SETFL changed the status flags (host files mirror O_NONBLOCK). */
  setStatusFlags(flags: number): void {
    this.flags = flags;
  }
  /**
   * Called on every close of an fd naming this file, with the closing process (releases
   * POSIX locks; a write-back cache writes back). A negative errno is close(2)'s result (the
   * fd is closed anyway, as Linux's filp_close); dup2, close_range and exec ignore it.
   */
  flush(_owner: number): number | void {}
  /** The last reference is gone: free resources. */
  protected release(): void {}

  /** Linux's generic_file_llseek over a size; helper for seekable files. */
  protected seekWithSize(off: number, whence: number, size: number): number {
    let base: number;
    switch (whence) {
      case SEEK_SET:
        base = 0;
        break;
      case SEEK_CUR:
        base = this.pos;
        break;
      case SEEK_END:
        base = size;
        break;
      case 3: // SEEK_DATA: whole file is data
        if (off < 0 || off >= size) throw new SysError(6 /* ENXIO */);
        return (this.pos = off);
      case 4: // SEEK_HOLE
        if (off < 0 || off >= size) throw new SysError(6);
        return (this.pos = size);
      default:
        throw new SysError(EINVAL);
    }
    const n = base + off;
    if (n < 0) throw new SysError(EINVAL);
    if (n > MAX_FILE_SIZE) throw new SysError(EOVERFLOW);
    return (this.pos = n);
  }
}

/**
 * A directory opened for getdents: lists '.', '..' and the inode's entries. The listing is
 * snapshotted when reading starts at position 0 (opendir / rewinddir), and the position is
 * an index into it, so entries added later show up after a rewind (as POSIX allows).
 */
export class DirectoryFile extends FileDescription {
  private snapshot: DirEntry[] | null = null;

  constructor(
    flags: number,
    private readonly dir: Inode,
    private readonly parentIno: () => number,
  ) {
    super(flags);
  }

  override read(): number {
    return -21; // EISDIR
  }
  override write(): number {
    return -21;
  }
  override seek(off: number, whence: number): number {
    if (whence === SEEK_SET) {
      if (off < 0) throw new SysError(EINVAL);
      if (off === 0) this.snapshot = null;
      return (this.pos = off);
    }
    if (whence === SEEK_CUR) {
      const n = this.pos + off;
      if (n < 0) throw new SysError(EINVAL);
      if (n === 0) this.snapshot = null;
      return (this.pos = n);
    }
    throw new SysError(EINVAL);
  }
  override getdents(_t: TaskApi, sink: DirentSink): void {
    if (this.pos === 0 || !this.snapshot) {
      this.snapshot = [
        { name: '.', ino: this.dir.ino, type: 4 },
        { name: '..', ino: this.parentIno(), type: 4 },
        ...(this.dir.readdir ? this.dir.readdir() : []),
      ];
    }
    const s = this.snapshot;
    while (this.pos < s.length) {
      const e = s[this.pos];
      if (!sink(e.name, e.ino, e.type, this.pos + 1)) return;
      this.pos++;
    }
  }
}

/** An O_PATH description: only fd-level operations work; I/O is EBADF. */
export class PathFile extends FileDescription {
  override read(): number {
    return -EBADF;
  }
  override write(): number {
    return -EBADF;
  }
  override seek(): number {
    throw new SysError(EBADF);
  }
  override ioctl(): number {
    return -EBADF;
  }
  override getdents(): void {
    throw new SysError(EBADF);
  }
}
