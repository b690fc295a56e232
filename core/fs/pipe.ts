/**
 * Pipes and FIFOs (Linux's fs/pipe.c; gVisor's kernel/pipe).
 *
 * A Pipe is a ring buffer (64 KiB by default, F_SETPIPE_SZ up to 1 MiB for non-root)
 * shared by a read end and a write end. Writes of at most PIPE_BUF (4096) bytes are
 * atomic: they wait until there is room for all of them. Reading an empty pipe with
 * writers, or writing a full one with readers, returns -EAGAIN; the syscall layer then
 * blocks on the pipe's WaitQueue unless the file is O_NONBLOCK. Writing with no reader
 * left raises SIGPIPE and fails with EPIPE.
 *
 * FIFOs: the first open of a fifo inode creates its Pipe. open(O_RDONLY) waits for a
 * writer and open(O_WRONLY) for a reader, unless O_NONBLOCK (then a writer without
 * readers gets ENXIO); O_RDWR never waits.
 *
 * No allocation per read or write: the ring is allocated once, copies go straight
 * between it and the caller's segments.
 */
import { EAGAIN, EBUSY, EINVAL, ENXIO, EPERM, EPIPE, ERESTARTSYS, SysError } from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, WaitQueue } from '../util/waiter';
import { O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, S_IFIFO, SIGPIPE } from '../vfs/abi';
import { registerFifoOpener } from '../vfs/devices';
import { FileDescription, IoDst, IoSrc } from '../vfs/file';
import { allocAnonDev, blankStat, Inode, nowTime, Stat } from '../vfs/inode';

export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_SIZE = 65536;
/** /proc/sys/fs/pipe-max-size default. */
export const PIPE_MAX_SIZE = 1 << 20;
/** FIONREAD, F_GETPIPE_SZ, F_SETPIPE_SZ. */
export const FIONREAD = 0x541b,
  F_SETPIPE_SZ = 1031,
  F_GETPIPE_SZ = 1032;

/** Internal wake-up bit for "a reader/writer opened the fifo" (not a poll bit). */
const EVENT_OPEN = 1 << 30;

const pipeDev = allocAnonDev();
let nextPipeIno = 1;

export class Pipe {
  private buf: Uint8Array | null = null;
  private head = 0;
  /** Bytes buffered. */
  len = 0;
  capacity = DEFAULT_PIPE_SIZE;
  readers = 0;
  writers = 0;
  /** Opens seen (fifo open waits for the count of the other side to move). */
  readerOpens = 0;
  writerOpens = 0;
  readonly wq = new WaitQueue();
  readonly ino = nextPipeIno++;
  readonly stat: Stat;

  constructor() {
    this.stat = blankStat(pipeDev, this.ino, S_IFIFO | 0o600);
    const [s, ns] = nowTime();
    this.stat.atimeSec = this.stat.mtimeSec = this.stat.ctimeSec = s;
    this.stat.atimeNsec = this.stat.mtimeNsec = this.stat.ctimeNsec = ns;
  }

  /** Read into the segments; bytes read, 0 at EOF, -EAGAIN when empty with writers. */
  read(dst: IoDst): number {
    if (this.len === 0) return this.writers > 0 ? -EAGAIN : 0;
    const buf = this.buf!;
    const cap = buf.length;
    let done = 0;
    for (let i = 0; i < dst.length && this.len > 0; i++) {
      const seg = dst[i];
      let off = 0;
      while (off < seg.length && this.len > 0) {
        const n = Math.min(seg.length - off, this.len, cap - this.head);
        seg.set(buf.subarray(this.head, this.head + n), off);
        off += n;
        this.head = (this.head + n) % cap;
        this.len -= n;
      }
      done += off;
    }
    if (this.len === 0) this.head = 0;
    this.wq.notify(POLLOUT | POLLWRNORM);
    return done;
  }

