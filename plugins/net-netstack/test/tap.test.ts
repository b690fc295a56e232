/**
 * Interoperability with the Linux kernel's TCP/IP over a TAP device the test creates: the
 * host side has 10.77.N.1/24, the stack 10.77.N.2/24. ping (ARP + ICMP echo), UDP both
 * ways with a Python socket, TCP accepted from curl and Python (10 MiB each way checked by
 * sha256, half-close in both directions), RST for a closed port (ECONNREFUSED on the
 * host), and the stack as a client of a Python server. The device disappears with its fd.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { Stack } from '../src/stack';
import { TapLink } from '../src/link/tap';
import { TcpState, type TcpEndpoint } from '../src/tcp/endpoint';
import { ipv4, parseMac } from '../src/addr';
import { EAGAIN, EINPROGRESS, SHUT_WR } from '../src/errno';
import { until, writeAll, readAll, readN, sha256, pattern } from './util';
import { canUseTap, ip, python, run } from './host';

const N = 20 + (process.pid % 200);
const IFNAME = `tsvtap${process.pid % 100000}`;
const HOST = `10.77.${N}.1`;
const US = `10.77.${N}.2`;
const MAC = parseMac(
  `02:00:5e:77:${(N >> 8).toString(16).padStart(2, '0')}:${(N & 255).toString(16).padStart(2, '0')}`,
);

/** Accepts connections on `l` and hands each to `serve` (polled; the stack stays on the event loop). */
function serveAll(
  l: TcpEndpoint,
  serve: (c: TcpEndpoint) => Promise<void>,
): { stop(): void; errors: Error[] } {
  const errors: Error[] = [];
  const t = setInterval(() => {
    for (;;) {
      const c = l.accept();
      if (typeof c === 'number') return;
      serve(c).catch((e: Error) => errors.push(e));
    }
  }, 1);
  return { stop: () => clearInterval(t), errors };
}

