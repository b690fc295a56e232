import * as assert from 'node:assert/strict';
import {
  bitmapHex,
  bitmapList,
  formatCpuinfo,
  formatLimits,
  formatLoadavg,
  formatMaps,
  formatMeminfo,
  formatMountinfo,
  formatMounts,
  formatProcStat,
  formatSmaps,
  formatStat,
  formatStatm,
  formatStatus,
  formatUptime,
  mangle,
  mapsLine,
} from '../../core/fs/proc/format';
import { Tmpfs } from '../../core/fs/tmpfs';
import {
  major,
  makedev,
  minor,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_RELATIME,
} from '../../core/vfs/abi';
import { MountNamespace, VirtualDentry } from '../../core/vfs/mount';
import { SysFilesystem } from '../../core/fs/sys';
import { testMemoryFile } from '../helpers/fake-task';
import { creds, FakeMm, FakeProcSource, FakeProcTask, RLIM_INF, vma } from './proc-fake.test';
import { ProcFilesystem } from '../../core/fs/proc';

const R = 1,
  W = 2,
  X = 4;

/** A shell-like process: busybox text and data, heap, an anonymous mapping, stack. */
function shellTask(): FakeProcTask {
  const t = new FakeProcTask(42);
  t.ppid = 1;
  t.sid = 1;
  t.creds = creds(1000, 1000, [1000, 27]);
  t.sigBlocked = 1n << 16n; // SIGCHLD (17)
  t.sigCaught = 1n << 1n; // SIGINT (2)
  const mm = new FakeMm();
  const dev = makedev(8, 1);
  mm.vmas = [
    vma(0x400000, 0x401000, R | X, { name: { path: '/bin/busybox', dev, ino: 12 }, rssBytes: 4096 }),
    vma(0x401000, 0x402000, R | W, {
      name: { path: '/bin/busybox', dev, ino: 12 },
      fileOff: 0x1000,
      rssBytes: 4096,
    }),
    vma(0x600000, 0x621000, R | W, { name: { special: '[heap]' }, rssBytes: 8192 }),
    vma(0x7f0000000000, 0x7f0000001000, R | W, { rssBytes: 0 }),
    vma(0x7ffffffde000, 0x7ffffffff000, R | W, {
      growsDown: true,
      name: { special: '[stack]' },
      rssBytes: 4096,
    }),
  ];
  mm.setArgs(['sh', '-c', 'ps'], ['HOME=/', 'PATH=/bin']);
  t.mm = mm;
  return t;
}

