/**
 * Networking through the net-host plugin (`--network=host`): programs run natively and
 * in the sandbox must print the same thing. Covers TCP/UDP over IPv4 and IPv6 loopback
 * (test/integration/c/net.c), getaddrinfo with AI_ADDRCONFIG over rtnetlink (netgai.c),
 * busybox nc, busybox ip addr/route, python sockets and /proc/net.
 */
import * as assert from 'node:assert/strict';
import { buildC, haveBusybox, runNative, runSandbox } from './harness';
import { asyncioEcho } from './py-programs';

const HOST = ['--network=host'];
const PY = '/usr/bin/python3';

function same(argv: string[], o: { input?: string } = {}): void {
  const native = runNative(argv, o);
  const sandbox = runSandbox(argv, { ...o, flags: HOST });
  assert.equal(sandbox.stdout, native.stdout, 'stdout');
  assert.equal(sandbox.stderr, native.stderr, 'stderr');
  assert.equal(sandbox.status, native.status, 'exit status');
}

/**
 * Other processes on the machine may add or drop links between the native and the sandbox
 * run: a comparison of host network state is retried (up to 3 tries); a persistent
 * mismatch fails.
 */
function soon(check: () => void): void {
  for (let i = 0; ; i++) {
    try {
      check();
      return;
    } catch (e) {
      if (i === 2) throw e;
    }
  }
}
const sameSoon = (argv: string[]) => soon(() => same(argv));

