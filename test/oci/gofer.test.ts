/**
 * Containers and the gofer (plugins/fs-gofer), compared with Debian's runc on the same
 * bundle: a writable bind mount is written through to the host directory (a runsc gofer of
 * its own), a read-only one refuses writes, and with `gofer: {mode: 9p}` the root is served
 * by the container's runsc gofer too — one process per container with a connection per
 * mount, gone after delete; killing it gives EIO on every mount it served while the others
 * (tmpfs) go on. With `overlay: none` the root's writes reach root.path, as runc's do.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../../core/runtime/oci/spec';
import {
  cleanupRoot,
  cleanupRuncRoot,
  haveBusybox,
  haveRunc,
  makeBundle,
  runc,
  runsc,
  tmpDir,
  until,
  type Result,
} from './helpers';

const SCRIPT = [
  'cat /vol/in.txt',
  'echo made-inside > /vol/out.txt',
  'mkdir /vol/d && echo deep > /vol/d/f',
  'rm /vol/gone.txt',
  'echo x > /ro/y || echo "ro write refused: $?"',
  'cat /ro/r.txt',
  'echo root-write > /rootw && cat /rootw',
  'ls /vol',
].join('; ');

/** Host directory `vol` and `ro` beside the bundle, mounted at /vol (rw) and /ro (ro). */
function volumes(dir: string): { vol: string; ro: string; edit: (s: Spec) => void } {
  const vol = path.join(dir, 'vol');
  const ro = path.join(dir, 'ro');
  fs.mkdirSync(vol, { recursive: true });
  fs.mkdirSync(ro, { recursive: true });
  fs.writeFileSync(path.join(vol, 'in.txt'), 'from the host\n');
  fs.writeFileSync(path.join(vol, 'gone.txt'), 'delete me\n');
  fs.writeFileSync(path.join(ro, 'r.txt'), 'read only\n');
  return {
    vol,
    ro,
    edit: (s) => {
      s.root = { path: 'rootfs', readonly: false };
      s.mounts = [
        ...(s.mounts ?? []),
        { destination: '/vol', type: 'bind', source: vol, options: ['rbind', 'rw'] },
        { destination: '/ro', type: 'bind', source: ro, options: ['rbind', 'ro'] },
      ];
    },
  };
}

/** The host side after a run: the names and contents under `d`. */
function tree(d: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    for (const n of fs.readdirSync(p).sort()) {
      const f = path.join(p, n);
      const st = fs.lstatSync(f);
      if (st.isDirectory()) {
        out.push(`${rel}${n}/`);
        walk(f, `${rel}${n}/`);
      } else out.push(`${rel}${n}: ${fs.readFileSync(f, 'utf8').trim()}`);
    }
  };
  walk(d, '');
  return out;
}

/** The directories a runsc gofer process serves and the fd of each (its `--fd N --root-dir DIR` pairs). */
function served(pid: number): { dir: string; fd: number }[] {
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const out: { dir: string; fd: number }[] = [];
  for (let i = 0; i + 3 < argv.length; i++)
    if (argv[i] === '--fd' && argv[i + 2] === '--root-dir')
      out.push({ fd: Number(argv[i + 1]), dir: argv[i + 3] });
  return out;
}

