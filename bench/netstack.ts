/**
 * net-netstack (issue 10): TCP request/response latency and throughput of the user-space
 * stack, in the same run as the host kernel's TCP and gVisor.
 *
 * - "loopback" cases: one connection over 127.0.0.1. `native` and `gvisor` run
 *   bench/c/tcp.c (a forked C server/client pair; under gVisor it is gVisor's netstack);
 *   `tsvisor-netstack` and `tsvisor-host` run it in our sandbox with `--network=netstack`
 *   (this stack, through the NetworkStack adapter) and `--network=host` (host sockets).
 *   `netstack` is our stack in this Node process (both endpoints in-process, over its
 *   loopback link); `node-kernel` is the same JS pattern over Node's net module (kernel TCP),
 *   which separates the cost of JS from the cost of our TCP/IP.
 * - "tap" cases (root only): a host Python client against a server in this process, either
 *   on our stack across a TAP device (`netstack-tap`) or on Node's net module (kernel TCP over
 *   loopback, `node-kernel`). Python's own costs are in both.
 * Throughput is MiB/s (higher is better); latency is µs per 1-byte round trip.
 * Apps on both sides of a veth (a server in the sandbox, the client on the host, and wrk
 * against busybox httpd) are bench/netstack-veth.ts (`npm run bench -- netstack-veth`).
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { buildBenchC, programValues as values, type BenchContext, type Benchmark } from './index';
import { PacketLink, Stack, TapLink, ipv4, parseMac, type TcpEndpoint } from '../plugins/net-netstack';
import { EAGAIN, EINPROGRESS, POLLOUT } from '../plugins/net-netstack/src/errno';

const PINGS = 2000;

function rates(bytes: number, t0: number, cpu0: NodeJS.CpuUsage): [number, number] {
  const cpu = process.cpuUsage(cpu0);
  const mib = bytes / 1048576;
  return [mib / ((performance.now() - t0) / 1000), mib / ((cpu.user + cpu.system) / 1e6)];
}
const STREAM_BYTES = 64 << 20;

/** A connected pair over the stack's loopback. */
async function stackPair(stack: Stack, port: number): Promise<[TcpEndpoint, TcpEndpoint]> {
  const lo = ipv4('127.0.0.1');
  const l = stack.tcp();
  l.bind(lo, port);
  l.listen(4);
  const c = stack.tcp();
  if (c.connect(lo, port) !== -EINPROGRESS) throw new Error('connect failed');
  const s = await new Promise<TcpEndpoint>((resolve) => {
    l.onEvent = () => {
      const a = l.accept();
      if (typeof a !== 'number') resolve(a);
    };
  });
  await new Promise<void>((resolve) => {
    const check = (): void => (c.poll() & POLLOUT ? resolve() : void setTimeout(check, 1));
    check();
  });
  l.close();
  c.setNodelay(true);
  s.setNodelay(true);
  return [c, s];
}

export async function netstackPingPong(n: number): Promise<number> {
  const stack = new Stack({ tcp: { timeWaitMs: 10 } });
  try {
    const [c, s] = await stackPair(stack, 7100);
    const one = new Uint8Array(1);
    const buf = new Uint8Array(16);
    s.onEvent = () => {
      while (s.recv(buf) > 0) s.send(one);
    };
    return await new Promise<number>((resolve) => {
      let left = n;
      const t0 = performance.now();
      c.onEvent = () => {
        while (c.recv(buf) > 0) {
          if (--left === 0) {
            resolve(((performance.now() - t0) * 1000) / n);
            return;
          }
          c.send(one);
        }
      };
      c.send(one);
    });
  } finally {
    stack.close();
  }
}

/** Throughput of one stream: [MiB/s of wall time, MiB per CPU-second of this process]. */
export async function netstackStream(bytes: number): Promise<[number, number]> {
  const stack = new Stack({ tcp: { timeWaitMs: 10, sndBuf: 4 << 20, rcvBuf: 4 << 20 } });
  try {
    const [c, s] = await stackPair(stack, 7101);
    const chunk = new Uint8Array(65536);
    const buf = new Uint8Array(65536);
    return await new Promise<[number, number]>((resolve) => {
      let sent = 0;
      let got = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      s.onEvent = () => {
        for (;;) {
          const k = s.recv(buf);
          if (k <= 0) break;
          got += k;
        }
        if (got >= bytes) resolve(rates(bytes, t0, cpu0));
      };
      c.onEvent = () => {
        while (sent < bytes) {
          const k = c.send(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
          if (k === -EAGAIN || k <= 0) return;
          sent += k;
        }
      };
      c.onEvent(c);
    });
  } finally {
    stack.close();
  }
}

async function kernelPingPong(n: number): Promise<number> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      for (let i = 0; i < d.length; i++) sock.write('x');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const c = net.connect(port, '127.0.0.1');
    c.setNoDelay(true);
    await new Promise<void>((r) => c.on('connect', r));
    const us = await new Promise<number>((resolve) => {
      let left = n;
      const t0 = performance.now();
      c.on('data', (d) => {
        left -= d.length;
        if (left <= 0) resolve(((performance.now() - t0) * 1000) / n);
        else c.write('x');
      });
      c.write('x');
    });
    c.destroy();
    return us;
  } finally {
    server.close();
  }
}

