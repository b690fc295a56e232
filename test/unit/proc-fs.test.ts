import * as assert from 'node:assert/strict';
import { EACCES, EINVAL, EIO, ENOENT, ENXIO, EPERM, SysError } from '../../core/abi/errno';
import { ProcFilesystem, type MagicLink } from '../../core/fs/proc';
import type { TaskApi } from '../../core/kernel/api';
import {
  AT_FDCWD,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  O_CREAT,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../../core/vfs/abi';
import { FileDescription, IoDst } from '../../core/vfs/file';
import { blankStat, PROC_SUPER_MAGIC, Stat } from '../../core/vfs/inode';
import { chmodInode, lookupAt, mkdirAt, openAt, openVd, readlinkAt, unlinkAt } from '../../core/vfs/ops';
import { Walker } from '../../core/vfs/walk';
import { newWorld, userCreds, type FakeTask } from '../helpers/fake-task';
import { creds, FakeMm, FakeProcSource, FakeProcTask, vma } from './proc-fake.test';

/** True once core/vfs/walk.ts follows Inode.followLink (magic links). */
const walkerFollowsMagicLinks = 'followMagic' in Walker.prototype;

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
  const f = openAt(t, AT_FDCWD, path, { flags, mode: 0o644 });
  assert.ok(!(f instanceof Promise));
  return f as FileDescription;
}

function readAll(t: FakeTask, f: FileDescription): string {
  const chunks: Buffer[] = [];
  for (;;) {
    const b = Buffer.alloc(7); // small reads: exercises the position
    const n = f.read(t, [b], -1) as number;
    assert.ok(n >= 0, `read failed: ${n}`);
    if (n === 0) break;
    chunks.push(b.subarray(0, n));
  }
  return Buffer.concat(chunks).toString('latin1');
}

function cat(t: FakeTask, path: string): string {
  return readAll(t, open(t, path));
}

function ls(t: FakeTask, path: string): string[] {
  const f = open(t, path, O_RDONLY | O_DIRECTORY);
  const names: string[] = [];
  f.getdents(t, (name) => {
    names.push(name);
    return true;
  });
  return names.filter((n) => n !== '.' && n !== '..');
}

/** A pipe end without a location, as pipe(2) makes. */
class FakePipeEnd extends FileDescription {
  reopened: number[] = [];
  constructor(
    flags: number,
    readonly ino: number,
  ) {
    super(flags);
    this.stream = true;
  }
  override stat(): Stat {
    return blankStat(99, this.ino, S_IFIFO | 0o600);
  }
  override read(_t: TaskApi, _d: IoDst): number {
    return 0;
  }
  reopen(_t: TaskApi, flags: number): FileDescription {
    this.reopened.push(flags);
    return new FakePipeEnd(flags, this.ino);
  }
}

class FakeEventfd extends FileDescription {
  procLinkName(): string {
    return 'anon_inode:[eventfd]';
  }
}

/** A world: tmpfs root with /a/file, procfs at /proc, a process 1 (the caller) and 5. */
function world() {
  const w = newWorld();
  const { t, ns } = w;
  const src = new FakeProcSource();
  const p1 = src.add(new FakeProcTask(1));
  p1.comm = 'init';
  p1.threadIds = [1, 3];
  src.add(new FakeProcTask(3, 1)).comm = 'worker';
  const p5 = src.add(new FakeProcTask(5));
  p5.ppid = 1;
  p5.comm = 'sleep';
  mkdirAt(t, AT_FDCWD, '/proc', 0o555);
  mkdirAt(t, AT_FDCWD, '/a', 0o755);
  const file = open(t, '/a/file', O_CREAT | O_RDWR);
  const procfs = new ProcFilesystem(src);
  const mnt = ns.mount(
    procfs,
    lookupAt(t, AT_FDCWD, '/proc', true),
    MS_NOSUID | MS_NODEV | MS_NOEXEC,
    'proc',
  );
  p1.rootVd = p1.cwdVd = t.fs.root;
  p5.rootVd = t.fs.root;
  p5.cwdVd = lookupAt(t, AT_FDCWD, '/a', true);
  const pipe = new FakePipeEnd(O_RDONLY, 77);
  p1.files = [
    { fd: 0, file, cloexec: false },
    { fd: 1, file: pipe, cloexec: true },
    { fd: 4, file: new FakeEventfd(O_RDWR), cloexec: false },
  ];
  return { ...w, src, p1, p5, procfs, mnt, file, pipe };
}

