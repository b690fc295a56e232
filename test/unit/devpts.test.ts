/**
 * Pseudo-terminals (core/fs/devpts) against a fake task: the line discipline on its own
 * (canonical editing and echoes, input and output processing, ISIG, IXON, mode switches),
 * then /dev/ptmx + devpts through the syscall handlers (locking, slave nodes, controlling
 * terminal and job-control errnos, window size, VMIN/VTIME, blocking, hang-up).
 */
import * as assert from 'node:assert/strict';
import { EAGAIN, EINVAL, EIO, ENOENT, ENOTTY, EPERM, ESRCH, SysError } from '../../core/abi/errno';
import { registerDevices } from '../../core/fs/dev';
import {
  DevptsFs,
  LineDiscipline,
  parseDevptsData,
  resetControllingPtys,
  type TtyKernel,
} from '../../core/fs/devpts';
import {
  TCFLSH,
  TCGETS,
  TCSETS,
  TIOCGPGRP,
  TIOCGPTN,
  TIOCGPTPEER,
  TIOCGSID,
  TIOCGWINSZ,
  TIOCNOTTY,
  TIOCSCTTY,
  TIOCSPGRP,
  TIOCSPTLCK,
  TIOCSWINSZ,
  FIONREAD,
} from '../../core/fs/devpts/pty';
import {
  ECHO,
  ECHOCTL,
  ECHOE,
  ECHOKE,
  ECHONL,
  ICANON,
  ICRNL,
  IGNCR,
  INLCR,
  ISIG,
  IXON,
  NOFLSH,
  ONLCR,
  OPOST,
  Termios,
  VMIN,
  VTIME,
} from '../../core/fs/devpts/termios';
import { Close } from '../../core/syscalls/linux/fd';
import { Open, Read, Write } from '../../core/syscalls/linux/file';
import { Ioctl } from '../../core/syscalls/linux/ioctl';
import { POLLHUP, POLLIN, POLLOUT } from '../../core/util/waiter';
import { AT_FDCWD, makedev, O_NOCTTY, O_NONBLOCK, O_RDWR, S_IFCHR, S_IFMT } from '../../core/vfs/abi';
import { lookupAt, mkdirAt, mknodAt } from '../../core/vfs/ops';
import { fakeArgs, FakeTask, newWorld } from '../helpers/fake-task';

// ---------------------------------------------------------------- the line discipline

function ldisc(): { ld: LineDiscipline; sigs: number[] } {
  const sigs: number[] = [];
  return { ld: new LineDiscipline({ signal: (s) => sigs.push(s) }), sigs };
}
const bytes = (s: string): Uint8Array[] => [Buffer.from(s, 'latin1')];
function drainOut(ld: LineDiscipline): string {
  const b = new Uint8Array(4096);
  return Buffer.from(b.subarray(0, ld.output.take([b]))).toString('latin1');
}
function readLine(ld: LineDiscipline): string | null {
  if (!ld.lineReady()) return null;
  const b = new Uint8Array(4096);
  return Buffer.from(b.subarray(0, ld.readLine([b]))).toString('latin1');
}
function setFlags(ld: LineDiscipline, f: (t: Termios) => void): void {
  const t = new Termios();
  t.decode(ld.termios.encode());
  f(t);
  ld.setTermios(t.encode());
}