async function kernelStream(bytes: number): Promise<[number, number]> {
  let done: (v: [number, number]) => void = () => {};
  const result = new Promise<[number, number]>((r) => (done = r));
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  const server = net.createServer((sock) => {
    let got = 0;
    sock.on('data', (d) => {
      got += d.length;
      if (got >= bytes) done(rates(bytes, t0, cpu0));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const c = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => c.on('connect', r));
    const chunk = Buffer.alloc(65536);
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!c.write(chunk)) {
          c.once('drain', pump);
          return;
        }
      }
    };
    pump();
    const v = await result;
    c.destroy();
    return v;
  } finally {
    server.close();
  }
}

const PY_CLIENT = `
import socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((host, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "ping":
    t = time.perf_counter()
    for i in range(n):
        s.sendall(b"x")
        s.recv(1)
    print("%.3f" % ((time.perf_counter() - t) * 1e6 / n))
else:
    chunk = b"x" * 65536
    t = time.perf_counter()
    for i in range(n // 65536):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print("%.1f" % (n / 1048576 / (time.perf_counter() - t)))
s.close()
`;

function pyClient(
  mode: 'ping' | 'stream',
  host: string,
  port: number,
  n: number,
  netns?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const argv = ['/usr/bin/python3', '-c', PY_CLIENT, mode, host, String(port), String(n)];
    const p = netns ? spawn('ip', ['netns', 'exec', netns, ...argv]) : spawn(argv[0], argv.slice(1));
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`python client: ${err.slice(0, 300)}`)),
    );
  });
}

/** Echo (1 byte) and sink (answers 'k' at EOF) services on a listening endpoint. */
function serveStack(l: TcpEndpoint): void {
  const buf = new Uint8Array(65536);
  l.onEvent = () => {
    for (;;) {
      const c = l.accept();
      if (typeof c === 'number') return;
      c.setNodelay(true);
      c.onEvent = () => {
        for (;;) {
          const k = c.recv(buf);
          if (k > 0) {
            if (c.lport === 7201) c.send(buf.subarray(0, k));
            continue;
          }
          if (k === 0) {
            if (c.lport === 7202) c.send(new Uint8Array([107]));
            c.close();
          }
          return;
        }
      };
    }
  };
}

async function tapCases(ctx: BenchContext, rounds: number): Promise<void> {
  const ifname = `tsvbench${process.pid % 10000}`;
  const tap = new TapLink(ifname, parseMac('02:00:5e:78:00:02'));
  const stack = new Stack({ tcp: { timeWaitMs: 100, sndBuf: 4 << 20, rcvBuf: 4 << 20 } });
  const kernelServers: net.Server[] = [];
  try {
    try {
      execFileSync('sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    } catch {
      // chatter is dropped anyway
    }
    execFileSync('ip', ['addr', 'add', '10.78.0.1/24', 'dev', ifname]);
    execFileSync('ip', ['link', 'set', ifname, 'up']);
    stack.addNic(tap, { addresses: ['10.78.0.2/24'] });
    for (const port of [7201, 7202]) {
      const l = stack.tcp();
      l.bind(0, port);
      l.listen(8);
      serveStack(l);
    }
    const kEcho = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
    });
    const kSink = net.createServer((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('k'));
    });
    kernelServers.push(kEcho, kSink);
    await new Promise<void>((r) => kEcho.listen(7201, '127.0.0.1', r));
    await new Promise<void>((r) => kSink.listen(7202, '127.0.0.1', r));
    const lat = { tap: [] as number[], kernel: [] as number[] };
    const thr = { tap: [] as number[], kernel: [] as number[] };
    const tapCpu: number[] = [];
    for (let r = 0; r < rounds; r++) {
      lat.tap.push(await pyClient('ping', '10.78.0.2', 7201, PINGS));
      lat.kernel.push(await pyClient('ping', '127.0.0.1', 7201, PINGS));
      const cpu0 = process.cpuUsage();
      thr.tap.push(await pyClient('stream', '10.78.0.2', 7202, STREAM_BYTES));
      const cpu = process.cpuUsage(cpu0);
      tapCpu.push(STREAM_BYTES / 1048576 / ((cpu.user + cpu.system) / 1e6));
      thr.kernel.push(await pyClient('stream', '127.0.0.1', 7202, STREAM_BYTES));
    }
    ctx.record('tcp ping-pong, python client on the host', 'netstack-tap', lat.tap, 'µs');
    ctx.record('tcp ping-pong, python client on the host', 'node-kernel', lat.kernel, 'µs');
    ctx.record('tcp stream, python client on the host', 'netstack-tap', thr.tap, 'MiB/s');
    ctx.record('tcp stream, python client on the host', 'node-kernel', thr.kernel, 'MiB/s');
    // The stack's own cost, less sensitive to the machine's load than wall time.
    ctx.record('tcp stream from the host, per CPU-second of the stack', 'netstack-tap', tapCpu, 'MiB/s');
  } finally {
    for (const s of kernelServers) s.close();
    stack.close();
  }
}

