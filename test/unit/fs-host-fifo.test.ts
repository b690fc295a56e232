import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EAGAIN, ENXIO, SysError } from '../../core/abi/errno';
import { importHostFd, openControllingTty, resetControllingTty } from '../../core/fs/host';
import '../../core/fs/pipe';
import { doRead } from '../../core/syscalls/linux/fd';
import { AT_FDCWD, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, S_IFIFO } from '../../core/vfs/abi';
import type { FileDescription } from '../../core/vfs/file';
import { mknodAt, openAt } from '../../core/vfs/ops';
import { newWorld } from '../helpers/fake-task';

describe('fs/host (imported host fds) and FIFOs', () => {
  it('reads and writes an imported regular file synchronously', () => {
    const { t } = newWorld();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-host-'));
    try {
      const p = path.join(dir, 'f');
      fs.writeFileSync(p, 'abc');
      const fd = fs.openSync(p, 'r+');
      const f = importHostFd(fd, { isTty: false, own: true });
      const b = Buffer.alloc(8);
      assert.equal(f.read(t, [b], -1), 3);
      assert.equal(f.write(t, [Buffer.from('de')], -1), 2);
      assert.equal(fs.readFileSync(p, 'latin1'), 'abcde');
      assert.equal(f.stat().size, 5);
      f.decRef();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a host stream asynchronously without blocking the event loop', async () => {
    const { t } = newWorld();
    const fd = fs.openSync('/dev/zero', 'r');
    const f = importHostFd(fd, { isTty: false, own: true, flags: O_RDONLY });
    assert.ok(f.stream);
    const b = Buffer.alloc(16, 1);
    assert.equal(f.read(t, [b], -1), -EAGAIN, 'first read starts a pool read');
    assert.equal(await doRead(t, f, [b], -1), 16);
    assert.deepEqual([...b], new Array(16).fill(0));
    f.decRef();
  });

  it('/dev/tty is ENXIO without a controlling terminal', () => {
    resetControllingTty();
    assert.throws(
      () => openControllingTty(O_RDWR),
      (e: SysError) => e.errno === ENXIO,
    );
  });

  it('FIFO opens pair up readers and writers', async () => {
    const { t } = newWorld();
    mknodAt(t, AT_FDCWD, '/fifo', S_IFIFO | 0o644, 0);
    assert.throws(
      () => openAt(t, AT_FDCWD, '/fifo', { flags: O_WRONLY | O_NONBLOCK, mode: 0 }),
      (e: SysError) => e.errno === ENXIO,
    );
    const rp = openAt(t, AT_FDCWD, '/fifo', { flags: O_RDONLY, mode: 0 });
    assert.ok(rp instanceof Promise, 'reader waits for a writer');
    const w = (await openAt(t, AT_FDCWD, '/fifo', { flags: O_WRONLY, mode: 0 })) as FileDescription;
    const r = await rp;
    assert.equal(w.write(t, [Buffer.from('via fifo')], -1), 8);
    const b = Buffer.alloc(16);
    assert.equal(r.read(t, [b], -1), 8);
    assert.equal(b.toString('latin1', 0, 8), 'via fifo');
    w.decRef();
    assert.equal(r.read(t, [b], -1), 0, 'EOF after the writer closes');
    r.decRef();
  });
});
