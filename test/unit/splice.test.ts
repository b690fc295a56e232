/**
 * splice, tee, vmsplice and copy_file_range over a fake task on a tmpfs root.
 */
import * as assert from 'node:assert/strict';
import { EAGAIN, EINVAL, ESPIPE, SysError } from '../../core/abi/errno';
import { Open, Read, Write } from '../../core/syscalls/linux/file';
import { Pipe2 } from '../../core/syscalls/linux/pipe';
import { CopyFileRange, Splice, SPLICE_F_NONBLOCK, Tee, Vmsplice } from '../../core/syscalls/linux/splice';
import { O_CREAT, O_RDWR } from '../../core/vfs/abi';
import { fakeArgs, FakeTask, newWorld } from '../helpers/fake-task';

async function call(
  h: (t: any, a: any) => number | Promise<number>,
  t: FakeTask,
  ...args: (number | bigint)[]
) {
  try {
    return await h(t, fakeArgs(...args));
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
}

describe('splice family', () => {
  async function setup() {
    const { t } = newWorld();
    const f = (await call(Open, t, t.mem.str('/f'), O_CREAT | O_RDWR, 0o644)) as number;
    const g = (await call(Open, t, t.mem.str('/g'), O_CREAT | O_RDWR, 0o644)) as number;
    await call(Write, t, f, t.mem.bytes('0123456789'), 10);
    const pfd = t.mem.alloc(8);
    await call(Pipe2, t, pfd, 0);
    const qfd = t.mem.alloc(8);
    await call(Pipe2, t, qfd, 0);
    return {
      t,
      f,
      g,
      p: [t.mem.readI32(pfd), t.mem.readI32(pfd + 4)],
      q: [t.mem.readI32(qfd), t.mem.readI32(qfd + 4)],
    };
  }
  const readAll = async (t: FakeTask, fd: number, n = 64): Promise<string> => {
    const b = t.mem.alloc(n);
    const r = (await call(Read, t, fd, b, n)) as number;
    return t.mem.read(b, Math.max(r, 0));
  };

  it('moves file bytes through pipes with offsets, tee copies without consuming', async () => {
    const { t, f, g, p, q } = await setup();
    const off = t.mem.alloc(8);
    t.mem.writeU64(off, 3);
    assert.equal(await call(Splice, t, f, off, p[1], 0, 4, 0), 4);
    assert.equal(t.mem.readU64(off), 7);
    assert.equal(await call(Tee, t, p[0], q[1], 100, 0), 4);
    assert.equal(await readAll(t, q[0]), '3456');
    assert.equal(await call(Splice, t, p[0], 0, g, 0, 100, 0), 4);
    assert.equal(await call(Read, t, g, t.mem.alloc(1), 1), 0); // position moved to 4
    assert.equal(await call(Splice, t, p[0], 0, q[1], 0, 4, SPLICE_F_NONBLOCK), -EAGAIN);
    assert.equal(await call(Splice, t, p[0], off, g, 0, 4, 0), -ESPIPE);
    assert.equal(await call(Splice, t, f, 0, g, 0, 4, 0), -EINVAL);
    assert.equal(await call(Tee, t, p[0], p[1], 4, 0), -EINVAL);
  });

  it('a blocking splice waits for a writer', async () => {
    const { t, p, q } = await setup();
    const r = call(Splice, t, p[0], 0, q[1], 0, 100, 0);
    await call(Write, t, p[1], t.mem.bytes('late'), 4);
    assert.equal(await r, 4);
    assert.equal(await readAll(t, q[0]), 'late');
  });

  it('vmsplice copies user memory into a pipe', async () => {
    const { t, p } = await setup();
    const iov = t.mem.alloc(16);
    const data = t.mem.bytes('hello');
    t.mem.writeU64(iov, data);
    t.mem.writeU64(iov + 8, 5);
    assert.equal(await call(Vmsplice, t, p[1], iov, 1, 0), 5);
    assert.equal(await readAll(t, p[0]), 'hello');
  });

  it('copy_file_range copies, refuses flags and overlapping ranges of one file', async () => {
    const { t, f, g } = await setup();
    const oi = t.mem.alloc(8);
    t.mem.writeU64(oi, 2);
    assert.equal(await call(CopyFileRange, t, f, oi, g, 0, 100, 0), 8);
    assert.equal(t.mem.readU64(oi), 10);
    assert.equal(await call(CopyFileRange, t, f, 0, g, 0, 1, 1), -EINVAL);
    const a = t.mem.alloc(8);
    const b = t.mem.alloc(8);
    t.mem.writeU64(a, 0);
    t.mem.writeU64(b, 4);
    assert.equal(await call(CopyFileRange, t, f, a, f, b, 8, 0), -EINVAL);
  });
});
