/**
 * Anonymous-inode files and their syscalls (core/fs/anon, core/syscalls/linux/epoll.ts)
 * against a fake task: epoll level/edge/oneshot, nesting and ELOOP, item lifetime,
 * blocking and interrupted waits; eventfd; timerfd on a fake clock; signalfd over fake
 * pending sets.
 */
import * as assert from 'node:assert/strict';
import {
  EAGAIN,
  EBADF,
  EEXIST,
  EFAULT,
  EINTR,
  EINVAL,
  ELOOP,
  ENOENT,
  EPERM,
  ERESTARTSYS,
  ESPIPE,
  SysError,
} from '../../core/abi/errno';
import { ANON_INO } from '../../core/fs/anon/anon';
import {
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EpollFile,
} from '../../core/fs/anon/epoll';
import { EFD_NONBLOCK, EFD_SEMAPHORE, EventFd } from '../../core/fs/anon/eventfd';
import { encodeSignalfdSiginfo, SignalFile, type SignalSource } from '../../core/fs/anon/signalfd';
import { TimerFile } from '../../core/fs/anon/timerfd';
import { fdLinkText } from '../../core/fs/proc/fdlinks';
import { PendingSignals } from '../../core/kernel/threadgroup';
import { Close, Dup } from '../../core/syscalls/linux/fd';
import { Open, Read, Write } from '../../core/syscalls/linux/file';
import {
  EpollCreate,
  EpollCreate1,
  EpollCtl,
  EpollPwait2,
  EpollWait,
  Eventfd2,
  Signalfd4,
  TimerfdCreate,
  TimerfdGettime,
  TimerfdSettime,
} from '../../core/syscalls/linux/epoll';
import { Pipe2 } from '../../core/syscalls/linux/pipe';
import { Poll } from '../../core/syscalls/linux/poll';
import { POLLIN, WaitQueue } from '../../core/util/waiter';
import { O_CLOEXEC, O_CREAT, O_NONBLOCK, O_RDWR } from '../../core/vfs/abi';
import { fakeArgs, FakeTask, newWorld } from '../helpers/fake-task';

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

