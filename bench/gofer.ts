/**
 * Root filesystem modes (issue 5): cold open (open + read 1 byte + close of 20,000 files in a
 * 200-directory tree, never opened before by the sandbox), warm open (the same files again),
 * stat of all of them, and 64 MiB sequential read (cold, then warm: the same file again) and
 * write — natively, under tsvisor with
 * `gofer.mode: directfs` (the default) and `gofer.mode: 9p` (the runsc gofer process), and
 * under gVisor's runsc, in the same run. Timed by the program itself (C, compiled here).
 *
 * Write side: 64 MiB sequential write (1 MiB writes, fsync) and create + write + close of
 * 2,000 small files, in a host directory under /tmp. With the overlay (tsvisor, tsvisor-9p,
 * gvisor) they land in its tmpfs upper; the -rw variants (gofer.overlay: none; gVisor's
 * --overlay2=none do --force-overlay=false) write the host through the gofer.
 *
 * Notes: "cold" is cold for the sandbox (dentry cache, gofer fids); the host page cache is
 * warm for every variant.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, Benchmark } from './index';

const DIRS = 200;
const FILES_PER_DIR = 100;
const BIG = 64 << 20;

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMALL 2000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int opens(const char *tree, int dirs, int files) {
  char p[4096], c;
  for (int d = 0; d < dirs; d++)
    for (int f = 0; f < files; f++) {
      snprintf(p, sizeof p, "%s/d%d/f%d", tree, d, f);
      int fd = open(p, O_RDONLY);
      if (fd < 0 || read(fd, &c, 1) != 1) { perror(p); return -1; }
      close(fd);
    }
  return 0;
}

static int stats(const char *tree, int dirs, int files) {
  char p[4096];
  struct stat st;
  for (int d = 0; d < dirs; d++)
    for (int f = 0; f < files; f++) {
      snprintf(p, sizeof p, "%s/d%d/f%d", tree, d, f);
      if (stat(p, &st) < 0) { perror(p); return -1; }
    }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s TREE DIRS FILES SCRATCH\n", argv[0]); return 2; }
  const char *tree = argv[1], *scratch = argv[4];
  int dirs = atoi(argv[2]), files = atoi(argv[3]);
  static char buf[1 << 20];
  char p[4096];
  double t0 = now();
  if (opens(tree, dirs, files)) return 1;
  double t1 = now();
  if (opens(tree, dirs, files)) return 1;
  double t2 = now();
  if (stats(tree, dirs, files)) return 1;
  double t3 = now();
  snprintf(p, sizeof p, "%s/big", tree);
  int fd = open(p, O_RDONLY);
  if (fd < 0) { perror(p); return 1; }
  long total = 0, n;
  while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
  close(fd);
  double t4 = now();
  /* the same file again: warm (the 9p client's page cache keeps it, exclusive access) */
  fd = open(p, O_RDONLY);
  if (fd < 0) { perror(p); return 1; }
  long again = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) again += n;
  close(fd);
  if (again != total) { fprintf(stderr, "warm read: %ld bytes, not %ld\n", again, total); return 1; }
  double t4w = now();
  snprintf(p, sizeof p, "%s/out", scratch);
  fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) { perror(p); return 1; }
  for (long w = 0; w < total; w += sizeof buf)
    if (write(fd, buf, sizeof buf) != (long)sizeof buf) { perror("write"); return 1; }
  fsync(fd);
  close(fd);
  double t5 = now();
  unlink(p);
  /* create + write 100 bytes + close of SMALL new files */
  char d[4096];
  snprintf(d, sizeof d, "%s/small", scratch);
  if (mkdir(d, 0755) < 0) { perror(d); return 1; }
  double t6 = now();
  for (int i = 0; i < SMALL; i++) {
    snprintf(p, sizeof p, "%s/f%d", d, i);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, 100) != 100) { perror(p); return 1; }
    close(fd);
  }
  double t7 = now();
  for (int i = 0; i < SMALL; i++) {
    snprintf(p, sizeof p, "%s/f%d", d, i);
    unlink(p);
  }
  rmdir(d);
  printf("cold-open %.3f\nwarm-open %.3f\nstat %.3f\nread-64MiB %.3f\nread-64MiB-warm %.3f\nwrite-64MiB %.3f\n"
         "small-files %.3f\n",
         t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4w - t4, t5 - t4w, t7 - t6);
  return total == 0;
}
`;

/** The tree (built once, reused while its marker matches). */
function buildTree(): string {
  const dir = path.join(os.tmpdir(), 'tsvisor-bench-gofer');
  const marker = path.join(dir, `.complete-${DIRS}x${FILES_PER_DIR}-${BIG}`);
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  for (let d = 0; d < DIRS; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`));
    for (let f = 0; f < FILES_PER_DIR; f++)
      fs.writeFileSync(path.join(dir, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
  }
  const big = Buffer.alloc(1 << 20, 0x5a);
  const fd = fs.openSync(path.join(dir, 'big'), 'w');
  for (let i = 0; i < BIG / big.length; i++) fs.writeSync(fd, big);
  fs.closeSync(fd);
  fs.writeFileSync(marker, '');
  return dir;
}