/**
 * Across veth pairs from a Python client in a namespace: to our stack on an AF_PACKET
 * socket (netstack-veth), or to Node's net on the kernel's end of a second pair
 * (kernel-veth). Offloads are off on every end, as the stack needs (research/netio.md).
 */
export async function vethCases(ctx: BenchContext, rounds: number): Promise<void> {
  const id = process.pid % 100000;
  const ns = `tsvbns${id}`;
  const [a, b, k, l] = ['A', 'B', 'K', 'L'].map((x) => `tsvb${x}${id}`);
  const sh = (...argv: string[]): void => void execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
  const inNs = (...argv: string[]): void => sh('ip', 'netns', 'exec', ns, ...argv);
  const offloadsOff = ['tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];
  const stack = new Stack({ tcp: { timeWaitMs: 100, sndBuf: 4 << 20, rcvBuf: 4 << 20 } });
  const kernelServers: net.Server[] = [];
  sh('ip', 'netns', 'add', ns);
  try {
    sh('ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    sh('ip', 'link', 'add', k, 'type', 'veth', 'peer', 'name', l);
    sh('ip', 'link', 'set', b, 'netns', ns);
    sh('ip', 'link', 'set', l, 'netns', ns);
    try {
      sh('sysctl', '-qw', `net.ipv6.conf.${a}.disable_ipv6=1`);
    } catch {
      // chatter is dropped anyway
    }
    sh('ip', 'link', 'set', a, 'up');
    sh('ip', 'addr', 'add', '10.71.0.2/24', 'dev', k);
    sh('ip', 'link', 'set', k, 'up');
    sh('ethtool', '-K', k, ...offloadsOff);
    inNs('ip', 'addr', 'add', '10.72.0.1/24', 'dev', b);
    inNs('ip', 'addr', 'add', '10.71.0.1/24', 'dev', l);
    for (const x of [b, l, 'lo']) inNs('ip', 'link', 'set', x, 'up');
    inNs('ethtool', '-K', b, ...offloadsOff);
    inNs('ethtool', '-K', l, ...offloadsOff);
    stack.addNic(new PacketLink(a), { addresses: ['10.72.0.2/24'] });
    for (const port of [7201, 7202]) {
      const lst = stack.tcp();
      lst.bind(0, port);
      lst.listen(8);
      serveStack(lst);
    }
    const kEcho = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
    });
    const kSink = net.createServer((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('k'));
    });
    kernelServers.push(kEcho, kSink);
    await new Promise<void>((r) => kEcho.listen(7201, '10.71.0.2', r));
    await new Promise<void>((r) => kSink.listen(7202, '10.71.0.2', r));
    const lat = { ours: [] as number[], kernel: [] as number[] };
    const thr = { ours: [] as number[], kernel: [] as number[] };
    await pyClient('ping', '10.72.0.2', 7201, 200, ns); // warm-up (ARP, JIT)
    for (let r = 0; r < rounds; r++) {
      lat.ours.push(await pyClient('ping', '10.72.0.2', 7201, PINGS, ns));
      lat.kernel.push(await pyClient('ping', '10.71.0.2', 7201, PINGS, ns));
      thr.ours.push(await pyClient('stream', '10.72.0.2', 7202, STREAM_BYTES, ns));
      thr.kernel.push(await pyClient('stream', '10.71.0.2', 7202, STREAM_BYTES, ns));
    }
    ctx.record('tcp ping-pong across a veth, python client', 'netstack-veth', lat.ours, 'µs');
    ctx.record('tcp ping-pong across a veth, python client', 'kernel-veth', lat.kernel, 'µs');
    ctx.record('tcp stream across a veth, python client', 'netstack-veth', thr.ours, 'MiB/s');
    ctx.record('tcp stream across a veth, python client', 'kernel-veth', thr.kernel, 'MiB/s');
  } finally {
    for (const s of kernelServers) s.close();
    stack.close();
    sh('ip', 'netns', 'del', ns); // removes both veth pairs
  }
}

