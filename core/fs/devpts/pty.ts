/**
 * Pseudo-terminal pairs (Linux's drivers/tty/pty.c + tty_io.c + tty_jobctrl.c; gVisor's
 * fsimpl/devpts): a Pty joins a master (the ptmx file) and a slave (/dev/pts/N) through
 * one LineDiscipline, one window size and the job-control state of the slave.
 *
 * Controlling terminals belong to sessions: `cttys` maps a session id to its pty, and a
 * pty remembers the session it controls and its foreground process group. A session
 * leader acquires the slave by opening it without O_NOCTTY (when neither has one yet) or
 * with TIOCSCTTY; TIOCNOTTY gives it up.
 *
 * Hang-up (the master's last close): the slave's open files read end of file and fail
 * writes with EIO, poll reports POLLHUP|POLLERR, /dev/pts/N disappears, and the session
 * leader gets SIGHUP and SIGCONT (Linux's tty_signal_session_leader). When every slave
 * file is closed, master reads drain the queue and then fail with EIO, and poll on the
 * master reports POLLHUP.
 *
 * Signals come from the terminal, not from a task, so the pty keeps the kernel hook of the
 * task that created it (TtyKernel: implemented by core/kernel/Kernel).
 *
 * Blocking follows the VFS convention: read/write return -EAGAIN and the syscall layer
 * waits on the side's WaitQueue; only non-canonical reads with VTIME return a Promise,
 * which registers its (timed) wait synchronously before returning.
 */
import { EAGAIN, EINVAL, EIO, ENOTTY, EPERM, ERESTARTSYS, ESRCH, ETIMEDOUT, SysError } from '../../abi/errno';
import { CAP_SYS_ADMIN, capable } from '../../kernel/caps';
import type { TaskApi } from '../../kernel/api';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, WaitQueue } from '../../util/waiter';
import { makedev, O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NONBLOCK, O_ACCMODE } from '../../vfs/abi';
import { FileDescription, IoDst, IoSrc, ioLength } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';
import { VirtualDentry } from '../../vfs/mount';
import type { FileTask } from '../../vfs/task';
import { LineDiscipline, OUTPUT_CAPACITY } from './ldisc';
import { TERMIOS2_SIZE, TERMIOS_SIZE, TOSTOP, VMIN, VTIME } from './termios';

// Terminal ioctls (asm-generic/ioctls.h).
export const TCGETS = 0x5401,
  TCSETS = 0x5402,
  TCSETSW = 0x5403,
  TCSETSF = 0x5404,
  TCSBRK = 0x5409,
  TCXONC = 0x540a,
  TCFLSH = 0x540b,
  TIOCEXCL = 0x540c,
  TIOCNXCL = 0x540d,
  TIOCSCTTY = 0x540e,
  TIOCGPGRP = 0x540f,
  TIOCSPGRP = 0x5410,
  TIOCOUTQ = 0x5411,
  TIOCSTI = 0x5412,
  TIOCGWINSZ = 0x5413,
  TIOCSWINSZ = 0x5414,
  FIONREAD = 0x541b,
  TIOCPKT = 0x5420,
  TIOCNOTTY = 0x5422,
  TIOCSETD = 0x5423,
  TIOCGETD = 0x5424,
  TCSBRKP = 0x5425,
  TIOCSBRK = 0x5427,
  TIOCCBRK = 0x5428,
  TIOCGSID = 0x5429,
  TCGETS2 = 0x802c542a,
  TCSETS2 = 0x402c542b,
  TCSETSW2 = 0x402c542c,
  TCSETSF2 = 0x402c542d,
  TIOCGPTN = 0x80045430,
  TIOCSPTLCK = 0x40045431,
  TIOCGDEV = 0x80045432,
  TIOCGPKT = 0x80045438,
  TIOCGPTLCK = 0x80045439,
  TIOCGEXCL = 0x80045440,
  TIOCGPTPEER = 0x5441;

export const TCIFLUSH = 0,
  TCOFLUSH = 1,
  TCIOFLUSH = 2;
export const TCOOFF = 0,
  TCOON = 1,
  TCIOFF = 2,
  TCION = 3;

/** Device numbers: /dev/ptmx is 5:2, slaves are 136:N. */
export const PTMX_MAJOR = 5,
  PTMX_MINOR = 2,
  PTS_MAJOR = 136;