  /** Write from the segments; bytes written, -EAGAIN when full (or no room for an atomic write), -EPIPE. */
  write(t: TaskApi, src: IoSrc, total: number): number {
    if (this.readers === 0) {
      t.sendSignal(SIGPIPE);
      return -EPIPE;
    }
    const free = this.capacity - this.len;
    if (free === 0 || (total <= PIPE_BUF && free < total)) return -EAGAIN;
    if (!this.buf || this.buf.length !== this.capacity) this.realloc(this.capacity);
    const buf = this.buf!;
    const cap = buf.length;
    let done = 0;
    for (let i = 0; i < src.length && this.len < cap; i++) {
      const seg = src[i];
      let off = 0;
      while (off < seg.length && this.len < cap) {
        const tail = (this.head + this.len) % cap;
        const n = Math.min(seg.length - off, cap - this.len, cap - tail);
        buf.set(off === 0 && n === seg.length ? seg : seg.subarray(off, off + n), tail);
        off += n;
        this.len += n;
      }
      done += off;
      if (off < seg.length) break;
    }
    if (done) this.wq.notify(POLLIN | POLLRDNORM);
    return done;
  }

  /** Bytes that fit now (splice, tee, vmsplice). */
  get free(): number {
    return this.capacity - this.len;
  }

  /** Copy up to `dst.length` buffered bytes without consuming them (tee, splice to a file); returns the count. */
  peek(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.len);
    if (n === 0) return 0;
    const buf = this.buf!;
    const cap = buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(buf.subarray(this.head, this.head + first), 0);
    if (n > first) dst.set(buf.subarray(0, n - first), first);
    return n;
  }

  /** Drop `n` buffered bytes from the front (after a peek whose bytes were used). */
  consume(n: number): void {
    n = Math.min(n, this.len);
    if (n === 0) return;
    this.head = (this.head + n) % this.buf!.length;
    this.len -= n;
    if (this.len === 0) this.head = 0;
    this.wq.notify(POLLOUT | POLLWRNORM);
  }

  /** Append as much of `src` as fits, without PIPE_BUF atomicity (splice, tee, vmsplice); returns the count. */
  push(src: Uint8Array): number {
    const n = Math.min(src.length, this.capacity - this.len);
    if (n === 0) return 0;
    if (!this.buf || this.buf.length !== this.capacity) this.realloc(this.capacity);
    const buf = this.buf!;
    const cap = buf.length;
    const tail = (this.head + this.len) % cap;
    const first = Math.min(n, cap - tail);
    buf.set(src.subarray(0, first), tail);
    if (n > first) buf.set(src.subarray(first, n), 0);
    this.len += n;
    this.wq.notify(POLLIN | POLLRDNORM);
    return n;
  }

  private realloc(size: number): void {
    const nb = new Uint8Array(size);
    if (this.buf && this.len) {
      const cap = this.buf.length;
      for (let i = 0; i < this.len; i++) nb[i] = this.buf[(this.head + i) % cap];
    }
    this.buf = nb;
    this.head = 0;
  }

  /** F_SETPIPE_SZ: round up to a power-of-two number of pages; EBUSY if the data would not fit. */
  setSize(size: number, privileged: boolean): number {
    if (size <= 0 || size > 0x80000000) throw new SysError(EINVAL);
    if (size > PIPE_MAX_SIZE && !privileged) throw new SysError(EPERM);
    let n = 4096;
    while (n < size) n *= 2;
    if (n < this.len) throw new SysError(EBUSY);
    this.capacity = n;
    if (this.buf) this.realloc(n);
    this.wq.notify(POLLOUT | POLLWRNORM);
    return n;
  }

  readinessFor(reader: boolean, writer: boolean, mask: number): number {
    let r = 0;
    if (reader) {
      if (this.len > 0) r |= POLLIN | POLLRDNORM;
      if (this.writers === 0 && this.writerOpens > 0) r |= POLLHUP;
    }
    if (writer) {
      if (this.capacity - this.len >= Math.min(PIPE_BUF, this.capacity)) r |= POLLOUT | POLLWRNORM;
      if (this.readers === 0) r |= POLLERR;
    }
    return r & (mask | POLLERR | POLLHUP);
  }

  /** Register an end. */
  open(reader: boolean, writer: boolean): void {
    if (reader) {
      this.readers++;
      this.readerOpens++;
    }
    if (writer) {
      this.writers++;
      this.writerOpens++;
    }
    this.wq.notify(EVENT_OPEN | POLLIN | POLLOUT);
  }

  close(reader: boolean, writer: boolean): void {
    if (reader) this.readers--;
    if (writer) this.writers--;
    // Writers see POLLERR/EPIPE, readers POLLHUP/EOF.
    this.wq.notify(POLLIN | POLLOUT | POLLHUP | POLLERR);
  }
}

