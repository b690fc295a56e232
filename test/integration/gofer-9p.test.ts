/**
 * `gofer.mode: 9p`: the sandbox's root read over 9P2000.L, from the `runsc gofer` process
 * runsc do starts (socketpair), or from Debian's diod server on loopback (`gofer.server`).
 * The busybox suite (test/integration/busybox.test.ts, native vs sandbox) is run in a child
 * mocha under each config (RUNSC_CONFIG, which the harness passes to runsc do).
 */
import * as assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runNative } from './harness';
import {
  childrenMatching,
  makeRootTree,
  runscDo,
  sleep,
  startDiod,
  startGofer,
  type RunningGofer,
} from '../../plugins/fs-gofer/test/helpers';

const DIOD = '/usr/sbin/diod';

/** Runs the busybox suite in a child mocha under RUNSC_CONFIG=cfg. */
function busyboxSuite(cfg: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [
      path.join(REPO, 'node_modules', 'mocha', 'bin', 'mocha.js'),
      '--no-config',
      '--timeout',
      '120000',
      path.join(REPO, 'dist', 'test', 'integration', 'busybox.test.js'),
    ],
    { cwd: REPO, env: { ...process.env, RUNSC_CONFIG: cfg }, encoding: 'utf8', timeout: 600_000 },
  );
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('gofer mode 9p: the sandbox root over 9P2000.L', function () {
  this.timeout(600_000);
  let tmp: string;
  let tree: string;
  let cfg9p: string;
  let cfgDirect: string;
  const procs: ChildProcess[] = [];
  const gofers: RunningGofer[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-9p-'));
    tree = path.join(tmp, 'tree');
    fs.mkdirSync(tree);
    makeRootTree(tree);
    cfg9p = path.join(tmp, '9p.json');
    fs.writeFileSync(cfg9p, JSON.stringify({ gofer: { mode: '9p' } }));
    cfgDirect = path.join(tmp, 'directfs.json');
    fs.writeFileSync(cfgDirect, JSON.stringify({ gofer: { mode: 'directfs' } }));
  });

  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const g of gofers) await g.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runsc do starts one runsc gofer, confined to a root holding only the tree, in its own mount namespace with few capabilities; it exits with the sandbox', async () => {
    const { proc, done, out } = runscDo(cfg9p, [
      '--root-dir',
      tree,
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      'cat /data/a/b/c/deep.txt; sleep 5; echo end',
    ]);
    procs.push(proc);
    // Once the sandbox has read a file, the gofer is serving, so it has confined itself.
    for (let i = 0; i < 600 && !out().includes('deep') && proc.exitCode === null; i++) await sleep(50);
    assert.equal(out(), 'deep\n');
    const gofer = childrenMatching(proc.pid!, ['gofer', '--root-dir', tree]);
    assert.equal(gofer.length, 1, 'one gofer child');
    const g = gofer[0];
    // Its root (pivot_root) holds only a bind mount of the tree, at /0: the host's tree is
    // not in its mount namespace at all.
    assert.deepEqual(fs.readdirSync(`/proc/${g}/root`), ['0'], 'its root holds only the served tree');
    assert.deepEqual(fs.readdirSync(`/proc/${g}/root/0`).sort(), fs.readdirSync(tree).sort());
    const mounts = fs.readFileSync(`/proc/${g}/mountinfo`, 'utf8').trim().split('\n');
    assert.equal(mounts.length, 2, `its mounts: ${mounts.join('\n')}`);
    assert.ok(
      mounts.some((m) => / \/ \/ ro,[^ ]* - tmpfs /.test(m)),
      `a read-only tmpfs as its root: ${mounts.join('\n')}`,
    );
    // Under the overlay the sandbox only reads the tree: the gofer's mount of it is read-only.
    assert.ok(
      mounts.some((m) => / \/0 ro,/.test(m)),
      `the tree read-only at /0: ${mounts.join('\n')}`,
    );
    assert.notEqual(
      fs.readlinkSync(`/proc/${g}/ns/mnt`),
      fs.readlinkSync('/proc/self/ns/mnt'),
      'own mount namespace',
    );
    const status = fs.readFileSync(`/proc/${g}/status`, 'utf8');
    const capEff = BigInt('0x' + /^CapEff:\s+(\w+)$/m.exec(status)![1]);
    const allowed = (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 27n);
    assert.equal(
      capEff & ~allowed,
      0n,
      `no capability beyond chown/dac/fowner/fsetid/mknod (CapEff ${capEff.toString(16)})`,
    );
    assert.equal(BigInt('0x' + /^CapBnd:\s+(\w+)$/m.exec(status)![1]) & ~allowed, 0n, 'bounding set dropped');
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deep\nend\n');
    let alive = true;
    for (let i = 0; i < 200 && alive; i++) {
      await sleep(50);
      alive =
        fs.existsSync(`/proc/${g}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${g}/status`, 'utf8'));
    }
    assert.equal(alive, false, 'the gofer exited with the sandbox');
  });

  it('files read over 9P are the same as natively: listing (ls -lnR), checksums, links', async () => {
    const script =
      'cd data && ls -lnR --full-time . | grep -v "^total" && md5sum f* a/b/c/deep.txt && cat link && readlink abs-link && wc -c < f7';
    const native = runNative(['/bin/busybox', 'sh', '-c', script], { cwd: tree });
    assert.equal(native.status, 0, native.stderr);
    for (const cfg of [cfg9p, cfgDirect]) {
      const { proc, done } = runscDo(cfg, [
        '--root-dir',
        tree,
        '--cwd',
        '/',
        '--',
        '/bin/busybox',
        'sh',
        '-c',
        script,
      ]);
      procs.push(proc);
      const r = await done;
      assert.equal(r.stderr, native.stderr, `${path.basename(cfg)} stderr`);
      assert.equal(r.stdout, native.stdout, `${path.basename(cfg)} stdout`);
      assert.equal(r.code, native.status, `${path.basename(cfg)} status`);
    }
  });

  it('escapes from inside the sandbox (symlinks to /etc/shadow and beside the root, .. past the root, /proc/self/root) behave as in a chroot', async () => {
    fs.writeFileSync(path.join(tmp, 'secret'), 'HOST SECRET\n');
    const esc = path.join(tree, 'esc');
    fs.mkdirSync(esc);
    fs.symlinkSync('/etc/shadow', path.join(esc, 'shadow'));
    fs.symlinkSync('../../../../../../etc/shadow', path.join(esc, 'up'));
    fs.symlinkSync('../../secret', path.join(esc, 'secret-rel'));
    fs.symlinkSync(path.join(tmp, 'secret'), path.join(esc, 'secret-abs'));
    fs.symlinkSync('../../..', path.join(esc, 'updir'));
    try {
      // Applets by full name: a chroot has no /proc, so busybox cannot re-exec itself there.
      const script = [
        'B=/bin/busybox',
        'for f in /esc/shadow /esc/up /esc/secret-rel /esc/secret-abs /../../secret /esc/updir/secret /esc/updir/../../secret; do $B cat $f; echo "$f rc=$?"; done',
        'cd /esc/updir && pwd && $B ls -a',
        'cd / && cd ../../.. && pwd && $B ls',
        '$B ls -L /esc/updir/etc',
      ].join('; ');
      // Linux's answer: the same script in a chroot of the tree.
      const native = spawnSync('chroot', [tree, '/bin/busybox', 'sh', '-c', script], { encoding: 'utf8' });
      assert.equal(native.status, 0, native.stderr);
      assert.doesNotMatch(native.stdout, /HOST SECRET/);
      for (const cfg of [cfg9p, cfgDirect]) {
        const { proc, done } = runscDo(cfg, ['--root-dir', tree, '--', '/bin/busybox', 'sh', '-c', script]);
        procs.push(proc);
        const r = await done;
        assert.equal(r.stdout, native.stdout, `${path.basename(cfg)} stdout`);
        assert.equal(r.stderr, native.stderr, `${path.basename(cfg)} stderr`);
        assert.equal(r.code, 0);
      }
      // /proc/self/root is the sandbox's root, not the host's.
      const probe =
        'readlink /proc/self/root; cat /proc/self/root/../../secret; echo "rc=$?"; ls /proc/self/root/ | tr "\\n" " "';
      const { proc, done } = runscDo(cfg9p, ['--root-dir', tree, '--', '/bin/busybox', 'sh', '-c', probe]);
      procs.push(proc);
      const r = await done;
      assert.equal(r.stdout, `/\nrc=1\n${fs.readdirSync(tree).sort().join(' ')} `);
      assert.match(r.stderr, /can't open '\/proc\/self\/root\/..\/..\/secret': No such file or directory/);
      assert.equal(fs.readFileSync(path.join(tmp, 'secret'), 'utf8'), 'HOST SECRET\n');
    } finally {
      fs.rmSync(esc, { recursive: true, force: true });
    }
  });

  it('when the 9P server dies, its files fail with EIO, one log line says so, and the sentry carries on', async () => {
    const g = await startGofer(tree);
    gofers.push(g);
    const cfg = path.join(tmp, 'listen.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({ gofer: { mode: '9p', server: `${g.host}:${g.port}`, aname: tree } }),
    );
    const { proc, done, out } = runscDo(cfg, [
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      // The program itself must not be paged in from the dead server (that is SIGBUS, as on
      // Linux): run a copy in /tmp (the overlay's tmpfs upper).
      'mkdir /tmp/x && cp /bin/busybox /tmp/x/busybox && cat /data/a/b/c/deep.txt && exec /tmp/x/busybox sh -c \'/tmp/x/busybox sleep 2; /tmp/x/busybox cat /data/f1 >/dev/null; echo "rc=$?"; /tmp/x/busybox stat -c %s /data/f2; echo "stat=$?"; echo still here\'',
    ]);
    procs.push(proc);
    // Kill the server once the sandbox has read through it (during its sleep).
    for (let i = 0; i < 400 && !out().includes('deep'); i++) await sleep(50);
    assert.equal(out(), 'deep\n');
    await g.stop();
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deep\nrc=1\nstat=1\nstill here\n');
    assert.match(r.stderr, /cat: can't open '\/data\/f1': Input\/output error/);
    assert.match(r.stderr, /stat: can't stat '\/data\/f2': Input\/output error/);
    assert.equal((r.stderr.match(/lost the connection/g) ?? []).length, 1, `one log line: ${r.stderr}`);
  });

  it('the busybox suite passes with runsc gofer serving the root over 9P', () => {
    const cfg = path.join(tmp, 'busybox-9p.json');
    fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p' } }));
    const r = busyboxSuite(cfg);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /\b(\d+) passing/);
    assert.doesNotMatch(r.out, /failing|pending/);
  });

  it("the busybox suite passes with Debian's diod as the 9P server of the root (a test tree)", async () => {
    if (!fs.existsSync(DIOD))
      throw new Error(`${DIOD} is missing: install Debian's diod package (apt-get install diod)`);
    const { proc: diod, port } = await startDiod(tree);
    procs.push(diod);
    try {
      const cfg = path.join(tmp, 'busybox-diod.json');
      fs.writeFileSync(
        cfg,
        JSON.stringify({ gofer: { mode: '9p', server: `127.0.0.1:${port}`, aname: tree } }),
      );
      // The root really is diod's: a file only the tree has.
      fs.writeFileSync(path.join(tree, 'etc', 'marker'), 'served by diod\n');
      const { proc, done } = runscDo(cfg, ['--', '/bin/busybox', 'cat', '/etc/marker']);
      procs.push(proc);
      const m = await done;
      assert.equal(m.stdout, 'served by diod\n', m.stderr);
      const r = busyboxSuite(cfg);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /\b(\d+) passing/);
      assert.doesNotMatch(r.out, /failing|pending/);
    } finally {
      diod.kill('SIGTERM');
    }
  });
});