/** Host processes that are runsc gofers serving a directory under `under`. */
function gofersUnder(under: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('gofer')) continue;
      if (argv.some((a, i) => argv[i - 1] === '--root-dir' && a.startsWith(under))) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe('oci: containers and the gofer (bind mounts to the host, gofer.mode 9p), vs runc', function () {
  this.timeout(120_000);
  let dir = '';
  let root = '';
  let runcRoot = '';

  before(function () {
    if (!haveBusybox() || !haveRunc() || process.getuid?.() !== 0) this.skip();
    dir = tmpDir('tsvisor-oci-gofer-');
    root = path.join(dir, 'state');
    runcRoot = path.join(dir, 'runc-state');
  });

  after(async () => {
    if (!dir) return;
    await cleanupRoot(root);
    await cleanupRuncRoot(runcRoot);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function config(name: string, yaml: string): string {
    const f = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(f, yaml);
    return f;
  }

  /** The script in a fresh bundle under runc and under runsc (with `flags`); both results and host trees. */
  async function both(name: string, flags: string[]) {
    const rcDir = path.join(dir, `${name}-runc`);
    const ourDir = path.join(dir, `${name}-ours`);
    const rv = volumes(rcDir);
    const ov = volumes(ourDir);
    makeBundle(rcDir, ['/bin/sh', '-c', SCRIPT], rv.edit);
    makeBundle(ourDir, ['/bin/sh', '-c', SCRIPT], ov.edit);
    const theirs: Result = await runc(runcRoot, ['run', '--bundle', rcDir, `${name}-rc`]);
    const ours: Result = await runsc(root, [...flags, 'run', '--bundle', ourDir, `${name}-ts`]);
    return { theirs, ours, rcDir, ourDir, rv, ov };
  }

  it('default config: a writable bind mount is written through to the host; a read-only one refuses writes', async () => {
    const r = await both('default', []);
    assert.equal(r.theirs.code, 0, r.theirs.stderr);
    assert.match(
      r.theirs.stdout,
      /^from the host\nro write refused: 1\nread only\nroot-write\nd\nin.txt\nout.txt\n$/,
    );
    assert.equal(r.ours.stdout, r.theirs.stdout);
    assert.equal(r.ours.stderr.replace(/^.*: /gm, ''), r.theirs.stderr.replace(/^.*: /gm, ''));
    assert.equal(r.ours.code, r.theirs.code, r.ours.stderr);
    assert.deepEqual(tree(r.ov.vol), tree(r.rv.vol));
    assert.deepEqual(tree(r.ov.vol), ['d/', 'd/f: deep', 'in.txt: from the host', 'out.txt: made-inside']);
    assert.deepEqual(tree(r.ov.ro), tree(r.rv.ro));
    // The root stays the bundle's: the default overlay keeps the container's own writes.
    assert.ok(!fs.existsSync(path.join(r.ourDir, 'rootfs', 'rootw')));
    // The gofer exits when the sandbox's ends of its sockets close (just after runsc run returns).
    await until(() => gofersUnder(dir).length === 0, 10_000);
  });

  it('gofer.mode 9p: the same results; one runsc gofer per container serving every mount while it runs, none after delete', async () => {
    const cfg = config('p9', 'rootfs: gofer\ngofer:\n  mode: 9p\n');
    const r = await both('p9', [`--config=${cfg}`]);
    assert.equal(r.ours.stdout, r.theirs.stdout);
    assert.equal(r.ours.code, r.theirs.code, r.ours.stderr);
    assert.deepEqual(tree(r.ov.vol), tree(r.rv.vol));
    assert.ok(!fs.existsSync(path.join(r.ourDir, 'rootfs', 'rootw')));

    // A running container: ONE gofer process serves the root, /vol and the read-only /ro
    // (served by the root's mode too), each on a socket of its own, each directory bind
    // mounted in the gofer's own root (and nothing else is).
    const b = path.join(dir, 'p9-running');
    const v = volumes(b);
    makeBundle(b, ['/bin/sleep', '1000'], v.edit);
    const c = await runsc(root, [`--config=${cfg}`, 'create', '--bundle', b, 'p9-running']);
    assert.equal(c.code, 0, c.stderr);
    const s = await runsc(root, ['start', 'p9-running']);
    assert.equal(s.code, 0, s.stderr);
    const g = gofersUnder(b);
    assert.equal(g.length, 1, `gofers: ${g.join(', ')}`);
    const conns = served(g[0]);
    assert.deepEqual(conns.map((x) => x.dir).sort(), [path.join(b, 'rootfs'), v.ro, v.vol].sort());
    const sockets = conns.map((x) => fs.readlinkSync(`/proc/${g[0]}/fd/${x.fd}`));
    for (const l of sockets) assert.match(l, /^socket:\[\d+\]$/);
    assert.equal(new Set(sockets).size, 3, 'a socket per mount');
    assert.deepEqual(fs.readdirSync(`/proc/${g[0]}/root`).sort(), ['0', '1', '2']);
    for (const [i, x] of conns.entries())
      assert.deepEqual(fs.readdirSync(`/proc/${g[0]}/root/${i}`).sort(), fs.readdirSync(x.dir).sort());
    // What the sandbox only reads (the root under the overlay, /ro) is read-only there too.
    const mountinfo = fs.readFileSync(`/proc/${g[0]}/mountinfo`, 'utf8');
    for (const [i, x] of conns.entries())
      assert.match(
        mountinfo,
        new RegExp(` /${i} ${x.dir === v.vol ? 'rw' : 'ro'},`),
        `${x.dir}: ${mountinfo}`,
      );
    // Every mount is served: the container reads each through its connection.
    const e = await runsc(root, ['exec', 'p9-running', '/bin/cat', '/vol/in.txt', '/ro/r.txt', '/etc/group']);
    assert.equal(e.stdout, 'from the host\nread only\nroot:x:0:\n', e.stderr);
    const d = await runsc(root, ['delete', '--force', 'p9-running']);
    assert.equal(d.code, 0, d.stderr);
    await until(() => gofersUnder(b).length === 0, 10_000);
  });

  it('gofer.mode 9p with overlay none: the root is written through to root.path, as runc', async () => {
    const cfg = config('p9rw', 'rootfs: gofer\ngofer:\n  mode: 9p\n  overlay: none\n');
    const r = await both('p9rw', [`--config=${cfg}`]);
    assert.equal(r.ours.stdout, r.theirs.stdout);
    assert.equal(r.ours.code, r.theirs.code, r.ours.stderr);
    assert.equal(fs.readFileSync(path.join(r.rcDir, 'rootfs', 'rootw'), 'utf8'), 'root-write\n');
    assert.equal(fs.readFileSync(path.join(r.ourDir, 'rootfs', 'rootw'), 'utf8'), 'root-write\n');
    assert.deepEqual(tree(r.ov.vol), tree(r.rv.vol));
  });

  it('a gofer killed under a running container: its mount gives EIO, the rest goes on', async () => {
    const b = path.join(dir, 'killed');
    const v = volumes(b);
    makeBundle(b, ['/bin/sleep', '1000'], v.edit);
    const c = await runsc(root, ['create', '--bundle', b, 'killed']);
    assert.equal(c.code, 0, c.stderr);
    const st = await runsc(root, ['start', 'killed']);
    assert.equal(st.code, 0, st.stderr);
    const before = await runsc(root, ['exec', 'killed', '/bin/cat', '/vol/in.txt']);
    assert.equal(before.stdout, 'from the host\n', before.stderr);
    const g = gofersUnder(v.vol);
    assert.equal(g.length, 1, `gofers of /vol: ${g.join(', ')}`);
    process.kill(g[0], 'SIGKILL');
    await until(() => gofersUnder(v.vol).length === 0, 10_000);
    const after = await runsc(root, ['exec', 'killed', '/bin/cat', '/vol/in.txt']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^cat: .*(I\/O|Input\/output) error\n$/);
    const other = await runsc(root, ['exec', 'killed', '/bin/cat', '/ro/r.txt']);
    assert.equal(other.stdout, 'read only\n', other.stderr);
    const state = await runsc(root, ['state', 'killed']);
    assert.equal((JSON.parse(state.stdout) as { status: string }).status, 'running');
    const d = await runsc(root, ['delete', '--force', 'killed']);
    assert.equal(d.code, 0, d.stderr);
  });

  it('gofer.mode 9p: the killed gofer gives EIO on the root and every bind mount; a tmpfs mount goes on', async () => {
    const cfg = config('p9kill', 'rootfs: gofer\ngofer:\n  mode: 9p\n');
    const b = path.join(dir, 'p9-killed');
    const v = volumes(b);
    makeBundle(b, ['/bin/sleep', '1000'], (s) => {
      v.edit(s);
      s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
    });
    fs.writeFileSync(path.join(b, 'rootfs', 'etc', 'unread'), 'never read before the kill\n');
    const c = await runsc(root, [`--config=${cfg}`, 'create', '--bundle', b, 'p9-killed']);
    assert.equal(c.code, 0, c.stderr);
    const st = await runsc(root, ['start', 'p9-killed']);
    assert.equal(st.code, 0, st.stderr);
    // Programs run from /scratch (the sandbox's tmpfs) after the kill: their own pages must
    // not come from the dead gofer (that is EIO at exec, SIGBUS later, as on Linux).
    const cp = await runsc(root, [
      'exec',
      'p9-killed',
      '/bin/sh',
      '-c',
      '/bin/mkdir /scratch/x && /bin/busybox cp /bin/busybox /scratch/x/busybox',
    ]);
    assert.equal(cp.code, 0, cp.stderr);
    const script = (unread: string) =>
      `for f in /vol/in.txt /ro/r.txt ${unread}; do /scratch/x/busybox cat $f; echo "$f rc=$?"; done; echo t > /scratch/t && /scratch/x/busybox cat /scratch/t`;
    const before = await runsc(root, [
      'exec',
      'p9-killed',
      '/scratch/x/busybox',
      'sh',
      '-c',
      script('/etc/unread'),
    ]);
    assert.equal(
      before.stdout,
      'from the host\n/vol/in.txt rc=0\nread only\n/ro/r.txt rc=0\nnever read before the kill\n/etc/unread rc=0\nt\n',
      before.stderr,
    );
    const g = gofersUnder(b);
    assert.equal(g.length, 1, `gofers: ${g.join(', ')}`);
    process.kill(g[0], 'SIGKILL');
    await until(() => gofersUnder(b).length === 0, 10_000);
    // The files read before (cached names) and a root file never read: EIO from all three.
    const after = await runsc(root, [
      'exec',
      'p9-killed',
      '/scratch/x/busybox',
      'sh',
      '-c',
      script('/etc/passwd'),
    ]);
    assert.equal(after.stdout, '/vol/in.txt rc=1\n/ro/r.txt rc=1\n/etc/passwd rc=1\nt\n', after.stderr);
    assert.equal((after.stderr.match(/Input\/output error|I\/O error/g) ?? []).length, 3, after.stderr);
    const state = await runsc(root, ['state', 'p9-killed']);
    assert.equal((JSON.parse(state.stdout) as { status: string }).status, 'running');
    const d = await runsc(root, ['delete', '--force', 'p9-killed']);
    assert.equal(d.code, 0, d.stderr);
  });
});
