import * as assert from 'node:assert/strict';
import { EACCES, EPERM, EROFS, SysError } from '../../core/abi/errno';
import { cpuRange, SysFilesystem } from '../../core/fs/sys';
import { AT_FDCWD, MS_RDONLY, O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY, SEEK_END } from '../../core/vfs/abi';
import type { FileDescription } from '../../core/vfs/file';
import { SYSFS_MAGIC } from '../../core/vfs/inode';
import { lookupAt, mkdirAt, openAt } from '../../core/vfs/ops';
import { newWorld, type FakeTask } from '../helpers/fake-task';

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

function open(t: FakeTask, path: string, flags = O_RDONLY): FileDescription {
  return openAt(t, AT_FDCWD, path, { flags, mode: 0o644 }) as FileDescription;
}

function cat(t: FakeTask, path: string): string {
  const f = open(t, path);
  const b = Buffer.alloc(8192);
  const n = f.read(t, [b], -1) as number;
  return b.subarray(0, n).toString('latin1');
}

function ls(t: FakeTask, path: string): string[] {
  const names: string[] = [];
  open(t, path, O_RDONLY | O_DIRECTORY).getdents(t, (n) => (names.push(n), true));
  return names.filter((n) => n !== '.' && n !== '..');
}

function world(cpus: number, flags: number) {
  const w = newWorld();
  mkdirAt(w.t, AT_FDCWD, '/sys', 0o555);
  const fs = new SysFilesystem({ cpus });
  w.ns.mount(fs, lookupAt(w.t, AT_FDCWD, '/sys', true), flags, 'sysfs');
  return { ...w, sysfs: fs };
}

describe('sys: a minimal sysfs', () => {
  it('describes the CPUs', () => {
    const { t, sysfs } = world(4, MS_RDONLY);
    assert.equal(cat(t, '/sys/devices/system/cpu/online'), '0-3\n');
    assert.equal(cat(t, '/sys/devices/system/cpu/possible'), '0-3\n');
    assert.equal(cat(t, '/sys/devices/system/cpu/present'), '0-3\n');
    const cpus = ls(t, '/sys/devices/system/cpu').filter((n) => /^cpu\d+$/.test(n));
    assert.deepEqual(cpus, ['cpu0', 'cpu1', 'cpu2', 'cpu3']);
    assert.equal(cat(t, '/sys/devices/system/cpu/cpu2/topology/core_id'), '2\n');
    assert.equal(cpuRange(1), '0');
    assert.equal(sysfs.statfs().type, SYSFS_MAGIC);
    assert.equal(sysfs.typeName, 'sysfs');
  });

  it('has THP, cgroup and net directories', () => {
    const { t } = world(1, MS_RDONLY);
    assert.equal(cat(t, '/sys/devices/system/cpu/online'), '0\n');
    assert.equal(cat(t, '/sys/kernel/mm/transparent_hugepage/enabled'), 'always madvise [never]\n');
    assert.deepEqual(ls(t, '/sys/fs/cgroup'), []);
    assert.deepEqual(ls(t, '/sys/class/net'), []);
  });

  it('attributes look like sysfs attributes', () => {
    const { t } = world(2, MS_RDONLY);
    const st = lookupAt(t, AT_FDCWD, '/sys/devices/system/cpu/online', true).inode.stat();
    assert.equal(st.mode, 0o100444);
    assert.equal(st.size, 4096);
    assert.equal(open(t, '/sys/devices/system/cpu/online').seek(0, SEEK_END), 4096);
    assert.equal(lookupAt(t, AT_FDCWD, '/sys', true).inode.stat().mode, 0o40555);
  });

  it('is read-only: EROFS on a read-only mount, EACCES/EPERM otherwise', () => {
    const ro = world(2, MS_RDONLY);
    assert.equal(
      errno(() => open(ro.t, '/sys/devices/system/cpu/online', O_WRONLY)),
      EROFS,
    );
    const rw = world(2, 0);
    assert.equal(
      errno(() => open(rw.t, '/sys/devices/system/cpu/online', O_WRONLY)),
      EACCES,
    );
    assert.equal(
      errno(() => open(rw.t, '/sys/kernel/x', O_CREAT | O_WRONLY)),
      EACCES,
    );
    assert.equal(
      errno(() => mkdirAt(rw.t, AT_FDCWD, '/sys/kernel/x', 0o755)),
      EPERM,
    );
  });
});
