/**
 * `gofer.mode: 9p` with `gofer.overlay: none`: the sandbox writes the host files through the
 * gofer (create, write, O_APPEND/O_TRUNC/O_EXCL, mkdir, symlink, mknod, link, rename, unlink,
 * rmdir, chmod/chown/truncate/utimensat, fsync, xattrs, MAP_SHARED write-back). Linux's
 * answers come from the same program run natively in a fresh directory; the host trees the two
 * runs leave are compared too. Also: `fileAccess: shared` sees changes made on the host, and
 * killing the gofer while the sandbox writes gives EIO, one log line and no crash.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative } from './harness';
import {
  childrenMatching,
  makeRootTree,
  runscDo,
  sleep,
  startDiod,
  walkTree,
} from '../../plugins/fs-gofer/test/helpers';

/** What a tree holds: path, type+mode, size, links, owner, content hash (files), link text. */
function treeState(root: string): string[] {
  return walkTree(root).map(({ rel, st }) => {
    const p = path.join(root, rel);
    const extra = st.isFile()
      ? createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)
      : st.isSymbolicLink()
        ? fs.readlinkSync(p)
        : '';
    const size = st.isDirectory() ? '-' : st.size;
    return `${rel} ${st.mode.toString(8)} ${size} ${st.nlink} ${st.uid}:${st.gid} ${extra}`;
  });
}

const DIOD = '/usr/sbin/diod';

