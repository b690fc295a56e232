/**
 * inotify over a fake task on a tmpfs root: events from VFS operations and file I/O, the
 * struct inotify_event layout, coalescing, overflow, oneshot, blocking reads.
 */
import * as assert from 'node:assert/strict';
import { EAGAIN, EEXIST, EINVAL, ENOTDIR, SysError } from '../../core/abi/errno';
import { InotifyFile } from '../../core/fs/anon/inotify';
import { Close } from '../../core/syscalls/linux/fd';
import { Open, Read, Write } from '../../core/syscalls/linux/file';
import { InotifyAddWatch, InotifyInit1, InotifyRmWatch } from '../../core/syscalls/linux/notify';
import { O_CREAT, O_NONBLOCK, O_RDONLY, O_RDWR } from '../../core/vfs/abi';
import {
  IN_ALL_EVENTS,
  IN_ATTRIB,
  IN_CLOSE_NOWRITE,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_DELETE_SELF,
  IN_IGNORED,
  IN_ISDIR,
  IN_MODIFY,
  IN_MOVE_SELF,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_OPEN,
  IN_Q_OVERFLOW,
} from '../../core/vfs/fsnotify';
import { chmodInode, lookupAt, mkdirAt, renameAt, rmdirAt, unlinkAt } from '../../core/vfs/ops';
import { fakeArgs, FakeTask, newWorld } from '../helpers/fake-task';

const AT_FDCWD = -100;
const IN_MASK_CREATE = 0x10000000,
  IN_ONLYDIR = 0x01000000,
  IN_ONESHOT = 0x80000000;

