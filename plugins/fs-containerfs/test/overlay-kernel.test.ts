/**
 * Overlay semantics against the Linux kernel's overlayfs. Two random lower layers (files,
 * directories, symlinks; the upper one with whiteouts and opaque directories) are made
 * both as host folders for `mount -t overlay` and as layer images for containerfs. The
 * same random sequence of operations (create, write, read, rename, unlink, mkdir, rmdir,
 * chmod, link, symlink, truncate) runs through a small static C driver natively on the
 * kernel overlay and inside the sandbox on containerfs; every errno and the final tree
 * (types, modes, sizes, link counts, contents, link targets) must be the same.
 * Needs root (mount); the seed is fixed (CFS_SEED overrides it) and printed on failure.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSandbox, REPO } from '../../../test/integration/harness';
import { writeImage, type Entry } from '../src/format/writer';

const OPS = Number(process.env.CFS_OPS ?? 2000);
const SEEDS = (process.env.CFS_SEED ?? '11,23,42').split(',').map(Number);
const NAMES = ['a', 'b', 'c', 'x', 'y', 'z'];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Node =
  | { kind: 'dir'; mode: number; opaque?: boolean }
  | { kind: 'file'; mode: number; text: string }
  | { kind: 'symlink'; target: string }
  | { kind: 'whiteout' };

/** A random layer: path ("a/b") → node, parents before children. */
function randomLayer(rnd: () => number, below: Map<string, Node> | null): Map<string, Node> {
  const out = new Map<string, Node>();
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const fill = (dir: string, depth: number): void => {
    for (const n of NAMES) {
      if (rnd() < 0.45) continue;
      const p = dir ? `${dir}/${n}` : n;
      const low = below?.get(p);
      const r = rnd();
      if (low && r < 0.15) out.set(p, { kind: 'whiteout' });
      else if (depth < 3 && r < 0.5) {
        out.set(p, {
          kind: 'dir',
          mode: pick([0o755, 0o750, 0o700]),
          opaque: low?.kind === 'dir' && rnd() < 0.25,
        });
        fill(p, depth + 1);
      } else if (r < 0.9)
        out.set(p, {
          kind: 'file',
          mode: pick([0o644, 0o600, 0o755, 0o640]),
          text: `t${Math.floor(rnd() * 1e6)}`,
        });
      else out.set(p, { kind: 'symlink', target: pick(['x', '../a', 'b/c', 'nowhere']) });
    }
  };
  fill('', 1);
  return out;
}

function makeHostLayer(root: string, layer: Map<string, Node>): void {
  fs.mkdirSync(root, { recursive: true });
  for (const [p, n] of layer) {
    const f = path.join(root, p);
    if (n.kind === 'dir') {
      fs.mkdirSync(f);
      fs.chmodSync(f, n.mode);
      if (n.opaque) {
        const r = spawnSync('/usr/bin/python3', [
          '-c',
          `import os; os.setxattr(${JSON.stringify(f)}, 'trusted.overlay.opaque', b'y')`,
        ]);
        if (r.status !== 0) throw new Error(`setxattr ${f}: ${r.stderr}`);
      }
    } else if (n.kind === 'file') {
      fs.writeFileSync(f, n.text);
      fs.chmodSync(f, n.mode);
    } else if (n.kind === 'symlink') fs.symlinkSync(n.target, f);
    else {
      const r = spawnSync('mknod', [f, 'c', '0', '0']);
      if (r.status !== 0) throw new Error(`mknod ${f}: ${r.stderr}`);
    }
  }
}

function imageEntries(layer: Map<string, Node>, prefix: string): Entry[] {
  const out: Entry[] = [{ path: prefix, kind: 'dir', perm: 0o755 }];
  for (const [p, n] of layer) {
    const at = `${prefix}/${p}`;
    if (n.kind === 'dir') out.push({ path: at, kind: 'dir', perm: n.mode, opaque: n.opaque });
    else if (n.kind === 'file')
      out.push({ path: at, kind: 'file', perm: n.mode, content: { data: Buffer.from(n.text) } });
    else if (n.kind === 'symlink') out.push({ path: at, kind: 'symlink', target: n.target, perm: 0o777 });
    else out.push({ path: at, kind: 'whiteout' });
  }
  return out;
}

