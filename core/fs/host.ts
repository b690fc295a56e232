/**
 * Host-fd files: the sandbox's stdin/stdout/stderr imported from the sentry's own host fds
 * (gVisor's fsimpl/host). A terminal stays a terminal: TCGETS, TCSETS(W/F), TIOCGWINSZ and
 * TIOCSWINSZ go to the host tty; the foreground process group (TIOCGPGRP/TIOCSPGRP) and
 * session (TIOCGSID) are the sandbox's own.
 *
 * Reads never block Node's event loop: a stream (tty, pipe, socket) is read with async
 * fs.read on a libuv pool thread, one read in flight at a time; until it completes the
 * file reports -EAGAIN and the syscall layer blocks the task on the file's WaitQueue. Data
 * that arrives after the reader was interrupted is kept for the next read (never lost).
 * Regular files (stdin redirected from a file) are read synchronously.
 * Writes are synchronous (fs.writeSync); if the host fd is non-blocking and full, the
 * write falls back to an async fs.write.
 *
 * Limits: an outstanding pool read keeps consuming host input even if the app no longer
 * reads; while one is pending Node's event loop stays alive (the runtime exits explicitly).
 */
import * as nodefs from 'node:fs';
import { isatty } from 'node:tty';
import { EAGAIN, EINVAL, ENOTTY, ENXIO, EPIPE, SysError } from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import { coreNative } from '../native';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../util/waiter';
import { O_ACCMODE, O_RDWR, S_IFMT, S_IFREG, SIGPIPE } from '../vfs/abi';
import { FileDescription, IoDst, IoSrc, copyToSegs } from '../vfs/file';
import { Stat, statFromHostAttrs } from '../vfs/inode';
import type { FileTask } from '../vfs/task';

export const TCGETS = 0x5401,
  TCSETS = 0x5402,
  TCSETSW = 0x5403,
  TCSETSF = 0x5404,
  TIOCSCTTY = 0x540e,
  TIOCGPGRP = 0x540f,
  TIOCSPGRP = 0x5410,
  TIOCGWINSZ = 0x5413,
  TIOCSWINSZ = 0x5414,
  TIOCNOTTY = 0x5422,
  TIOCGSID = 0x5429,
  FIONREAD_TTY = 0x541b;

export interface ImportOptions {
  /** The host fd is a terminal (default: detected with isatty). */
  isTty?: boolean;
  /** Access mode to give the description (default O_RDWR). */
  flags?: number;
  /** Close the host fd when the last reference goes (default false: fds 0-2 belong to the sentry). */
  own?: boolean;
}

/** Terminal state shared by every description of one host tty. */
class TtyState {
  /** Foreground process group (sandbox pgid); 0 until set or first asked. */
  fgPgrp = 0;
  sid = 0;
}

const ttyStates = new Map<number, TtyState>();
let controlling: { fd: number; opts: ImportOptions } | null = null;

export class HostFile extends FileDescription {
  readonly isTty: boolean;
  private readonly isRegular: boolean;
  private readonly tty: TtyState | null;
  private inflight = false;
  private buffered: Uint8Array | null = null;
  private bufferedOff = 0;
  private eofPending = false;
  private errPending = 0;
  private readonly scratch = new Float64Array(16);

  constructor(
    readonly hostFd: number,
    flags: number,
    isTty: boolean,
    private readonly own: boolean,
  ) {
    super(flags);
    this.isTty = isTty;
    let mode = 0;
    try {
      coreNative().hostFstatat(hostFd, new Uint8Array(0), this.scratch);
      mode = this.scratch[2];
    } catch {
      /* fd may be a socket without stat support: treat as a stream */
    }
    this.isRegular = (mode & S_IFMT) === S_IFREG;
    this.stream = !this.isRegular;
    if (isTty) {
      let s = ttyStates.get(hostFd);
      if (!s) ttyStates.set(hostFd, (s = new TtyState()));
      this.tty = s;
    } else this.tty = null;
  }

