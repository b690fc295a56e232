/**
 * makeProcSource over a real Kernel object (no platform: tasks are built by hand and
 * never run), rendered through ProcFilesystem.
 */
import * as assert from 'node:assert/strict';
import { ProcFilesystem } from '../../core/fs/proc';
import { Kernel, type KernelOptions } from '../../core/kernel/kernel';
import { makeProcSource, vmaRss } from '../../core/kernel/proc-source';
import { Task } from '../../core/kernel/task';
import { ThreadGroup } from '../../core/kernel/threadgroup';
import { MemoryManager } from '../../core/mm/mm';
import { MemObject } from '../../core/mm/memobject';
import type { AddressSpace } from '../../core/plugins/platform';
import { AT_FDCWD, O_CREAT, O_RDONLY, O_RDWR } from '../../core/vfs/abi';
import type { FileDescription } from '../../core/vfs/file';
import { FdTable } from '../../core/vfs/fdtable';
import { FsContext } from '../../core/vfs/fscontext';
import { lookupAt, mkdirAt, openAt } from '../../core/vfs/ops';
import { newWorld, rootCreds, testMemoryFile, type FakeTask } from '../helpers/fake-task';

const noAs: AddressSpace = { mapFile() {}, unmap() {}, protect() {}, release() {} };
const noLog = { debug() {}, info() {}, warn() {}, error() {}, child: () => noLog };

function open(t: FakeTask, path: string, flags = O_RDONLY): FileDescription {
  return openAt(t, AT_FDCWD, path, { flags, mode: 0o644 }) as FileDescription;
}
function cat(t: FakeTask, path: string): string {
  const f = open(t, path);
  const b = Buffer.alloc(1 << 16);
  const n = f.read(t, [b], -1) as number;
  return b.subarray(0, n).toString('latin1');
}

function setup() {
  const w = newWorld();
  const { t, ns } = w;
  const mf = testMemoryFile();
  const kernel = new Kernel({ platform: {}, mf, log: noLog, table: [], vfs: {} } as unknown as KernelOptions);
  const tg = new ThreadGroup(5, null, kernel.defaultLimits, Date.now());
  const mm = new MemoryManager(mf, noAs);
  tg.mm = mm;
  // 128 KiB of anonymous memory at 0x10000000; argv/env strings inside it.
  mm.map({
    addr: 0x10000000,
    len: 0x20000,
    prot: 3,
    fixed: true,
    shared: false,
    obj: new MemObject(mf),
    objOff: 0,
    name: {},
  });
  const args = Buffer.from('sleep\x0010\x00HOME=/\x00', 'latin1');
  mm.forceCopyOut(0x10000000, args);
  mm.argStart = 0x10000000;
  mm.argEnd = mm.envStart = 0x10000009;
  mm.envEnd = 0x10000010;
  mm.exePath = '/bin/sleep';
  const files = new FdTable();
  const task = new Task(kernel, tg, 5, mm, rootCreds(), files, new FsContext(t.fs.root, t.fs.root));
  task.comm = 'sleep';
  task.state = 'blocked';
  tg.tasks.add(task);
  kernel.tasks.set(5, task);
  kernel.tgs.set(5, tg);
  mkdirAt(t, AT_FDCWD, '/proc', 0o555);
  mkdirAt(t, AT_FDCWD, '/tmp', 0o777);
  files.install(open(t, '/tmp/f', O_CREAT | O_RDWR));
  const src = makeProcSource(kernel, { cpus: 2 });
  ns.mount(new ProcFilesystem(src), lookupAt(t, AT_FDCWD, '/proc', true), 0, 'proc');
  return { ...w, kernel, tg, mm, task, src };
}

describe('proc: makeProcSource over the kernel', () => {
  it('renders a live process', () => {
    const { t, src } = setup();
    assert.deepEqual(src.pids(), [5]);
    assert.match(cat(t, '/proc/5/stat'), /^5 \(sleep\) S 0 5 5 0 -1 4194304 /);
    assert.equal(cat(t, '/proc/5/cmdline'), 'sleep\x0010\x00');
    assert.equal(cat(t, '/proc/5/environ'), 'HOME=/\x00');
    assert.equal(cat(t, '/proc/5/maps'), '10000000-10020000 rw-p 00000000 00:00 0 \n');
    const status = cat(t, '/proc/5/status');
    assert.ok(status.includes('\nVmSize:\t     128 kB\n'), status);
    assert.ok(status.includes('\nVmRSS:\t      64 kB\n'), status); // one 64 KiB extent touched
    assert.ok(status.includes('\nCpus_allowed_list:\t0-1\n'), status);
    assert.equal(cat(t, '/proc/5/fdinfo/0').split('\n')[1], 'flags:\t0100002');
    assert.equal(open(t, '/proc/5/fd/0').vd!.inode, lookupAt(t, AT_FDCWD, '/tmp/f', true).inode);
    assert.match(cat(t, '/proc/5/limits'), /\nMax open files {12}\d+ {2,}\d+ {2,}files {5}\n/);
  });

  it('reports the task being served as the caller when none is passed', () => {
    const { src, task } = setup();
    assert.equal(src.caller(), null);
    task.state = 'kernel';
    assert.deepEqual(src.caller(), { tid: 5, tgid: 5 });
  });

  it('shows a zombie with its remembered name', () => {
    const { t, kernel, tg, task } = setup();
    cat(t, '/proc/5/stat'); // seen alive once
    tg.tasks.delete(task);
    kernel.tasks.delete(5);
    tg.zombie = true;
    tg.exitStatus = 0;
    tg.mm = null;
    assert.match(cat(t, '/proc/5/stat'), /^5 \(sleep\) Z /);
    assert.equal(cat(t, '/proc/5/maps'), '');
    tg.reaped = true;
    kernel.tgs.delete(5);
    assert.throws(() => cat(t, '/proc/5/stat'));
  });

  it('counts resident bytes inside the mapping only', () => {
    const { mm } = setup();
    const v = mm.vmas[0];
    assert.equal(vmaRss(v), 0x10000);
    mm.forceCopyOut(0x1001f000, Buffer.from('x'));
    assert.equal(vmaRss(v), 0x20000);
  });
});
