import * as assert from 'node:assert/strict';
import { EBADF, EMFILE, SysError } from '../../core/abi/errno';
import { FdTable, CLOSE_RANGE_CLOEXEC } from '../../core/vfs/fdtable';
import { FileDescription } from '../../core/vfs/file';

class TestFile extends FileDescription {
  released = false;
  flushes: number[] = [];
  constructor() {
    super(2);
  }
  protected override release(): void {
    this.released = true;
  }
  override flush(owner: number): void {
    this.flushes.push(owner);
  }
}

describe('vfs/FdTable', () => {
  it('allocates the lowest free fd', () => {
    const t = new FdTable();
    const a = new TestFile();
    assert.equal(t.install(a), 0);
    assert.equal(t.install(a.incRef()), 1);
    assert.equal(t.install(a.incRef()), 2);
    assert.equal(t.close(1), 0);
    assert.equal(t.install(a.incRef()), 1, 'reuses 1');
    assert.equal(t.install(a.incRef(), false, 10), 10);
    assert.equal(t.install(a.incRef()), 3);
    assert.equal(a.refCount, 5);
  });

  it('close returns -EBADF for a free fd and releases on the last reference', () => {
    const t = new FdTable();
    t.owner = 42;
    const f = new TestFile();
    const fd = t.install(f);
    assert.equal(t.close(fd), 0);
    assert.equal(t.close(fd), -EBADF);
    assert.ok(f.released);
    assert.deepEqual(f.flushes, [42]);
  });

  it('enforces the RLIMIT_NOFILE limit with EMFILE', () => {
    const t = new FdTable();
    t.limit = 2;
    t.install(new TestFile());
    t.install(new TestFile());
    const f = new TestFile();
    assert.throws(
      () => t.install(f),
      (e: SysError) => e.errno === EMFILE,
    );
    assert.ok(f.released, 'failed install drops the reference');
  });

  it('installAt replaces and closes the old file; fork shares; closeOnExec', () => {
    const t = new FdTable();
    const a = new TestFile();
    const b = new TestFile();
    t.install(a);
    t.installAt(0, b, true);
    assert.ok(a.released);
    const c = t.fork();
    assert.equal(b.refCount, 2);
    c.closeOnExec();
    assert.equal(c.get(0), undefined);
    assert.equal(t.get(0), b);
    assert.equal(b.refCount, 1);
  });

  it('closeRange closes or marks cloexec', () => {
    const t = new FdTable();
    for (let i = 0; i < 6; i++) t.install(new TestFile());
    t.closeRange(4, 0xffffffff, 0);
    assert.equal(t.count, 4);
    t.closeRange(0, 1, CLOSE_RANGE_CLOEXEC);
    assert.ok(t.getCloexec(0) && t.getCloexec(1) && !t.getCloexec(2));
    t.releaseAll();
    assert.equal(t.count, 0);
  });
});