describe('proc: the filesystem', () => {
  it('lists static entries and live pids; statfs says proc', () => {
    const { t, procfs } = world();
    const names = ls(t, '/proc');
    for (const n of [
      'meminfo',
      'cpuinfo',
      'uptime',
      'loadavg',
      'stat',
      'version',
      'filesystems',
      'mounts',
      'self',
      'thread-self',
      'sys',
      '1',
      '5',
    ])
      assert.ok(names.includes(n), `missing ${n} in ${names}`);
    assert.ok(!names.includes('3'), 'threads are not listed');
    assert.ok(names.indexOf('1') > names.indexOf('meminfo'), 'pids after static entries');
    assert.equal(procfs.statfs().type, PROC_SUPER_MAGIC);
    assert.equal(procfs.typeName, 'proc');
    // A thread's directory can still be looked up.
    assert.equal(cat(t, '/proc/3/comm'), 'worker\n');
  });

  it('/proc/self and /proc/thread-self name the caller', () => {
    const { t, src } = world();
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/self'), '1');
    const self = lookupAt(t, AT_FDCWD, '/proc/self', false).inode as unknown as MagicLink;
    assert.equal(self.readlink({ ...t, tid: 5, tgid: 5 } as unknown as TaskApi), '5');
    assert.equal(self.readlink({ ...t, tid: 3, tgid: 1 } as unknown as TaskApi), '1');
    const ts = lookupAt(t, AT_FDCWD, '/proc/thread-self', false).inode as unknown as MagicLink;
    assert.equal(ts.readlink({ ...t, tid: 3, tgid: 1 } as unknown as TaskApi), '1/task/3');
    assert.equal(cat(t, '/proc/self/comm'), 'init\n');
    assert.equal(cat(t, '/proc/thread-self/comm'), 'init\n');
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/mounts'), 'self/mounts');
    src.callerTid = 999; // unknown caller: ENOENT, as for a kernel thread
    assert.equal(
      errno(() => self.readlink()),
      ENOENT,
    );
  });

  it('per-process files render the live task', () => {
    const { t, p5 } = world();
    const mm = new FakeMm();
    mm.setArgs(['sleep', '100'], ['A=1']);
    mm.vmas = [vma(0x400000, 0x401000, 5, { name: { path: '/bin/sleep', dev: 0, ino: 7 }, rssBytes: 4096 })];
    p5.mm = mm;
    assert.match(cat(t, '/proc/5/stat'), /^5 \(sleep\) S 1 5 5 0 -1 /);
    assert.match(cat(t, '/proc/5/status'), /^Name:\tsleep\nUmask:\t0022\nState:\tS \(sleeping\)\n/);
    assert.equal(cat(t, '/proc/5/cmdline'), 'sleep\x00100\x00');
    assert.equal(cat(t, '/proc/5/environ'), 'A=1\0');
    assert.equal(
      cat(t, '/proc/5/maps'),
      '00400000-00401000 r-xp 00000000 00:00 7'.padEnd(72) + ' /bin/sleep\n',
    );
    assert.equal(cat(t, '/proc/5/cgroup'), '0::/\n');
    assert.equal(cat(t, '/proc/5/oom_score_adj'), '0\n');
    assert.equal(cat(t, '/proc/5/auxv').length, 32);
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/5/exe'), '/bin/busybox');
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/5/cwd'), '/a');
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/5/root'), '/');
    assert.deepEqual(ls(t, '/proc/1/task'), ['1', '3']);
    assert.equal(cat(t, '/proc/1/task/3/comm'), 'worker\n');
    assert.ok(!ls(t, '/proc/1/task/3').includes('task'));
    assert.ok(ls(t, '/proc/5').includes('fdinfo'));
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/5/ns/pid'), 'pid:[4026531836]');
    assert.match(
      cat(t, '/proc/5/mounts'),
      /^none \/ tmpfs rw,size=\d+k 0 0\nproc \/proc proc rw,nosuid,nodev,noexec 0 0\n$/,
    );
    assert.match(cat(t, '/proc/5/limits'), /^Limit {21}Soft Limit/);
  });

  it('a zombie shows state Z and no memory; owners follow the task', () => {
    const { t, p5 } = world();
    p5.state = 'Z';
    p5.zombie = true;
    p5.mm = null;
    p5.creds = creds(1000);
    assert.match(cat(t, '/proc/5/stat'), /^5 \(sleep\) Z /);
    assert.equal(cat(t, '/proc/5/maps'), '');
    assert.equal(cat(t, '/proc/5/cmdline'), '');
    assert.equal(
      errno(() => readlinkAt(t, AT_FDCWD, '/proc/5/exe')),
      ENOENT,
    );
    const st = lookupAt(t, AT_FDCWD, '/proc/5/status', true).inode.stat();
    assert.equal(st.uid, 1000);
    assert.equal(st.mode, 0o100444);
    assert.equal(lookupAt(t, AT_FDCWD, '/proc/5/environ', true).inode.mode & 0o777, 0o400);
  });

  it('a vanished process is ENOENT, even through cached dentries', () => {
    const { t, src } = world();
    const vd = lookupAt(t, AT_FDCWD, '/proc/5/stat', true);
    const dir = lookupAt(t, AT_FDCWD, '/proc/5', true);
    src.tasks.delete(5);
    assert.ok(!ls(t, '/proc').includes('5'));
    assert.equal(
      errno(() => openVd(t, vd, O_RDONLY)),
      ENOENT,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/proc/5/status', true)),
      ENOENT,
    );
    assert.equal(
      errno(() => openVd(t, dir, O_RDONLY | O_DIRECTORY)),
      ENOENT,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/proc/6', true)),
      ENOENT,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/proc/05', true)),
      ENOENT,
    );
    // Nodes tell a dentry cache that they went stale (Linux's pid_revalidate).
    const rv = (n: object): boolean => (n as { revalidate(): boolean }).revalidate();
    assert.equal(rv(dir.inode), false);
    assert.equal(rv(lookupAt(t, AT_FDCWD, '/proc/1', true).inode), true);
    const fd0 = lookupAt(t, AT_FDCWD, '/proc/1/fd/0', false).inode;
    assert.equal(rv(fd0), true);
    src.tasks.get(1)!.files = [];
    assert.equal(rv(fd0), false);
  });

  it('content is a snapshot taken at open; pread and lseek work, SEEK_END does not', () => {
    const { t, p5 } = world();
    const f = open(t, '/proc/5/comm');
    p5.comm = 'changed';
    assert.equal(readAll(t, f), 'sleep\n');
    const b = Buffer.alloc(3);
    assert.equal(f.read(t, [b], 2), 3);
    assert.equal(b.toString(), 'eep');
    assert.equal(f.seek(1, SEEK_SET), 1);
    assert.equal(f.seek(1, SEEK_CUR), 2);
    assert.equal(f.seek(100, SEEK_SET), 100);
    assert.equal(f.read(t, [b], -1), 0);
    assert.equal(
      errno(() => f.seek(0, SEEK_END)),
      EINVAL,
    );
    assert.equal(
      errno(() => f.seek(-1, SEEK_SET)),
      EINVAL,
    );
  });

  it('fd links: paths, pipes, anonymous inodes; fdinfo', () => {
    const { t, pipe } = world();
    assert.deepEqual(ls(t, '/proc/1/fd'), ['0', '1', '4']);
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/1/fd/0'), '/a/file');
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/1/fd/1'), 'pipe:[77]');
    assert.equal(readlinkAt(t, AT_FDCWD, '/proc/1/fd/4'), 'anon_inode:[eventfd]');
    assert.equal(
      errno(() => readlinkAt(t, AT_FDCWD, '/proc/1/fd/2')),
      ENOENT,
    );
    const l0 = lookupAt(t, AT_FDCWD, '/proc/1/fd/0', false).inode;
    assert.equal(l0.mode, S_IFLNK | 0o700); // O_RDWR: lrwx------
    assert.equal(lookupAt(t, AT_FDCWD, '/proc/1/fd/1', false).inode.mode, S_IFLNK | 0o500);
    // Textual following reaches the file itself.
    assert.equal(open(t, '/proc/1/fd/0').vd!.inode, lookupAt(t, AT_FDCWD, '/a/file', true).inode);
    // fdinfo: position, flags (with O_CLOEXEC), mount id.
    const info = cat(t, '/proc/1/fdinfo/1');
    assert.match(info, /^pos:\t0\nflags:\t02000000\nmnt_id:\t\d+\nino:\t77\n$/);
    assert.deepEqual(ls(t, '/proc/1/fdinfo'), ['0', '1', '4']);
    // Magic links: the file's location, or a stand-in that reopens the pipe.
    const m0 = l0 as unknown as MagicLink;
    assert.equal(m0.followLink!(t)!.inode, lookupAt(t, AT_FDCWD, '/a/file', true).inode);
    const m1 = lookupAt(t, AT_FDCWD, '/proc/1/fd/1', false).inode as unknown as MagicLink;
    const vd = m1.followLink!(t)!;
    assert.equal(vd.inode.stat().mode & S_IFMT, S_IFIFO);
    assert.equal(vd.inode.stat().ino, 77);
    const re = openVd(t, vd, O_WRONLY) as FileDescription;
    assert.ok(re instanceof FakePipeEnd);
    assert.equal(pipe.reopened.length, 1);
    const m4 = lookupAt(t, AT_FDCWD, '/proc/1/fd/4', false).inode as unknown as MagicLink;
    assert.equal(
      errno(() => openVd(t, m4.followLink!(t)!, O_RDONLY)),
      ENXIO,
    );
  });

  it('cwd/root magic links and permission for other users', () => {
    const { t, p5 } = world();
    const cwd = lookupAt(t, AT_FDCWD, '/proc/5/cwd', false).inode as unknown as MagicLink;
    assert.ok(cwd.followLink!(t)!.equals(p5.cwdVd!));
    t.creds = userCreds(1000);
    assert.equal(
      errno(() => cwd.followLink!(t)),
      EACCES,
    );
    assert.equal(
      errno(() => cwd.readlink(t)),
      EACCES,
    );
    assert.equal(
      errno(() => open(t, '/proc/5/environ')),
      EACCES,
    );
    assert.equal(
      errno(() => open(t, '/proc/5/maps')),
      EACCES,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/proc/1/fd/0', false)),
      EACCES,
    ); // fd/ is 0500
    p5.creds = creds(1000);
    assert.equal(cat(t, '/proc/5/environ'), '');
  });

  it('writes: EACCES, EIO, EINVAL, ENOENT, EPERM as Linux', () => {
    const { t } = world();
    // A read-only sysctl refuses write opens even to root.
    assert.equal(
      errno(() => open(t, '/proc/sys/kernel/ostype', O_WRONLY)),
      EACCES,
    );
    // Root may open a 0444 /proc file for writing; the write fails.
    assert.equal(open(t, '/proc/uptime', O_WRONLY).write(t, [Buffer.from('1')], -1), -EIO);
    assert.equal(open(t, '/proc/1/stat', O_RDWR).write(t, [Buffer.from('1')], -1), -EINVAL);
    assert.equal(
      errno(() => mkdirAt(t, AT_FDCWD, '/proc/x', 0o755)),
      ENOENT,
    );
    assert.equal(
      errno(() => open(t, '/proc/x', O_CREAT | O_WRONLY)),
      ENOENT,
    );
    assert.equal(
      errno(() => unlinkAt(t, AT_FDCWD, '/proc/uptime')),
      EPERM,
    );
    const st = lookupAt(t, AT_FDCWD, '/proc/1/stat', true);
    assert.equal(
      errno(() => chmodInode(t, st.inode, st.mount, 0o666)),
      EPERM,
    );
    t.creds = userCreds(1000);
    assert.equal(
      errno(() => open(t, '/proc/uptime', O_WRONLY)),
      EACCES,
    );
    assert.equal(
      errno(() => open(t, '/proc/sys/kernel/hostname', O_WRONLY)),
      EACCES,
    );
  });

  it('writable files: sysctls, comm, oom_score_adj', () => {
    const { t, src, p1, p5, procfs } = world();
    assert.equal(cat(t, '/proc/sys/kernel/hostname'), 'sandbox\n');
    assert.equal(open(t, '/proc/sys/kernel/hostname', O_WRONLY).write(t, [Buffer.from('box\n')], -1), 4);
    assert.equal(src.host, 'box');
    assert.equal(cat(t, '/proc/sys/kernel/hostname'), 'box\n');
    const pm = open(t, '/proc/sys/kernel/pid_max', O_WRONLY);
    assert.equal(
      errno(() => pm.write(t, [Buffer.from('lots')], -1)),
      EINVAL,
    );
    assert.equal(pm.write(t, [Buffer.from('32768\n')], -1), 6);
    assert.equal(cat(t, '/proc/sys/kernel/pid_max'), '32768\n');
    assert.equal(procfs.sysctls.get('kernel/pid_max'), '32768');
    // comm: own process only; the newline is kept, as Linux keeps it.
    assert.equal(open(t, '/proc/1/comm', O_WRONLY).write(t, [Buffer.from('foo\n')], -1), 4);
    assert.equal(p1.comm, 'foo\n');
    assert.equal(
      errno(() => open(t, '/proc/5/comm', O_WRONLY).write(t, [Buffer.from('x')], -1)),
      EINVAL,
    );
    assert.equal(p5.comm, 'sleep');
    const oom = open(t, '/proc/5/oom_score_adj', O_WRONLY);
    assert.equal(oom.write(t, [Buffer.from('-500\n')], -1), 5);
    assert.equal(p5.oomScoreAdj, -500);
    assert.equal(
      errno(() => oom.write(t, [Buffer.from('2000')], -1)),
      EINVAL,
    );
  });

  it('system files', () => {
    const { t, src } = world();
    src.cpuinfoText =
      'processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n\nprocessor\t: 2\nmodel name\t: X\n\n';
    assert.equal(
      cat(t, '/proc/cpuinfo'),
      'processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n\n',
    );
    assert.equal(cat(t, '/proc/uptime'), '12.34 24.69\n');
    assert.equal(cat(t, '/proc/loadavg'), '0.50 0.25 0.13 0/3 42\n');
    assert.match(cat(t, '/proc/meminfo'), /^MemTotal: {8}1048576 kB\nMemFree: {10}786432 kB\n/);
    assert.equal(cat(t, '/proc/filesystems'), 'nodev\tsysfs\nnodev\tproc\n\text4\n');
    assert.match(cat(t, '/proc/version'), /^Linux version 4\.4\.0 .*#1 SMP Sun Jan 10 15:06:54 PST 2016\n$/);
    assert.match(
      cat(t, '/proc/stat'),
      /^cpu {2}0 0 0 2468 0 0 0 0 0 0\ncpu0 0 0 0 1234 0 0 0 0 0 0\ncpu1 0 0 0 1234 /,
    );
    assert.match(
      cat(t, '/proc/stat'),
      /\nbtime 1700000000\nprocesses 42\nprocs_running 1\nprocs_blocked 0\n/,
    );
    assert.equal(cat(t, '/proc/sys/kernel/osrelease'), '4.4.0\n');
    assert.equal(cat(t, '/proc/sys/kernel/ostype'), 'Linux\n');
    assert.equal(cat(t, '/proc/sys/kernel/cap_last_cap'), '40\n');
    assert.equal(cat(t, '/proc/sys/kernel/ngroups_max'), '65536\n');
    assert.equal(cat(t, '/proc/sys/kernel/pid_max'), '4194304\n');
    assert.equal(cat(t, '/proc/sys/kernel/random/boot_id'), src.bootId() + '\n');
    assert.match(cat(t, '/proc/sys/kernel/random/uuid'), /^[0-9a-f-]{36}\n$/);
    assert.notEqual(cat(t, '/proc/sys/kernel/random/uuid'), cat(t, '/proc/sys/kernel/random/uuid'));
    assert.equal(cat(t, '/proc/sys/vm/overcommit_memory'), '0\n');
    assert.equal(cat(t, '/proc/sys/vm/max_map_count'), '65530\n');
    assert.equal(cat(t, '/proc/sys/vm/mmap_min_addr'), '65536\n');
    assert.equal(cat(t, '/proc/sys/fs/nr_open'), '1048576\n');
    assert.equal(cat(t, '/proc/sys/fs/pipe-max-size'), '1048576\n');
    assert.equal(cat(t, '/proc/sys/fs/file-max'), '9223372036854775807\n');
    assert.equal(cat(t, '/proc/sys/net/core/somaxconn'), '4096\n');
    assert.equal(cat(t, '/proc/sys/kernel/version'), '#1 SMP Sun Jan 10 15:06:54 PST 2016\n');
    const st = lookupAt(t, AT_FDCWD, '/proc/meminfo', true).inode.stat();
    assert.equal(st.size, 0);
    assert.equal(st.mode, 0o100444);
    assert.equal(lookupAt(t, AT_FDCWD, '/proc', true).inode.stat().mode, 0o40555);
  });

  // Needs the walker to honour Inode.followLink (see docs/proc.md, "Magic links").
  (walkerFollowsMagicLinks ? it : it.skip)('opening /proc/<pid>/fd/N reaches the same object', () => {
    const { t, pipe, file } = world();
    assert.equal(open(t, '/proc/self/fd/0').vd!.inode, file.vd!.inode);
    const re = open(t, '/proc/self/fd/1', O_WRONLY | O_CREAT);
    assert.ok(re instanceof FakePipeEnd);
    assert.equal(pipe.reopened.length, 1);
    assert.equal(
      errno(() => open(t, '/proc/self/fd/4')),
      ENXIO,
    );
    assert.equal(lookupAt(t, AT_FDCWD, '/proc/5/cwd/', true).inode, lookupAt(t, AT_FDCWD, '/a', true).inode);
  });
});