function call(h: (t: any, a: any) => number | Promise<number>, t: FakeTask, ...args: (number | bigint)[]) {
  try {
    return h(t, fakeArgs(...args));
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
}

interface Ev {
  wd: number;
  mask: number;
  cookie: number;
  name: string;
}

/** Read and decode every queued event. */
function drain(t: FakeTask, fd: number): Ev[] {
  const buf = t.mem.alloc(4096);
  const n = call(Read, t, fd, buf, 4096) as number;
  if (n === -EAGAIN) return [];
  assert.ok(n > 0, `read: ${n}`);
  const raw = Buffer.from(t.mem.read(buf, n), 'latin1');
  const out: Ev[] = [];
  for (let p = 0; p < n;) {
    const len = raw.readUInt32LE(p + 12);
    assert.equal(len % 16, 0, 'name padded to 16');
    const name = raw
      .subarray(p + 16, p + 16 + len)
      .toString('latin1')
      .replace(/\0+$/, '');
    out.push({
      wd: raw.readInt32LE(p),
      mask: raw.readUInt32LE(p + 4),
      cookie: raw.readUInt32LE(p + 8),
      name,
    });
    p += 16 + len;
  }
  return out;
}

const short = (evs: Ev[]): string[] => evs.map((e) => `${e.wd}:${e.mask.toString(16)}:${e.name}`);

describe('inotify', () => {
  function setup() {
    const { t } = newWorld();
    const fd = call(InotifyInit1, t, O_NONBLOCK) as number;
    assert.ok(fd >= 0);
    return { t, fd, file: t.files.get(fd) as InotifyFile };
  }
  const watch = (t: FakeTask, fd: number, path: string, mask: number): number =>
    call(InotifyAddWatch, t, fd, t.mem.str(path), mask) as number;
  const open = (t: FakeTask, path: string, flags: number): number =>
    call(Open, t, t.mem.str(path), flags, 0o644) as number;

  it('reports create, open, modify (coalesced), close_write with names on a watched directory', () => {
    const { t, fd } = setup();
    assert.equal(watch(t, fd, '/', IN_ALL_EVENTS), 1);
    assert.deepEqual(drain(t, fd), []);
    const f = open(t, '/a', O_CREAT | O_RDWR);
    const src = t.mem.bytes('hello');
    call(Write, t, f, src, 5);
    call(Write, t, f, src, 5);
    call(Close, t, f);
    assert.deepEqual(short(drain(t, fd)), [
      `1:${IN_CREATE.toString(16)}:a`,
      `1:${IN_OPEN.toString(16)}:a`,
      `1:${IN_MODIFY.toString(16)}:a`,
      `1:${IN_CLOSE_WRITE.toString(16)}:a`,
    ]);
  });

  it('gives the same wd for the same inode and validates masks', () => {
    const { t, fd } = setup();
    call(Close, t, open(t, '/a', O_CREAT | O_RDWR));
    const wd = watch(t, fd, '/a', IN_MODIFY);
    assert.equal(watch(t, fd, '/a', IN_OPEN), wd);
    assert.equal(watch(t, fd, '/a', IN_OPEN | IN_MASK_CREATE), -EEXIST);
    assert.equal(watch(t, fd, '/a', IN_OPEN | IN_ONLYDIR), -ENOTDIR);
    assert.equal(watch(t, fd, '/a', 0), -EINVAL);
    assert.equal(call(InotifyRmWatch, t, fd, 99), -EINVAL);
  });

  it('reports parent-then-self events, a rename cookie, move_self, delete_self and ignored', () => {
    const { t, fd } = setup();
    mkdirAt(t, AT_FDCWD, '/d', 0o755);
    call(Close, t, open(t, '/d/a', O_CREAT | O_RDWR));
    const wdd = watch(t, fd, '/d', IN_ALL_EVENTS);
    const wda = watch(t, fd, '/d/a', IN_ALL_EVENTS);
    call(Close, t, open(t, '/d/a', O_RDONLY));
    chmodInode(
      t,
      lookupAt(t, AT_FDCWD, '/d/a', true).inode,
      null,
      0o600,
      lookupAt(t, AT_FDCWD, '/d/a', true).dentry,
    );
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask, e.name]),
      [
        [wdd, IN_OPEN, 'a'],
        [wda, IN_OPEN, ''],
        [wdd, IN_CLOSE_NOWRITE, 'a'],
        [wda, IN_CLOSE_NOWRITE, ''],
        [wdd, IN_ATTRIB, 'a'],
        [wda, IN_ATTRIB, ''],
      ],
    );
    renameAt(t, AT_FDCWD, '/d/a', AT_FDCWD, '/d/b', 0);
    const ev = drain(t, fd);
    assert.deepEqual(
      ev.map((e) => [e.wd, e.mask, e.name]),
      [
        [wdd, IN_MOVED_FROM, 'a'],
        [wdd, IN_MOVED_TO, 'b'],
        [wda, IN_MOVE_SELF, ''],
      ],
    );
    assert.ok(ev[0].cookie !== 0 && ev[0].cookie === ev[1].cookie);
    unlinkAt(t, AT_FDCWD, '/d/b');
    mkdirAt(t, AT_FDCWD, '/d/s', 0o755);
    rmdirAt(t, AT_FDCWD, '/d/s');
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask, e.name]),
      [
        [wda, IN_ATTRIB, ''],
        [wda, IN_DELETE_SELF, ''],
        [wda, IN_IGNORED, ''],
        [wdd, IN_DELETE, 'b'],
        [wdd, IN_CREATE | IN_ISDIR, 's'],
        [wdd, IN_DELETE | IN_ISDIR, 's'],
      ],
    );
  });

  it('delays delete_self until the last open file is closed', () => {
    const { t, fd } = setup();
    const f = open(t, '/y', O_CREAT | O_RDWR);
    const wd = watch(t, fd, '/y', IN_DELETE_SELF);
    unlinkAt(t, AT_FDCWD, '/y');
    assert.deepEqual(drain(t, fd), []);
    call(Close, t, f);
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask]),
      [
        [wd, IN_DELETE_SELF],
        [wd, IN_IGNORED],
      ],
    );
  });

  it('oneshot watches fire once; rm_watch queues IN_IGNORED', () => {
    const { t, fd } = setup();
    call(Close, t, open(t, '/o', O_CREAT | O_RDWR));
    const wd = watch(t, fd, '/o', IN_OPEN | IN_ONESHOT);
    call(Close, t, open(t, '/o', O_RDONLY));
    call(Close, t, open(t, '/o', O_RDONLY));
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask]),
      [
        [wd, IN_OPEN],
        [wd, IN_IGNORED],
      ],
    );
    const wd2 = watch(t, fd, '/', IN_CREATE);
    assert.equal(call(InotifyRmWatch, t, fd, wd2), 0);
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask]),
      [[wd2, IN_IGNORED]],
    );
  });

  it('EINVAL when the first event does not fit; FIONREAD; overflow', () => {
    const { t, fd, file } = setup();
    watch(t, fd, '/', IN_CREATE);
    call(Close, t, open(t, '/abc', O_CREAT | O_RDWR));
    assert.equal(call(Read, t, fd, t.mem.alloc(16), 16), -EINVAL);
    assert.equal(file.bytes, 32);
    drain(t, fd);
    file.maxQueued = 2;
    for (const n of ['p', 'q', 'r', 's']) call(Close, t, open(t, `/${n}`, O_CREAT | O_RDWR));
    assert.deepEqual(
      drain(t, fd).map((e) => [e.wd, e.mask, e.name]),
      [
        [1, IN_CREATE, 'p'],
        [1, IN_CREATE, 'q'],
        [-1, IN_Q_OVERFLOW, ''],
      ],
    );
  });

  it('a blocking read waits for an event', async () => {
    const { t } = newWorld();
    const fd = call(InotifyInit1, t, 0) as number;
    watch(t, fd, '/', IN_CREATE);
    const buf = t.mem.alloc(256);
    const p = Read(t, fakeArgs(fd, buf, 256));
    assert.ok(p instanceof Promise);
    call(Close, t, open(t, '/late', O_CREAT | O_RDWR));
    assert.equal(await p, 32);
  });
});
