import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENOENT, EXDEV, SysError } from '../../core/abi/errno';
import { createDoMountNamespace } from '../../core/fs/rootfs';
import { AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../core/vfs/abi';
import type { FileDescription } from '../../core/vfs/file';
import { FdTable } from '../../core/vfs/fdtable';
import { FsContext } from '../../core/vfs/fscontext';
import {
  chmodInode,
  lookupAt,
  mkdirAt,
  openAt,
  openForExec,
  renameAt,
  rmdirAt,
  unlinkAt,
} from '../../core/vfs/ops';
import { Directfs } from '../../plugins/fs-gofer/src/directfs';
import { FakeTask, testMemoryFile } from '../helpers/fake-task';

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}
const open = (t: FakeTask, p: string, flags: number): FileDescription =>
  openAt(t, AT_FDCWD, p, { flags, mode: 0o644 }) as FileDescription;
function readAll(t: FakeTask, p: string): string {
  const f = open(t, p, O_RDONLY);
  const buf = Buffer.alloc(4096);
  const n = f.read(t, [buf], -1) as number;
  f.decRef();
  return buf.toString('latin1', 0, n);
}
function list(t: FakeTask, p: string): string[] {
  const d = open(t, p, O_RDONLY | O_DIRECTORY);
  const names: string[] = [];
  d.getdents(t, (n) => (names.push(n), true));
  d.decRef();
  return names.filter((n) => n !== '.' && n !== '..').sort();
}

describe('fs/overlay over directfs, and the do mount namespace', () => {
  let dir: string;
  let t: FakeTask;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overlay-'));
    fs.writeFileSync(path.join(dir, 'a.txt'), 'lower a');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'b.txt'), 'lower b');
    fs.writeFileSync(path.join(dir, 'sub', 'c.txt'), 'lower c');
    fs.writeFileSync(path.join(dir, 'prog'), '#!/bin/sh\n', { mode: 0o755 });
    const { root } = createDoMountNamespace({ mf: testMemoryFile(), lower: new Directfs(dir) });
    t = new FakeTask(new FdTable(), new FsContext(root, root));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('copies up on write and keeps the inode number; the host is untouched', () => {
    const ino = lookupAt(t, AT_FDCWD, '/a.txt', true).inode.ino;
    const f = open(t, '/a.txt', O_RDWR);
    assert.equal(f.write(t, [Buffer.from('UPPER')], -1), 5);
    f.decRef();
    assert.equal(readAll(t, '/a.txt'), 'UPPER a');
    assert.equal(lookupAt(t, AT_FDCWD, '/a.txt', true).inode.ino, ino);
    assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'latin1'), 'lower a');
    const g = open(t, '/sub/b.txt', O_WRONLY | O_TRUNC);
    g.decRef();
    assert.equal(readAll(t, '/sub/b.txt'), '');
  });

  it('whiteouts on unlink/rmdir, opaque directories, merged readdir', () => {
    assert.deepEqual(list(t, '/sub'), ['b.txt', 'c.txt']);
    open(t, '/sub/new', O_CREAT | O_WRONLY).decRef();
    assert.deepEqual(list(t, '/sub'), ['b.txt', 'c.txt', 'new']);
    unlinkAt(t, AT_FDCWD, '/sub/b.txt');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/sub/b.txt', true)),
      ENOENT,
    );
    assert.deepEqual(list(t, '/sub'), ['c.txt', 'new']);
    assert.ok(fs.existsSync(path.join(dir, 'sub', 'b.txt')));
    open(t, '/sub/b.txt', O_CREAT | O_WRONLY).decRef();
    assert.equal(readAll(t, '/sub/b.txt'), '');
    unlinkAt(t, AT_FDCWD, '/sub/b.txt');
    unlinkAt(t, AT_FDCWD, '/sub/c.txt');
    unlinkAt(t, AT_FDCWD, '/sub/new');
    rmdirAt(t, AT_FDCWD, '/sub');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/sub', true)),
      ENOENT,
    );
    mkdirAt(t, AT_FDCWD, '/sub', 0o755);
    assert.deepEqual(list(t, '/sub'), [], 'recreated directory is opaque');
    assert.ok(list(t, '/').includes('dev'));
  });

  it('renames files (leaving whiteouts) and refuses lower directories with EXDEV', () => {
    renameAt(t, AT_FDCWD, '/a.txt', AT_FDCWD, '/sub/moved', 0);
    assert.equal(readAll(t, '/sub/moved'), 'lower a');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/a.txt', true)),
      ENOENT,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/sub', AT_FDCWD, '/sub2', 0)),
      EXDEV,
    );
    mkdirAt(t, AT_FDCWD, '/fresh', 0o755);
    renameAt(t, AT_FDCWD, '/fresh', AT_FDCWD, '/fresh2', 0);
    // The moved file can still be written (copy-up happened under its new name).
    const f = open(t, '/sub/moved', O_WRONLY);
    f.write(t, [Buffer.from('X')], 0);
    f.decRef();
    assert.equal(readAll(t, '/sub/moved'), 'Xower a');
  });

  it('chmod copies up with attributes; exec checks; /dev works', () => {
    const vd = lookupAt(t, AT_FDCWD, '/prog', true);
    openForExec(t, '/prog').file.decRef();
    chmodInode(t, vd.inode, vd.mount, 0o644);
    assert.equal(lookupAt(t, AT_FDCWD, '/prog', true).inode.stat().mode & 0o777, 0o644);
    assert.equal(fs.statSync(path.join(dir, 'prog')).mode & 0o777, 0o755);
    const z = open(t, '/dev/zero', O_RDONLY);
    const b = Buffer.from('xxxx');
    assert.equal(z.read(t, [b], -1), 4);
    assert.deepEqual([...b], [0, 0, 0, 0]);
    const n = open(t, '/dev/null', O_WRONLY);
    assert.equal(n.write(t, [b], -1), 4);
    assert.equal(readAll(t, '/dev/null'), '');
    assert.equal(lookupAt(t, AT_FDCWD, '/dev/stdin', false).inode.readlink!(), '/proc/self/fd/0');
    open(t, '/dev/shm/x', O_CREAT | O_WRONLY).decRef();
    open(t, '/tmp/y', O_CREAT | O_WRONLY).decRef();
  });
});
