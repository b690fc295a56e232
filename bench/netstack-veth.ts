/**
 * net-netstack (issue 10), apps across a veth: a server in a network namespace joined to
 * the host by a veth pair (10.62.0.0/24), a client on the host side.
 *   - TCP request/response latency (1-byte ping-pong) and throughput (one stream of 64 KiB
 *     writes) with bench/c/tcpnet.c on both sides;
 *   - busybox httpd serving a 4 KiB file under `wrk -t2 -c16` from the host side;
 *   - busybox httpd serving a 32 MiB file to curl on the host side while 1% of the TCP
 *     frames the server sends are dropped (an nftables netdev ingress rule on the host end:
 *     the kernel here has no netem), so the server's loss recovery decides the rate (TSO
 *     and GSO are off on the namespace's end meanwhile, so the kernel's frames are
 *     MTU-sized like the sandboxes').
 * The server runs, in turn:
 *   native            in the namespace without a sandbox (the kernel's TCP);
 *   tsvisor-host      `runsc do --network=host` in the namespace (host sockets);
 *   tsvisor-netstack  `runsc do` with `network: netstack`, `netstack.netns` = the namespace
 *                     (our stack on an AF_PACKET socket on the veth end);
 *   gvisor            Debian's runsc, `--network=sandbox --platform=ptrace run` of a bundle
 *                     whose spec names the namespace (gVisor's netstack takes the veth; see
 *                     the /proc/sys/net note where it starts).
 * Root only. Offloads are off on the host end (the stack needs full checksums). Run alone
 * with `npm run bench -- netstack-veth`.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBenchC, programValues as values, type BenchContext, type Benchmark } from './index';

const PINGS = 2000;
const STREAM_BYTES = 64 << 20;
const HOST = '10.62.0.1';
const INSIDE = '10.62.0.2';
const WRK_SECONDS = 3;
const BIG_BYTES = 32 << 20;
/** Drop this many of each 1000 TCP frames coming out of the namespace. */
const LOSS_PER_MILLE = 10;

/** Incompressible, deterministic bytes (xorshift32). */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 2463534242;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server process in the background, with its output for error messages. */
interface Server {
  p: ChildProcess;
  out: () => string;
}

function background(argv: string[], cwd: string): Server {
  const p = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  p.on('error', (e) => (out += String(e)));
  return { p, out: () => out };
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([done, sleep(15000)]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await Promise.race([done, sleep(5000)]);
  }
}

/** Until the URL answers (or the server exits, or 60 s pass). */
async function waitHttp(url: string, s: Server): Promise<void> {
  const deadline = Date.now() + 60000;
  for (;;) {
    if (spawnSync('/usr/bin/curl', ['-sf', '-m', '5', '-o', '/dev/null', url]).status === 0) return;
    if (s.p.exitCode !== null || s.p.signalCode !== null || Date.now() > deadline)
      throw new Error(`${url} never answered: ${s.out().slice(0, 300)}`);
    await sleep(200);
  }
}

/** Until a TCP connect to addr:port succeeds (or the server exits, or 60 s pass). */
async function waitTcp(port: number, s: Server): Promise<void> {
  const deadline = Date.now() + 60000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: INSIDE, port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (s.p.exitCode !== null || s.p.signalCode !== null || Date.now() > deadline)
      throw new Error(`${INSIDE}:${port} never answered: ${s.out().slice(0, 300)}`);
    await sleep(200);
  }
}

/** wrk's "Requests/sec" and mean latency (ms) of one run. */
function wrk(url: string): [number, number] {
  const r = spawnSync('/usr/bin/wrk', ['-t2', '-c16', `-d${WRK_SECONDS}s`, url], {
    encoding: 'utf8',
    timeout: 60000,
  });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  const lat = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(r.stdout ?? '');
  const errs = /Non-2xx|Socket errors: connect \d+, read \d+, write \d+, timeout \d+/.exec(r.stdout ?? '');
  if (r.status !== 0 || !rps || !lat)
    throw new Error(`wrk ${url}: exit ${r.status}: ${r.stdout} ${r.stderr}`);
  if (errs) throw new Error(`wrk ${url}: ${errs[0]}`);
  const ms = Number(lat[1]) * (lat[2] === 'us' ? 1e-3 : lat[2] === 's' ? 1e3 : 1);
  return [Number(rps[1]), ms];
}