const SIGHUP = 1,
  SIGCONT = 18,
  SIGTTIN = 21,
  SIGTTOU = 22,
  SIGWINCH = 28;

const READY_ALL = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

/** What a terminal needs from the kernel (implemented by core/kernel/Kernel). */
export interface TtyKernel {
  /** Send `signo` (0: only count) to process `id` or every process of group `id`; returns how many exist. */
  signalProcesses(by: 'pid' | 'pgrp', id: number, signo: number): number;
  /** The live processes of a process group (their session ids). */
  processGroup(pgid: number): readonly { readonly sid: number }[];
  /**
   * Job control for a background caller (see ttyJobCheck): whether `signo` is blocked or
   * ignored by it, its group orphaned, or else `signo` was sent to its group. Absent: no
   * job control (test fakes).
   */
  ttyJobControl?(t: TaskApi, signo: number): 'ignore' | 'orphaned' | 'signalled';
  /** Run `fn` when the session leader `sid` exits (before its children are reparented). */
  onSessionLeaderExit?(sid: number, fn: () => void): void;
}

/**
 * Linux's __tty_check_change: a process reading its controlling terminal (SIGTTIN), or
 * changing it or writing to it under TOSTOP (SIGTTOU), while its process group is not the
 * terminal's foreground group, stops its group — the call restarts when the group
 * continues. A blocked or ignored SIGTTIN makes the read fail with EIO (SIGTTOU: the call
 * goes ahead); an orphaned group gets EIO. 0 = go ahead.
 */
export function ttyJobCheck(t: TaskApi, p: Pty, signo: number): number {
  if (controllingPty(t) !== p) return 0;
  const fg = p.fgPgrp;
  if (!fg || pgidOf(t) === fg) return 0;
  const k = ttyKernelOf(t);
  if (!k?.ttyJobControl) return 0;
  switch (k.ttyJobControl(t, signo)) {
    case 'ignore':
      return signo === SIGTTIN ? -EIO : 0;
    case 'orphaned':
      return -EIO;
    default:
      return -ERESTARTSYS;
  }
}

/** The kernel hook of a task, when it has one (the real Task has `kernel`; fakes may too). */
export function ttyKernelOf(t: TaskApi): TtyKernel | null {
  const k = (t as { kernel?: Partial<TtyKernel> }).kernel;
  return k && typeof k.signalProcesses === 'function' && typeof k.processGroup === 'function'
    ? (k as TtyKernel)
    : null;
}

/** Session and process group of a task (its own pid when the kernel does not say). */
function sidOf(t: TaskApi): number {
  return (t as Partial<FileTask>).sid ?? t.tgid;
}
function pgidOf(t: TaskApi): number {
  return (t as Partial<FileTask>).pgid ?? t.tgid;
}
function isSessionLeader(t: TaskApi): boolean {
  return sidOf(t) === t.tgid;
}

/** The side of the devpts filesystem a pty talks to (fs.ts). */
export interface PtyOwner {
  /** Forget /dev/pts/N (the master closed). */
  removeNode(index: number): void;
  /** Release the index (both sides closed). */
  freeIndex(index: number): void;
  /** The slave's inode (TIOCGPTPEER). */
  slaveInode(index: number): Inode | null;
}

// ---------------------------------------------------------------- controlling terminals

const cttys = new Map<number, Pty>();

/** The pty that is `t`'s controlling terminal, if any. */
export function controllingPty(t: TaskApi): Pty | null {
  const p = cttys.get(sidOf(t));
  return p && p.session === sidOf(t) && !p.detached.has(t.tgid) ? p : null;
}

/** Forget every controlling terminal (tests). */
export function resetControllingPtys(): void {
  cttys.clear();
}

// ---------------------------------------------------------------- the pair

export class Pty {
  readonly ldisc: LineDiscipline;
  /** Readiness of the master side / of the slave side. */
  readonly masterQ = new WaitQueue();
  readonly slaveQ = new WaitQueue();
  /** struct winsize (ws_row, ws_col, ws_xpixel, ws_ypixel). */
  readonly winsize = new Uint8Array(8);
  /** TIOCSPTLCK: slaves cannot be opened while locked (new ptys start locked). */
  locked = true;
  /** Session this slave is the controlling terminal of (0: none) and its foreground group. */
  session = 0;
  fgPgrp = 0;
  /** Processes of `session` that gave it up with TIOCNOTTY (non-leaders). */
  readonly detached = new Set<number>();
  masterOpen = true;
  slaveOpens = 0;
  /** Every slave file was closed after one was opened: master reads fail with EIO. */
  slaveClosed = false;