function randomOps(rnd: () => number, count: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const p = (): string => {
    const depth = 1 + Math.floor(rnd() * 3);
    return Array.from({ length: depth }, () => pick(NAMES)).join('/');
  };
  const mode = (): string => pick(['644', '600', '755', '700', '444']);
  const weighted: [number, () => string][] = [
    [15, () => `create ${p()} ${mode()}`],
    [15, () => `write ${p()} w${Math.floor(rnd() * 1000)}`],
    [8, () => `read ${p()}`],
    [10, () => `rename ${p()} ${p()}`],
    [10, () => `unlink ${p()}`],
    [12, () => `mkdir ${p()} ${pick(['755', '700'])}`],
    [8, () => `rmdir ${p()}`],
    [8, () => `chmod ${p()} ${mode()}`],
    [6, () => `link ${p()} ${p()}`],
    [5, () => `symlink ${pick(['x', '../a', 'a/b', 'gone'])} ${p()}`],
    [6, () => `truncate ${p()} ${pick([0, 1, 3, 10])}`],
  ];
  const total = weighted.reduce((s, [w]) => s + w, 0);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    let r = rnd() * total;
    for (const [w, f] of weighted) {
      if ((r -= w) < 0) {
        lines.push(f());
        break;
      }
    }
  }
  return lines.join('\n') + '\n';
}

function firstDifference(a: string, b: string): string {
  const x = a.split('\n'),
    y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i])
      return `line ${i}:\n  kernel overlay: ${x[i]}\n  containerfs:    ${y[i]}\ncontext:\n${x.slice(Math.max(0, i - 6), i).join('\n')}`;
  }
  return '';
}

describe('containerfs vs the Linux kernel overlayfs: random operations', function () {
  this.timeout(600000);
  let work: string;
  let driver: string;
  const mounts: string[] = [];

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-ovl-'));
    driver = path.join(work, 'opdriver');
    const cc = spawnSync(
      'gcc',
      ['-O1', '-static', '-o', driver, path.join(REPO, 'plugins/fs-containerfs/test/c/opdriver.c')],
      {
        encoding: 'utf8',
      },
    );
    if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
    // Is overlayfs mountable here?
    const probe = path.join(work, 'probe');
    for (const d of ['l', 'u', 'w', 'm']) fs.mkdirSync(path.join(probe, d), { recursive: true });
    const m = spawnSync('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${probe}/l,upperdir=${probe}/u,workdir=${probe}/w`,
      `${probe}/m`,
    ]);
    if (m.status !== 0) this.skip();
    spawnSync('umount', [`${probe}/m`]);
  });

  after(() => {
    for (const m of mounts.splice(0)) spawnSync('umount', [m]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS} operations give the same errnos and the same final tree`, () => {
      const rnd = mulberry32(seed);
      const l1 = randomLayer(rnd, null);
      const l2 = randomLayer(rnd, l1);
      const ops = randomOps(rnd, OPS);
      const dir = path.join(work, `s${seed}`);
      makeHostLayer(path.join(dir, 'l1'), l1);
      makeHostLayer(path.join(dir, 'l2'), l2);
      for (const d of ['u', 'w', 'm']) fs.mkdirSync(path.join(dir, d));
      const mnt = path.join(dir, 'm');
      const m = spawnSync(
        'mount',
        [
          '-t',
          'overlay',
          'overlay',
          '-o',
          `lowerdir=${dir}/l2:${dir}/l1,upperdir=${dir}/u,workdir=${dir}/w`,
          mnt,
        ],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(m.status, 0, `mount: ${m.stderr}`);
      mounts.push(mnt);
      const native = spawnSync(driver, [mnt], { input: ops, encoding: 'utf8' });
      spawnSync('umount', [mnt]);
      mounts.pop();
      assert.equal(native.status, 0, native.stderr);

      // The driver lives in its own bottom layer; the test tree is /t in the others.
      writeImage(
        [
          { path: '/drv', kind: 'dir' },
          { path: '/drv/opdriver', kind: 'file', perm: 0o755, content: { data: fs.readFileSync(driver) } },
          { path: '/t', kind: 'dir' },
        ],
        path.join(dir, 'drv.img'),
      );
      writeImage(imageEntries(l1, '/t'), path.join(dir, 'l1.img'));
      writeImage(imageEntries(l2, '/t'), path.join(dir, 'l2.img'));
      const cfg = path.join(dir, 'runsc.config.json');
      fs.writeFileSync(
        cfg,
        JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: ['drv.img', 'l1.img', 'l2.img'] } }),
      );
      const sandbox = runSandbox(['/drv/opdriver', '/t'], {
        input: ops,
        flags: ['--config', cfg],
        timeoutMs: 300000,
      });
      assert.equal(sandbox.status, 0, sandbox.stderr);
      const diff = firstDifference(native.stdout, sandbox.stdout);
      assert.ok(diff === '', `seed ${seed}: first difference at ${diff}`);
      // Not vacuous: operations succeeded and failed, and the tree is not empty.
      assert.ok(/-> 0$/m.test(native.stdout) && /-> 2$/m.test(native.stdout));
      assert.ok(native.stdout.split('--- tree\n')[1].split('\n').length > 5);
    });
  }
});
