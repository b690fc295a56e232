/**
 * TCP over loopback inside one sandbox (issue 8): 1-byte request/response latency and a
 * 64 MiB bulk transfer, timed by the program itself (bench/c/netbench.c) — natively,
 * under tsvisor with net-host (`--network=host`), and under gVisor's runsc with
 * `--network=host` (hostinet, from an OCI bundle in a loopback namespace made for the run)
 * — or, when that cannot run here, `--network=none` (netstack's loopback) — all in the
 * same run. Then an HTTP server inside (bench/c/httpd.c) under wrk
 * from the host across a veth into a namespace made for the run (root only).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec } from '../core/runtime/oci/spec';
import { buildBenchC, type BenchContext, type Benchmark } from './index';

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
 * An OCI bundle in `dir` whose rootfs holds only the static `bin` (as /prog), running it
 * with `args` in the network namespace `netnsPath`: how gVisor's hostinet
 * (`runsc --network=host run`) is put in a namespace of ours without its `do` command's
 * own veth and NAT (iptables).
 */
function gvisorBundle(dir: string, bin: string, args: string[], netnsPath: string): void {
  fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  fs.copyFileSync(bin, path.join(dir, 'rootfs', 'prog'));
  fs.chmodSync(path.join(dir, 'rootfs', 'prog'), 0o755);
  const spec = defaultSpec(['/prog', ...args], false);
  spec.linux!.namespaces = [
    ...(spec.linux!.namespaces ?? []).filter((n) => n.type !== 'network'),
    { type: 'network', path: netnsPath },
  ];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
}

/** gVisor's `runsc run` of that bundle, as a command line. */
function gvisorRun(gvisor: string, dir: string, id: string): string[] {
  return [
    gvisor,
    '--root',
    path.join(dir, 'state'),
    '--network=host',
    '--platform=ptrace',
    'run',
    '--bundle',
    dir,
    id,
  ];
}

/** Kills and deletes a gVisor container (a killed `runsc run` leaves its sandbox behind). */
function gvisorCleanup(gvisor: string, dir: string, id: string): void {
  spawnSync(gvisor, ['--root', path.join(dir, 'state'), 'kill', id, 'KILL'], { timeout: 30000 });
  spawnSync(gvisor, ['--root', path.join(dir, 'state'), 'delete', '--force', id], { timeout: 30000 });
}