describe('netstack over TAP against the Linux kernel', function () {
  this.timeout(120_000);
  let stack: Stack;
  let tap: TapLink | undefined;

  before(function () {
    const why = canUseTap();
    if (why) this.skip();
    tap = new TapLink(IFNAME, MAC);
    try {
      execFileSync('sysctl', ['-qw', `net.ipv6.conf.${IFNAME}.disable_ipv6=1`]);
    } catch {
      // IPv6 may be off already; its chatter is dropped by the stack anyway.
    }
    ip('addr', 'add', `${HOST}/24`, 'dev', IFNAME);
    ip('link', 'set', IFNAME, 'up');
    stack = new Stack({ tcp: { timeWaitMs: 100 } });
    stack.addNic(tap, { addresses: [`${US}/24`] });
  });

  after(() => {
    stack?.close(); // closes the TAP fd: the device goes away
    try {
      execFileSync('ip', ['link', 'del', IFNAME], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });

  it('the host has no checksum offload towards the TAP (full checksums arrive)', async function () {
    const r = await run('ethtool', ['-k', IFNAME]).catch(() => undefined);
    if (!r || r.code !== 0) this.skip(); // no ethtool: the checksum drop counter below still proves it
    assert.match(r.stdout, /tx-checksumming: off/);
  });

  it('answers ping from the host (ARP + ICMP echo)', async () => {
    const r = await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', US]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 packets transmitted, 3 received/);
    const neigh = ip('neigh', 'show', US, 'dev', IFNAME);
    assert.match(neigh, new RegExp(Array.from(MAC, (b) => b.toString(16).padStart(2, '0')).join(':')));
    assert.ok(stack.stats.icmpEchoReplies >= 3);
  });

  it('UDP both ways with a host Python socket', async () => {
    const u = stack.udp();
    assert.equal(u.bind(0, 7000), 0);
    // Echo service: every datagram comes back reversed.
    u.onEvent = () => {
      for (;;) {
        const d = u.recvFrom();
        if (typeof d === 'number') return;
        u.sendTo(Uint8Array.from(d.data).reverse(), d.addr, d.port);
      }
    };
    const r = await python(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.bind(("${HOST}", 0))
for i in range(3):
    s.sendto(b"abc%d" % i, ("${US}", 7000))
    data, addr = s.recvfrom(2048)
    print(data.decode(), addr[0], addr[1])
# A datagram bigger than the MTU is fragmented by the kernel and reassembled by the stack.
big = bytes(range(256)) * 16
s.sendto(big, ("${US}", 7000))
data, _ = s.recvfrom(8192)
print(len(data), data == big[::-1])
`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `0cba ${US} 7000`,
      `1cba ${US} 7000`,
      `2cba ${US} 7000`,
      '4096 True',
    ]);
    u.close();
  });

  it('UDP to a closed port: the host sees ECONNREFUSED (ICMP port unreachable)', async () => {
    const r = await python(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("${US}", 7999))
s.send(b"x")
try:
    s.recv(10)
    print("no error")
except ConnectionRefusedError:
    print("ECONNREFUSED")
`);
    assert.equal(r.stdout.trim(), 'ECONNREFUSED', r.stderr);
  });

  it('serves 10 MiB over HTTP to curl (sha256) and accepts a 10 MiB upload from Python', async () => {
    const body = pattern(10 << 20, 42);
    const l = stack.tcp();
    assert.equal(l.bind(0, 8080), 0);
    assert.equal(l.listen(16), 0);
    const srv = serveAll(l, async (c) => {
      // Read the request head.
      let head = '';
      const buf = new Uint8Array(4096);
      await until(() => {
        for (;;) {
          const n = c.recv(buf);
          if (n === -EAGAIN) return false;
          if (n <= 0) throw new Error(`request: ${n}`);
          head += Buffer.from(buf.subarray(0, n)).toString('latin1');
          if (head.includes('\r\n\r\n')) return true;
        }
      }, 'request head');
      if (head.startsWith('GET ')) {
        await writeAll(
          c,
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
        );
        await writeAll(c, body);
        c.shutdown(SHUT_WR);
        await readAll(c); // until the client closes too
        c.close();
      } else {
        const m = /Content-Length: (\d+)/i.exec(head)!;
        const len = Number(m[1]);
        const already = Buffer.from(head.slice(head.indexOf('\r\n\r\n') + 4), 'latin1');
        const rest = await readN(c, len - already.length, 'upload', 60_000);
        const digest = sha256(Buffer.concat([already, rest]));
        await writeAll(
          c,
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 64\r\nConnection: close\r\n\r\n${digest}`),
        );
        c.shutdown(SHUT_WR);
        await readAll(c);
        c.close();
      }
    });
    try {
      const r = await run('sh', ['-c', `curl -sS --max-time 60 http://${US}:8080/ | sha256sum`]);
      assert.equal(r.stdout.split(' ')[0], sha256(body), r.stderr);
      const up = await python(`
import socket, hashlib
data = bytes((i * 7 + 3) & 255 for i in range(10 << 20))
s = socket.create_connection(("${US}", 8080), timeout=60)
s.sendall(b"POST /up HTTP/1.1\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(data) + data)
resp = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    resp += b
s.close()
print(resp.split(b"\\r\\n\\r\\n", 1)[1].decode() == hashlib.sha256(data).hexdigest())
`);
      assert.equal(up.stdout.trim(), 'True', up.stderr);
      assert.deepEqual(srv.errors, []);
    } finally {
      srv.stop();
      l.close();
    }
    assert.equal(
      stack.stats.drops['tcp-malformed'] ?? 0,
      0,
      'no TCP segment from the kernel failed its checksum',
    );
  });

  it('half-close both directions with a Python client', async () => {
    const l = stack.tcp();
    l.bind(0, 8081);
    l.listen(4);
    let server: TcpEndpoint | undefined;
    const srv = serveAll(l, async (c) => {
      server = c;
      // Client sends then shuts its write side; we read to EOF, then answer and close.
      const got = await readAll(c);
      assert.equal(c.state, TcpState.CLOSE_WAIT);
      await writeAll(c, Buffer.from(`got ${got.length} bytes`));
      c.close();
    });
    try {
      const r = await python(`
import socket
s = socket.create_connection(("${US}", 8081), timeout=10)
s.sendall(b"x" * 100000)
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode())
s.close()
`);
      assert.equal(r.stdout.trim(), 'got 100000 bytes', r.stderr);
      await until(() => server !== undefined && server.state === TcpState.CLOSED, 'server closed');
      assert.deepEqual(srv.errors, []);
    } finally {
      srv.stop();
      l.close();
    }
  });

  it('a SYN to a closed port gets RST: the host sees ECONNREFUSED', async () => {
    const r = await python(`
import socket
try:
    socket.create_connection(("${US}", 9), timeout=5)
    print("connected")
except ConnectionRefusedError:
    print("ECONNREFUSED")
`);
    assert.equal(r.stdout.trim(), 'ECONNREFUSED', r.stderr);
  });

  it('1,000 sequential connections from the host leave no endpoints or timers', async () => {
    const l = stack.tcp();
    l.bind(0, 8082);
    l.listen(64);
    const buf = new Uint8Array(64);
    l.onEvent = () => {
      for (;;) {
        const c = l.accept();
        if (typeof c === 'number') return;
        c.onEvent = () => {
          const n = c.recv(buf);
          if (n > 0) c.send(buf.subarray(0, n));
          else if (n === 0) c.close(); // the host closes first: passive close, no TIME_WAIT here
        };
        c.onEvent(c);
      }
    };
    const before = { ...stack.counters };
    const r = await python(`
import socket
ok = 0
for i in range(1000):
    s = socket.create_connection(("${US}", 8082), timeout=10)
    s.sendall(b"n%d" % i)
    if s.recv(64) == b"n%d" % i:
        ok += 1
    s.close()
print(ok)
`);
    assert.equal(r.stdout.trim(), '1000', r.stderr);
    l.close();
    await until(
      () => stack.counters.tcpEndpoints === 0 && stack.counters.timers <= before.timers,
      `endpoints/timers released (${JSON.stringify(stack.counters)} ${JSON.stringify(stack.tcpStates())})`,
    );
  });

  it('connects as a client to a host Python server; both sides half-close', async () => {
    const py = python(`
import socket, hashlib, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("${HOST}", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
c, _ = srv.accept()
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(("%d %s" % (n, h.hexdigest())).encode())
c.shutdown(socket.SHUT_WR)
c.recv(1)
print("done", flush=True)
`);
    // The server's port: run() hands over output only at exit, so ask ss.
    let port = 0;
    await until(() => {
      const out = execFileSync('ss', ['-Hltn', `src ${HOST}`], { encoding: 'utf8' });
      const m = new RegExp(`${HOST.replace(/\./g, '\\.')}:(\\d+)`).exec(out);
      if (m) port = Number(m[1]);
      return port > 0;
    }, 'python server listening');
    const c = stack.tcp();
    assert.equal(c.connect(ipv4(HOST), port), -EINPROGRESS);
    await until(() => c.state === TcpState.ESTABLISHED, 'connected');
    const data = pattern(3 << 20, 5);
    await writeAll(c, data);
    c.shutdown(SHUT_WR);
    const reply = (await readAll(c)).toString();
    assert.equal(reply, `${data.length} ${sha256(data)}`);
    c.close();
    const r = await py;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /done/);
    await until(() => c.state === TcpState.CLOSED || c.state === TcpState.TIME_WAIT, 'closed');
  });
});