/** curl's download rate of url in MiB/s (checks the whole file came). */
function download(url: string): number {
  const r = spawnSync(
    '/usr/bin/curl',
    ['-s', '-m', '300', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', url],
    { encoding: 'utf8', timeout: 320000 },
  );
  const [speed, size] = (r.stdout ?? '').trim().split(' ').map(Number);
  if (r.status !== 0 || size !== BIG_BYTES)
    throw new Error(`curl ${url}: exit ${r.status}: ${r.stdout} ${r.stderr}`);
  return speed / (1 << 20);
}

/** Drops LOSS_PER_MILLE of the TCP frames arriving on dev (its ingress) until the returned function runs. */
function dropIngress(dev: string, table: string): () => void {
  const nft = (...a: string[]) => void execFileSync('/usr/sbin/nft', a, { stdio: 'ignore' });
  spawnSync('/usr/sbin/nft', ['delete', 'table', 'netdev', table], { stdio: 'ignore' });
  nft('add', 'table', 'netdev', table);
  const off = () =>
    void spawnSync('/usr/sbin/nft', ['delete', 'table', 'netdev', table], { stdio: 'ignore' });
  try {
    nft('add', 'chain', 'netdev', table, 'in', `{ type filter hook ingress device ${dev} priority 0; }`);
    nft(
      'add',
      'rule',
      'netdev',
      table,
      'in',
      'ip',
      'protocol',
      'tcp',
      'numgen',
      'random',
      'mod',
      '1000',
      '<',
      String(LOSS_PER_MILLE),
      'drop',
    );
  } catch (e) {
    off();
    throw e;
  }
  return off;
}

interface Variant {
  name: string;
  start(argv: string[]): Server;
  stop(s: Server): Promise<void>;
}

export const benchmark: Benchmark = {
  name: 'netstack-veth',
  description: 'apps across a veth: C TCP server and busybox httpd (wrk) inside: native, tsvisor, gVisor',
  async run(ctx: BenchContext) {
    const CASES = [
      'tcp ping-pong across a veth',
      'tcp stream across a veth',
      'busybox httpd under wrk -c16',
      "http download of 32 MiB, 1% of the server's frames lost",
    ];
    if (process.getuid?.() !== 0) {
      for (const c of CASES) ctx.skip(c, 'tsvisor-netstack', 'needs root');
      return;
    }
    const rounds = Math.max(3, Math.min(ctx.rounds, 5));
    const tcpnet = buildBenchC(ctx.repo, 'tcpnet');
    const id = process.pid % 100000;
    const ns = `tibn${id}`;
    const nsPath = `/var/run/netns/${ns}`;
    const [hostIf, nsIf] = [`tibh${id}`, `tibc${id}`];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-veth-'));
    const sh = (...argv: string[]): void => void execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    const config = path.join(dir, 'runsc.yaml');
    fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: ${nsPath}\n`);
    fs.mkdirSync(path.join(dir, 'www'));
    fs.writeFileSync(path.join(dir, 'www', 'index.html'), 'x'.repeat(4096));
    fs.writeFileSync(path.join(dir, 'www', 'big'), pattern(BIG_BYTES));
    fs.chmodSync(dir, 0o755);
    const gvRoot = path.join(dir, 'gvisor-state');
    let gvN = 0;
    const variants: Variant[] = [
      {
        name: 'native',
        start: (argv) => background(['/usr/bin/nsenter', `--net=${nsPath}`, ...argv], dir),
        stop: (s) => stopProcess(s.p),
      },
      {
        name: 'tsvisor-host',
        start: (argv) =>
          background(
            ['/usr/bin/nsenter', `--net=${nsPath}`, ...ctx.runsc, 'do', '--network=host', '--', ...argv],
            dir,
          ),
        stop: (s) => stopProcess(s.p),
      },
      {
        name: 'tsvisor-netstack',
        start: (argv) => background([...ctx.runsc, 'do', `--config=${config}`, '--', ...argv], dir),
        stop: (s) => stopProcess(s.p),
      },
    ];
    if (ctx.gvisor) {
      const gv = ctx.gvisor;
      variants.push({
        name: 'gvisor',
        start: (argv) => {
          const bundle = path.join(dir, `gvisor-bundle-${++gvN}`);
          fs.mkdirSync(bundle);
          execFileSync(gv, ['spec', '--', ...argv], { cwd: bundle, stdio: 'ignore' });
          const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
          spec.root = { path: '/', readonly: true };
          spec.process.terminal = false;
          spec.linux.namespaces = [
            ...spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network'),
            { type: 'network', path: nsPath },
          ];
          fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
          // Debian's runsc (2022) decides it is in the root network namespace when
          // /proc/sys/net/core/rmem_default exists — true in every namespace on Linux >= 6.x
          // (the sysctl became per-namespace) — and refuses to take the veth. Hiding
          // /proc/sys/net in a private mount namespace lets its check pass; nothing else it
          // runs reads /proc/sys/net.
          return background(
            [
              '/usr/bin/unshare',
              '-m',
              '/bin/sh',
              '-c',
              'mount --make-rprivate / && mount -t tmpfs none /proc/sys/net && exec "$@"',
              'gvisor-netns',
              '/usr/bin/nsenter',
              `--net=${nsPath}`,
              gv,
              '--network=sandbox',
              '--platform=ptrace',
              `--root=${gvRoot}`,
              'run',
              '--bundle',
              bundle,
              `tib${id}-${gvN}`,
            ],
            dir,
          );
        },
        stop: async (s) => {
          spawnSync(gv, [`--root=${gvRoot}`, 'kill', `tib${id}-${gvN}`, 'KILL'], { stdio: 'ignore' });
          await stopProcess(s.p);
          spawnSync(gv, [`--root=${gvRoot}`, 'delete', '--force', `tib${id}-${gvN}`], { stdio: 'ignore' });
          // gVisor takes the namespace's address off the veth and never gives it back (Docker
          // deletes the namespace): put it back for the next server.
          spawnSync('ip', ['-n', ns, 'addr', 'replace', `${INSIDE}/24`, 'dev', nsIf], { stdio: 'ignore' });
        },
      });
    } else for (const c of CASES) ctx.skip(c, 'gvisor', 'runsc not installed');

    sh('ip', 'netns', 'add', ns);
    try {
      sh('ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
      sh('ip', 'link', 'set', nsIf, 'netns', ns);
      sh('ip', 'addr', 'add', `${HOST}/24`, 'dev', hostIf);
      sh('ip', 'link', 'set', hostIf, 'up');
      sh('ethtool', '-K', hostIf, 'tx', 'off');
      sh('ip', '-n', ns, 'addr', 'add', `${INSIDE}/24`, 'dev', nsIf);
      sh('ip', '-n', ns, 'link', 'set', nsIf, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'route', 'add', 'default', 'via', HOST);
      for (const v of variants) {
        // TCP: one server for both cases; the client's first connect waits for it.
        let s = v.start([tcpnet, 'serve', '9000']);
        try {
          await waitTcp(9000, s); // (this connection sends no mode byte: the server drops it)
          ctx.record(
            CASES[0],
            v.name,
            values([tcpnet, 'pingpong', INSIDE, '9000', String(PINGS), String(rounds)]),
            'µs',
          );
          ctx.record(
            CASES[1],
            v.name,
            values([tcpnet, 'stream', INSIDE, '9000', String(STREAM_BYTES), String(rounds)]),
            'MiB/s',
          );
        } catch (e) {
          const why = (e as Error).message.slice(0, 300);
          ctx.skip(CASES[0], v.name, why);
          ctx.skip(CASES[1], v.name, why);
        } finally {
          await v.stop(s);
        }
        s = v.start(['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', path.join(dir, 'www')]);
        try {
          const url = `http://${INSIDE}:8080/index.html`;
          await waitHttp(url, s);
          wrk(url); // warm-up
          const runs = Array.from({ length: rounds }, () => wrk(url));
          ctx.record(
            CASES[2],
            v.name,
            runs.map((r) => r[0]),
            'req/s',
          );
          ctx.record(
            `${CASES[2]}, mean latency`,
            v.name,
            runs.map((r) => r[1]),
            'ms',
          );
        } catch (e) {
          ctx.skip(CASES[2], v.name, `${(e as Error).message.slice(0, 300)}`);
        }
        try {
          if (!fs.existsSync('/usr/sbin/nft')) throw new Error('nft not installed');
          const url = `http://${INSIDE}:8080/big`;
          await waitHttp(`http://${INSIDE}:8080/index.html`, s);
          // Segmentation offload off on the server's end, so that the kernel (native,
          // tsvisor-host) too sends MTU-sized frames and "1% of frames" means the same for all.
          const offload = (on: string) =>
            spawnSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', nsIf, 'tso', on, 'gso', on], {
              stdio: 'ignore',
            });
          offload('off');
          const off = dropIngress(hostIf, `tsvbench${id}`);
          try {
            ctx.record(
              CASES[3],
              v.name,
              Array.from({ length: rounds }, () => download(url)),
              'MiB/s',
            );
          } finally {
            off();
            offload('on');
          }
        } catch (e) {
          ctx.skip(CASES[3], v.name, `${(e as Error).message.slice(0, 300)}`);
        } finally {
          await v.stop(s);
        }
      }
    } finally {
      spawnSync('/usr/sbin/nft', ['delete', 'table', 'netdev', `tsvbench${id}`], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', hostIf]);
      spawnSync('ip', ['netns', 'del', ns]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    ctx.note(
      `${rounds} rounds, wrk ${WRK_SECONDS} s each; load average at the end ${os
        .loadavg()
        .map((v) => v.toFixed(1))
        .join(
          ' ',
        )} on ${os.cpus().length} CPUs. req/s and MiB/s: higher is better ("best" is the lowest round, as for every row).`,
    );
  },
};
