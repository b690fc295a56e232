import * as assert from 'node:assert/strict';
import {
  EAGAIN,
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOTDIR,
  EPIPE,
  ERESTARTSYS,
  ESPIPE,
  SysError,
} from '../../core/abi/errno';
import { Close, Dup2, Fcntl, F_GETFL, F_SETFL, F_SETLK, F_GETLK } from '../../core/syscalls/linux/fd';
import { F_GETPIPE_SZ, F_SETPIPE_SZ } from '../../core/fs/pipe';
import {
  Lseek,
  Open,
  Openat,
  Pread64,
  Read,
  Readv,
  Write,
  Writev,
  Ftruncate,
  Pwrite64,
} from '../../core/syscalls/linux/file';
import { Fstat, Newfstatat, StatSyscall, Statx } from '../../core/syscalls/linux/stat';
import { Getcwd, Getdents64, Mkdir, Chdir, Readlink, Symlink, Unlink } from '../../core/syscalls/linux/dir';
import { Pipe2 } from '../../core/syscalls/linux/pipe';
import { Poll } from '../../core/syscalls/linux/poll';
import {
  O_CREAT,
  O_EXCL,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  O_DIRECTORY,
  AT_FDCWD,
} from '../../core/vfs/abi';
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

describe('file syscalls (fake task over tmpfs)', () => {
  let t: FakeTask;
  beforeEach(() => {
    t = newWorld().t;
  });

  it('open/write/read/lseek/pread/pwrite', async () => {
    const p = t.mem.str('/f');
    const fd = await call(Open, t, p, O_CREAT | O_RDWR, 0o644);
    assert.equal(fd, 0);
    const buf = t.mem.bytes('hello world');
    assert.equal(await call(Write, t, fd, buf, 11), 11);
    assert.equal(await call(Lseek, t, fd, 0, 0), 0);
    const out = t.mem.alloc(64);
    assert.equal(await call(Read, t, fd, out, 64), 11);
    assert.equal(t.mem.read(out, 11), 'hello world');
    assert.equal(await call(Read, t, fd, out, 64), 0, 'EOF');
    assert.equal(await call(Pread64, t, fd, out, 5, 6), 5);
    assert.equal(t.mem.read(out, 5), 'world');
    assert.equal(await call(Pwrite64, t, fd, buf, 5, 100), 5);
    assert.equal(await call(Pread64, t, fd, out, 4, -1), -EINVAL);
    assert.equal(await call(Ftruncate, t, fd, 3), 0);
    assert.equal(await call(Pread64, t, fd, out, 64, 0), 3);
    assert.equal(await call(Read, t, fd, 0x5000000, 10), -EFAULT);
    assert.equal(await call(Open, t, p, O_CREAT | O_EXCL | O_RDWR, 0o644), -EEXIST);
    assert.equal(await call(Open, t, t.mem.str('/nope'), O_RDONLY, 0), -ENOENT);
    assert.equal(await call(Open, t, p, O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
    assert.equal(await call(Close, t, fd), 0);
    assert.equal(await call(Close, t, fd), -EBADF);
    assert.equal(await call(Read, t, fd, out, 1), -EBADF);
  });

  it('readv/writev gather and scatter', async () => {
    const fd = await call(Open, t, t.mem.str('/v'), O_CREAT | O_RDWR, 0o600);
    const iov = t.mem.alloc(32);
    t.mem.writeU64(iov, t.mem.bytes('abc'));
    t.mem.writeU64(iov + 8, 3);
    t.mem.writeU64(iov + 16, t.mem.bytes('defg'));
    t.mem.writeU64(iov + 24, 4);
    assert.equal(await call(Writev, t, fd, iov, 2), 7);
    const a = t.mem.alloc(2),
      b = t.mem.alloc(16);
    t.mem.writeU64(iov, a);
    t.mem.writeU64(iov + 8, 2);
    t.mem.writeU64(iov + 16, b);
    t.mem.writeU64(iov + 24, 16);
    await call(Lseek, t, fd, 0, 0);
    assert.equal(await call(Readv, t, fd, iov, 2), 7);
    assert.equal(t.mem.read(a, 2) + t.mem.read(b, 5), 'abcdefg');
    assert.equal(await call(Readv, t, fd, iov, 1025), -EINVAL);
  });

  it('fstat/stat/statx layouts', async () => {
    const fd = await call(Open, t, t.mem.str('/s'), O_CREAT | O_WRONLY, 0o640);
    await call(Write, t, fd, t.mem.bytes('12345'), 5);
    const st = t.mem.alloc(144);
    assert.equal(await call(Fstat, t, fd, st), 0);
    assert.equal(t.mem.readU32(st + 24), 0o100640, 'st_mode');
    assert.equal(t.mem.readU64(st + 48), 5, 'st_size');
    assert.equal(t.mem.readU64(st + 16), 1, 'st_nlink');
    assert.equal(t.mem.readU64(st + 56), 4096, 'st_blksize');
    const st2 = t.mem.alloc(144);
    assert.equal(await call(StatSyscall, t, t.mem.str('/s'), st2), 0);
    assert.equal(t.mem.read(st, 144), t.mem.read(st2, 144));
    assert.equal(await call(Newfstatat, t, fd, t.mem.str(''), st2, 0x1000), 0);
    assert.equal(t.mem.readU64(st2 + 8), t.mem.readU64(st + 8), 'AT_EMPTY_PATH ino');
    const sx = t.mem.alloc(256);
    assert.equal(await call(Statx, t, AT_FDCWD, t.mem.str('/s'), 0, 0x7ff, sx), 0);
    assert.equal(t.mem.readU32(sx) & 0x7ff, 0x7ff);
    assert.equal(t.mem.readU64(sx + 40), 5, 'stx_size');
    assert.equal(t.mem.readU32(sx + 28) & 0xffff, 0o100640, 'stx_mode');
    assert.equal(t.mem.readU64(sx + 32), t.mem.readU64(st + 8), 'stx_ino');
  });

  it('getdents64, getcwd, chdir, symlink/readlink', async () => {
    await call(Mkdir, t, t.mem.str('/d'), 0o755);
    for (const n of ['a', 'bb', 'ccc'])
      await call(Close, t, await call(Open, t, t.mem.str('/d/' + n), O_CREAT | O_WRONLY, 0o644));
    const fd = await call(Open, t, t.mem.str('/d'), O_RDONLY | O_DIRECTORY, 0);
    const buf = t.mem.alloc(4096);
    const n = await call(Getdents64, t, fd, buf, 4096);
    assert.ok(n > 0);
    const names: string[] = [];
    for (let off = 0; off < n;) {
      const reclen = t.mem.buf.readUInt16LE(buf - t.mem.base + off + 16);
      const nameStart = buf - t.mem.base + off + 19;
      names.push(t.mem.buf.toString('latin1', nameStart, t.mem.buf.indexOf(0, nameStart)));
      off += reclen;
    }
    assert.deepEqual(names.sort(), ['.', '..', 'a', 'bb', 'ccc']);
    assert.equal(await call(Getdents64, t, fd, buf, 4096), 0);
    assert.equal(await call(Getdents64, t, fd, buf, 0), 0);
    await call(Lseek, t, fd, 0, 0);
    assert.equal(await call(Getdents64, t, fd, buf, 10), -EINVAL, 'buffer too small for one entry');
    assert.equal(await call(Chdir, t, t.mem.str('/d')), 0);
    const cwd = t.mem.alloc(64);
    assert.equal(await call(Getcwd, t, cwd, 64), 3);
    assert.equal(t.mem.read(cwd, 2), '/d');
    assert.equal(await call(Symlink, t, t.mem.str('a'), t.mem.str('link')), 0);
    assert.equal(await call(Readlink, t, t.mem.str('link'), cwd, 64), 1);
    assert.equal(await call(Unlink, t, t.mem.str('link')), 0);
  });

  it('pipes: data, EAGAIN, blocking read woken by a write, EPIPE+SIGPIPE, F_*PIPE_SZ', async () => {
    const fds = t.mem.alloc(8);
    assert.equal(await call(Pipe2, t, fds, O_NONBLOCK), 0);
    const r = t.mem.readI32(fds),
      w = t.mem.readI32(fds + 4);
    const buf = t.mem.alloc(128);
    assert.equal(await call(Read, t, r, buf, 128), -EAGAIN);
    assert.equal(await call(Write, t, w, t.mem.bytes('ping'), 4), 4);
    assert.equal(await call(Read, t, r, buf, 128), 4);
    assert.equal(await call(Fcntl, t, w, F_GETPIPE_SZ), 65536);
    assert.equal(await call(Fcntl, t, w, F_SETPIPE_SZ, 5000), 8192);
    // Blocking read: clear O_NONBLOCK, read, then write from "another task".
    assert.equal(await call(Fcntl, t, r, F_SETFL, 0), 0);
    assert.equal((await call(Fcntl, t, r, F_GETFL)) & O_NONBLOCK, 0);
    const pending = call(Read, t, r, buf, 128);
    await new Promise((res) => setImmediate(res));
    assert.equal(await call(Write, t, w, t.mem.bytes('pong'), 4), 4);
    assert.equal(await pending, 4);
    assert.equal(t.mem.read(buf, 4), 'pong');
    // A signal interrupts a blocked read.
    const p2 = call(Read, t, r, buf, 128);
    t.interrupt();
    assert.equal(await p2, -ERESTARTSYS);
    t.pendingSignal = false;
    // Poll reports readable after a write.
    const pfd = t.mem.alloc(8);
    t.mem.writeI32(pfd, r);
    t.mem.buf.writeInt16LE(1, pfd - t.mem.base + 4);
    const pp = call(Poll, t, pfd, 1, 5000);
    await new Promise((res) => setImmediate(res));
    await call(Write, t, w, t.mem.bytes('x'), 1);
    assert.equal(await pp, 1);
    assert.equal(t.mem.buf.readInt16LE(pfd - t.mem.base + 6) & 1, 1);
    assert.equal(await call(Lseek, t, r, 0, 0), -ESPIPE);
    await call(Close, t, r);
    assert.equal(await call(Write, t, w, t.mem.bytes('x'), 1), -EPIPE);
    assert.deepEqual(t.signals, [13]);
  });

  it('dup2 and POSIX record locks', async () => {
    const fd = await call(Openat, t, AT_FDCWD, t.mem.str('/l'), O_CREAT | O_RDWR, 0o600);
    assert.equal(await call(Dup2, t, fd, 7), 7);
    assert.equal(await call(Dup2, t, 99, 7), -EBADF);
    const fl = t.mem.alloc(32);
    t.mem.buf.writeInt16LE(1, fl - t.mem.base); // F_WRLCK
    t.mem.buf.writeInt16LE(0, fl - t.mem.base + 2);
    t.mem.writeU64(fl + 8, 0);
    t.mem.writeU64(fl + 16, 10);
    assert.equal(await call(Fcntl, t, fd, F_SETLK, fl), 0);
    // Another process sees the conflict.
    const other = new FakeTask(t.files, t.fs);
    other.tgid = 2;
    (other as { mem: unknown }).mem = t.mem;
    assert.equal(await call(Fcntl, other, fd, F_SETLK, fl), -EAGAIN);
    assert.equal(await call(Fcntl, other, fd, F_GETLK, fl), 0);
    assert.equal(t.mem.buf.readInt32LE(fl - t.mem.base + 24), 1, 'l_pid of the holder');
  });
});