/** Synchronous variant: the handler must not return a Promise. */
function callSync(
  h: (t: any, a: any) => number | Promise<number>,
  t: FakeTask,
  ...args: (number | bigint)[]
): number {
  try {
    const r = h(t, fakeArgs(...args));
    assert.equal(typeof r, 'number', 'handler answered synchronously');
    return r as number;
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
}

describe('epoll (fake task)', () => {
  let t: FakeTask;
  let evAddr: number;
  let outAddr: number;

  beforeEach(() => {
    t = newWorld().t;
    evAddr = t.mem.alloc(12);
    outAddr = t.mem.alloc(12 * 16);
  });

  function ctl(ep: number, op: number, fd: number, events: number, data: bigint | number = 0): number {
    t.mem.writeU32(evAddr, events >>> 0);
    t.mem.writeU64(evAddr + 4, BigInt(data));
    return callSync(EpollCtl, t, ep, op, fd, evAddr);
  }

  /** epoll_wait(ep, out, 16, 0): [events, data] pairs. */
  function wait(ep: number, max = 16): [number, number][] {
    const n = callSync(EpollWait, t, ep, outAddr, max, 0);
    assert.ok(n >= 0, `epoll_wait: ${n}`);
    const got: [number, number][] = [];
    for (let i = 0; i < n; i++)
      got.push([t.mem.readU32(outAddr + i * 12), Number(t.mem.readBigU64(outAddr + i * 12 + 4))]);
    return got;
  }

  function pipe(flags = O_NONBLOCK): [number, number] {
    const a = t.mem.alloc(8);
    assert.equal(callSync(Pipe2, t, a, flags), 0);
    return [t.mem.readI32(a), t.mem.readI32(a + 4)];
  }

  function put(fd: number, s: string): void {
    assert.equal(callSync(Write, t, fd, t.mem.bytes(s), s.length), s.length);
  }

  function drain(fd: number): void {
    const b = t.mem.alloc(256);
    while (callSync(Read, t, fd, b, 256) > 0);
  }

  it('level-triggered, edge-triggered and oneshot items on a pipe', () => {
    const ep = callSync(EpollCreate1, t, 0);
    const [r, w] = pipe();
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN, 7), 0);
    assert.deepEqual(wait(ep), []);
    put(w, 'ab');
    assert.deepEqual(wait(ep), [[EPOLLIN, 7]]);
    assert.deepEqual(wait(ep), [[EPOLLIN, 7]], 'level-triggered reports again');
    drain(r);
    assert.deepEqual(wait(ep), []);

    assert.equal(ctl(ep, EPOLL_CTL_MOD, r, EPOLLIN | EPOLLET, 8), 0);
    put(w, 'a');
    assert.deepEqual(wait(ep), [[EPOLLIN, 8]]);
    assert.deepEqual(wait(ep), [], 'edge-triggered: once per event');
    put(w, 'b');
    assert.deepEqual(wait(ep), [[EPOLLIN, 8]], 'a new write is a new edge');
    assert.equal(ctl(ep, EPOLL_CTL_MOD, r, EPOLLIN | EPOLLET, 9), 0);
    assert.deepEqual(wait(ep), [[EPOLLIN, 9]], 'MOD re-checks readiness');
    drain(r);

    assert.equal(ctl(ep, EPOLL_CTL_MOD, r, EPOLLIN | EPOLLONESHOT, 10), 0);
    put(w, 'c');
    assert.deepEqual(wait(ep), [[EPOLLIN, 10]]);
    put(w, 'd');
    assert.deepEqual(wait(ep), [], 'oneshot disarmed');
    assert.equal(ctl(ep, EPOLL_CTL_MOD, r, EPOLLIN | EPOLLONESHOT, 11), 0);
    assert.deepEqual(wait(ep), [[EPOLLIN, 11]]);

    callSync(Close, t, w);
    assert.deepEqual(wait(ep), [], 'oneshot spent: not even HUP');
    assert.equal(ctl(ep, EPOLL_CTL_MOD, r, EPOLLIN, 12), 0);
    assert.deepEqual(wait(ep), [[EPOLLIN | EPOLLHUP, 12]]);
  });

  it('maxevents limits a wait; the rest stay queued in order', () => {
    const ep = callSync(EpollCreate1, t, 0);
    const fds = [pipe(), pipe(), pipe()];
    fds.forEach(([r, w], i) => {
      assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN | EPOLLET, i), 0);
      put(w, 'x');
    });
    assert.deepEqual(wait(ep, 2), [
      [EPOLLIN, 0],
      [EPOLLIN, 1],
    ]);
    assert.deepEqual(wait(ep, 2), [[EPOLLIN, 2]]);
    assert.deepEqual(wait(ep, 2), []);
  });

  it('epoll_ctl errors in Linux order', async () => {
    const ep = callSync(EpollCreate1, t, 0);
    const [r, w] = pipe();
    assert.equal(callSync(EpollCreate, t, 0), -EINVAL);
    assert.equal(callSync(EpollCreate1, t, 1), -EINVAL);
    assert.equal(callSync(EpollCtl, t, ep, EPOLL_CTL_ADD, r, 8), -EFAULT, 'event read first');
    assert.equal(ctl(99, EPOLL_CTL_ADD, r, EPOLLIN), -EBADF);
    assert.equal(ctl(ep, EPOLL_CTL_ADD, 99, EPOLLIN), -EBADF);
    assert.equal(ctl(w, EPOLL_CTL_ADD, r, EPOLLIN), -EINVAL, 'not an epoll fd');
    assert.equal(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN), -EINVAL, 'itself');
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN), 0);
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN), -EEXIST);
    assert.equal(ctl(ep, EPOLL_CTL_MOD, w, EPOLLOUT), -ENOENT);
    assert.equal(callSync(EpollCtl, t, ep, EPOLL_CTL_DEL, w, 0), -ENOENT);
    assert.equal(ctl(ep, 99, r, EPOLLIN), -EINVAL);
    assert.equal(ctl(ep, EPOLL_CTL_ADD, w, EPOLLOUT | EPOLLEXCLUSIVE), 0);
    assert.equal(ctl(ep, EPOLL_CTL_MOD, w, EPOLLOUT | EPOLLEXCLUSIVE), -EINVAL);
    assert.equal(ctl(ep, EPOLL_CTL_MOD, w, EPOLLOUT), -EINVAL, 'an exclusive item cannot be modified');
    assert.equal(callSync(EpollCtl, t, ep, EPOLL_CTL_DEL, w, 0), 0);
    assert.equal(
      ctl(ep, EPOLL_CTL_ADD, w, EPOLLOUT | EPOLLEXCLUSIVE | 0x40),
      -EINVAL,
      'RDNORM with EXCLUSIVE',
    );
    // A regular file has no poll: EPERM (checked before the epoll fd's type).
    const f = await call(Open, t, t.mem.str('/reg'), O_CREAT | O_RDWR, 0o644);
    assert.equal(ctl(ep, EPOLL_CTL_ADD, f, EPOLLIN), -EPERM);
    assert.equal(ctl(w, EPOLL_CTL_ADD, f, EPOLLIN), -EPERM);
    // epoll_wait
    assert.equal(callSync(EpollWait, t, ep, outAddr, 0, 0), -EINVAL);
    assert.equal(callSync(EpollWait, t, r, outAddr, 1, 0), -EINVAL);
    assert.equal(callSync(EpollWait, t, 99, outAddr, 1, 0), -EBADF);
    assert.equal(callSync(EpollWait, t, ep, 0x7ffffffff000, 1, 0), -EFAULT);
    const ts = t.mem.alloc(16);
    t.mem.writeU64(ts, 0);
    t.mem.writeU64(ts + 8, 1e9);
    assert.equal(callSync(EpollPwait2, t, ep, outAddr, 1, ts, 0, 8), -EINVAL);
  });

  it('items are keyed by (file, fd) and vanish when the file is released', () => {
    const ep = callSync(EpollCreate1, t, 0);
    const [r, w] = pipe();
    put(w, 'x');
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN, 1), 0);
    const d = callSync(Dup, t, r);
    callSync(Close, t, r);
    assert.deepEqual(wait(ep), [[EPOLLIN, 1]], 'the dup keeps the file alive');
    assert.equal(callSync(EpollCtl, t, ep, EPOLL_CTL_DEL, d, 0), -ENOENT, 'key is (file, old fd)');
    assert.equal(ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, 2), 0);
    callSync(Close, t, d);
    assert.deepEqual(wait(ep), [], 'released file: item gone');
    const efile = t.files.get(ep) as EpollFile;
    assert.equal(efile.size, 0);
    // The released epoll unhooks its items from the files' queues.
    const [r2, w2] = pipe();
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r2, EPOLLIN, 3), 0);
    const q = t.files.get(r2)!.waitQueue();
    assert.equal(q.empty, false);
    callSync(Close, t, ep);
    assert.equal(q.empty, true);
    callSync(Close, t, w2);
  });

  it('nested epoll: readiness, edge wake-ups, ELOOP for cycles and deep nesting', () => {
    const inner = callSync(EpollCreate1, t, 0);
    const outer = callSync(EpollCreate1, t, 0);
    const [r, w] = pipe();
    assert.equal(ctl(inner, EPOLL_CTL_ADD, r, EPOLLIN, 1), 0);
    assert.equal(ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 2), 0);
    assert.deepEqual(wait(outer), []);
    put(w, 'x');
    assert.deepEqual(wait(outer), [[EPOLLIN, 2]]);
    const pfd = t.mem.alloc(8);
    t.mem.writeI32(pfd, inner);
    t.mem.writeU32(pfd + 4, POLLIN);
    assert.equal(callSync(Poll, t, pfd, 1, 0), 1);
    drain(r);
    assert.deepEqual(wait(outer), []);
    assert.equal(ctl(outer, EPOLL_CTL_MOD, inner, EPOLLIN | EPOLLET, 3), 0);
    put(w, 'y');
    assert.deepEqual(wait(outer), [[EPOLLIN, 3]]);
    assert.deepEqual(wait(outer), []);
    put(w, 'z');
    assert.deepEqual(wait(outer), [[EPOLLIN, 3]], 'each inner event is a new edge');

    assert.equal(ctl(inner, EPOLL_CTL_ADD, outer, EPOLLIN), -ELOOP);
    // A chain of 5 instances (4 links) is the deepest Linux allows.
    const chain = [outer];
    for (let i = 0; i < 3; i++) {
      const e = callSync(EpollCreate1, t, 0);
      assert.equal(ctl(e, EPOLL_CTL_ADD, chain[chain.length - 1], EPOLLIN), 0, `level ${i}`);
      chain.push(e);
    }
    const top = callSync(EpollCreate1, t, 0);
    assert.equal(ctl(top, EPOLL_CTL_ADD, chain[chain.length - 1], EPOLLIN), -ELOOP);
    const deep = callSync(EpollCreate1, t, 0);
    assert.equal(ctl(inner, EPOLL_CTL_ADD, deep, EPOLLIN), -ELOOP, 'too deep above');
  });

  it('blocking epoll_wait: woken by a write, timeout, signal, pwait2 timeout', async () => {
    const ep = callSync(EpollCreate1, t, 0);
    const [r, w] = pipe();
    assert.equal(ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN, 5), 0);
    const p = EpollWait(t, fakeArgs(ep, outAddr, 4, -1));
    assert.ok(p instanceof Promise);
    put(w, 'x');
    assert.equal(await p, 1);
    assert.equal(t.mem.readU32(outAddr), EPOLLIN);
    drain(r);

    const t0 = Date.now();
    assert.equal(await call(EpollWait, t, ep, outAddr, 4, 20), 0);
    assert.ok(Date.now() - t0 >= 15);
    const ts = t.mem.alloc(16);
    t.mem.writeU64(ts, 0);
    t.mem.writeU64(ts + 8, 5e6);
    assert.equal(await call(EpollPwait2, t, ep, outAddr, 4, ts, 0, 8), 0);

    const q = EpollWait(t, fakeArgs(ep, outAddr, 4, -1));
    t.interrupt();
    assert.equal(await q, -EINTR);
  });

  it('anon inode identity: stat and /proc fd link text', () => {
    const ep = callSync(EpollCreate1, t, O_CLOEXEC);
    const f = t.files.get(ep)!;
    assert.equal(t.files.getCloexec(ep), true);
    assert.equal(f.flags, O_RDWR);
    assert.equal(f.stat().mode, 0o600);
    assert.equal(f.stat().ino, ANON_INO);
    assert.equal(fdLinkText(f, null), 'anon_inode:[eventpoll]');
  });
});

