/**
 * /proc/net/snmp in the sandbox, compared with Linux's: one workload (UDP to a closed and an
 * open port, N TCP connections opened and closed, a refused connect, an aborted connection)
 * prints the field-name lines and the deltas of the counters it moved. Natively it runs in
 * a fresh network namespace (loopback up); in the sandbox on our stack (network: netstack)
 * and on host sockets in a fresh namespace (network: host, runsc itself started in it). The
 * outputs must be equal.
 *
 * Counters left out because their deltas depend on timing on either side: Tcp InSegs,
 * OutSegs (delayed and quick ACKs, coalesced FINs), RetransSegs; Ip counts during the TCP
 * phases (same segments). The Ip counts of the UDP phase are in: it runs first, before any
 * TCP segment exists, so its packets are exactly the datagrams and their ICMP errors.
 * /proc/net/snmp6: its names, and every counter's delta over a UDP-over-::1 phase (nothing
 * else in the workload uses IPv6). No ping: apps on netstack get no ICMP sockets (the
 * default ping_group_range admits nobody) nor raw ones, so the ICMP counts come from the
 * port unreachables the stack sends and receives itself.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { procNetFallback } from '../../core/fs/proc/net';
import { RUNSC, runSandbox } from './harness';

const PY = '/usr/bin/python3';

const WORKLOAD = String.raw`
import socket, sys

def snmp():
    lines = open('/proc/net/snmp').read().splitlines()
    heads, d = [], {}
    for i in range(0, len(lines), 2):
        k = lines[i].split(':')[0]
        if k != 'IcmpMsg':
            heads.append(lines[i])
        for a, b in zip(lines[i].split()[1:], lines[i + 1].split()[1:]):
            d[k + '.' + a] = int(b)
    return heads, d

def delta(tag, a, b, keys):
    for k in keys:
        print(tag, k, b.get(k, 0) - a.get(k, 0))

heads, s0 = snmp()
for h in heads:
    print(h)
# UDP first, before any TCP, so that no delayed ACK or FIN can land in its IP counts.
M, K = 3, 4
dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dead.bind(('127.0.0.1', 0))
closed_port = dead.getsockname()[1]; dead.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0))
for i in range(M):
    u.sendto(b'x' * 10, ('127.0.0.1', closed_port))
for i in range(K):
    u.sendto(b'y' * 20, r.getsockname())
for i in range(K):
    r.recv(100)
_, s1 = snmp()
delta('udp-phase', s0, s1, ['Udp.InDatagrams', 'Udp.NoPorts', 'Udp.InErrors', 'Udp.OutDatagrams',
      'Udp.RcvbufErrors', 'Icmp.InMsgs', 'Icmp.InErrors', 'Icmp.InDestUnreachs', 'Icmp.OutMsgs',
      'Icmp.OutDestUnreachs', 'IcmpMsg.InType3', 'IcmpMsg.OutType3', 'Ip.InReceives', 'Ip.InDelivers',
      'Ip.OutRequests', 'Ip.OutTransmits', 'Ip.InHdrErrors', 'Ip.InAddrErrors', 'Ip.OutNoRoutes'])
u.close(); r.close()

N = 5
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(16)
pairs = []
for i in range(N):
    c = socket.create_connection(l.getsockname())
    a, _ = l.accept()
    pairs.append((c, a))
_, s2 = snmp()
delta('tcp-open', s1, s2, ['Tcp.ActiveOpens', 'Tcp.PassiveOpens', 'Tcp.CurrEstab', 'Tcp.AttemptFails',
      'Tcp.EstabResets', 'Tcp.OutRsts', 'Tcp.InErrs'])
for c, a in pairs:
    c.close()
    a.close()
_, s3 = snmp()
delta('tcp-closed', s1, s3, ['Tcp.ActiveOpens', 'Tcp.PassiveOpens', 'Tcp.CurrEstab', 'Tcp.EstabResets'])

# A refused connect: an attempt that fails, answered by a RST.
dead = socket.socket(); dead.bind(('127.0.0.1', 0)); port = dead.getsockname()[1]; dead.close()
t = socket.socket()
try:
    t.connect(('127.0.0.1', port))
except OSError as e:
    print('refused', e.errno)
t.close()
# An abort (SO_LINGER 0): both ends of an established connection reset.
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
c.close()
try:
    print('peer', a.recv(10))
except OSError as e:
    print('peer', e.errno)
a.close(); l.close()
_, s4 = snmp()
delta('tcp-fail', s3, s4, ['Tcp.ActiveOpens', 'Tcp.PassiveOpens', 'Tcp.AttemptFails', 'Tcp.EstabResets',
      'Tcp.CurrEstab', 'Tcp.OutRsts', 'Tcp.InErrs', 'Tcp.InCsumErrors'])

# IPv6 (snmp6): UDP over ::1 to a closed and an open port. Only IPv6 traffic moves these.
def snmp6():
    rows = [l.split() for l in open('/proc/net/snmp6').read().splitlines()]
    return [r[0] for r in rows if 'Type' not in r[0]], {r[0]: int(r[1]) for r in rows}
names6, t0 = snmp6()
print(' '.join(names6))
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
r = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); r.bind(('::1', 0))
dead = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); dead.bind(('::1', 0))
closed_port = dead.getsockname()[1]; dead.close()
for i in range(2):
    u.sendto(b'z' * 30, ('::1', closed_port))
for i in range(3):
    u.sendto(b'w' * 50, r.getsockname()[:2])
for i in range(3):
    r.recv(100)
_, t1 = snmp6()
for k in names6 + ['Icmp6InType1', 'Icmp6OutType1']:
    print('udp6-phase', k, t1.get(k, 0) - t0.get(k, 0))
`;

/** Runs `argv` in a fresh network namespace (named tsvsnmp*, loopback up); deletes it after. */
function inFreshNetns(argv: string[]): { stdout: string; stderr: string; status: number | null } {
  const ns = `tsvsnmp${process.pid}x${Math.floor(Math.random() * 1e6)}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  assert.equal(add.status, 0, `ip netns add ${ns}: ${add.stderr}`);
  try {
    const up = spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    assert.equal(up.status, 0, `lo up in ${ns}: ${up.stderr}`);
    const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], {
      encoding: 'utf8',
      cwd: '/',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C', HOME: '/root' },
      timeout: 120000,
      killSignal: 'SIGKILL',
    });
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** The "Name: field ..." lines of a /proc/net/snmp text, and its values by Name.field. */
function parse(text: string): { names: string[]; values: Map<string, string> } {
  const lines = text.trimEnd().split('\n');
  const names: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < lines.length; i += 2) {
    names.push(lines[i]);
    const [k, ...fields] = lines[i].split(/\s+/);
    const vals = lines[i + 1].split(/\s+/).slice(1);
    fields.forEach((f, j) => values.set(k + f, vals[j]));
  }
  return { names, values };
}

describe('/proc/net/snmp: the counters of the sandbox network stack vs Linux', function () {
  this.timeout(240000);
  let native = '';

  before(() => {
    const r = inFreshNetns([PY, '-c', WORKLOAD]);
    assert.equal(r.status, 0, r.stderr);
    // Sanity: the workload moved what it means to (so equal outputs compare something).
    assert.match(r.stdout, /^tcp-open Tcp\.CurrEstab 10$/m);
    assert.match(r.stdout, /^udp-phase Udp\.NoPorts 3$/m);
    assert.match(r.stdout, /^udp6-phase Udp6NoPorts 2$/m);
    native = r.stdout;
  });

  it('network: netstack: the same field names and the same counter deltas as Linux', () => {
    const r = runSandbox([PY, '-c', WORKLOAD], { flags: ['--network=netstack'] });
    assert.equal(r.stdout, native, r.stderr);
    assert.equal(r.status, 0);
  });

  it("network: host: the namespace's own counters, passed through (same names, same deltas)", () => {
    // runsc in a fresh namespace: net-host's sockets live there, so nothing else moves them.
    const r = inFreshNetns([process.execPath, RUNSC, 'do', '--network=host', '--', PY, '-c', WORKLOAD]);
    assert.equal(r.stdout, native, r.stderr);
    assert.equal(r.status, 0);
  });

  for (const file of ['snmp', 'snmp6'])
    it(`network: none: a fresh namespace's /proc/net/${file}`, () => {
      const fresh = inFreshNetns(['cat', `/proc/net/${file}`]);
      assert.equal(fresh.status, 0, fresh.stderr);
      const r = runSandbox(['/bin/cat', `/proc/net/${file}`]);
      assert.equal(r.stdout, fresh.stdout, r.stderr);
      assert.equal(r.status, 0);
    });

  it("without any stack: Linux's field names, a fresh namespace's values (Forwarding 2: nothing forwards)", () => {
    const fresh = inFreshNetns(['cat', '/proc/net/snmp']);
    assert.equal(fresh.status, 0, fresh.stderr);
    const ours = parse(procNetFallback('snmp') ?? '');
    const linux = parse(fresh.stdout);
    assert.deepEqual(ours.names, linux.names);
    // A fresh namespace's Forwarding follows the host's ip_forward; ours says we do not forward.
    assert.equal(ours.values.get('Ip:Forwarding'), '2');
    ours.values.delete('Ip:Forwarding');
    linux.values.delete('Ip:Forwarding');
    assert.deepEqual(ours.values, linux.values);
  });

  it("without any stack: snmp6 is a fresh namespace's, byte for byte", () => {
    const fresh = inFreshNetns(['cat', '/proc/net/snmp6']);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.equal(procNetFallback('snmp6'), fresh.stdout);
  });
});