describe('gofer mode 9p, overlay none: the sandbox writes the host through the gofer', function () {
  this.timeout(300_000);
  let tmp: string;
  let tree: string;
  let cfg: string;
  const procs: ChildProcess[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-write-'));
    tree = path.join(tmp, 'tree');
    fs.mkdirSync(tree);
    makeRootTree(tree);
    cfg = path.join(tmp, '9p-rw.json');
    fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p', overlay: 'none' } }));
  });

  after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('every write operation returns what Linux returns, and leaves the host tree as Linux does', async () => {
    const bin = buildC('gofer_write');
    fs.copyFileSync(bin, path.join(tree, 'gofer_write'));
    fs.chmodSync(path.join(tree, 'gofer_write'), 0o755);
    const nat = path.join(tmp, 'native');
    fs.mkdirSync(nat);
    const native = runNative([bin, nat]);
    assert.equal(native.status, 0, native.stderr);
    assert.match(native.stdout, /m@5000 \[second page\]/, 'the native run did what the test expects');
    fs.mkdirSync(path.join(tree, 'w'));
    const { proc, done } = runscDo(cfg, ['--root-dir', tree, '--', '/gofer_write', '/w']);
    procs.push(proc);
    const r = await done;
    assert.equal(r.stderr, native.stderr);
    assert.equal(r.stdout, native.stdout);
    assert.equal(r.code, native.status);
    // The writes really reached the host, as the native run's did.
    assert.deepEqual(treeState(path.join(tree, 'w')), treeState(nat));
    const g2 = fs.statSync(path.join(tree, 'w', 'd', 'g2'));
    assert.equal(g2.mtimeMs, fs.statSync(path.join(nat, 'd', 'g2')).mtimeMs, 'utimensat reached the host');
    fs.rmSync(path.join(tree, 'w'), { recursive: true });
  });

  it("the same program against Debian's diod as the 9P server (Tremove/Trename fallbacks, path-based fids)", async () => {
    if (!fs.existsSync(DIOD))
      throw new Error(`${DIOD} is missing: install Debian's diod package (apt-get install diod)`);
    const bin = buildC('gofer_write');
    fs.copyFileSync(bin, path.join(tree, 'gofer_write'));
    fs.chmodSync(path.join(tree, 'gofer_write'), 0o755);
    const nat = path.join(tmp, 'native-diod');
    fs.mkdirSync(nat);
    const native = runNative([bin, nat]);
    assert.equal(native.status, 0, native.stderr);
    fs.mkdirSync(path.join(tree, 'w'));
    const { proc: diod, port } = await startDiod(tree);
    procs.push(diod);
    try {
      const cfg = path.join(tmp, 'diod-rw.json');
      fs.writeFileSync(
        cfg,
        JSON.stringify({ gofer: { mode: '9p', overlay: 'none', server: `127.0.0.1:${port}`, aname: tree } }),
      );
      const { proc, done } = runscDo(cfg, ['--cwd', '/', '--', '/gofer_write', '/w']);
      procs.push(proc);
      const r = await done;
      assert.equal(r.stderr, native.stderr);
      assert.equal(r.code, native.status);
      // diod answers fstat of an open, unlinked file from its path-based fid (nlink 1, not
      // 0): its behaviour, as Linux's own 9p client would show. Every other line as Linux.
      const unlinked = /^fstat nlink \d+ size 5$/m;
      assert.match(r.stdout, unlinked);
      assert.equal(r.stdout.replace(unlinked, ''), native.stdout.replace(unlinked, ''));
      assert.deepEqual(treeState(path.join(tree, 'w')), treeState(nat));
    } finally {
      diod.kill('SIGTERM');
      fs.rmSync(path.join(tree, 'w'), { recursive: true, force: true });
    }
  });

  it('busybox file commands write the host tree as in a chroot of it', async () => {
    const script = [
      'B=/bin/busybox',
      'cd /w && echo one > a && echo two >> a && $B cp a b && $B mv b c && $B mkdir -p x/y/z',
      '$B ln -s ../a x/l && $B ln a hard && $B chmod 751 x && $B touch -d "2001-02-03 04:05:06" a',
      '$B rm -r x/y && $B rmdir x; echo "rmdir rc=$?"',
      '$B seq 1 300000 > big && $B truncate -s 100000 big',
      '$B sed -i s/one/uno/ a && $B cat a c hard && $B ls -ln --full-time . x | $B grep -v ^total',
      '$B md5sum big; $B rm c; $B ls',
    ].join('; ');
    const copy = path.join(tmp, 'chroot');
    fs.cpSync(tree, copy, { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(copy, 'w'));
    fs.mkdirSync(path.join(tree, 'w'));
    try {
      const native = runNative(['chroot', copy, '/bin/busybox', 'sh', '-c', script]);
      assert.equal(native.status, 0, native.stderr);
      const { proc, done } = runscDo(cfg, ['--root-dir', tree, '--', '/bin/busybox', 'sh', '-c', script]);
      procs.push(proc);
      const r = await done;
      // ls shows times: the native run's and ours differ by when they ran, except a's (touch -d).
      const noTimes = (s: string) =>
        s.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4}/g, (m) =>
          m.startsWith('2001-') ? m : 'TIME',
        );
      assert.equal(r.stderr, native.stderr);
      assert.equal(noTimes(r.stdout), noTimes(native.stdout));
      assert.equal(r.code, 0);
      assert.deepEqual(treeState(path.join(tree, 'w')), treeState(path.join(copy, 'w')));
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
      fs.rmSync(path.join(tree, 'w'), { recursive: true, force: true });
    }
  });

  it('fileAccess shared sees files changed on the host while the sandbox runs', async () => {
    const shared = path.join(tmp, 'shared.json');
    fs.writeFileSync(
      shared,
      JSON.stringify({ gofer: { mode: '9p', overlay: 'none', fileAccess: 'shared' } }),
    );
    fs.mkdirSync(path.join(tree, 'sh'));
    fs.writeFileSync(path.join(tree, 'sh', 'f'), 'old\n');
    fs.writeFileSync(path.join(tree, 'sh', 'gone'), 'x');
    fs.mkdirSync(path.join(tree, 'sh', 'dir'));
    fs.writeFileSync(path.join(tree, 'sh', 'dir', 'x'), 'in dir\n');
    try {
      const { proc, done, out } = runscDo(shared, [
        '--root-dir',
        tree,
        '--',
        '/bin/busybox',
        'sh',
        '-c',
        'cd /sh; /bin/busybox ls; /bin/busybox stat -c %s f; /bin/busybox cat dir/x; echo ready; /bin/busybox sleep 3; /bin/busybox ls; /bin/busybox stat -c %s f; /bin/busybox cat f; /bin/busybox cat gone; echo "rc=$?"; /bin/busybox cat dir/x; echo "rc2=$?"',
      ]);
      procs.push(proc);
      for (let i = 0; i < 600 && !out().includes('ready') && proc.exitCode === null; i++) await sleep(50);
      assert.equal(out(), 'dir\nf\ngone\n4\nin dir\nready\n');
      fs.appendFileSync(path.join(tree, 'sh', 'f'), 'new line\n');
      fs.writeFileSync(path.join(tree, 'sh', 'added'), '');
      fs.unlinkSync(path.join(tree, 'sh', 'gone'));
      // A directory the sandbox walked through is replaced by a file: the cached walk is
      // checked again (ENOTDIR, as Linux), not served from the dentry cache.
      fs.rmSync(path.join(tree, 'sh', 'dir'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'sh', 'dir'), 'now a file\n');
      const r = await done;
      assert.equal(
        r.stdout,
        'dir\nf\ngone\n4\nin dir\nready\nadded\ndir\nf\n13\nold\nnew line\nrc=1\nrc2=1\n',
        r.stderr,
      );
      assert.match(r.stderr, /cat: can't open 'gone': No such file or directory/);
      assert.match(r.stderr, /cat: can't open 'dir\/x': Not a directory/);
    } finally {
      fs.rmSync(path.join(tree, 'sh'), { recursive: true, force: true });
    }
  });

  it('killing the gofer while the sandbox writes: EIO to the app, one log line, the sandbox carries on', async () => {
    fs.mkdirSync(path.join(tree, 'w'));
    try {
      // The shell runs from /dev/shm (the sandbox's tmpfs): its own pages must not come from
      // the dead gofer (that is SIGBUS, as on Linux).
      const { proc, done, out } = runscDo(cfg, [
        '--root-dir',
        tree,
        '--',
        '/bin/busybox',
        'sh',
        '-c',
        '/bin/busybox mkdir /dev/shm/x && /bin/busybox cp /bin/busybox /dev/shm/x/busybox && exec /dev/shm/x/busybox sh -c \'exec 3>/w/out; echo writing; n=0; while echo 0123456789 >&3; do n=$((n+1)); done; echo "write failed after $n"; /dev/shm/x/busybox cat /w/out > /dev/null; echo "cat rc=$?"; /dev/shm/x/busybox touch /w/new; echo "touch rc=$?"; echo still here\'',
      ]);
      procs.push(proc);
      for (let i = 0; i < 600 && !out().includes('writing') && proc.exitCode === null; i++) await sleep(50);
      assert.equal(out(), 'writing\n');
      const gofers = childrenMatching(proc.pid!, ['gofer', '--root-dir', tree]);
      assert.equal(gofers.length, 1, 'one gofer child');
      // Let some writes land, then kill it.
      for (
        let i = 0;
        i < 200 &&
        !(fs.existsSync(path.join(tree, 'w', 'out')) && fs.statSync(path.join(tree, 'w', 'out')).size > 0);
        i++
      )
        await sleep(25);
      process.kill(gofers[0], 'SIGKILL');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      const m = /^writing\nwrite failed after (\d+)\ncat rc=1\ntouch rc=1\nstill here\n$/.exec(r.stdout);
      assert.ok(m, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.ok(Number(m[1]) > 0, 'some writes went through before the kill');
      assert.match(r.stderr, /write error: Input\/output error|I\/O error/);
      assert.match(r.stderr, /cat: can't open '\/w\/out': Input\/output error/);
      assert.equal((r.stderr.match(/lost the connection/g) ?? []).length, 1, `one log line: ${r.stderr}`);
      // Writes are cached (exclusive file access) and written back at the 8 MiB bound, fsync
      // or close: what reached the host before the kill is a prefix of what was written; the
      // rest was lost with the gofer (and reported as EIO).
      const data = fs.readFileSync(path.join(tree, 'w', 'out'), 'utf8');
      assert.ok('0123456789\n'.repeat(Number(m[1])).startsWith(data), `host file: ${data.length} bytes`);
    } finally {
      fs.rmSync(path.join(tree, 'w'), { recursive: true, force: true });
    }
  });
});