export const benchmark: Benchmark = {
  name: 'netstack',
  description:
    'TCP latency and throughput: native and gVisor (C over loopback), our netstack and Node+kernel',
  async run(ctx: BenchContext) {
    const rounds = Math.max(3, Math.min(ctx.rounds, 5));
    const tcp = buildBenchC(ctx.repo, 'tcp');
    const cases: [string, string, string, string][] = [
      ['tcp ping-pong, loopback', 'pingpong', String(PINGS), 'µs'],
      ['tcp stream, loopback', 'stream', String(STREAM_BYTES * 4), 'MiB/s'],
    ];
    for (const [name, mode, n, unit] of cases) {
      ctx.record(name, 'native', values([tcp, mode, n, String(rounds)]), unit);
      const g = ctx.gvisorDo([tcp, mode, n, String(rounds)]);
      if (g) {
        try {
          ctx.record(name, 'gvisor', values(g), unit);
        } catch (e) {
          ctx.skip(name, 'gvisor', (e as Error).message);
        }
      } else ctx.skip(name, 'gvisor', 'runsc not installed');
      // The same C program inside our sandbox: its sockets served by our netstack (through
      // the NetworkStack adapter, every send/recv a ptrace round trip) or by host sockets.
      for (const [variant, network] of [
        ['tsvisor-netstack', 'netstack'],
        ['tsvisor-host', 'host'],
      ]) {
        try {
          ctx.record(
            name,
            variant,
            values([...ctx.runsc, 'do', `--network=${network}`, '--', tcp, mode, n, String(rounds)]),
            unit,
          );
        } catch (e) {
          ctx.skip(name, variant, (e as Error).message);
        }
      }
    }
    const pp: number[] = [];
    const st: [number, number][] = [];
    const kpp: number[] = [];
    const kst: [number, number][] = [];
    // One untimed round of each first: JIT warm-up (the C programs need none).
    await netstackPingPong(PINGS);
    await kernelPingPong(PINGS);
    await netstackStream(STREAM_BYTES);
    await kernelStream(STREAM_BYTES);
    for (let r = 0; r < rounds; r++) {
      pp.push(await netstackPingPong(PINGS));
      kpp.push(await kernelPingPong(PINGS));
      st.push(await netstackStream(STREAM_BYTES));
      kst.push(await kernelStream(STREAM_BYTES));
    }
    ctx.record('tcp ping-pong, loopback', 'netstack', pp, 'µs');
    ctx.record('tcp ping-pong, loopback', 'node-kernel', kpp, 'µs');
    ctx.record(
      'tcp stream, loopback',
      'netstack',
      st.map((v) => v[0]),
      'MiB/s',
    );
    ctx.record(
      'tcp stream, loopback',
      'node-kernel',
      kst.map((v) => v[0]),
      'MiB/s',
    );
    // Per CPU-second of this process: less sensitive to other load on a shared machine.
    ctx.record(
      'tcp stream, loopback, per CPU-second',
      'netstack',
      st.map((v) => v[1]),
      'MiB/s',
    );
    ctx.record(
      'tcp stream, loopback, per CPU-second',
      'node-kernel',
      kst.map((v) => v[1]),
      'MiB/s',
    );
    if (process.getuid?.() === 0 && fs.existsSync('/dev/net/tun')) await tapCases(ctx, rounds);
    else ctx.skip('tcp over tap', 'netstack-tap', 'needs root and /dev/net/tun');
    if (process.getuid?.() === 0) {
      try {
        await vethCases(ctx, rounds);
      } catch (e) {
        ctx.skip('tcp across a veth', 'netstack-veth', (e as Error).message);
      }
    } else ctx.skip('tcp across a veth', 'netstack-veth', 'needs root');
    ctx.note(
      `load average at the end: ${os
        .loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs`,
    );
    ctx.note(
      'MiB/s rows: higher is better, so "x native" < 1 means slower. netstack and node-kernel run both ends in one Node process; native/gvisor run a forked C client and server.',
    );
  },
};