/**
 * An HTTP server inside under wrk from the host across a veth into a namespace made here:
 * native (the server run in the namespace with `ip netns exec`) vs tsvisor (net-host in the
 * namespace) vs gVisor (`runsc --network=host run` of a bundle whose config.json names the
 * namespace: hostinet sockets in it). gVisor's `do --network=host` would make its own veth
 * and NAT (iptables); an OCI bundle puts it in the same namespace as the others.
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
  const httpd = buildBenchC(ctx.repo, 'httpd');
  const id = process.pid % 100000;
  const ns = `tsvbn${id}`,
    hostIf = `tsvbh${id}`,
    nsIf = `tsvbc${id}`;
  const hostAddr = '10.232.0.1',
    nsAddr = '10.232.0.2';
  const cfg = path.join(os.tmpdir(), `tsvisor-bench-net-${id}.yaml`);
  const gv = path.join(os.tmpdir(), `tsvisor-bench-net-gvisor-${id}`);
  const gvisor = ctx.gvisor;
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
    if (gvisor) {
      gvisorBundle(gv, httpd, [nsAddr], `/var/run/netns/${ns}`);
      variants.push(['gvisor', gvisorRun(gvisor, gv, `bench${id}`)]);
    } else ctx.skip(name, 'gvisor', 'gVisor runsc not installed');
    for (const [variant, argv] of variants) {
      let srv: ChildProcess | undefined;
      try {
        const s = await startServer(argv);
        srv = s.p;
        ctx.record(name, variant, wrkRounds(`http://${nsAddr}:${s.port}/`, rounds), 'µs');
      } catch (e) {
        ctx.skip(name, variant, (e as Error).message);
      } finally {
        if (variant === 'gvisor' && gvisor) gvisorCleanup(gvisor, gv, `bench${id}`);
        if (srv) await stop(srv);
      }
    }
    ctx.note(`${name}: µs per request = 1e6 / (wrk -t1 -c16 -d2s requests/sec), keep-alive, bench/c/httpd.c`);
    ctx.note(
      `${name}: gvisor = runsc --network=host --platform=ptrace run of an OCI bundle in the same namespace (hostinet)`,
    );
  } finally {
    fs.rmSync(gv, { recursive: true, force: true });
    ip('link', 'del', hostIf);
    ip('netns', 'del', ns);
    fs.rmSync(cfg, { force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'net',
  description: 'TCP loopback latency and throughput inside the sandbox: native vs tsvisor net-host vs gVisor',
  async run(ctx: BenchContext) {
    const bin = buildBenchC(ctx.repo, 'netbench');
    const rounds = Math.max(3, Math.min(ctx.rounds, 7));
    const cases: [string, string[], string][] = [
      ['tcp rr 1 byte', ['rr', '2000'], 'µs'],
      ['tcp 64 MiB', ['tput', '64'], 'ms'],
    ];
    // gVisor's hostinet in a namespace of ours with only loopback (up), run from an OCI
    // bundle; where that cannot be made (not root), its netstack loopback (--network=none).
    const id = process.pid % 100000;
    const lons = `tsvbl${id}`;
    const gv = path.join(os.tmpdir(), `tsvisor-bench-net-gvisor-lo-${id}`);
    const haveNs =
      !!ctx.gvisor &&
      process.getuid?.() === 0 &&
      ip('netns', 'add', lons).status === 0 &&
      ip('-n', lons, 'link', 'set', 'lo', 'up').status === 0;
    try {
      for (const [name, args, unit] of cases) {
        const argv = [bin, ...args, String(rounds)];
        ctx.record(name, 'native', runRounds(argv), unit);
        try {
          ctx.record(name, 'tsvisor', runRounds([...ctx.runsc, 'do', '--network=host', '--', ...argv]), unit);
        } catch (e) {
          ctx.skip(name, 'tsvisor', (e as Error).message);
        }
        const gvisor = ctx.gvisor;
        if (!gvisor) {
          ctx.skip(name, 'gvisor', 'gVisor runsc not installed');
          continue;
        }
        let hostinet = '';
        if (haveNs) {
          const cid = `lo${id}`;
          try {
            fs.rmSync(gv, { recursive: true, force: true });
            gvisorBundle(gv, bin, argv.slice(1), `/var/run/netns/${lons}`);
            ctx.record(name, 'gvisor', runRounds(gvisorRun(gvisor, gv, cid)), unit);
            ctx.note(`${name}: gvisor = runsc --network=host run (hostinet) in a loopback-only namespace`);
            continue;
          } catch (e) {
            hostinet = (e as Error).message.replace(/^.*?: exit/, 'exit');
          } finally {
            gvisorCleanup(gvisor, gv, cid);
          }
        } else hostinet = 'needs root (ip netns)';
        try {
          ctx.record(
            name,
            'gvisor',
            runRounds([gvisor, '--network=none', '--platform=ptrace', 'do', ...argv]),
            unit,
          );
          ctx.note(`${name}: gvisor = runsc --network=none (netstack loopback); hostinet: ${hostinet}`);
        } catch (e2) {
          ctx.skip(name, 'gvisor', (e2 as Error).message);
        }
      }
    } finally {
      fs.rmSync(gv, { recursive: true, force: true });
      if (haveNs) ip('netns', 'del', lons);
    }
    ctx.note('tcp rr: µs per 1-byte round trip; tcp 64 MiB: ms per transfer (lower is better for both)');
    await httpOverVeth(ctx, rounds);
  },
};