  constructor(
    readonly owner: PtyOwner,
    readonly index: number,
    /** The devpts root the master was opened against (where /dev/pts/N lives). */
    readonly ptsRoot: VirtualDentry | null,
    private readonly kernel: TtyKernel | null,
  ) {
    this.ldisc = new LineDiscipline({ signal: (sig) => this.signalForeground(sig) });
  }

  /** The master closed: the slave hangs up. */
  get hungUp(): boolean {
    return !this.masterOpen;
  }

  /** Wake both sides (data moved, a side closed, termios changed). */
  wake(extra = 0): void {
    this.masterQ.notify(READY_ALL | extra);
    this.slaveQ.notify(READY_ALL | extra);
  }

  signalForeground(sig: number): void {
    if (this.fgPgrp && this.kernel) this.kernel.signalProcesses('pgrp', this.fgPgrp, sig);
  }

  /** Make this the controlling terminal of `t`'s session (t's group in the foreground). */
  setControlling(t: TaskApi): void {
    const sid = sidOf(t);
    cttys.get(sid)?.clearSession();
    this.clearSession();
    this.session = sid;
    this.fgPgrp = pgidOf(t);
    this.detached.clear();
    cttys.set(sid, this);
    this.kernel?.onSessionLeaderExit?.(sid, () => this.leaderExited(sid));
  }

  /**
   * The session leader exited (Linux's disassociate_ctty(1) for a pty): its foreground
   * group gets SIGHUP, and the terminal stops being anyone's controlling terminal.
   */
  private leaderExited(sid: number): void {
    if (this.session !== sid) return;
    const fg = this.fgPgrp;
    this.clearSession();
    if (fg && this.kernel) this.kernel.signalProcesses('pgrp', fg, SIGHUP);
  }

  clearSession(): void {
    if (this.session && cttys.get(this.session) === this) cttys.delete(this.session);
    this.session = 0;
    this.fgPgrp = 0;
    this.detached.clear();
  }

  /** The master's last close: hang up the slave (pty_close + __tty_hangup). */
  closeMaster(): void {
    this.masterOpen = false;
    this.ldisc.flushInput();
    this.owner.removeNode(this.index);
    const sid = this.session;
    this.clearSession();
    if (sid && this.kernel) {
      this.kernel.signalProcesses('pid', sid, SIGHUP);
      this.kernel.signalProcesses('pid', sid, SIGCONT);
    }
    if (this.slaveOpens === 0) this.owner.freeIndex(this.index);
    this.wake(POLLHUP | POLLERR);
  }

  slaveOpened(): void {
    this.slaveOpens++;
    this.slaveClosed = false;
  }

  closeSlave(): void {
    if (--this.slaveOpens > 0) return;
    this.slaveClosed = true;
    if (!this.masterOpen) this.owner.freeIndex(this.index);
    this.wake(POLLHUP);
  }

  /** A new slave file (open of /dev/pts/N, /dev/tty or TIOCGPTPEER). */
  openSlave(t: TaskApi, flags: number, noctty: boolean): SlaveFile {
    if (this.hungUp || this.locked) throw new SysError(EIO);
    const f = new SlaveFile(this, flags);
    // tty_open_proc_set_tty: a session leader without a terminal acquires a free one.
    if (!noctty && isSessionLeader(t) && !controllingPty(t) && this.session === 0) this.setControlling(t);
    return f;
  }
}

// ---------------------------------------------------------------- files

/** The master side (what /dev/ptmx opens). */
export class MasterFile extends FileDescription {
  constructor(
    readonly pty: Pty,
    flags: number,
  ) {
    super(flags);
    this.stream = true;
  }

  override read(_t: TaskApi, dst: IoDst, _off: number): number {
    if (ioLength(dst) === 0) return 0;
    const out = this.pty.ldisc.output;
    if (out.len > 0) {
      const n = out.take(dst);
      this.pty.slaveQ.notify(POLLOUT | POLLWRNORM);
      return n;
    }
    return this.pty.slaveClosed ? -EIO : -EAGAIN;
  }