  override stat(): Stat {
    coreNative().hostFstatat(this.hostFd, new Uint8Array(0), this.scratch);
    const a = this.scratch;
    return statFromHostAttrs(a);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    if (this.isRegular) {
      // Without an offset, use (and advance) the host file's own offset: an imported fd
      // shares its open file description with the host (`runsc do cmd >> log`).
      let pos: number | null = off < 0 ? null : off;
      let done = 0;
      for (const seg of dst) {
        let n: number;
        try {
          n = nodefs.readSync(this.hostFd, seg, 0, seg.length, pos);
        } catch (e) {
          if (done) break;
          return -Math.abs((e as NodeJS.ErrnoException).errno ?? 5);
        }
        if (pos !== null) pos += n;
        done += n;
        if (n < seg.length) break;
      }
      return done;
    }
    if (this.buffered) {
      const src = this.buffered.subarray(this.bufferedOff);
      const n = copyToSegs(dst, src);
      this.bufferedOff += n;
      if (this.bufferedOff >= this.buffered.length) this.buffered = null;
      return n;
    }
    if (this.eofPending) {
      this.eofPending = false;
      return 0;
    }
    if (this.errPending) {
      const e = this.errPending;
      this.errPending = 0;
      return -e;
    }
    let want = 0;
    for (const seg of dst) want += seg.length;
    if (want === 0) return 0;
    this.startRead(Math.min(want, 65536));
    return -EAGAIN;
  }

  /** Start one async read on the libuv pool; completion wakes waiters. */
  private startRead(len: number): void {
    if (this.inflight) return;
    this.inflight = true;
    const buf = new Uint8Array(len);
    nodefs.read(this.hostFd, buf, 0, len, null, (err, n) => {
      this.inflight = false;
      if (err) {
        const code = (err as NodeJS.ErrnoException).errno;
        if (code !== undefined && Math.abs(code) === EAGAIN) {
          // A non-blocking host fd: poll again shortly.
          setTimeout(() => this.startRead(len), 5);
          return;
        }
        this.errPending = code ? Math.abs(code) : 5;
      } else if (n === 0) this.eofPending = true;
      else {
        this.buffered = buf.subarray(0, n);
        this.bufferedOff = 0;
      }
      this.waitQueue().notify(POLLIN | POLLRDNORM);
    });
  }

  override write(t: TaskApi, src: IoSrc, off: number): number | Promise<number> {
    let done = 0;
    for (let i = 0; i < src.length; i++) {
      const seg = src[i];
      let segDone = 0;
      while (segDone < seg.length) {
        try {
          const pos = this.isRegular && off >= 0 ? off + done : null;
          const n = nodefs.writeSync(this.hostFd, seg, segDone, seg.length - segDone, pos);
          segDone += n;
          done += n;
        } catch (e) {
          const code = Math.abs((e as NodeJS.ErrnoException).errno ?? 5);
          if (code === EAGAIN) {
            const rest = [seg.subarray(segDone), ...src.slice(i + 1)];
            return this.writeAsync(rest).then((n) => done + n);
          }
          if (code === EPIPE) t.sendSignal(SIGPIPE);
          return done > 0 ? done : -code;
        }
      }
    }
    return done;
  }

  private async writeAsync(segs: Uint8Array[]): Promise<number> {
    let done = 0;
    for (const seg of segs) {
      let o = 0;
      while (o < seg.length) {
        const n = await new Promise<number>((res) =>
          nodefs.write(this.hostFd, seg, o, seg.length - o, null, (err, w) => {
            if (!err) return res(w);
            const code = Math.abs((err as NodeJS.ErrnoException).errno ?? 5);
            if (code === EAGAIN) setTimeout(() => res(0), 2);
            else res(-code);
          }),
        );
        if (n < 0) return done > 0 ? done : n;
        o += n;
        done += n;
      }
    }
    return done;
  }

