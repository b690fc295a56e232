/**
 * Apps in the sandbox on the user-space TCP/IP stack (`--network=netstack`): the same
 * programs run natively (the host kernel's loopback) and in the sandbox must print the
 * same thing. net.c is the net-host suite's program; its IPv4 sections run here (its
 * IPv6 sections in netstack-v6.test.ts; no IP-level control messages yet: docs/netstack.md
 * lists what differs). Also rtnetlink dumps, /proc/net, python and busybox programs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, haveBusybox, runNative, runSandbox } from './harness';
import { asyncioEcho } from './py-programs';

const NETSTACK = ['--network=netstack'];
const PY = '/usr/bin/python3';

function same(argv: string[]): void {
  const native = runNative(argv);
  const sandbox = runSandbox(argv, { flags: NETSTACK });
  assert.equal(sandbox.stdout, native.stdout, `stdout (sandbox stderr: ${sandbox.stderr.slice(0, 2000)})`);
  assert.equal(sandbox.stderr, native.stderr, 'stderr');
  assert.equal(sandbox.status, native.status, 'exit status');
}

describe('net-netstack: sockets in the sandbox on our TCP/IP stack vs Linux', function () {
  this.timeout(180000);

  // Every IPv4 section of net.c: TCP echo with fork, MSG_WAITALL, peek and SO_PEEK_OFF,
  // FIONREAD, EPIPE/SIGPIPE, non-blocking connect + epoll, edge-triggered EPOLLIN/EPOLLOUT,
  // select, refused connects, SO_RCVTIMEO/SO_SNDTIMEO and signals, a full backlog, RST,
  // UDP (truncation, peek, connected filtering, sendmmsg/recvmmsg, ICMP-refused), the
  // errnos of bad input (sockaddrs, options, socket types), SIOCGIF*.
  for (const section of ['tcp', 'nonblock', 'edge', 'signals', 'udp', 'bad'])
    it(`net.c ${section}`, () => {
      const bin = buildC('net', 'static');
      const native = runNative([bin, section]);
      assert.equal(native.status, 0, native.stdout + native.stderr);
      same([bin, section]);
    });

  it("the sockets are the stack's: /proc/net/tcp lists the app's listener by inode; AF_INET6 is served", () => {
    const prog = `
import socket, os
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
port = s.getsockname()[1]
ino = os.stat(s.fileno()).st_ino
rows = [l.split() for l in open('/proc/net/tcp').read().splitlines()[1:]]
mine = [r for r in rows if r[1].endswith(':%04X' % port) or r[2].endswith(':%04X' % port)]
print('listener', [r[3] for r in mine if r[3] == '0A' and r[9] == str(ino)])
print('established', sorted(r[3] for r in mine if r[3] == '01'))
try:
    socket.socket(socket.AF_INET6)
    print('v6 ok')
except OSError as e:
    print('v6', e.errno)
`;
    const native = runNative([PY, '-c', prog]);
    assert.match(native.stdout, /^listener \['0A'\]\nestablished \['01', '01'\]\nv6 ok\n$/, native.stderr);
    const r = runSandbox([PY, '-c', prog], { flags: NETSTACK });
    // The same rows as Linux, AF_INET6 included (netstack-v6.test.ts tests IPv6 itself).
    assert.equal(r.stdout, native.stdout, r.stderr);
    assert.equal(r.status, 0);
  });

  it('python: threaded TCP echo of 1 MB, UDP peek, socket options, SO_LINGER', () => {
    const prog = `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 0)); s.listen()
def serve():
    c, _ = s.accept()
    with c:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d[::-1])
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(s.getsockname())
msg = bytes(range(256)) * 4000
c.sendall(msg); c.shutdown(socket.SHUT_WR)
got = b''
while True:
    d = c.recv(65536)
    if not d: break
    got += d
t.join()
print('tcp', len(got), sorted(got) == sorted(msg))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b'datagram', u.getsockname())
d, a = u.recvfrom(4, socket.MSG_PEEK)
print('udp peek', d, a[0])
print('udp', u.recvfrom(100)[0])
for o in (socket.SO_KEEPALIVE, socket.SO_REUSEADDR):
    c.setsockopt(socket.SOL_SOCKET, o, 1); print('opt', o, c.getsockopt(socket.SOL_SOCKET, o))
for o, v in ((socket.TCP_KEEPIDLE, 30), (socket.TCP_KEEPINTVL, 5), (socket.TCP_KEEPCNT, 4)):
    c.setsockopt(socket.IPPROTO_TCP, o, v); print('tcp opt', o, c.getsockopt(socket.IPPROTO_TCP, o))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\\1\\0\\0\\0\\0\\0\\0\\0')
print('linger', c.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
c.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 9); print('ttl', c.getsockopt(socket.IPPROTO_IP, socket.IP_TTL))
`;
    same([PY, '-c', prog]);
  });

  it('python asyncio: 50 concurrent clients of a line-echo server (epoll, non-blocking connect)', () => {
    const prog = asyncioEcho('127.0.0.1');
    const native = runNative([PY, '-c', prog]);
    assert.equal(native.stdout, 'True 50\n', native.stderr);
    same([PY, '-c', prog]);
  });

  it('8 MB each way in 16-64 KiB writes (recycled send-queue buffers) arrive intact', () => {
    const prog = `
import socket, threading, hashlib
data = bytes((i * 7 + (i >> 9)) & 255 for i in range(8 << 20))
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
got = {}
def serve():
    c, _ = s.accept()
    h = hashlib.sha256(); n = 0
    while n < len(data):
        d = c.recv(70000)
        if not d: break
        h.update(d); n += len(d)
    got['server'] = h.hexdigest()
    for o in range(0, len(data), 60000): c.sendall(data[o:o + 60000])
    c.close()
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(s.getsockname())
sizes = [16384, 20000, 65536, 40000, 30001]
o = 0; i = 0
while o < len(data):
    k = sizes[i % len(sizes)]; c.sendall(data[o:o + k]); o += k; i += 1
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
t.join()
print(got['server'] == hashlib.sha256(data).hexdigest(), h.hexdigest() == hashlib.sha256(data).hexdigest(), n)
`;
    const native = runNative([PY, '-c', prog]);
    assert.equal(native.stdout, `True True ${8 << 20}\n`, native.stderr);
    same([PY, '-c', prog]);
  });

  it('1,000 sequential connections leave nothing but TIME_WAITs and the listener in /proc/net/tcp', () => {
    const prog = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(64)
port = s.getsockname()[1]
for i in range(1000):
    c = socket.create_connection(('127.0.0.1', port))
    a, _ = s.accept()
    c.sendall(b'ping %d' % i)
    assert a.recv(64) == b'ping %d' % i
    a.sendall(b'pong')
    assert c.recv(64) == b'pong'
    c.close(); a.close()
time.sleep(0.3)
hexport = ':%04X' % port
rows = [l.split() for l in open('/proc/net/tcp').read().splitlines()[1:]]
mine = [r for r in rows if r[1].endswith(hexport) or r[2].endswith(hexport)]
print('states besides TIME_WAIT', sorted(set(r[3] for r in mine if r[3] != '06')))
print('some TIME_WAIT', any(r[3] == '06' for r in mine))
`;
    const native = runNative([PY, '-c', prog]);
    assert.equal(native.stdout, "states besides TIME_WAIT ['0A']\nsome TIME_WAIT True\n", native.stderr);
    same([PY, '-c', prog]);
  });

  (haveBusybox() ? it : it.skip)(
    'rtnetlink from the stack: busybox ip -4 addr / ip route / ip link and if_nameindex, as a fresh Linux namespace',
    () => {
      const script =
        '/bin/busybox ip -4 addr; echo ==; /bin/busybox ip route; echo ==; /bin/busybox ip link; echo ==; ' +
        `${PY} -c 'import socket; print(socket.if_nameindex(), socket.if_nametoindex("lo"))'`;
      // Natively: a fresh network namespace whose loopback is up (the sandbox's stack has lo only).
      const native = runNative([
        'unshare',
        '--net',
        '/bin/sh',
        '-c',
        '/bin/busybox ip link set lo up && exec /bin/sh -c "$0"',
        script,
      ]);
      assert.match(native.stdout, /inet 127\.0\.0\.1\/8 scope host lo/, native.stderr);
      const r = runSandbox(['/bin/sh', '-c', script], { flags: NETSTACK });
      assert.equal(r.stdout, native.stdout, r.stderr);
      assert.equal(r.status, native.status);
    },
  );

  (haveBusybox() ? it : it.skip)('busybox httpd and wget in one sandbox: a 300 kB file by sha256', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-nstack-www-'));
    try {
      const blob = Buffer.alloc(300_000);
      for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919 + (i >> 8)) & 255;
      fs.writeFileSync(path.join(dir, 'blob'), blob);
      // Below the ephemeral range (32768-60999): no client socket of another test holds it.
      const port = 10000 + Math.floor(Math.random() * 20000);
      const script = `busybox httpd -f -p 127.0.0.1:${port} -h ${dir} & pid=$!
i=0; while [ $i -lt 50 ]; do busybox wget -q -O /dev/null http://127.0.0.1:${port}/blob 2>/dev/null && break; i=$((i+1)); sleep 0.1; done
busybox wget -q -O - http://127.0.0.1:${port}/blob | sha256sum
kill $pid; wait`;
      const native = runNative(['/bin/sh', '-c', script]);
      assert.match(native.stdout, /^[0-9a-f]{64} {2}-\n$/, native.stderr);
      const r = runSandbox(['/bin/sh', '-c', script], { flags: NETSTACK });
      assert.equal(r.stdout, native.stdout, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