  override write(_t: TaskApi, src: IoSrc, _off: number): number {
    const total = ioLength(src);
    if (total === 0) return 0;
    const n = this.pty.ldisc.receive(src);
    if (n > 0) this.pty.wake();
    return n > 0 ? n : -EAGAIN;
  }

  override readiness(mask: number): number {
    const p = this.pty;
    let r = 0;
    if (p.ldisc.output.len > 0) r |= POLLIN | POLLRDNORM;
    if (p.ldisc.inputRoom() > 0) r |= POLLOUT | POLLWRNORM;
    if (p.slaveClosed) r |= POLLHUP;
    return r & (mask | POLLHUP | POLLERR);
  }

  override waitQueue(): WaitQueue {
    return this.pty.masterQ;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    return ttyIoctl(t, this.pty, this, true, cmd, arg);
  }

  protected override release(): void {
    this.pty.closeMaster();
  }
}

/** The slave side (/dev/pts/N). */
export class SlaveFile extends FileDescription {
  constructor(
    readonly pty: Pty,
    flags: number,
  ) {
    super(flags);
    this.stream = true;
    pty.slaveOpened();
  }

  override read(t: TaskApi, dst: IoDst, _off: number): number | Promise<number> {
    const p = this.pty;
    if (p.hungUp) return 0;
    const job = ttyJobCheck(t, p, SIGTTIN);
    if (job) return job;
    const total = ioLength(dst);
    if (total === 0) return 0;
    const ld = p.ldisc;
    if (ld.canonical) {
      if (!ld.lineReady()) return -EAGAIN;
      return this.done(ld.readLine(dst));
    }
    const min = ld.termios.cc[VMIN];
    const time = ld.termios.cc[VTIME];
    const avail = ld.input.len;
    const want = Math.min(min, total);
    if (avail > 0 && (avail >= want || this.flags & O_NONBLOCK)) return this.done(ld.readRaw(dst));
    if (time === 0) return min === 0 ? 0 : -EAGAIN;
    if (this.flags & O_NONBLOCK) return -EAGAIN;
    // VTIME: with MIN 0 a total timeout for the first byte; with MIN > 0 an inter-byte
    // timer started by the first byte (until then, wait without a timeout).
    if (min > 0 && avail === 0) return -EAGAIN;
    return this.timedRead(t, dst, want, time * 100_000_000);
  }

  private async timedRead(t: TaskApi, dst: IoDst, want: number, timeoutNs: number): Promise<number> {
    const p = this.pty;
    const ld = p.ldisc;
    for (;;) {
      // The wait is registered in the same synchronous run as the check before it.
      const r = await t.block(p.slaveQ, POLLIN | POLLHUP, timeoutNs);
      if (p.hungUp) return 0;
      if (ld.canonical) return ld.lineReady() ? this.done(ld.readLine(dst)) : -EAGAIN;
      const avail = ld.input.len;
      if (r === -ETIMEDOUT || (r < 0 && avail > 0) || avail >= Math.max(want, 1))
        return avail > 0 ? this.done(ld.readRaw(dst)) : 0;
      if (r < 0) return r;
    }
  }

  private done(n: number): number {
    this.pty.masterQ.notify(POLLOUT | POLLWRNORM);
    return n;
  }

  override write(t: TaskApi, src: IoSrc, _off: number): number {
    const p = this.pty;
    if (p.hungUp) return -EIO;
    if (p.ldisc.termios.lflag & TOSTOP) {
      const job = ttyJobCheck(t, p, SIGTTOU);
      if (job) return job;
    }
    const total = ioLength(src);
    if (total === 0) return 0;
    const n = p.ldisc.transmit(src);
    if (n > 0) p.masterQ.notify(POLLIN | POLLRDNORM);
    return n > 0 ? n : -EAGAIN;
  }

  override readiness(mask: number): number {
    const p = this.pty;
    if (p.hungUp) return (mask & READY_ALL) | POLLHUP | POLLERR;
    const ld = p.ldisc;
    let r = 0;
    if (ld.canonical ? ld.lineReady() : ld.input.len > 0) r |= POLLIN | POLLRDNORM;
    if (!ld.stopped && ld.output.len < OUTPUT_CAPACITY) r |= POLLOUT | POLLWRNORM;
    return r & mask;
  }