  override seek(off: number, whence: number): number {
    if (!this.isRegular) throw new SysError(29 /* ESPIPE */);
    try {
      return coreNative().hostLseek(this.hostFd, off, whence);
    } catch (e) {
      throw new SysError((e as { errno?: number }).errno ?? 22);
    }
  }

  override readiness(mask: number): number {
    let r = POLLOUT | POLLWRNORM;
    if (this.isRegular || this.buffered || this.eofPending || this.errPending) r |= POLLIN | POLLRDNORM;
    else if (mask & POLLIN && this.readable) this.startRead(65536);
    return r & mask;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    const ft = t as Partial<FileTask>;
    if (cmd === FIONREAD_TTY) {
      t.mem.writeI32(arg, this.buffered ? this.buffered.length - this.bufferedOff : 0);
      return 0;
    }
    if (!this.tty) return -ENOTTY;
    switch (cmd) {
      case TCGETS:
      case TIOCGWINSZ: {
        const b = new Uint8Array(cmd === TCGETS ? 36 : 8);
        coreNative().hostTtyIoctl(this.hostFd, cmd, b);
        t.mem.copyOut(arg, b);
        return 0;
      }
      case TCSETS:
      case TCSETSW:
      case TCSETSF:
      case TIOCSWINSZ: {
        const b = t.mem.copyIn(arg, cmd === TIOCSWINSZ ? 8 : 36);
        coreNative().hostTtyIoctl(this.hostFd, cmd, Uint8Array.from(b));
        return 0;
      }
      case TIOCGPGRP:
        if (!this.tty.fgPgrp) this.tty.fgPgrp = ft.pgid ?? t.tgid;
        t.mem.writeI32(arg, this.tty.fgPgrp);
        return 0;
      case TIOCSPGRP: {
        const pg = t.mem.readI32(arg);
        if (pg < 0) return -EINVAL;
        this.tty.fgPgrp = pg;
        return 0;
      }
      case TIOCGSID:
        if (!this.tty.sid) this.tty.sid = ft.sid ?? 1;
        t.mem.writeI32(arg, this.tty.sid);
        return 0;
      case TIOCSCTTY:
        this.tty.sid = ft.sid ?? this.tty.sid;
        return 0;
      case TIOCNOTTY:
        return 0;
      default:
        return -ENOTTY;
    }
  }

  protected override release(): void {
    if (this.own) nodefs.close(this.hostFd, () => undefined);
  }

  /** Reopen through /proc/<pid>/fd/N (/dev/stdin...): another description of the same host fd. */
  reopen(_t: TaskApi, flags: number): HostFile {
    return new HostFile(this.hostFd, (flags & O_ACCMODE) | 0o100000, this.isTty, false);
  }

  /** What /proc/<pid>/fd/N shows for an imported host fd (gVisor shows "host:[N]"). */
  procLinkName(): string {
    return `host:[${this.hostFd}]`;
  }
}

/**
 * Import host fd `fd` as a file description for the sandbox (stdio). The first terminal
 * imported becomes the controlling terminal /dev/tty opens.
 */
export function importHostFd(fd: number, opts: ImportOptions = {}): HostFile {
  let isTty = opts.isTty;
  if (isTty === undefined) {
    try {
      isTty = isatty(fd);
    } catch {
      isTty = false;
    }
  }
  const flags = opts.flags ?? O_RDWR;
  const f = new HostFile(fd, (flags & O_ACCMODE) | 0o100000, isTty!, opts.own ?? false);
  if (isTty && !controlling) controlling = { fd, opts: { ...opts, isTty: true, own: false } };
  return f;
}

/** Open the controlling terminal (/dev/tty): ENXIO when the sandbox has none. */
export function openControllingTty(flags: number): HostFile {
  if (!controlling) throw new SysError(ENXIO);
  return new HostFile(controlling.fd, flags, true, false);
}

/** Forget the controlling terminal (tests, sandbox teardown). */
export function resetControllingTty(): void {
  controlling = null;
  ttyStates.clear();
}