describe('eventfd (fake task)', () => {
  let t: FakeTask;
  let buf: number;
  beforeEach(() => {
    t = newWorld().t;
    buf = t.mem.alloc(16);
  });
  const readVal = (fd: number) => {
    const n = callSync(Read, t, fd, buf, 8);
    return n < 0 ? n : t.mem.readBigU64(buf);
  };
  const writeVal = (fd: number, v: bigint) => {
    t.mem.writeU64(buf, v);
    return callSync(Write, t, fd, buf, 8);
  };

  it('counter and semaphore modes, short buffers, overflow, ESPIPE', () => {
    const s = callSync(Eventfd2, t, 3, EFD_SEMAPHORE | EFD_NONBLOCK);
    assert.equal(t.files.get(s)!.flags, O_RDWR | O_NONBLOCK);
    assert.deepEqual([readVal(s), readVal(s), readVal(s), readVal(s)], [1n, 1n, 1n, -EAGAIN]);
    const e = callSync(Eventfd2, t, 0, EFD_NONBLOCK);
    assert.equal(callSync(Read, t, e, buf, 4), -EINVAL);
    assert.equal(callSync(Write, t, e, buf, 4), -EINVAL);
    assert.equal(writeVal(e, 2n ** 64n - 1n), -EINVAL);
    assert.equal(writeVal(e, 5n), 8);
    assert.equal(writeVal(e, 6n), 8);
    assert.equal(readVal(e), 11n);
    assert.equal(readVal(e), -EAGAIN);
    assert.equal(writeVal(e, 2n ** 64n - 2n), 8);
    assert.equal(writeVal(e, 1n), -EAGAIN, 'would overflow');
    const f = t.files.get(e) as EventFd;
    assert.equal(f.readiness(0xffff), POLLIN | 0x40, 'readable, not writable');
    assert.equal(f.read(t, [new Uint8Array(8)], 0), -ESPIPE);
    assert.equal(callSync(Eventfd2, t, 0, 0x100), -EINVAL);
    assert.equal(fdLinkText(f, null), 'anon_inode:[eventfd]');
  });

  it('a blocking read is woken by a write; a blocking write by a read', async () => {
    const e = callSync(Eventfd2, t, 0, 0);
    const p = Read(t, fakeArgs(e, buf, 8));
    assert.ok(p instanceof Promise);
    const src = t.mem.alloc(8);
    t.mem.writeU64(src, 42);
    assert.equal(callSync(Write, t, e, src, 8), 8);
    assert.equal(await p, 8);
    assert.equal(t.mem.readBigU64(buf), 42n);

    t.mem.writeU64(src, 2n ** 64n - 2n);
    assert.equal(callSync(Write, t, e, src, 8), 8);
    t.mem.writeU64(src, 1);
    const q = Write(t, fakeArgs(e, src, 8));
    assert.ok(q instanceof Promise);
    assert.equal(callSync(Read, t, e, buf, 8), 8);
    assert.equal(await q, 8);
    assert.equal((t.files.get(e) as EventFd).count, 1n);
  });
});