describe('proc: file formats', () => {
  it('/proc/<pid>/stat has Linux 52 fields in order', () => {
    const t = shellTask();
    const mm = t.mm!;
    const s = formatStat(t, true);
    const vsize = 0x1000 + 0x1000 + 0x21000 + 0x1000 + 0x21000;
    assert.equal(
      s,
      `42 (sh) S 1 42 1 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 150 ${vsize} 5 18446744073709551615 ` +
        `${0x400000} ${0x401000} ${mm.startStack} 0 0 0 65536 0 2 0 0 0 17 0 0 0 0 0 0 ` +
        `${0x401000} ${0x402000} ${0x600000} ${mm.argStart} ${mm.argEnd} ${mm.envStart} ${mm.envEnd} 0\n`,
    );
    assert.equal(s.trim().split(' ').length, 52);
  });

  it('stat hides addresses from others and shows zombies as Z with no memory', () => {
    const t = shellTask();
    const f = formatStat(t, false).trim().split(' ');
    assert.equal(f[25], '1'); // startcode
    assert.equal(f[27], '0'); // startstack
    assert.equal(f[44], '0'); // start_data
    const z = new FakeProcTask(9);
    z.state = 'Z';
    z.zombie = true;
    z.mm = null;
    z.comm = 'sleep';
    z.exitCode = 0x100;
    const zf = formatStat(z, true).trim().split(' ');
    assert.equal(zf[1], '(sleep)');
    assert.equal(zf[2], 'Z');
    assert.equal(zf[8], String(0x400004)); // PF_RANDOMIZE | PF_EXITING
    assert.equal(zf[22], '0'); // vsize
    assert.equal(zf[51], '256');
  });

  it('/proc/<pid>/statm counts pages', () => {
    assert.equal(formatStatm(shellTask()), '69 5 2 1 0 68 0\n');
  });

  it('/proc/<pid>/status lines', () => {
    const t = shellTask();
    const s = formatStatus(t, 2);
    const lines = s.split('\n');
    assert.deepEqual(lines.slice(0, 16), [
      'Name:\tsh',
      'Umask:\t0022',
      'State:\tS (sleeping)',
      'Tgid:\t42',
      'Ngid:\t0',
      'Pid:\t42',
      'PPid:\t1',
      'TracerPid:\t0',
      'Uid:\t1000\t1000\t1000\t1000',
      'Gid:\t1000\t1000\t1000\t1000',
      'FDSize:\t64',
      'Groups:\t1000 27 ',
      'NStgid:\t42',
      'NSpid:\t42',
      'NSpgid:\t42',
      'NSsid:\t1',
    ]);
    for (const l of [
      'VmSize:\t     276 kB',
      'VmRSS:\t      20 kB',
      'RssAnon:\t      12 kB',
      'RssFile:\t       8 kB',
      'RssShmem:\t       0 kB',
      'VmData:\t     140 kB',
      'VmStk:\t     132 kB',
      'VmExe:\t       4 kB',
      'Threads:\t1',
      'SigQ:\t0/18446744073709551615',
      'SigPnd:\t0000000000000000',
      'SigBlk:\t0000000000010000',
      'SigCgt:\t0000000000000002',
      'CapEff:\t0000000000000000',
      'CapBnd:\t000001ffffffffff',
      'Cpus_allowed:\t3',
      'Cpus_allowed_list:\t0-1',
      'Mems_allowed_list:\t0',
      'voluntary_ctxt_switches:\t0',
    ])
      assert.ok(lines.includes(l), `status lacks ${JSON.stringify(l)}:\n${s}`);
    assert.ok(s.endsWith('nonvoluntary_ctxt_switches:\t0\n'));
    // Root: full capabilities; empty groups keep Linux's trailing space.
    const r = new FakeProcTask(1);
    const rs = formatStatus(r, 2);
    assert.ok(rs.includes('\nCapEff:\t000001ffffffffff\n'));
    assert.ok(rs.includes('\nGroups:\t \n'));
  });

  it('status of a zombie has no Vm lines', () => {
    const z = new FakeProcTask(9);
    z.state = 'Z';
    z.mm = null;
    const s = formatStatus(z, 2);
    assert.ok(s.includes('State:\tZ (zombie)\n'));
    assert.ok(!s.includes('VmSize'));
  });

  it('bitmaps print as Linux %*pb and %*pbl', () => {
    assert.equal(bitmapHex(3n, 2), '3');
    assert.equal(bitmapHex(0xffn, 8), 'ff');
    assert.equal(bitmapHex(0x1fffffffffn, 40), '1f,ffffffff');
    assert.equal(bitmapHex(1n, 1024), '00000000,'.repeat(31) + '00000001');
    assert.equal(bitmapList(0b1011101n, 8), '0,2-4,6');
    assert.equal(bitmapList(3n, 2), '0-1');
  });

  it('/proc/<pid>/maps pads names to column 73; anonymous lines end with a space', () => {
    const t = shellTask();
    const maps = formatMaps(t.mm).split('\n');
    assert.equal(
      maps[0],
      '00400000-00401000 r-xp 00000000 08:01 12                                 /bin/busybox',
    );
    assert.equal(maps[0].indexOf('/bin'), 73);
    assert.equal(maps[1].slice(0, 41), '00401000-00402000 rw-p 00001000 08:01 12 ');
    assert.equal(maps[2], '00600000-00621000 rw-p 00000000 00:00 0' + ' '.repeat(34) + '[heap]');
    assert.equal(maps[3], '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ');
    assert.equal(maps[4], '7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0' + ' '.repeat(26) + '[stack]');
    assert.equal(maps[5], '');
    assert.equal(maps.length, 6);
    // Newlines in paths are escaped; shared mappings show 's'.
    const m = new FakeMm();
    const v = vma(0x1000, 0x2000, R, { shared: true, name: { path: '/a\nb', dev: 0, ino: 3 } });
    assert.equal(mapsLine(v, m), '00001000-00002000 r--s 00000000 00:00 3'.padEnd(72) + ' /a\\012b');
    assert.equal(formatMaps(null), '');
  });

  it('/proc/<pid>/smaps blocks', () => {
    const s = formatSmaps(shellTask().mm);
    const block = s.split('\n').slice(0, 24);
    assert.equal(block[1], 'Size:                  4 kB');
    assert.equal(block[4], 'Rss:                   4 kB');
    assert.equal(block[21], 'THPeligible:    0');
    assert.equal(block[22], 'VmFlags: rd ex mr mw me ');
    assert.ok(block[23].startsWith('00401000-00402000 rw-p'));
  });

  it('/proc/meminfo', () => {
    const m = formatMeminfo(new FakeProcSource().mem).split('\n');
    assert.equal(m[0], 'MemTotal:        1048576 kB');
    assert.equal(m[1], 'MemFree:          786432 kB');
    assert.equal(m[2], 'MemAvailable:     921600 kB');
    assert.equal(m[3], 'Buffers:               0 kB');
    assert.equal(m[4], 'Cached:           135168 kB');
    assert.ok(m.includes('SwapTotal:             0 kB'));
    assert.ok(m.includes('Shmem:              4096 kB'));
    assert.ok(m.includes('HugePages_Total:       0'));
    assert.ok(m.includes('HugePages_Free:        0'));
    assert.ok(m.includes('Hugepagesize:       2048 kB'));
    for (const l of m.slice(0, -1)) assert.match(l, /^[A-Za-z_()0-9]+:\s+\d+( kB)?$/);
  });

  it('/proc/<pid>/limits', () => {
    const lim: [bigint, bigint][] = Array.from(
      { length: 16 },
      () => [RLIM_INF, RLIM_INF] as [bigint, bigint],
    );
    lim[3] = [8388608n, RLIM_INF];
    lim[7] = [1024n, 4096n];
    lim[13] = [0n, 0n];
    const l = formatLimits(lim).split('\n');
    assert.equal(l[0], 'Limit                     Soft Limit           Hard Limit           Units     ');
    assert.equal(l[1], 'Max cpu time              unlimited            unlimited            seconds   ');
    assert.equal(l[4], 'Max stack size            8388608              unlimited            bytes     ');
    assert.equal(l[8], 'Max open files            1024                 4096                 files     ');
    assert.equal(l[14], 'Max nice priority         0                    0                    ');
    assert.equal(l[16], 'Max realtime timeout      unlimited            unlimited            us        ');
    assert.equal(l.length, 18);
  });

  it('/proc/uptime, loadavg, stat, cpuinfo', () => {
    assert.equal(formatUptime(12_345_678_901n, 24_691_357_802n), '12.34 24.69\n');
    assert.equal(formatUptime(5_000_000n, 0n), '0.00 0.00\n');
    assert.equal(formatLoadavg([0.5, 0.25, 1], 1, 7, 42), '0.50 0.25 1.00 1/7 42\n');
    assert.equal(
      formatProcStat({
        perCpu: [
          [1, 0, 2, 100, 0, 0, 0, 0, 0, 0],
          [3, 0, 4, 200, 0, 0, 0, 0, 0, 0],
        ],
        ctxt: 5,
        btime: 1700000000,
        processes: 42,
        running: 1,
        blocked: 0,
      }),
      'cpu  4 0 6 300 0 0 0 0 0 0\ncpu0 1 0 2 100 0 0 0 0 0 0\ncpu1 3 0 4 200 0 0 0 0 0 0\n' +
        'intr 0\nctxt 5\nbtime 1700000000\nprocesses 42\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n',
    );
    const host =
      'processor\t: 0\nvendor_id\t: GenuineIntel\nsiblings\t: 4\ncore id\t\t: 0\ncpu cores\t: 4\n\n' +
      'processor\t: 1\nvendor_id\t: GenuineIntel\nsiblings\t: 4\ncore id\t\t: 1\ncpu cores\t: 4\n\n' +
      'processor\t: 2\nvendor_id\t: GenuineIntel\nsiblings\t: 4\ncore id\t\t: 2\ncpu cores\t: 4\n\n';
    assert.equal(
      formatCpuinfo(host, 2),
      'processor\t: 0\nvendor_id\t: GenuineIntel\nsiblings\t: 2\ncore id\t\t: 0\ncpu cores\t: 2\n\n' +
        'processor\t: 1\nvendor_id\t: GenuineIntel\nsiblings\t: 2\ncore id\t\t: 1\ncpu cores\t: 2\n\n',
    );
  });

  it('/proc/<pid>/mounts and mountinfo', () => {
    const root = new Tmpfs({ mf: testMemoryFile(), size: 1 << 20, mode: 0o755 });
    const ns = new MountNamespace(root, 'none');
    const rd = ns.root.root;
    const procD = rd.insert('proc', root.root().mkdir('proc', 0o555, creds(0)));
    const sysD = rd.insert('sys', root.root().mkdir('sys', 0o555, creds(0)));
    const spaceD = rd.insert('a b', root.root().mkdir('a b', 0o555, creds(0)));
    const pm = ns.mount(
      new ProcFilesystem(new FakeProcSource()),
      new VirtualDentry(ns.root, procD),
      MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
      'proc',
    );
    const sm = ns.mount(
      new SysFilesystem({ cpus: 2 }),
      new VirtualDentry(ns.root, sysD),
      MS_RDONLY | MS_NOSUID,
      'sysfs',
    );
    const tm = ns.mount(
      new Tmpfs({ mf: testMemoryFile(), size: 2 << 20 }),
      new VirtualDentry(ns.root, spaceD),
      0,
      'tmp fs',
    );
    const rootVd = ns.rootVd();
    assert.equal(
      formatMounts(rootVd),
      'none / tmpfs rw,size=1024k 0 0\n' +
        'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n' +
        'sysfs /sys sysfs ro,nosuid 0 0\n' +
        'tmp\\040fs /a\\040b tmpfs rw,size=2048k 0 0\n',
    );
    const dev = (fs: { dev: number }): string => `${major(fs.dev)}:${minor(fs.dev)}`;
    const r = ns.root;
    assert.equal(
      formatMountinfo(rootVd),
      `${r.id} ${r.id} ${dev(root)} / / rw - tmpfs none rw,size=1024k\n` +
        `${pm.id} ${r.id} ${dev(pm.fs)} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n` +
        `${sm.id} ${r.id} ${dev(sm.fs)} / /sys ro,nosuid - sysfs sysfs ro\n` +
        `${tm.id} ${r.id} ${dev(tm.fs)} / /a\\040b rw - tmpfs tmp\\040fs rw,size=2048k\n`,
    );
    // Seen from inside /proc (a chroot there), only the proc mount is visible, as "/".
    assert.equal(
      formatMounts(new VirtualDentry(pm, pm.root)),
      'proc / proc rw,nosuid,nodev,noexec,relatime 0 0\n',
    );
    assert.equal(mangle('a\tb\\c\nd'), 'a\\011b\\134c\\012d');
  });
});