describe('devpts line discipline', () => {
  it('starts with Linux pty slave defaults', () => {
    const t = new Termios();
    assert.equal(t.iflag, 0o2400);
    assert.equal(t.oflag, 0o5);
    assert.equal(t.cflag, 0o277);
    assert.equal(t.lflag, 0o105073);
    assert.deepEqual([...t.cc.subarray(0, 7)], [3, 0x1c, 0x7f, 0x15, 4, 0, 1]);
    const t2 = new Termios();
    t2.decode(t.encode(true));
    assert.deepEqual(t2.encode(true), t.encode(true));
  });

  it('canonical mode: ERASE with ECHOE, KILL with ECHOKE, WERASE, echo through ONLCR', () => {
    const { ld } = ldisc();
    ld.receive(bytes('ab\x7fc\n'));
    assert.equal(readLine(ld), 'ac\n');
    assert.equal(drainOut(ld), 'ab\b \bc\r\n');
    ld.receive(bytes('xyz\x15q\n'));
    assert.equal(readLine(ld), 'q\n');
    assert.equal(drainOut(ld), 'xyz\b \b\b \b\b \bq\r\n');
    ld.receive(bytes('one two\x17three\n'));
    assert.equal(readLine(ld), 'one three\n');
    assert.equal(readLine(ld), null);
  });

  it('KILL without ECHOKE echoes the character and a newline (ECHOK)', () => {
    const { ld } = ldisc();
    setFlags(ld, (t) => (t.lflag &= ~ECHOKE));
    ld.receive(bytes('abc\x15'));
    assert.equal(drainOut(ld), 'abc^U\r\n');
  });

  it('ERASE without ECHOE echoes the erase character; control characters erase two columns', () => {
    const { ld } = ldisc();
    ld.receive(bytes('a\x01\x7f'));
    assert.equal(drainOut(ld), 'a^A\b \b\b \b');
    setFlags(ld, (t) => (t.lflag &= ~ECHOE));
    ld.receive(bytes('b\x7f\n'));
    assert.equal(drainOut(ld), 'b^?\r\n');
    assert.equal(readLine(ld), 'a\n');
  });

  it('EOF ends a line without a byte; an empty line reads as end of file; not echoed', () => {
    const { ld } = ldisc();
    ld.receive(bytes('abc\x04\x04'));
    assert.equal(readLine(ld), 'abc');
    assert.equal(readLine(ld), '');
    assert.equal(readLine(ld), null);
    assert.equal(drainOut(ld), 'abc');
  });

  it('a partial read leaves the rest of the line for the next read', () => {
    const { ld } = ldisc();
    ld.receive(bytes('hello\n'));
    const b = new Uint8Array(2);
    assert.equal(ld.readLine([b]), 2);
    assert.equal(ld.readable(), 4);
    assert.equal(readLine(ld), 'llo\n');
  });

  it('input processing: ICRNL, INLCR, IGNCR', () => {
    const { ld } = ldisc();
    ld.receive(bytes('a\r'));
    assert.equal(readLine(ld), 'a\n');
    setFlags(ld, (t) => {
      t.iflag = (t.iflag & ~ICRNL) | IGNCR;
    });
    ld.receive(bytes('b\r\n'));
    assert.equal(readLine(ld), 'b\n');
    setFlags(ld, (t) => {
      t.iflag = (t.iflag & ~IGNCR) | INLCR;
      t.lflag &= ~ICANON;
    });
    ld.receive(bytes('\n'));
    const b = new Uint8Array(4);
    assert.equal(ld.readRaw([b]), 1);
    assert.equal(b[0], 0x0d);
  });

  it('ECHONL echoes newlines with ECHO off; ECHOCTL shows control characters as ^X', () => {
    const { ld } = ldisc();
    setFlags(ld, (t) => (t.lflag = (t.lflag & ~ECHO) | ECHONL));
    ld.receive(bytes('secret\n'));
    assert.equal(drainOut(ld), '\r\n');
    setFlags(ld, (t) => (t.lflag = (t.lflag | ECHO) & ~ECHOCTL));
    ld.receive(bytes('\x01\n'));
    assert.equal(drainOut(ld), '\x01\r\n');
  });

  it('output processing: ONLCR under OPOST only', () => {
    const { ld } = ldisc();
    ld.transmit(bytes('a\nb'));
    assert.equal(drainOut(ld), 'a\r\nb');
    setFlags(ld, (t) => (t.oflag &= ~OPOST));
    ld.transmit(bytes('a\n'));
    assert.equal(drainOut(ld), 'a\n');
    setFlags(ld, (t) => (t.oflag = OPOST & ~ONLCR));
    ld.transmit(bytes('c\n'));
    assert.equal(drainOut(ld), 'c\n');
  });

  it('ISIG: INTR/QUIT/SUSP signal, echo ^C and flush unless NOFLSH', () => {
    const { ld, sigs } = ldisc();
    ld.receive(bytes('abc\x03'));
    assert.deepEqual(sigs, [2]);
    assert.equal(drainOut(ld), '^C');
    ld.receive(bytes('\n'));
    assert.equal(readLine(ld), '\n', 'the typed "abc" was flushed');
    setFlags(ld, (t) => (t.lflag |= NOFLSH));
    ld.receive(bytes('x\x1c\x1a\n'));
    assert.deepEqual(sigs, [2, 3, 20]);
    assert.equal(readLine(ld), 'x\n');
    setFlags(ld, (t) => (t.lflag &= ~ISIG));
    ld.receive(bytes('\x03\n'));
    assert.deepEqual(sigs, [2, 3, 20]);
    assert.equal(readLine(ld), '\x03\n');
  });

  it('IXON: STOP holds output, START releases it', () => {
    const { ld } = ldisc();
    ld.receive(bytes('\x13'));
    assert.equal(ld.transmit(bytes('x')), 0);
    ld.receive(bytes('\x11'));
    assert.equal(ld.transmit(bytes('x')), 1);
    setFlags(ld, (t) => (t.iflag &= ~IXON));
    ld.receive(bytes('\x13\n'));
    assert.equal(readLine(ld), '\x13\n');
  });

  it('switching modes: an unfinished line becomes readable in raw mode', () => {
    const { ld } = ldisc();
    ld.receive(bytes('par'));
    assert.equal(ld.lineReady(), false);
    setFlags(ld, (t) => (t.lflag &= ~ICANON));
    assert.equal(ld.readable(), 3);
    setFlags(ld, (t) => (t.lflag |= ICANON));
    assert.equal(readLine(ld), 'par');
  });
});