describe('timerfd (fake clock)', () => {
  let clock = 0n;
  const now = () => clock;
  const files: TimerFile[] = [];
  const mk = () => {
    const f = new TimerFile(O_RDWR | O_NONBLOCK, 1, now);
    files.push(f);
    return f;
  };
  const t = newWorld().t;
  const read = (f: TimerFile): bigint | number => {
    const b = new Uint8Array(8);
    const n = f.read(t, [b], -1);
    return n < 0 ? n : new DataView(b.buffer).getBigUint64(0, true);
  };
  beforeEach(() => {
    clock = 1_000_000_000n;
  });
  after(() => {
    for (const f of files) f.decRef();
  });

  it('one-shot: not before its time, once after, then disarmed', () => {
    const f = mk();
    f.set(10_000_000n, 0n, false);
    clock += 9_999_999n;
    assert.equal(read(f), -EAGAIN);
    assert.equal(f.readiness(POLLIN), 0);
    clock += 1n;
    assert.equal(f.readiness(POLLIN), POLLIN);
    assert.equal(read(f), 1n);
    assert.equal(read(f), -EAGAIN);
    assert.deepEqual(f.get(), { value: 0n, interval: 0n });
    assert.equal(f.read(t, [new Uint8Array(4)], -1), -EINVAL);
    assert.equal(fdLinkText(f, null), 'anon_inode:[timerfd]');
  });

  it('periodic: missed intervals are counted at read (hrtimer_forward)', () => {
    const f = mk();
    const old = f.set(10_000_000n, 10_000_000n, false);
    assert.deepEqual(old, { value: 0n, interval: 0n });
    clock += 55_000_000n;
    assert.equal(read(f), 5n);
    assert.deepEqual(f.get(), { value: 5_000_000n, interval: 10_000_000n });
    clock += 5_000_000n;
    assert.equal(read(f), 1n);
    clock += 25_000_000n;
    // gettime forwards too: the count carries over to the next read.
    assert.deepEqual(f.get(), { value: 5_000_000n, interval: 10_000_000n });
    assert.equal(read(f), 2n);
    const prev = f.set(0n, 0n, false);
    assert.deepEqual(prev, { value: 5_000_000n, interval: 10_000_000n });
    clock += 100_000_000n;
    assert.equal(read(f), -EAGAIN);
  });

  it('absolute times, including one in the past', () => {
    const f = mk();
    f.set(clock + 1000n, 0n, true);
    assert.equal(read(f), -EAGAIN);
    clock += 1000n;
    assert.equal(read(f), 1n);
    f.set(clock - 50n, 100n, true);
    clock += 120n;
    assert.equal(read(f), 2n);
  });

  it('timerfd syscalls: flags, clocks, itimerspec layout, EINVAL for other files', () => {
    const w = newWorld().t;
    assert.equal(callSync(TimerfdCreate, w, 2, 0), -EINVAL, 'CPU clock');
    assert.equal(callSync(TimerfdCreate, w, 1, 0x10), -EINVAL);
    const fd = callSync(TimerfdCreate, w, 1, O_NONBLOCK | O_CLOEXEC);
    assert.equal(w.files.getCloexec(fd), true);
    const its = w.mem.alloc(32);
    w.mem.writeU64(its, 0);
    w.mem.writeU64(its + 8, 0);
    w.mem.writeU64(its + 16, 60); // 60 s
    w.mem.writeU64(its + 24, 0);
    assert.equal(callSync(TimerfdSettime, w, fd, 4, its, 0), -EINVAL, 'flags');
    assert.equal(callSync(TimerfdSettime, w, fd, 0, its, 0), 0);
    const cur = w.mem.alloc(32);
    assert.equal(callSync(TimerfdGettime, w, fd, cur), 0);
    const sec = w.mem.readU64(cur + 16);
    assert.ok(sec === 59 || sec === 60, `value sec ${sec}`);
    w.mem.writeU64(its + 24, 1e9);
    assert.equal(callSync(TimerfdSettime, w, fd, 0, its, 0), -EINVAL, 'tv_nsec');
    const e = callSync(Eventfd2, w, 0, 0);
    assert.equal(callSync(TimerfdGettime, w, e, cur), -EINVAL);
    assert.equal(callSync(TimerfdGettime, w, 99, cur), -EBADF);
    callSync(Close, w, fd); // clears the Node timer
  });
});

