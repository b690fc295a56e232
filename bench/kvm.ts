/**
 * The KVM platform (issue 9) next to the ptrace platform, native and gVisor's ptrace:
 * getpid, page-fault cost, fork+exec, pipe ping-pong (each timed by the program itself,
 * bench/c/micro.c and a fault loop below), and `do /bin/true` wall time. Also the getpid
 * round trip through the platform alone and its floor on this host (the same exits
 * answered in C inside the addon), from plugins/platform-kvm's measureGetpidRoundTrip.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { measureGetpidRoundTrip } from '../plugins/platform-kvm';
import type { BenchContext, Benchmark } from './index';

const OPS: [string, number][] = [
  ['getpid', 5000],
  ['pipe', 1000],
  ['forkexec', 20],
];

/** Touches N fresh pages of a new mapping per round; prints ns per page per round. */
const FAULT_C = `
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
  long n = atol(argv[1]), rounds = atol(argv[2]);
  for (long r = 0; r < rounds; r++) {
    char *p = mmap(0, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long long t0 = now();
    for (long i = 0; i < n; i++) p[i * 4096] = 1;
    printf("%.1f\\n", (double)(now() - t0) / n);
    munmap(p, n * 4096);
  }
  return 0;
}
`;

function build(repo: string): { micro: string; fault: string } {
  const dir = path.join(os.tmpdir(), 'tsvisor-bench-kvm');
  fs.mkdirSync(dir, { recursive: true });
  const micro = path.join(dir, 'micro');
  const fault = path.join(dir, 'fault');
  const faultSrc = path.join(dir, 'fault.c');
  fs.writeFileSync(faultSrc, FAULT_C);
  for (const [out, src] of [
    [micro, path.join(repo, 'bench', 'c', 'micro.c')],
    [fault, faultSrc],
  ]) {
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  }
  return { micro, fault };
}

function runRounds(argv: readonly string[]): number[] {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 600000 });
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').slice(0, 400)}`);
  return r.stdout
    .trim()
    .split('\n')
    .map(Number)
    .filter((n) => Number.isFinite(n));
}

export const benchmark: Benchmark = {
  name: 'kvm',
  description: 'KVM platform vs ptrace platform vs native vs gVisor ptrace',
  async run(ctx: BenchContext) {
    if (!fs.existsSync('/dev/kvm')) {
      ctx.note('/dev/kvm does not exist on this machine; nothing measured');
      return;
    }
    const { micro, fault } = build(ctx.repo);
    const rounds = Math.max(3, Math.min(ctx.rounds, 5));
    const cases: [string, string[]][] = [
      ...OPS.map(([op, n]): [string, string[]] => [op, [micro, op, String(n), String(rounds)]]),
      ['page fault', [fault, '512', String(rounds)]],
    ];
    for (const [name, args] of cases) {
      const variants: [string, readonly string[] | undefined][] = [
        ['native', args],
        ['tsvisor', [...ctx.runsc, 'do', '--platform=ptrace', '--', ...args]],
        ['tsvisor-kvm', [...ctx.runsc, 'do', '--platform=kvm', '--', ...args]],
        ['gvisor', ctx.gvisorDo(args)],
      ];
      for (const [variant, argv] of variants) {
        if (!argv) {
          ctx.skip(name, variant, 'gVisor runsc not installed');
          continue;
        }
        try {
          ctx.record(
            name,
            variant,
            runRounds(argv).map((v) => v / 1000),
            'µs',
          );
        } catch (e) {
          ctx.skip(name, variant, (e as Error).message);
        }
      }
    }
    // The platform alone (no sentry): JS-answered round trips and the C-answered floor.
    try {
      const plat: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const t = await measureGetpidRoundTrip(5000);
        plat.push(t.platformUs);
        floor.push(t.floorUs);
      }
      ctx.record('getpid (platform only)', 'tsvisor-kvm', plat, 'µs');
      ctx.record('getpid (platform only)', 'kvm C floor', floor, 'µs');
    } catch (e) {
      ctx.skip('getpid (platform only)', 'tsvisor-kvm', (e as Error).message);
    }
    await ctx.measureCommand('do /bin/true', 'native', ['/bin/true']);
    await ctx.measureCommand('do /bin/true', 'tsvisor', [
      ...ctx.runsc,
      'do',
      '--platform=ptrace',
      '/bin/true',
    ]);
    await ctx.measureCommand('do /bin/true', 'tsvisor-kvm', [
      ...ctx.runsc,
      'do',
      '--platform=kvm',
      '/bin/true',
    ]);
    const g = ctx.gvisorDo(['/bin/true']);
    if (g) await ctx.measureCommand('do /bin/true', 'gvisor', g);
    else ctx.skip('do /bin/true', 'gvisor', 'gVisor runsc not installed');
    ctx.note(
      '"kvm C floor" answers the same doorbell exits in C inside the addon; the gap to "tsvisor-kvm" is the platform\'s JS/N-API cost.',
    );
  },
};