  override waitQueue(): WaitQueue {
    return this.pty.slaveQ;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (this.pty.hungUp) return cmd === TIOCSPGRP ? -ENOTTY : -EIO;
    return ttyIoctl(t, this.pty, this, false, cmd, arg);
  }

  /** Reopen through /proc/<pid>/fd/N: another description of the same slave. */
  reopen(t: TaskApi, flags: number): SlaveFile {
    return this.pty.openSlave(t, flags, true);
  }

  protected override release(): void {
    this.pty.closeSlave();
  }
}

// ---------------------------------------------------------------- ioctl

/** ioctls that change the terminal, refused to background processes (tty_check_change callers). */
const CHANGES_TERMINAL = new Set([
  TCSETS,
  TCSETSW,
  TCSETSF,
  TCSETS2,
  TCSETSW2,
  TCSETSF2,
  TCFLSH,
  TCXONC,
  TCSBRK,
  TCSBRKP,
  TIOCSBRK,
  TIOCCBRK,
  TIOCSETD,
  TIOCSPGRP,
]);

/**
 * Terminal ioctls on either side. As Linux, termios, window size and job control always
 * act on the slave (tty_pair_get_tty), so the master sees and changes the same state.
 */
export function ttyIoctl(
  t: TaskApi,
  p: Pty,
  file: FileDescription,
  master: boolean,
  cmd: number,
  arg: number,
): number {
  const ld = p.ldisc;
  const mem = t.mem;
  const isCtty = controllingPty(t) === p;
  if (CHANGES_TERMINAL.has(cmd)) {
    const job = ttyJobCheck(t, p, SIGTTOU);
    // TIOCSPGRP from an orphaned background group: ENOTTY, as Linux's tiocspgrp.
    if (job) return job === -EIO && cmd === TIOCSPGRP ? -ENOTTY : job;
  }
  switch (cmd) {
    case TCGETS:
      mem.copyOut(arg, ld.termios.encode(false));
      return 0;
    case TCGETS2:
      mem.copyOut(arg, ld.termios.encode(true));
      return 0;
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
    case TCSETS2:
    case TCSETSW2:
    case TCSETSF2: {
      const two = cmd === TCSETS2 || cmd === TCSETSW2 || cmd === TCSETSF2;
      const b = mem.copyIn(arg, two ? TERMIOS2_SIZE : TERMIOS_SIZE);
      if (cmd === TCSETSF || cmd === TCSETSF2) ld.flushInput();
      ld.setTermios(b);
      p.wake();
      return 0;
    }
    case TIOCGWINSZ:
      mem.copyOut(arg, p.winsize);
      return 0;
    case TIOCSWINSZ: {
      const ws = mem.copyIn(arg, 8);
      let same = true;
      for (let i = 0; i < 8; i++) if (ws[i] !== p.winsize[i]) same = false;
      if (same) return 0;
      p.winsize.set(ws);
      p.signalForeground(SIGWINCH);
      return 0;
    }
    case FIONREAD:
      mem.writeI32(arg, master ? ld.output.len : ld.readable());
      return 0;
    case TIOCOUTQ:
      mem.writeI32(arg, 0);
      return 0;
    case TCFLSH: {
      if (arg < TCIFLUSH || arg > TCIOFLUSH) return -EINVAL;
      // A side's input is what it reads: the slave reads the input queue, the master the output queue.
      const flushIn = arg === TCIFLUSH || arg === TCIOFLUSH;
      const flushOut = arg === TCOFLUSH || arg === TCIOFLUSH;
      if (master ? flushOut : flushIn) ld.flushInput();
      if (master ? flushIn : flushOut) ld.output.clear();
      p.wake();
      return 0;
    }
    case TCXONC:
      switch (arg) {
        case TCOOFF:
          ld.stopped = true;
          return 0;
        case TCOON:
          ld.stopped = false;
          p.wake();
          return 0;
        case TCIOFF:
        case TCION:
          return 0;
        default:
          return -EINVAL;
      }
    case TCSBRK:
    case TCSBRKP:
    case TIOCSBRK:
    case TIOCCBRK:
    case TIOCEXCL:
    case TIOCNXCL:
      return 0;
    case TIOCGEXCL:
    case TIOCGETD:
      mem.writeI32(arg, 0);
      return 0;
    case TIOCSETD:
      return mem.readI32(arg) === 0 ? 0 : -EINVAL;
    case TIOCSTI:
      if (!isCtty && !capable(t, CAP_SYS_ADMIN)) return -EPERM;
      ld.receiveByte(mem.copyIn(arg, 1)[0]);
      p.wake();
      return 0;

    // ---- job control (tty_jobctrl.c)
    case TIOCGPGRP:
      if (!master && !isCtty) return -ENOTTY;
      mem.writeI32(arg, p.fgPgrp);
      return 0;
    case TIOCSPGRP: {
      const pg = mem.readI32(arg);
      if (pg < 0) return -EINVAL;
      if (!isCtty || p.session !== sidOf(t)) return -ENOTTY;
      const k = ttyKernelOf(t);
      if (k) {
        const members = k.processGroup(pg);
        if (!members.length) return -ESRCH;
        if (members[0].sid !== p.session) return -EPERM;
      }
      p.fgPgrp = pg;
      return 0;
    }
    case TIOCGSID:
      if (!master && !isCtty) return -ENOTTY;
      if (!p.session) return -ENOTTY;
      mem.writeI32(arg, p.session);
      return 0;
    case TIOCSCTTY: {
      if (isSessionLeader(t) && p.session === sidOf(t)) return 0;
      if (!isSessionLeader(t) || controllingPty(t)) return -EPERM;
      const root = capable(t, CAP_SYS_ADMIN);
      if (p.session && !(arg === 1 && root)) return -EPERM;
      if (!file.readable && !root) return -EPERM;
      p.setControlling(t);
      return 0;
    }
    case TIOCNOTTY: {
      if (master || !isCtty) return -ENOTTY;
      if (isSessionLeader(t)) {
        const pg = p.fgPgrp;
        p.clearSession();
        if (pg) {
          ttyKernelOf(t)?.signalProcesses('pgrp', pg, SIGHUP);
          ttyKernelOf(t)?.signalProcesses('pgrp', pg, SIGCONT);
        }
      } else p.detached.add(t.tgid);
      return 0;
    }

    // ---- the pair (pty.c)
    case TIOCGDEV:
      mem.writeU32(arg, master ? makedev(PTMX_MAJOR, PTMX_MINOR) : makedev(PTS_MAJOR, p.index));
      return 0;
    case TIOCGPTN:
      if (!master) return -ENOTTY;
      mem.writeU32(arg, p.index);
      return 0;
    case TIOCSPTLCK:
      if (!master) return -ENOTTY;
      p.locked = mem.readI32(arg) !== 0;
      return 0;
    case TIOCGPTLCK:
      if (!master) return -ENOTTY;
      mem.writeI32(arg, p.locked ? 1 : 0);
      return 0;
    case TIOCPKT:
      if (!master) return -ENOTTY;
      return mem.readI32(arg) === 0 ? 0 : -EINVAL; // packet mode is not supported
    case TIOCGPKT:
      if (!master) return -ENOTTY;
      mem.writeI32(arg, 0);
      return 0;
    case TIOCGPTPEER:
      if (!master) return -ENOTTY;
      return openPeer(t, p, arg);
    default:
      return -ENOTTY;
  }
}

/** TIOCGPTPEER: open the slave and install it in the caller's fd table. */
function openPeer(t: TaskApi, p: Pty, flags: number): number {
  const files = (t as Partial<FileTask>).files;
  if (!files) return -EINVAL;
  const root = p.ptsRoot;
  const inode = p.owner.slaveInode(p.index);
  const dentry = root && inode ? root.dentry.child(String(p.index)) : null;
  if (!root || !inode || !dentry) return -EIO;
  let f: SlaveFile;
  try {
    f = p.openSlave(
      t,
      (flags & ~(O_CLOEXEC | O_NOCTTY) & (O_ACCMODE | O_NONBLOCK | 0o2000)) | O_LARGEFILE,
      (flags & O_NOCTTY) !== 0,
    );
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
  f.vd = new VirtualDentry(root.mount, dentry);
  f.inode = inode;
  return files.install(f, (flags & O_CLOEXEC) !== 0);
}