describe('signalfd (fake signal state)', () => {
  function source(): SignalSource & {
    pending: PendingSignals;
    tg: { sharedPending: PendingSignals; signalQueue: WaitQueue };
  } {
    return {
      pending: new PendingSignals(),
      tg: { sharedPending: new PendingSignals(), signalQueue: new WaitQueue() },
    };
  }
  const bit = (s: number) => 1n << BigInt(s - 1);

  it('reads pending signals in the mask, leaves others, several per read', () => {
    const src = source();
    const t = newWorld().t;
    Object.assign(t, src);
    const f = new SignalFile(O_RDWR | O_NONBLOCK, bit(10) | bit(12) | bit(9), src);
    assert.equal(f.mask, bit(10) | bit(12), 'SIGKILL is never readable');
    const b = new Uint8Array(256);
    assert.equal(f.read(t, [b], -1), -EAGAIN);
    assert.equal(f.read(t, [new Uint8Array(100)], -1), -EINVAL);
    src.tg.sharedPending.add({ signo: 10, code: 0, pid: 7, uid: 1000 });
    src.pending.add({ signo: 12, code: -6, pid: 7, uid: 1000 });
    src.pending.add({ signo: 14, code: 0 });
    assert.equal(f.readiness(POLLIN), POLLIN);
    assert.equal(f.read(t, [b], -1), 256);
    const d = new DataView(b.buffer);
    assert.deepEqual([d.getUint32(0, true), d.getInt32(8, true)], [12, -6], 'own queue first');
    assert.deepEqual(
      [d.getUint32(128, true), d.getUint32(128 + 12, true), d.getUint32(128 + 16, true)],
      [10, 7, 1000],
    );
    assert.equal(f.readiness(POLLIN), 0);
    assert.equal(src.pending.mask, bit(14), 'SIGALRM stays pending');
    assert.equal(fdLinkText(f, null), 'anon_inode:[signalfd]');
  });

  it('a blocking read wakes when the kernel queues a signal', async () => {
    const src = source();
    const t = newWorld().t;
    Object.assign(t, src);
    const mask = t.mem.alloc(8);
    t.mem.writeU64(mask, bit(10));
    const fd = callSync(Signalfd4, t, -1, mask, 8, 0);
    assert.ok(fd >= 0);
    assert.equal(callSync(Signalfd4, t, -1, mask, 4, 0), -EINVAL);
    assert.equal(callSync(Signalfd4, t, -1, mask, 8, 1), -EINVAL);
    assert.equal(callSync(Signalfd4, t, 99, mask, 8, 0), -EBADF);
    const buf = t.mem.alloc(128);
    const p = Read(t, fakeArgs(fd, buf, 128));
    assert.ok(p instanceof Promise);
    src.tg.sharedPending.add({ signo: 10, code: 0, pid: 3, uid: 0 });
    src.tg.signalQueue.notify(POLLIN); // what Kernel.signalGroup does
    assert.equal(await p, 128);
    assert.equal(t.mem.readU32(buf), 10);
    assert.equal(t.mem.readU32(buf + 12), 3);
    const q = Read(t, fakeArgs(fd, buf, 128));
    t.interrupt();
    assert.equal(await q, -ERESTARTSYS);
  });

  it('signalfd_siginfo layout by si_code class', () => {
    const d = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 128);
    const q = d(encodeSignalfdSiginfo({ signo: 34, code: -1, pid: 5, uid: 6, value: 0x1_0000_0007n }));
    assert.deepEqual([q.getUint32(12, true), q.getUint32(16, true), q.getInt32(44, true)], [5, 6, 7]);
    assert.equal(q.getBigUint64(48, true), 0x1_0000_0007n);
    const c = d(encodeSignalfdSiginfo({ signo: 17, code: 1, pid: 9, uid: 0, status: 3 }));
    assert.deepEqual([c.getUint32(12, true), c.getInt32(40, true)], [9, 3]);
    const s = d(encodeSignalfdSiginfo({ signo: 11, code: 1, addr: 0xdead }));
    assert.equal(s.getBigUint64(72, true), 0xdeadn);
    const tm = d(encodeSignalfdSiginfo({ signo: 14, code: -2, timerid: 4, overrun: 2 }));
    assert.deepEqual([tm.getUint32(24, true), tm.getUint32(32, true)], [4, 2]);
  });
});
