/**
 * TCP over loopback inside one sandbox (issue 8): 1-byte request/response latency and a
 * 64 MiB bulk transfer, timed by the program itself (bench/c/netbench.c) — natively,
 * under tsvisor with net-host (`--network=host`), and under gVisor's runsc with
 * `--network=host` (hostinet) — or, when that cannot run here, `--network=none` (netstack's
 * loopback) — all in the same run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, Benchmark } from './index';

function build(repo: string): string {
  const out = path.join(os.tmpdir(), 'tsvisor-bench-netbench');
  const src = path.join(repo, 'bench', 'c', 'netbench.c');
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc netbench.c: ${r.stderr}`);
  }
  return out;
}

function runRounds(argv: string[]): number[] {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0)
    throw new Error(
      `${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().slice(0, 300)}`,
    );
  return r.stdout
    .trim()
    .split('\n')
    .map(Number)
    .filter((n) => Number.isFinite(n));
}

export const benchmark: Benchmark = {
  name: 'net',
  description: 'TCP loopback latency and throughput inside the sandbox: native vs tsvisor net-host vs gVisor',
  run(ctx: BenchContext) {
    const bin = build(ctx.repo);
    const rounds = Math.max(3, Math.min(ctx.rounds, 7));
    const cases: [string, string[], string][] = [
      ['tcp rr 1 byte', ['rr', '2000'], 'µs'],
      ['tcp 64 MiB', ['tput', '64'], 'ms'],
    ];
    for (const [name, args, unit] of cases) {
      const argv = [bin, ...args, String(rounds)];
      ctx.record(name, 'native', runRounds(argv), unit);
      try {
        ctx.record(name, 'tsvisor', runRounds([...ctx.runsc, 'do', '--network=host', '--', ...argv]), unit);
      } catch (e) {
        ctx.skip(name, 'tsvisor', (e as Error).message);
      }
      if (!ctx.gvisor) {
        ctx.skip(name, 'gvisor', 'gVisor runsc not installed');
        continue;
      }
      // gVisor's `do --network=host` needs iptables (it NATs a veth); without it, or when
      // it fails, its netstack loopback (--network=none) is the comparison.
      try {
        ctx.record(
          name,
          'gvisor',
          runRounds([ctx.gvisor, '--network=host', '--platform=ptrace', 'do', ...argv]),
          unit,
        );
        ctx.note(`${name}: gvisor = runsc --network=host (hostinet)`);
      } catch (e) {
        const why = (e as Error).message.replace(/^.*?: exit/, 'exit');
        try {
          ctx.record(
            name,
            'gvisor',
            runRounds([ctx.gvisor, '--network=none', '--platform=ptrace', 'do', ...argv]),
            unit,
          );
          ctx.note(
            `${name}: gvisor = runsc --network=none (netstack loopback); --network=host failed: ${why}`,
          );
        } catch (e2) {
          ctx.skip(name, 'gvisor', (e2 as Error).message);
        }
      }
    }
    ctx.note('tcp rr: µs per 1-byte round trip; tcp 64 MiB: ms per transfer (lower is better for both)');
  },
};
