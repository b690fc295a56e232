/**
 * The KVM platform (issue 9) next to the ptrace platform, native and gVisor's ptrace:
 * getpid, page-fault cost, fork+exec, pipe ping-pong, clock_gettime (each timed by the program itself,
 * bench/c/micro.c and a fault loop below), and `do /bin/true` wall time.
 *
 * getpid is measured interleaved: each round runs every variant once, back to back, so
 * they see the same host load (KVM exits on this nested host vary several-fold with it).
 * Its breakdown rows, in the same rounds:
 *   - "kvm floor: minimal VM (C)": plugins/platform-kvm/bench/doorbell.c, a stand-alone VM
 *     doing nothing but doorbell round trips (the host's cost, no tsvisor code);
 *   - "kvm floor: our VM (C in addon)": the same exits on the platform's VM, answered in C
 *     inside the addon (measureGetpidRoundTrip's floor);
 *   - "kvm platform only (JS owner)": answered by a JS owner through the platform, no sentry;
 *   - "outside KVM_RUN, platform only" / "outside KVM_RUN, sentry": the median time from
 *     a system call's exit to the KVM_RUN that answers it (the addon's histogram), i.e. our
 *     own cost per round trip, without and with the sentry.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { measureGetpidRoundTrip } from '../plugins/platform-kvm';
import type { BenchContext, Benchmark } from './index';

const GETPID_N = 3000;
const OPS: [string, number][] = [
  // clock_gettime through libc: the vDSO where the platform runs the app on the host TSC.
  ['clock', 20000],
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

function build(repo: string): { micro: string; fault: string; doorbell: string } {
  const dir = path.join(os.tmpdir(), 'tsvisor-bench-kvm');
  fs.mkdirSync(dir, { recursive: true });
  const micro = path.join(dir, 'micro');
  const fault = path.join(dir, 'fault');
  const faultSrc = path.join(dir, 'fault.c');
  const doorbell = path.join(dir, 'doorbell');
  fs.writeFileSync(faultSrc, FAULT_C);
  for (const [out, src] of [
    [micro, path.join(repo, 'bench', 'c', 'micro.c')],
    [fault, faultSrc],
    [doorbell, path.join(repo, 'plugins', 'platform-kvm', 'bench', 'doorbell.c')],
  ]) {
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  }
  return { micro, fault, doorbell };
}

function runRounds(argv: readonly string[], env?: NodeJS.ProcessEnv): number[] {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 600000, env: env ?? process.env });
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
    const { micro, fault, doorbell } = build(ctx.repo);
    const rounds = Math.max(3, Math.min(ctx.rounds, 7));
    const load = (): string =>
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ');
    ctx.note(`kvm: load average at start ${load()} (${os.cpus().length} CPUs)`);
    await getpidInterleaved(ctx, rounds, micro, doorbell);
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
    ctx.note(`kvm: load average at end ${load()}`);
    ctx.note(
      'kvm getpid rows: "kvm floor" rows are the host\'s cost of the doorbell round trip (no tsvisor code on the path); "outside KVM_RUN" rows are our own cost per system call (median), the rest of a round trip is inside KVM_RUN.',
    );
  },
};

/** One getpid measurement per variant and round, the variants back to back in each round. */
async function getpidInterleaved(
  ctx: BenchContext,
  rounds: number,
  micro: string,
  doorbell: string,
): Promise<void> {
  const n = String(GETPID_N);
  const statsFile = path.join(os.tmpdir(), `tsvisor-bench-kvm-stats-${process.pid}.jsonl`);
  const values = new Map<string, number[]>();
  const failed = new Map<string, string>();
  const variants: [string, string, () => Promise<number> | number][] = [
    ['getpid', 'native', () => runRounds([micro, 'getpid', n, '1'])[0] / 1000],
    [
      'getpid',
      'tsvisor',
      () => runRounds([...ctx.runsc, 'do', '--platform=ptrace', '--', micro, 'getpid', n, '1'])[0] / 1000,
    ],
    [
      'getpid',
      'tsvisor-kvm',
      () => {
        fs.rmSync(statsFile, { force: true });
        const v = runRounds([...ctx.runsc, 'do', '--platform=kvm', '--', micro, 'getpid', n, '1'], {
          ...process.env,
          TSVISOR_KVM_STATS: statsFile,
        })[0];
        const st = JSON.parse(fs.readFileSync(statsFile, 'utf8').trim().split('\n')[0]) as {
          gapMedianNs: number;
        };
        add('getpid: kvm breakdown', 'outside KVM_RUN, sentry (median)', st.gapMedianNs / 1000);
        return v / 1000;
      },
    ],
    ['getpid: kvm breakdown', 'kvm floor: minimal VM (C)', () => runRounds([doorbell, n, '1'])[0] / 1000],
    [
      'getpid: kvm breakdown',
      'kvm floor: our VM (C in addon)',
      async () => {
        const t = await measureGetpidRoundTrip(GETPID_N);
        add('getpid: kvm breakdown', 'kvm platform only (JS owner)', t.platformUs);
        add('getpid: kvm breakdown', 'outside KVM_RUN, platform only (median)', t.gapMedianUs);
        return t.floorUs;
      },
    ],
  ];
  const gv = ctx.gvisorDo([micro, 'getpid', n, '1']);
  if (gv) variants.push(['getpid', 'gvisor', () => runRounds(gv)[0] / 1000]);
  else ctx.skip('getpid', 'gvisor', 'gVisor runsc not installed');
  function add(caseName: string, variant: string, v: number): void {
    const key = `${caseName}\u0000${variant}`;
    let a = values.get(key);
    if (!a) values.set(key, (a = []));
    a.push(v);
  }
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [caseName, variant, fn] of variants) {
        const key = `${caseName}\u0000${variant}`;
        if (failed.has(key)) continue;
        try {
          add(caseName, variant, await fn());
        } catch (e) {
          failed.set(key, (e as Error).message);
        }
      }
    }
  } finally {
    fs.rmSync(statsFile, { force: true });
  }
  for (const [key, a] of values) {
    const [caseName, variant] = key.split('\u0000');
    if (!failed.has(key)) ctx.record(caseName, variant, a, 'µs');
  }
  for (const [key, why] of failed) {
    const [caseName, variant] = key.split('\u0000');
    ctx.skip(caseName, variant, why);
  }
}
