/**
 * containerfs (issue 7): cold opens, mount time and lookup cost.
 *
 * - cold open: a static C program opens, reads one byte of and closes 20,000 files never
 *   opened before in the sandbox (200 directories x 100 files, visited in a shuffled
 *   order), timing its own loop; natively (page cache warm), under tsvisor on a directfs
 *   root of the merged tree, under tsvisor on containerfs over a 5-layer image of the same
 *   tree (each layer holds every fifth file; all layers hold every directory), and under
 *   gVisor's runsc (its gofer). The 9P gofer of fs-gofer does not exist yet (skipped).
 *   "sentry-internal" does the same lookups + opens + reads in-process through the Inode
 *   API: containerfs vs directfs, no app and no syscalls.
 * - mount: opening a 10-file and a 100,000-file image (open, map, header check, root
 *   inode) and a first lookup, once per fresh process.
 * - lookup: 20,000 lookups of files that live only in the bottom layer of 1, 5 and 20
 *   layer stacks whose directories exist in every layer (the Bloom filters skip the rest).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, Benchmark } from './index';
import { writeImage, type Entry } from '../plugins/fs-containerfs/src/format/writer';
import { LayerImage } from '../plugins/fs-containerfs/src/format/reader';
import { Containerfs, type CfsInode } from '../plugins/fs-containerfs/src/fs/containerfs';
import { Directfs, type DirectInode } from '../plugins/fs-gofer/src/directfs';

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
      const rec = (variant: string, argv: string[]) =>
        ctx.record(
          caseName,
          variant,
          Array.from({ length: rounds }, () => selfTimed(argv)),
          'µs',
        );
      rec('native', [prog, path.join(tree, 't'), ...args]);
      rec('tsvisor directfs', [
        ...ctx.runsc,
        'do',
        '--cwd',
        '/',
        '--root-dir',
        tree,
        '--',
        '/prog/coldopen',
        '/t',
        ...args,
      ]);
      rec('tsvisor containerfs', [
        ...ctx.runsc,
        '--config',
        cfg,
        'do',
        '--cwd',
        '/',
        '--',
        '/prog/coldopen',
        '/t',
        ...args,
      ]);
      const g = ctx.gvisorDo([prog, path.join(tree, 't'), ...args]);
      if (g) rec('gvisor', g);
      else ctx.skip(caseName, 'gvisor', '/usr/bin/runsc not installed');
      ctx.skip(caseName, 'tsvisor gofer 9p', 'the 9P gofer process of fs-gofer does not exist yet');

      // Sentry-internal: lookups + open + 1-byte read through the Inode API, fresh mounts.
      const names: [string, string][] = [];
      for (let k = 0; k < DIRS * PER_DIR; k++)
        names.push([
          `d${String(Math.floor(k / PER_DIR)).padStart(3, '0')}`,
          `f${String(k).padStart(5, '0')}`,
        ]);
      const one = new Uint8Array(1);
      const internal = `sentry-internal open x${n}`;
      await ctx.measure(internal, 'containerfs 5 layers', () => {
        const fs0 = new Containerfs(layers.map((p) => LayerImage.open(p)));
        const t = fs0.root().lookup('t')!;
        for (const [d, f] of names) {
          const file = (t.lookup(d) as CfsInode).lookup(f)!.open({} as never, 0, null as never);
          file.read({} as never, [one], 0);
          file.decRef();
        }
      });
      await ctx.measure(internal, 'directfs', () => {
        const fs0 = new Directfs(tree);
        const t = fs0.root().lookup('t')!;
        for (const [d, f] of names) {
          const file = (t.lookup(d) as DirectInode).lookup(f)!.open({} as never, 0, { dentry: {} } as never);
          file.read({} as never, [one], 0);
          file.decRef();
        }
        fs0.release();
      });

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
