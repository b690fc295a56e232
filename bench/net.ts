/**
 * TCP over loopback inside one sandbox (issue 8): 1-byte request/response latency and a
 * 64 MiB bulk transfer, timed by the program itself (bench/c/netbench.c) — natively,
 * under tsvisor with net-host (`--network=host`), and under gVisor's runsc with
 * `--network=host` (hostinet) — or, when that cannot run here, `--network=none` (netstack's
 * loopback) — all in the same run. Then an HTTP server inside (bench/c/httpd.c) under wrk
 * from the host across a veth into a namespace made for the run (root only).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, Benchmark } from './index';

function build(repo: string, name = 'netbench'): string {
  const out = path.join(os.tmpdir(), `tsvisor-bench-${name}`);
  const src = path.join(repo, 'bench', 'c', `${name}.c`);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${name}.c: ${r.stderr}`);
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

/** Start `argv`, wait for "port N" on its stdout; the child and the port. */
function startServer(argv: string[]): Promise<{ p: ChildProcess; port: number }> {
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      rej(new Error(`${argv.join(' ')}: no port after 20 s: ${err.slice(0, 300)}`));
    }, 20000);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res({ p, port: Number(m[1]) });
      }
    });
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (c) => {
      clearTimeout(t);
      rej(new Error(`${argv.join(' ')}: exited ${c}: ${err.slice(0, 300)}`));
    });
  });
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    p.on('exit', () => res());
    p.kill('SIGKILL');
  });
}

/** wrk for 2 s per round against url: µs per request (1e6 / requests per second). */
function wrkRounds(url: string, rounds: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = spawnSync('wrk', ['-t1', '-c16', '-d2s', url], { encoding: 'utf8', timeout: 60000 });
    const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
    if (r.status !== 0 || !m) throw new Error(`wrk ${url}: ${(r.stderr || r.stdout || '').slice(0, 300)}`);
    out.push(1e6 / Number(m[1]));
  }
  return out;
}

const ip = (...args: string[]) => spawnSync('/usr/sbin/ip', args, { encoding: 'utf8' });

/**
 * An HTTP server inside under wrk from the host across a veth into a namespace made here:
 * native (the server run in the namespace with `ip netns exec`) vs tsvisor (net-host in the
 * namespace). gVisor's `do --network=host` makes its own veth and NAT and needs iptables.
 */
async function httpOverVeth(ctx: BenchContext, rounds: number): Promise<void> {
  const name = 'http wrk over veth';
  const why =
    process.getuid?.() !== 0
      ? 'needs root (ip netns)'
      : spawnSync('wrk', ['--version']).error
        ? 'wrk not installed'
        : !fs.existsSync('/usr/sbin/ip')
          ? 'iproute2 not installed'
          : '';
  if (why) {
    for (const v of ['native', 'tsvisor']) ctx.skip(name, v, why);
    return;
  }
  const httpd = build(ctx.repo, 'httpd');
  const id = process.pid % 100000;
  const ns = `tsvbn${id}`,
    hostIf = `tsvbh${id}`,
    nsIf = `tsvbc${id}`;
  const hostAddr = '10.232.0.1',
    nsAddr = '10.232.0.2';
  const cfg = path.join(os.tmpdir(), `tsvisor-bench-net-${id}.yaml`);
  try {
    for (const a of [
      ['netns', 'add', ns],
      ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf],
      ['link', 'set', nsIf, 'netns', ns],
      ['addr', 'add', `${hostAddr}/24`, 'dev', hostIf],
      ['link', 'set', hostIf, 'up'],
      ['-n', ns, 'addr', 'add', `${nsAddr}/24`, 'dev', nsIf],
      ['-n', ns, 'link', 'set', nsIf, 'up'],
      ['-n', ns, 'link', 'set', 'lo', 'up'],
    ]) {
      const r = ip(...a);
      if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr.trim()}`);
    }
    fs.writeFileSync(cfg, `network: host\nnet-host:\n  netns: /var/run/netns/${ns}\n`);
    const variants: [string, string[]][] = [
      ['native', ['/usr/sbin/ip', 'netns', 'exec', ns, httpd, nsAddr]],
      ['tsvisor', [...ctx.runsc, 'do', `--config=${cfg}`, '--', httpd, nsAddr]],
    ];
    for (const [variant, argv] of variants) {
      let srv: ChildProcess | undefined;
      try {
        const s = await startServer(argv);
        srv = s.p;
        ctx.record(name, variant, wrkRounds(`http://${nsAddr}:${s.port}/`, rounds), 'µs');
      } catch (e) {
        ctx.skip(name, variant, (e as Error).message);
      } finally {
        if (srv) await stop(srv);
      }
    }
    ctx.skip(
      name,
      'gvisor',
      'runsc do --network=host sets up its own veth and NAT (needs iptables); not comparable here',
    );
    ctx.note(`${name}: µs per request = 1e6 / (wrk -t1 -c16 -d2s requests/sec), keep-alive, bench/c/httpd.c`);
  } finally {
    ip('link', 'del', hostIf);
    ip('netns', 'del', ns);
    fs.rmSync(cfg, { force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'net',
  description: 'TCP loopback latency and throughput inside the sandbox: native vs tsvisor net-host vs gVisor',
  async run(ctx: BenchContext) {
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
    await httpOverVeth(ctx, rounds);
  },
};
