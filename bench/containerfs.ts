/**
 * containerfs (issue 7): cold opens, mount time and lookup cost.
 *
 * - cold open: a static C program opens, reads one byte of and closes 20,000 files never
 *   opened before in the sandbox (200 directories x 100 files, visited in a shuffled
 *   order), timing its own loop; natively (page cache warm), and under tsvisor with a fresh
 *   sandbox per round on containerfs over a 5-layer image of the tree (each layer holds every
 *   fifth file; all layers hold every directory), on the gofer's 9P mode (`gofer.mode: 9p`:
 *   a runsc gofer process serves the tree) and on directfs, and under gVisor's runsc (its
 *   gofer), rounds interleaved. "sentry-internal" does the same lookups + opens + reads
 *   in-process through the Inode API on a fresh mount (containerfs, 9p, directfs): no app,
 *   no system calls.
 * - mount: opening a 10-file and a 100,000-file image (open, map, header check, root
 *   inode) and a first lookup, once per fresh process.
 * - lookup: 20,000 lookups of files that live only in the bottom layer of 1, 5 and 20
 *   layer stacks whose directories exist in every layer (the Bloom filters skip the rest).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, Benchmark, Sample } from './index';
import type { Inode } from '../core/vfs/inode';
import type { FileDescription } from '../core/vfs/file';
import { writeImage, type Entry } from '../plugins/fs-containerfs/src/format/writer';
import { LayerImage } from '../plugins/fs-containerfs/src/format/reader';
import { Containerfs } from '../plugins/fs-containerfs/src/fs/containerfs';
import { Directfs } from '../plugins/fs-gofer/src/directfs';
import { mountP9 } from '../plugins/fs-gofer/src/p9mount';

const DIRS = 200;
const PER_DIR = 100;
const LAYERS = 5;

const COLDOPEN_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int dirs = atoi(argv[2]), per = atoi(argv[3]), n = dirs * per;
  int *order = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) order[i] = i;
  unsigned s = 12345;
  for (int i = n - 1; i > 0; i--) { s = s * 1103515245 + 12345; int j = (s >> 8) % (i + 1); int t = order[i]; order[i] = order[j]; order[j] = t; }
  char p[512], c;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    int k = order[i];
    snprintf(p, sizeof p, "%s/d%03d/f%05d", argv[1], k / per, k);
    int fd = open(p, O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1) { perror(p); return 1; }
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.3f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
  return 0;
}
`;

function content(k: number): Buffer {
  return Buffer.from(`file ${k} `.padEnd(64, 'x'));
}

function prepare(work: string): { tree: string; layers: string[]; prog: string } {
  const tree = path.join(work, 'tree');
  const src = path.join(work, 'coldopen.c');
  fs.writeFileSync(src, COLDOPEN_C);
  const prog = path.join(work, 'coldopen');
  const cc = spawnSync('gcc', ['-O2', '-static', '-o', prog, src], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc coldopen.c: ${cc.stderr}`);
  fs.mkdirSync(path.join(tree, 'prog'), { recursive: true });
  fs.copyFileSync(prog, path.join(tree, 'prog', 'coldopen'));
  fs.chmodSync(path.join(tree, 'prog', 'coldopen'), 0o755);
  const per: Entry[][] = Array.from({ length: LAYERS }, () => []);
  for (let d = 0; d < DIRS; d++) {
    const dn = `d${String(d).padStart(3, '0')}`;
    fs.mkdirSync(path.join(tree, 't', dn), { recursive: true });
    for (const l of per) l.push({ path: `/t/${dn}`, kind: 'dir', perm: 0o755 });
    for (let f = 0; f < PER_DIR; f++) {
      const k = d * PER_DIR + f;
      const name = `f${String(k).padStart(5, '0')}`;
      fs.writeFileSync(path.join(tree, 't', dn, name), content(k));
      per[k % LAYERS].push({
        path: `/t/${dn}/${name}`,
        kind: 'file',
        perm: 0o644,
        content: { data: content(k) },
      });
    }
  }
  per[0].push({
    path: '/prog/coldopen',
    kind: 'file',
    perm: 0o755,
    content: { data: fs.readFileSync(prog) },
  });
  const layers = per.map((entries, i) => {
    const p = path.join(work, `layer${i}.img`);
    writeImage(entries, p);
    return p;
  });
  return { tree, layers, prog };
}

function selfTimed(argv: string[]): number {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 600000 });
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').slice(0, 400)}`);
  return Number(r.stdout.trim().split('\n').pop());
}

function stack(work: string, n: number, files: number, bloom = true): Containerfs {
  // Files looked up live only in the bottom layer; every layer holds every directory, with as
  // many other names in it (so a layer not skipped costs a real search).
  const imgs: LayerImage[] = [];
  for (let l = 0; l < n; l++) {
    const p = path.join(work, `stack${n}-${l}.img`);
    if (!fs.existsSync(p)) {
      const e: Entry[] = [];
      for (let d = 0; d < DIRS; d++) {
        e.push({ path: `/d${d}`, kind: 'dir' });
        if (l === 0) for (let f = 0; f < files / DIRS; f++) e.push({ path: `/d${d}/f${f}`, kind: 'file' });
        else for (let f = 0; f < files / DIRS; f++) e.push({ path: `/d${d}/other${l}-${f}`, kind: 'file' });
      }
      writeImage(e, p);
    }
    imgs.push(LayerImage.open(p));
  }
  return new Containerfs(imgs, { bloom });
}

export const benchmark: Benchmark = {
  name: 'containerfs',
  description:
    'cold opens of 20,000 files (5-layer image vs directfs vs native vs gVisor), mount time, lookup cost vs layers',
  async run(ctx: BenchContext) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-cfs-'));
    try {
      const { tree, layers, prog } = prepare(work);
      const rounds = Math.max(2, Math.min(ctx.rounds, 5));
      const n = String(DIRS * PER_DIR);
      const args = [String(DIRS), String(PER_DIR)];
      const cfg = path.join(work, 'runsc.config.json');
      fs.writeFileSync(cfg, JSON.stringify({ rootfs: 'containerfs', containerfs: { layers } }));
      const caseName = `cold open x${n} (per open)`;
      const p9cfg = path.join(work, 'runsc.9p.json');
      fs.writeFileSync(p9cfg, JSON.stringify({ gofer: { mode: '9p' } }));
      const dfcfg = path.join(work, 'runsc.directfs.json');
      fs.writeFileSync(dfcfg, JSON.stringify({ gofer: { mode: 'directfs' } }));
      const inSandbox = ['--', '/prog/coldopen', '/t', ...args];
      // Every round starts a fresh sandbox (nothing opened before), and the rounds of the
      // variants are interleaved so that the machine's load hits them alike.
      const e2eVariants: [string, string[] | undefined][] = [
        ['native', [prog, path.join(tree, 't'), ...args]],
        ['tsvisor containerfs', [...ctx.runsc, '--config', cfg, 'do', '--cwd', '/', ...inSandbox]],
        [
          'tsvisor gofer 9p',
          [...ctx.runsc, '--config', p9cfg, 'do', '--cwd', '/', '--root-dir', tree, ...inSandbox],
        ],
        [
          'tsvisor directfs',
          [...ctx.runsc, '--config', dfcfg, 'do', '--cwd', '/', '--root-dir', tree, ...inSandbox],
        ],
        ['gvisor', ctx.gvisorDo([prog, path.join(tree, 't'), ...args])],
      ];
      const e2e = new Map<string, number[]>(e2eVariants.map(([v]) => [v, []]));
      for (let r = 0; r < rounds; r++)
        for (const [v, argv] of e2eVariants) if (argv) e2e.get(v)!.push(selfTimed(argv));
      const samples = new Map<string, Sample>();
      for (const [v, argv] of e2eVariants)
        if (argv) samples.set(v, ctx.record(caseName, v, e2e.get(v)!, 'µs'));
        else ctx.skip(caseName, v, '/usr/bin/runsc not installed');
      const cfsS = samples.get('tsvisor containerfs')!;
      for (const other of ['tsvisor gofer 9p', 'tsvisor directfs', 'gvisor']) {
        const o = samples.get(other);
        if (o)
          ctx.note(
            `cold open end to end: ${other} / containerfs = ${(o.best / cfsS.best).toFixed(2)}x (best), ${(o.median / cfsS.median).toFixed(2)}x (median)`,
          );
      }

      // Sentry-internal: lookups + open + 1-byte read of every file through the Inode API,
      // no app and no syscalls. Each round mounts afresh (not timed: for 9p that starts a
      // runsc gofer process), then times the 20,000 cold opens.
      const names: [string, string][] = [];
      for (let k = 0; k < DIRS * PER_DIR; k++)
        names.push([
          `d${String(Math.floor(k / PER_DIR)).padStart(3, '0')}`,
          `f${String(k).padStart(5, '0')}`,
        ]);
      const one = new Uint8Array(1);
      const internal = `sentry-internal cold open x${n} (per open)`;
      const opens = (root: Inode, vd: unknown): void => {
        const t = root.lookup!('t')!;
        for (const [d, f] of names) {
          const file = t.lookup!(d)!.lookup!(f)!.open({} as never, 0, vd as never) as FileDescription;
          if (file.read({} as never, [one], 0) !== 1)
            throw new Error(`sentry-internal: short read of ${d}/${f}`);
          file.decRef();
        }
      };
      const mounts: [string, () => { root: Inode; vd: unknown; release(): void }][] = [
        [
          'containerfs 5 layers',
          () => {
            const c = new Containerfs(layers.map((p) => LayerImage.open(p)));
            return { root: c.root(), vd: null, release: () => c.release() };
          },
        ],
        [
          'gofer 9p',
          () => {
            const g = mountP9(tree, {});
            return { root: g.root(), vd: { dentry: {} }, release: () => g.release() };
          },
        ],
        [
          'directfs',
          () => {
            const d = new Directfs(tree);
            return { root: d.root(), vd: { dentry: {} }, release: () => d.release() };
          },
        ],
      ];
      const inTimes = new Map<string, number[]>(mounts.map(([v]) => [v, []]));
      for (let r = 0; r < ctx.warmup + rounds; r++)
        for (const [v, mount] of mounts) {
          const m = mount();
          try {
            const t0 = process.hrtime.bigint();
            opens(m.root, m.vd);
            const us = Number(process.hrtime.bigint() - t0) / 1e3 / names.length;
            if (r >= ctx.warmup) inTimes.get(v)!.push(us);
          } finally {
            m.release();
          }
        }
      const inS = new Map<string, Sample>();
      for (const [v] of mounts) inS.set(v, ctx.record(internal, v, inTimes.get(v)!, 'µs'));
      const cfsIn = inS.get('containerfs 5 layers')!;
      for (const other of ['gofer 9p', 'directfs']) {
        const o = inS.get(other)!;
        ctx.note(
          `cold open sentry-internal: ${other} / containerfs = ${(o.best / cfsIn.best).toFixed(2)}x (best), ${(o.median / cfsIn.median).toFixed(2)}x (median)`,
        );
      }

      // Mount time: 10 files vs 100,000 (empty) files.
      for (const files of [10, 100000]) {
        const p = path.join(work, `mount${files}.img`);
        const e: Entry[] = [];
        for (let i = 0; i < files; i++) e.push({ path: `/d${i % 100}/f${i}`, kind: 'file' });
        writeImage(e, p);
        const size = fs.statSync(p).size;
        // One mount per fresh Node process, as runsc mounts once (many mappings alive in one
        // process would time the garbage collector, not the mount).
        const script = `const { LayerImage } = require(${JSON.stringify(path.join(ctx.repo, 'dist/plugins/fs-containerfs/src/format/reader'))});
          const { Containerfs } = require(${JSON.stringify(path.join(ctx.repo, 'dist/plugins/fs-containerfs/src/fs/containerfs'))});
          new Containerfs([LayerImage.open(process.argv[1])]).root(); // load and compile the code first
          const t0 = process.hrtime.bigint();
          new Containerfs([LayerImage.open(process.argv[1])]).root().lookup('d7');
          console.log(Number(process.hrtime.bigint() - t0) / 1e3);`;
        const times = Array.from({ length: ctx.rounds }, () =>
          selfTimed([process.execPath, '-e', script, p]),
        );
        ctx.record(
          `mount ${files}-file image (${(size / 1048576).toFixed(1)} MiB)`,
          'containerfs',
          times,
          'µs',
        );
      }

      // Lookup cost vs number of layers.
      const LOOKUPS = 20000;
      // Each round: a fresh mount (not timed), then the timed lookups.
      const variants: [number, boolean][] = [
        [1, true],
        [5, true],
        [20, true],
        [20, false],
      ];
      for (const [nl, bloom] of variants) {
        let stats = { lookups: 0, bloomSkips: 0, searches: 0 };
        const times: number[] = [];
        for (let r = 0; r < ctx.warmup + ctx.rounds; r++) {
          const c = stack(work, nl, LOOKUPS, bloom);
          const root = c.root();
          const t0 = process.hrtime.bigint();
          for (let i = 0; i < LOOKUPS; i++) root.lookup(`d${i % DIRS}`)!.lookup(`f${Math.floor(i / DIRS)}`);
          if (r >= ctx.warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
          stats = { ...c.stats };
        }
        ctx.record(
          `lookup x${LOOKUPS}, file in bottom layer`,
          `${nl} layers${bloom ? '' : ', Bloom off'}`,
          times,
          'ms',
        );
        ctx.note(
          `${nl} layers${bloom ? '' : ', Bloom off'}: ${(stats.searches / stats.lookups).toFixed(2)} directory searches per lookup, ${stats.bloomSkips} layer probes skipped by Bloom filters (${stats.lookups} lookups)`,
        );
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};
