/**
 * IPv6 apps in the sandbox on the user-space stack (`--network=netstack`), each compared
 * with the same program run natively on the kernel's loopback: net.c's `v6` and `v6more`
 * sections (AF_INET6 TCP/UDP over ::1, dual stack through v4-mapped addresses,
 * IPV6_V6ONLY, IPV6_UNICAST_HOPS/TCLASS, sockaddr_in6 lengths and fields,
 * getsockname/getpeername, ICMPv6-refused UDP) and Python's dual-stack
 * `socket.create_server(('::', 0), dualstack_ipv6=True)` echo with /proc/net/tcp6 and
 * /proc/net/if_inet6 read back.
 */
import * as assert from 'node:assert/strict';
import { buildC, runNative, runSandbox } from './harness';

const NETSTACK = ['--network=netstack'];
const PY = '/usr/bin/python3';

function same(argv: string[]): void {
  const native = runNative(argv);
  assert.equal(native.status, 0, `native run failed: ${native.stdout}${native.stderr}`);
  const sandbox = runSandbox(argv, { flags: NETSTACK });
  assert.equal(sandbox.stdout, native.stdout, `stdout (sandbox stderr: ${sandbox.stderr.slice(0, 2000)})`);
  assert.equal(sandbox.stderr, native.stderr, 'stderr');
  assert.equal(sandbox.status, native.status, 'exit status');
}

describe('net-netstack: IPv6 sockets in the sandbox vs Linux', function () {
  this.timeout(180000);

  for (const section of ['v6', 'v6more'])
    it(`net.c ${section}`, () => {
      const bin = buildC('net', 'static');
      same([bin, section]);
    });

  it('python: a dual-stack create_server echo for IPv4 and IPv6 clients; /proc/net/tcp6 and if_inet6', () => {
    const prog = `
import socket, threading, os
srv = socket.create_server(('::', 0), family=socket.AF_INET6, dualstack_ipv6=True)
port = srv.getsockname()[1]
def serve():
    for _ in range(2):
        c, peer = srv.accept()
        with c:
            d = c.recv(100)
            c.sendall(d.upper() + b' ' + peer[0].encode())
t = threading.Thread(target=serve); t.start()
for host, fam in (('127.0.0.1', socket.AF_INET), ('::1', socket.AF_INET6)):
    c = socket.socket(fam); c.connect((host, port)); c.sendall(b'hello'); print(fam.name, c.recv(100).decode()); c.close()
t.join()
ino = os.stat(srv.fileno()).st_ino
rows = [l.split() for l in open('/proc/net/tcp6').read().splitlines()[1:]]
print('tcp6 listener', [(r[1][:32], r[3]) for r in rows if r[1].endswith(':%04X' % port) and r[3] == '0A' and r[9] == str(ino)])
print('tcp rows for the port', [r[3] for r in (l.split() for l in open('/proc/net/tcp').read().splitlines()[1:]) if r[1].endswith(':%04X' % port)])
print('lo has ::1', any(l.split()[0] == '0' * 31 + '1' and l.split()[5] == 'lo' for l in open('/proc/net/if_inet6')))
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::1', 0))
v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); v.sendto(b'd' * 3000, u.getsockname())
data, src = u.recvfrom(5000)
print('udp6', len(data), src[0], [r.split()[1][:32] for r in open('/proc/net/udp6').read().splitlines()[1:] if r.split()[1].endswith(':%04X' % u.getsockname()[1])])
`;
    const native = runNative([PY, '-c', prog]);
    assert.equal(native.status, 0, native.stderr);
    assert.match(
      native.stdout,
      /^AF_INET HELLO ::ffff:127\.0\.0\.1\nAF_INET6 HELLO ::1\ntcp6 listener \[\('0{32}', '0A'\)\]/,
    );
    const r = runSandbox([PY, '-c', prog], { flags: NETSTACK });
    assert.equal(r.stdout, native.stdout, r.stderr);
    assert.equal(r.status, 0);
  });
});
