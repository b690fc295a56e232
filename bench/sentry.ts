/**
 * Sentry micro-benchmarks (issue 3): getpid latency, open+close, fork+wait, fork+exec+wait,
 * pipe ping-pong, each timed by the program itself (bench/c/micro.c, compiled here with
 * gcc -static), plus `do /bin/true` wall time — natively, under tsvisor (ptrace) and under
 * gVisor's runsc (ptrace) in the same run.
 */
import { spawnSync } from 'node:child_process';
import { buildBenchC, type BenchContext, type Benchmark } from './index';

const OPS: [string, number][] = [
  ['getpid', 20000],
  // clock_gettime: a vDSO call natively and under tsvisor (docs/vdso.md).
  ['clock', 20000],
  ['openclose', 5000],
  ['pipe', 2000],
  ['forkwait', 100],
  ['forkexec', 50],
];

function runRounds(argv: string[]): number[] {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').slice(0, 400)}`);
  return r.stdout
    .trim()
    .split('\n')
    .map(Number)
    .filter((n) => Number.isFinite(n));
}

export const benchmark: Benchmark = {
  name: 'sentry',
  description: 'syscall latencies and do /bin/true: native vs tsvisor ptrace vs gVisor ptrace',
  async run(ctx: BenchContext) {
    const micro = buildBenchC(ctx.repo, 'micro');
    const rounds = Math.max(3, Math.min(ctx.rounds, 7));
    for (const [op, n] of OPS) {
      const args = [micro, op, String(n), String(rounds)];
      ctx.record(
        op,
        'native',
        runRounds(args).map((v) => v / 1000),
        'µs',
      );
      try {
        ctx.record(
          op,
          'tsvisor',
          runRounds([...ctx.runsc, 'do', '--', ...args]).map((v) => v / 1000),
          'µs',
        );
      } catch (e) {
        ctx.skip(op, 'tsvisor', (e as Error).message);
      }
      const g = ctx.gvisorDo(args);
      if (g)
        try {
          ctx.record(
            op,
            'gvisor',
            runRounds(g).map((v) => v / 1000),
            'µs',
          );
        } catch (e) {
          ctx.skip(op, 'gvisor', (e as Error).message);
        }
      else ctx.skip(op, 'gvisor', 'gVisor runsc not installed');
    }
    await ctx.measureCommand('do /bin/true', 'native', ['/bin/true']);
    await ctx.measureCommand('do /bin/true', 'tsvisor', [...ctx.runsc, 'do', '/bin/true']);
    const g = ctx.gvisorDo(['/bin/true']);
    if (g) await ctx.measureCommand('do /bin/true', 'gvisor', g);
  },
};