/** One end (or both, for an O_RDWR fifo) of a pipe. */
export class PipeFile extends FileDescription {
  private readonly isReader: boolean;
  private readonly isWriter: boolean;

  constructor(
    readonly pipe: Pipe,
    flags: number,
  ) {
    super(flags);
    this.stream = true;
    this.isReader = this.readable;
    this.isWriter = this.writable;
    pipe.open(this.isReader, this.isWriter);
  }

  override read(_t: TaskApi, dst: IoDst, _off: number): number {
    return this.pipe.read(dst);
  }
  override write(t: TaskApi, src: IoSrc, _off: number): number {
    let total = 0;
    for (let i = 0; i < src.length; i++) total += src[i].length;
    if (total === 0) return 0;
    return this.pipe.write(t, src, total);
  }
  override readiness(mask: number): number {
    return this.pipe.readinessFor(this.isReader, this.isWriter, mask);
  }
  override waitQueue(): WaitQueue {
    return this.pipe.wq;
  }
  override stat(): Stat {
    if (this.inode) return this.inode.stat();
    return { ...this.pipe.stat };
  }
  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === FIONREAD) {
      t.mem.writeI32(arg, this.isReader ? this.pipe.len : 0);
      return 0;
    }
    return -25; // ENOTTY
  }
  /** Reopen through /proc/<pid>/fd/N: a new end of the same pipe with the access asked for. */
  reopen(_t: TaskApi, flags: number): PipeFile {
    return new PipeFile(this.pipe, flags);
  }
  protected override release(): void {
    this.pipe.close(this.isReader, this.isWriter);
  }
}

/** pipe(2): a new pipe's read and write ends (`flags`: O_NONBLOCK, O_DIRECT). */
export function newPipe(flags: number): [PipeFile, PipeFile] {
  const p = new Pipe();
  const st = flags & ~O_ACCMODE;
  return [new PipeFile(p, O_RDONLY | st), new PipeFile(p, O_WRONLY | st)];
}

const fifoPipes = new WeakMap<Inode, Pipe>();

/** Open a fifo inode (registered as the VFS's fifo opener). */
export function openFifoInode(t: TaskApi, inode: Inode, flags: number): PipeFile | Promise<PipeFile> {
  let p = fifoPipes.get(inode);
  if (!p) fifoPipes.set(inode, (p = new Pipe()));
  const pipe = p;
  const acc = flags & O_ACCMODE;
  const nonblock = (flags & O_NONBLOCK) !== 0;
  if (acc === O_RDWR) return new PipeFile(pipe, flags);
  if (acc === O_WRONLY) {
    if (pipe.readers === 0 && nonblock) throw new SysError(ENXIO);
    const f = new PipeFile(pipe, flags);
    if (pipe.readers > 0) return f;
    return waitPeer(t, pipe, f, () => pipe.readerOpens, pipe.readerOpens);
  }
  const f = new PipeFile(pipe, flags);
  if (pipe.writers > 0 || nonblock) return f;
  return waitPeer(t, pipe, f, () => pipe.writerOpens, pipe.writerOpens);
}

async function waitPeer(
  t: TaskApi,
  pipe: Pipe,
  f: PipeFile,
  count: () => number,
  start: number,
): Promise<PipeFile> {
  while (count() === start) {
    const r = await t.block(pipe.wq, EVENT_OPEN);
    if (r < 0 && count() === start) {
      f.decRef();
      throw new SysError(r === -ERESTARTSYS ? ERESTARTSYS : -r);
    }
  }
  return f;
}

registerFifoOpener(openFifoInode);