function buildProgram(): string {
  const out = path.join(os.tmpdir(), 'tsvisor-bench-gofer-prog');
  const src = `${out}.c`;
  if (!fs.existsSync(out) || !fs.existsSync(src) || fs.readFileSync(src, 'utf8') !== SOURCE) {
    fs.writeFileSync(src, SOURCE);
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc gofer bench: ${r.stderr}`);
  }
  return out;
}

/** Runs argv once; returns metric -> ms. */
function runOnce(argv: string[]): Map<string, number> {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0)
    throw new Error(
      `${argv.slice(0, 6).join(' ')}...: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').slice(0, 400)}`,
    );
  const m = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n')) {
    const [k, v] = line.split(' ');
    if (k && Number.isFinite(Number(v))) m.set(k, Number(v));
  }
  return m;
}

export const benchmark: Benchmark = {
  name: 'gofer',
  description: `root filesystem: cold/warm open of ${DIRS * FILES_PER_DIR} files, stat, 64 MiB read/write, small-file creation — native, tsvisor directfs, tsvisor 9p (runsc gofer, with and without the overlay), gVisor (with and without)`,
  async run(ctx: BenchContext) {
    const tree = buildTree();
    const prog = buildProgram();
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-gofer-out-'));
    const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-gofer-cfg-'));
    const cfg = (mode: string, overlay = 'memory') => {
      const p = path.join(cfgDir, `${mode}-${overlay}.json`);
      fs.writeFileSync(p, JSON.stringify({ gofer: { mode, overlay } }));
      return p;
    };
    const args = [prog, tree, String(DIRS), String(FILES_PER_DIR), scratch];
    // gVisor writing the host through its gofer: --overlay2=none and do --force-overlay=false.
    const g = ctx.gvisorDo(args);
    const gvisorRw = g && [
      g[0],
      ...g.slice(1, g.indexOf('do')),
      '--overlay2=none',
      'do',
      '--force-overlay=false',
      ...args,
    ];
    const variants: [string, string[] | undefined, string][] = [
      ['native', args, ''],
      ['tsvisor', [...ctx.runsc, '--config', cfg('directfs'), 'do', '--', ...args], ''],
      ['tsvisor-9p', [...ctx.runsc, '--config', cfg('9p'), 'do', '--', ...args], ''],
      ['tsvisor-9p-rw', [...ctx.runsc, '--config', cfg('9p', 'none'), 'do', '--', ...args], ''],
      ['gvisor', g, 'gVisor runsc is not installed (apt-get install runsc)'],
      ['gvisor-rw', gvisorRw, 'gVisor runsc is not installed (apt-get install runsc)'],
    ];
    const rounds = Math.max(1, Math.min(ctx.rounds, 3));
    try {
      for (const [variant, argv, why] of variants) {
        const metrics = [
          'cold-open',
          'warm-open',
          'stat',
          'read-64MiB',
          'read-64MiB-warm',
          'write-64MiB',
          'small-files',
        ];
        if (!argv) {
          for (const k of metrics) ctx.skip(k, variant, why);
          continue;
        }
        const values = new Map<string, number[]>(metrics.map((k) => [k, []]));
        try {
          for (let i = 0; i < rounds; i++) for (const [k, v] of runOnce(argv)) values.get(k)?.push(v);
          for (const [k, v] of values) ctx.record(k, variant, v, 'ms');
        } catch (e) {
          for (const k of metrics) ctx.skip(k, variant, (e as Error).message);
        }
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
      fs.rmSync(cfgDir, { recursive: true, force: true });
    }
    ctx.note(
      'gofer: tsvisor = gofer.mode directfs (default), tsvisor-9p = gofer.mode 9p, both with the overlay (writes land in its tmpfs upper); tsvisor-9p-rw = mode 9p with overlay none and gvisor-rw = runsc --overlay2=none do --force-overlay=false (writes reach the host through the gofer); small-files = create + write 100 bytes + close of 2,000 new files; read-64MiB-warm = the same 64 MiB file read again (9p: served from the page cache); "cold" = first open by the sandbox (host page cache warm)',
    );
  },
};