// ---------------------------------------------------------------- /dev/ptmx and devpts

/** Run a handler, turning a thrown SysError into -errno as the dispatcher does. */
async function call(
  h: (t: any, a: any) => number | Promise<number>,
  t: FakeTask,
  ...args: (number | bigint)[]
): Promise<number> {
  try {
    return await h(t, fakeArgs(...args));
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
}

class FakeKernel implements TtyKernel {
  readonly sent: [string, number, number][] = [];
  /** pgid -> session of its members. */
  readonly groups = new Map<number, number>([[1, 1]]);
  signalProcesses(by: 'pid' | 'pgrp', id: number, signo: number): number {
    if (signo) this.sent.push([by, id, signo]);
    return by === 'pid' || this.groups.has(id) ? 1 : 0;
  }
  processGroup(pgid: number): { sid: number }[] {
    const s = this.groups.get(pgid);
    return s === undefined ? [] : [{ sid: s }];
  }
}

describe('devpts and /dev/ptmx (fake task)', () => {
  let t: FakeTask;
  let k: FakeKernel;
  let buf: number;

  beforeEach(() => {
    resetControllingPtys();
    registerDevices();
    const w = newWorld();
    t = w.t;
    k = new FakeKernel();
    Object.assign(t, { kernel: k });
    mkdirAt(t, AT_FDCWD, '/dev', 0o755);
    mkdirAt(t, AT_FDCWD, '/dev/pts', 0o755);
    mknodAt(t, AT_FDCWD, '/dev/ptmx', S_IFCHR | 0o666, makedev(5, 2));
    mknodAt(t, AT_FDCWD, '/dev/tty', S_IFCHR | 0o666, makedev(5, 0));
    w.ns.mount(new DevptsFs({ gid: 5, mode: 0o620 }), lookupAt(t, AT_FDCWD, '/dev/pts', true), 0, 'devpts');
    buf = t.mem.alloc(4096);
  });

  const open = (path: string, flags = O_RDWR): Promise<number> => call(Open, t, t.mem.str(path), flags, 0);
  const ioctl = (fd: number, cmd: number, arg: number): Promise<number> => call(Ioctl, t, fd, cmd, arg);
  async function write(fd: number, s: string): Promise<number> {
    const a = t.mem.bytes(s);
    return call(Write, t, fd, a, s.length);
  }
  async function read(fd: number, n = 256): Promise<string | number> {
    const r = await call(Read, t, fd, buf, n);
    return r < 0 ? r : t.mem.read(buf, r);
  }
  async function intArg(fd: number, cmd: number, v = 0): Promise<[number, number]> {
    const a = t.mem.alloc(4);
    t.mem.writeI32(a, v);
    const r = await ioctl(fd, cmd, a);
    return [r, t.mem.readI32(a)];
  }
  /** A master and its unlocked slave (opened without O_NOCTTY unless asked). */
  async function pair(slaveFlags = O_RDWR): Promise<[number, number]> {
    const m = await open('/dev/ptmx', O_RDWR | O_NOCTTY);
    assert.ok(m >= 0, `open /dev/ptmx: ${m}`);
    const [, n] = await intArg(m, TIOCGPTN);
    assert.deepEqual(await intArg(m, TIOCSPTLCK, 0), [0, 0]);
    const s = await open(`/dev/pts/${n}`, slaveFlags);
    assert.ok(s >= 0, `open slave: ${s}`);
    return [m, s];
  }

  it('ptmx creates numbered slaves with Linux modes; locked until TIOCSPTLCK', async () => {
    const m = await open('/dev/ptmx');
    assert.deepEqual(await intArg(m, TIOCGPTN), [0, 0]);
    const st = lookupAt(t, AT_FDCWD, '/dev/pts/0', true).inode.stat();
    assert.equal(st.mode & S_IFMT, S_IFCHR);
    assert.equal(st.mode & 0o7777, 0o620);
    assert.equal(st.gid, 5);
    assert.equal(st.rdev, makedev(136, 0));
    const px = lookupAt(t, AT_FDCWD, '/dev/pts/ptmx', true).inode.stat();
    assert.equal(px.mode & 0o7777, 0);
    assert.equal(px.rdev, makedev(5, 2));
    assert.equal(await open('/dev/pts/0'), -EIO, 'locked');
    await intArg(m, TIOCSPTLCK, 0);
    const s = await open('/dev/pts/0', O_RDWR | O_NOCTTY);
    assert.ok(s >= 0);
    assert.deepEqual(await intArg(s, TIOCGPTN), [-ENOTTY, 0]);
    const m2 = await open('/dev/ptmx');
    assert.deepEqual(await intArg(m2, TIOCGPTN), [0, 1]);
  });

  it('data flows both ways through the line discipline; FIONREAD; TCFLSH', async () => {
    const [m, s] = await pair(O_RDWR | O_NOCTTY);
    assert.equal(await write(m, 'ab\x7fc\n'), 5);
    assert.deepEqual(await intArg(s, FIONREAD), [0, 3]);
    assert.equal(await read(s), 'ac\n');
    assert.equal(await read(m), 'ab\b \bc\r\n');
    assert.equal(await write(s, 'out\n'), 4);
    assert.deepEqual(await intArg(m, FIONREAD), [0, 5]);
    assert.equal(await read(m), 'out\r\n');
    await write(m, 'zz\n');
    assert.equal(await ioctl(s, TCFLSH, 0), 0);
    assert.equal(await ioctl(s, TCFLSH, 7), -EINVAL);
    const f = t.files.get(s)!;
    f.flags |= O_NONBLOCK;
    assert.equal(await read(s), -EAGAIN);
  });

  it('a blocked slave read wakes when the master completes a line', async () => {
    const [m, s] = await pair(O_RDWR | O_NOCTTY);
    const p = call(Read, t, s, buf, 100);
    assert.ok(p instanceof Promise);
    await write(m, 'par');
    await new Promise((r) => setImmediate(r));
    assert.equal(t.files.get(s)!.readiness(POLLIN), 0);
    await write(m, 'tial\n');
    assert.equal(await p, 8);
    assert.equal(t.mem.read(buf, 8), 'partial\n');
  });

  it('termios is shared: TCSETS on the slave shows on the master', async () => {
    const [m, s] = await pair(O_RDWR | O_NOCTTY);
    const a = t.mem.alloc(36);
    assert.equal(await ioctl(m, TCGETS, a), 0);
    const tio = new Termios();
    tio.decode(t.mem.copyIn(a, 36));
    tio.lflag &= ~(ICANON | ECHO);
    t.mem.copyOut(a, tio.encode());
    assert.equal(await ioctl(s, TCSETS, a), 0);
    await write(m, 'x');
    assert.equal(await read(s), 'x');
    const f = t.files.get(m)!;
    f.flags |= O_NONBLOCK;
    assert.equal(await read(m), -EAGAIN, 'no echo');
  });

  it('VMIN=0: VTIME=0 returns 0 at once, VTIME=1 after a tenth of a second', async () => {
    const [m, s] = await pair(O_RDWR | O_NOCTTY);
    const a = t.mem.alloc(36);
    await ioctl(s, TCGETS, a);
    const tio = new Termios();
    tio.decode(t.mem.copyIn(a, 36));
    tio.lflag &= ~ICANON;
    tio.cc[VMIN] = 0;
    tio.cc[VTIME] = 0;
    t.mem.copyOut(a, tio.encode());
    await ioctl(s, TCSETS, a);
    assert.equal(await read(s), '');
    tio.cc[VTIME] = 1;
    t.mem.copyOut(a, tio.encode());
    await ioctl(s, TCSETS, a);
    const t0 = Date.now();
    assert.equal(await read(s), '');
    assert.ok(Date.now() - t0 >= 80, 'waited about VTIME');
    const p = call(Read, t, s, buf, 10);
    await write(m, 'q');
    assert.equal(await p, 1);
  });

  it('controlling terminal: acquired on open by a session leader; job-control errnos', async () => {
    const [m, s] = await pair();
    assert.deepEqual(await intArg(s, TIOCGPGRP), [0, 1]);
    assert.deepEqual(await intArg(s, TIOCGSID), [0, 1]);
    assert.deepEqual(await intArg(m, TIOCGPGRP), [0, 1], 'the master reads the slave state');
    assert.deepEqual(await intArg(s, TIOCSPGRP, -1), [-EINVAL, -1]);
    assert.deepEqual(await intArg(s, TIOCSPGRP, 42), [-ESRCH, 42]);
    k.groups.set(7, 99);
    assert.deepEqual(await intArg(s, TIOCSPGRP, 7), [-EPERM, 7]);
    k.groups.set(8, 1);
    assert.deepEqual(await intArg(s, TIOCSPGRP, 8), [0, 8]);
    assert.deepEqual(await intArg(s, TIOCGPGRP), [0, 8]);
    assert.equal(await ioctl(s, TIOCSCTTY, 0), 0, 'already ours');
    // Another pty cannot become a second controlling terminal.
    const [, s2] = await pair(O_RDWR | O_NOCTTY);
    assert.equal(await ioctl(s2, TIOCSCTTY, 0), -EPERM);
    assert.deepEqual(await intArg(s2, TIOCGPGRP), [-ENOTTY, 0]);
    // /dev/tty opens the slave.
    const tty = await open('/dev/tty');
    assert.ok(tty >= 0);
    await write(m, 'via tty\n');
    assert.equal(await read(tty), 'via tty\n');
    // A session leader gives it up: SIGHUP and SIGCONT to the foreground group.
    assert.equal(await ioctl(s, TIOCNOTTY, 0), 0);
    assert.deepEqual(k.sent.slice(-2), [
      ['pgrp', 8, 1],
      ['pgrp', 8, 18],
    ]);
    assert.deepEqual(await intArg(s, TIOCGPGRP), [-ENOTTY, 0]);
    assert.equal(await ioctl(s2, TIOCSCTTY, 0), 0);
  });

  it('a non-leader does not acquire the terminal on open', async () => {
    t.sid = 5;
    const [, s] = await pair();
    assert.deepEqual(await intArg(s, TIOCGPGRP), [-ENOTTY, 0]);
    assert.equal(await ioctl(s, TIOCSCTTY, 0), -EPERM);
  });

  it('^C signals the foreground group; TIOCSWINSZ sends SIGWINCH when the size changes', async () => {
    const [m, s] = await pair();
    await write(m, '\x03');
    assert.deepEqual(k.sent, [['pgrp', 1, 2]]);
    assert.equal(await read(m), '^C');
    const ws = t.mem.alloc(8);
    t.mem.copyOut(ws, Uint8Array.of(24, 0, 80, 0, 0, 0, 0, 0));
    assert.equal(await ioctl(m, TIOCSWINSZ, ws), 0);
    assert.equal(await ioctl(m, TIOCSWINSZ, ws), 0);
    assert.deepEqual(k.sent, [
      ['pgrp', 1, 2],
      ['pgrp', 1, 28],
    ]);
    const got = t.mem.alloc(8);
    assert.equal(await ioctl(s, TIOCGWINSZ, got), 0);
    assert.deepEqual([...t.mem.copyIn(got, 4)], [24, 0, 80, 0]);
  });

  it('TIOCGPTPEER opens the slave into the fd table', async () => {
    const m = await open('/dev/ptmx', O_RDWR | O_NOCTTY);
    assert.equal(await ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), -EIO, 'locked');
    await intArg(m, TIOCSPTLCK, 0);
    const s = await ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    assert.ok(s >= 0);
    const f = t.files.get(s)!;
    assert.equal(f.stat().rdev, makedev(136, 0));
    await write(s, 'p');
    assert.equal(await read(m), 'p');
  });

  it('hang-up: master close -> slave reads EOF, writes EIO, node gone, SIGHUP to the leader', async () => {
    const [m, s] = await pair();
    await write(m, 'pending\n');
    const sf = t.files.get(s)!;
    assert.equal(await call(Close, t, m), 0);
    assert.equal(await read(s), '', 'end of file');
    assert.equal(await write(s, 'x'), -EIO);
    assert.equal(sf.readiness(POLLIN | POLLOUT) & POLLHUP, POLLHUP);
    assert.equal(await open('/dev/pts/0'), -ENOENT);
    assert.deepEqual(k.sent, [
      ['pid', 1, 1],
      ['pid', 1, 18],
    ]);
    assert.deepEqual(await intArg(s, TIOCGPGRP), [-EIO, 0]);
    // The index stays taken while the slave is open, then is reused.
    const m2 = await open('/dev/ptmx');
    assert.deepEqual(await intArg(m2, TIOCGPTN), [0, 1]);
    await call(Close, t, s);
    const m3 = await open('/dev/ptmx');
    assert.deepEqual(await intArg(m3, TIOCGPTN), [0, 0]);
  });

  it('slave closed: the master drains, then reads EIO and polls POLLHUP', async () => {
    const [m, s] = await pair(O_RDWR | O_NOCTTY);
    await write(s, 'bye');
    await call(Close, t, s);
    const mf = t.files.get(m)!;
    assert.equal(mf.readiness(POLLIN) & (POLLIN | POLLHUP), POLLIN | POLLHUP);
    assert.equal(await read(m), 'bye');
    assert.equal(await read(m), -EIO);
  });

  it('mount options parse and show as Linux does', () => {
    assert.deepEqual(parseDevptsData('newinstance,gid=5,mode=620,ptmxmode=666'), {
      gid: 5,
      mode: 0o620,
      ptmxmode: 0o666,
    });
    assert.throws(
      () => parseDevptsData('bogus=1'),
      (e: SysError) => e.errno === EINVAL,
    );
    assert.equal(new DevptsFs({ gid: 5, mode: 0o620 }).options(), 'rw,gid=5,mode=620,ptmxmode=000');
    assert.equal(new DevptsFs().options(), 'rw,mode=600,ptmxmode=000');
  });
});