describe('net-host: sockets in the sandbox vs Linux', function () {
  this.timeout(180000);

  for (const mode of ['static', 'dynamic'] as const)
    it(`net.c (${mode}): TCP, UDP, IPv6, epoll, signals, bad input`, () => {
      const bin = buildC('net', mode);
      const native = runNative([bin]);
      assert.equal(native.status, 0, native.stdout + native.stderr);
      assert.match(native.stdout, /done\n$/);
      same([bin]);
    });

  it('getaddrinfo("localhost") with AI_ADDRCONFIG, then connect to each address', () => {
    const bin = buildC('netgai', 'dynamic');
    same([bin]);
  });

  it('network: none is a namespace with only loopback, as a fresh Linux network namespace', () => {
    const prog = [
      'import socket',
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()",
      'c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.send(b"hi"); print(a.recv(2))',
      "s6 = socket.socket(socket.AF_INET6); s6.bind(('::1', 0)); print('v6 bind ok')",
      't = socket.socket()',
      'try:',
      "  t.connect(('192.0.2.1', 80))",
      'except OSError as e:',
      "  print('tcp', e.errno)",
      'print(sorted(n for _, n in socket.if_nameindex()))',
      // glibc's if_nametoindex asks an AF_UNIX socket (SIOCGIFINDEX): any family answers.
      "print(socket.if_nametoindex('lo'))",
    ].join('\n');
    // Natively: a fresh network namespace whose loopback is up (as the sandbox's).
    const native = runNative([
      'unshare',
      '--net',
      '/bin/sh',
      '-c',
      '/bin/busybox ip link set lo up && exec "$0" -c "$1"',
      PY,
      prog,
    ]);
    const sandbox = runSandbox([PY, '-c', prog]);
    assert.equal(native.stdout, "b'hi'\nv6 bind ok\ntcp 101\n['lo']\n1\n", native.stderr);
    assert.equal(sandbox.stdout, native.stdout, sandbox.stderr);
    assert.equal(sandbox.status, native.status);
  });

  it('a non-root app may not bind a privileged port (EACCES), root may', () => {
    const prog = `
import socket
for port in (80, 1023, 1024, 0):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', port)); print(port, 'ok')
    except OSError as e:
        print(port, e.errno)
    s.close()
`;
    const user = runNative([
      '/usr/bin/setpriv',
      '--reuid=1000',
      '--regid=1000',
      '--clear-groups',
      PY,
      '-c',
      prog,
    ]);
    assert.match(user.stdout, /^80 13\n/);
    const inside = runSandbox([PY, '-c', prog], { flags: [...HOST, '--uid', '1000', '--gid', '1000'] });
    assert.equal(inside.stdout, user.stdout, inside.stderr);
    same([PY, '-c', prog]);
  });

  it('python sockets: threaded TCP echo, UDP, if_nameindex', () => {
    const prog = `
import socket, threading
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
def serve():
    c, _ = s.accept()
    with c:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d[::-1])
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(s.getsockname())
msg = bytes(range(256)) * 1000
c.sendall(msg); c.shutdown(socket.SHUT_WR)
got = b''
while True:
    d = c.recv(65536)
    if not d: break
    got += d
t.join()
print('tcp', len(got))
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::1', 0))
v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v.sendto(b'datagram', u.getsockname())
d, a = u.recvfrom(4, socket.MSG_PEEK)
print('udp peek', d, a[0])
d, a = u.recvfrom(100)
print('udp', d)
print('names', sorted(n for _, n in socket.if_nameindex()))
print('gai', sorted({x[4][0] for x in socket.getaddrinfo('localhost', 80, socket.AF_INET)}))
`;
    sameSoon([PY, '-c', prog]);
  });

  it('python asyncio: 50 concurrent IPv6 clients of a line-echo server (epoll, non-blocking connect)', () => {
    const prog = asyncioEcho('::1');
    const native = runNative([PY, '-c', prog]);
    assert.equal(native.stdout, 'True 50\n', native.stderr);
    same([PY, '-c', prog]);
  });

  (haveBusybox() ? it : it.skip)('busybox nc echo server and client in one sandbox', () => {
    // Below the ephemeral range (32768-60999): no client socket of another test holds it.
    const port = 10000 + Math.floor(Math.random() * 20000);
    const script = `busybox nc -l -p ${port} -e /bin/cat &
i=0
while [ $i -lt 100 ]; do
  out=$(echo hello-through-nc | busybox nc -w 2 127.0.0.1 ${port} 2>/dev/null) && [ -n "$out" ] && break
  i=$((i+1)); sleep 0.1
done
echo "got: $out"
wait`;
    const r = runSandbox(['/bin/sh', '-c', script], { flags: HOST });
    assert.equal(r.stdout, 'got: hello-through-nc\n', r.stderr);
    assert.equal(r.status, 0);
  });

  (haveBusybox() ? it : it.skip)('busybox ip addr and ip route (rtnetlink dumps) match the host', () => {
    sameSoon(['/bin/busybox', 'ip', 'addr']);
    sameSoon(['/bin/busybox', 'ip', 'route']);
    sameSoon(['/bin/busybox', 'ip', '-6', 'route']);
    sameSoon(['/bin/busybox', 'ip', 'link']);
  });

  (haveBusybox() ? it : it.skip)('rtnetlink writes are refused (EPERM), the host is unchanged', () => {
    const r = runSandbox(['/bin/busybox', 'ip', 'link', 'set', 'lo', 'mtu', '1280'], { flags: HOST });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Operation not permitted|RTNETLINK/);
    const mtu = runNative(['/bin/cat', '/sys/class/net/lo/mtu']).stdout.trim();
    assert.notEqual(mtu, '1280');
  });

  it('/proc/net/{route,if_inet6,dev} show the host namespace', () => {
    // Tables of stable content (tcp/udp change as other processes use the network).
    sameSoon(['/bin/cat', '/proc/net/route']);
    sameSoon(['/bin/cat', '/proc/net/if_inet6']);
    const ifaces = (s: string) =>
      s
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0].trim())
        .filter(Boolean);
    soon(() => {
      const dev = runSandbox(['/bin/cat', '/proc/net/dev'], { flags: HOST });
      const native = runNative(['/bin/cat', '/proc/net/dev']);
      assert.deepEqual(ifaces(dev.stdout), ifaces(native.stdout));
      assert.equal(
        dev.stdout.split('\n').slice(0, 2).join('\n'),
        native.stdout.split('\n').slice(0, 2).join('\n'),
      );
    });
  });

  it('/proc/net/tcp lists a listener the sandbox opened', () => {
    const prog = `
import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
port = '%04X' % s.getsockname()[1]
rows = open('/proc/net/tcp').read().splitlines()[1:]
print(any(r.split()[1] == '0100007F:' + port and r.split()[3] == '0A' for r in rows))
`;
    const r = runSandbox([PY, '-c', prog], { flags: HOST });
    assert.equal(r.stdout, 'True\n', r.stderr);
  });

  it("/proc/net/{tcp,udp,tcp6,udp6}: a socket's row has its fstat st_ino (= /proc/self/fd socket:[N]) and owner uid, as Linux", () => {
    // Root and uid 1000; listener, client, accepted, UDP, IPv6.
    const prog = `${INO_CHECK}`;
    for (const args of [[], ['as-1000']]) {
      const native = runNative([PY, '-c', prog, ...args]);
      const ours = runSandbox([PY, '-c', prog, ...args], { flags: HOST });
      assert.equal(native.status, 0, native.stderr);
      assert.equal(
        native.stdout.split('\n').filter((l) => / rows 1 port \[True\] uid \[True\]$/.test(l)).length,
        6,
        native.stdout,
      );
      assert.equal(ours.stdout, native.stdout, ours.stderr);
    }
    // Host sockets the sandbox does not own show inode 0: no host inode number is seen inside.
    const leak = `
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
own = {str(os.fstat(s.fileno()).st_ino)}
for t in ('tcp', 'tcp6', 'udp', 'udp6'):
    rows = [r.split() for r in open('/proc/net/' + t).read().splitlines()[1:]]
    print(t, sorted({r[9] for r in rows} - own - {'0'}))
`;
    const r = runSandbox([PY, '-c', leak], { flags: HOST });
    assert.equal(r.stdout, 'tcp []\ntcp6 []\nudp []\nudp6 []\n', r.stderr);
  });
});

const INO_CHECK = `
import os, socket, sys
if len(sys.argv) > 1:
    os.setgroups([]); os.setgid(1000); os.setuid(1000)
def check(kind, s, table):
    st = os.fstat(s.fileno()).st_ino
    link = os.readlink('/proc/self/fd/%d' % s.fileno())
    port = s.getsockname()[1]
    rows = [r.split() for r in open('/proc/net/' + table).read().splitlines()[1:]]
    mine = [r for r in rows if r[9] == str(st)]
    print(kind, 'link is socket:[st_ino]', link == 'socket:[%d]' % st, 'rows', len(mine),
          'port', [int(r[1].split(':')[1], 16) == port for r in mine],
          'uid', [r[7] == str(os.getuid()) for r in mine])
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
l6 = socket.socket(socket.AF_INET6); l6.bind(('::1', 0)); l6.listen()
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(('::1', 0))
for k, s, t in [('tcp listener', l, 'tcp'), ('tcp client', c, 'tcp'), ('tcp accepted', a, 'tcp'),
                ('udp', u, 'udp'), ('tcp6 listener', l6, 'tcp6'), ('udp6', u6, 'udp6')]:
    check(k, s, t)
`;
