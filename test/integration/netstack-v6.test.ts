/**
 * IPv6 apps in the sandbox on the user-space stack (`--network=netstack`), each compared
 * with the same program run natively on the kernel's loopback: net.c's `v6` and `v6more`
 * sections (AF_INET6 TCP/UDP over ::1, dual stack through v4-mapped addresses,
 * IPV6_V6ONLY, IPV6_UNICAST_HOPS/TCLASS, sockaddr_in6 lengths and fields,
 * getsockname/getpeername, ICMPv6-refused UDP) and Python's dual-stack
 * `socket.create_server(('::', 0), dualstack_ipv6=True)` echo with /proc/net/tcp6 and
 * /proc/net/if_inet6 read back.
 *
 * Across a veth (root): a namespace and veth pair made by the test (fd61:N::/64 and
 * 10.61.N.0/24, interfaces t6hPID and t6cPID): the stack takes the namespace's addresses and
 * IPv6 default route, answers NDP with the interface's MAC, `ping -6` from the host, curl -6 on
 * the host against busybox httpd inside, busybox wget inside against a Python http.server
 * bound to [::] on the host; the address and route are given back at exit. Everything
 * the test made is removed in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, haveBusybox, REPO, RUNSC, runNative, runSandbox } from './harness';
import { hostHttpServer, ip, run, sha, sleep } from './net-helpers';

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

const canVeth =
  process.getuid?.() === 0 &&
  haveBusybox() &&
  ['/usr/sbin/ip', '/usr/sbin/ethtool', '/usr/bin/curl', '/usr/bin/nsenter', '/usr/bin/ping'].every((f) =>
    fs.existsSync(f),
  );

(canVeth ? describe : describe.skip)(
  'net-netstack: IPv6 across a veth (NDP, ping -6, HTTP both ways)',
  function () {
    this.timeout(180000);
    const id = `${process.pid % 100000}`;
    const ns = `t6ns${id}`;
    const hostIf = `t6h${id}`;
    const nsIf = `t6c${id}`;
    const net = (process.pid % 0xffff).toString(16);
    const hostAddr = `fd61:${net}::1`;
    const nsAddr = `fd61:${net}::2`;
    // An IPv4 address too (taken and given back with the IPv6 ones; /proc/net/arp, ip neigh).
    const host4 = `10.61.${process.pid % 250}.1`;
    const ns4 = `10.61.${process.pid % 250}.2`;
    let dir = '';
    let config = '';
    let blob: Buffer = Buffer.alloc(0);
    const procs: ChildProcess[] = [];
    const IP_CMDS = [
      ['ip', '-6', 'addr'],
      ['ip', '-6', 'route'],
      ['ip', 'addr'],
    ];
    let kernelView = '';

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-nstack-v6-'));
      ip('netns', 'add', ns);
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
      ip('link', 'set', nsIf, 'netns', ns);
      ip('addr', 'add', `${hostAddr}/64`, 'dev', hostIf, 'nodad');
      ip('addr', 'add', `${host4}/24`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      run(['/usr/sbin/ethtool', '-K', hostIf, 'tx', 'off']);
      ip('-n', ns, 'addr', 'add', `${nsAddr}/64`, 'dev', nsIf);
      ip('-n', ns, 'addr', 'add', `${ns4}/24`, 'dev', nsIf);
      ip('-n', ns, 'link', 'set', nsIf, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, '-6', 'route', 'add', 'default', 'via', hostAddr, 'dev', nsIf);
      // Wait out duplicate address detection, then note what the kernel shows inside.
      for (let i = 0; i < 100 && ip('-n', ns, '-6', 'addr', 'show', 'tentative') !== ''; i++)
        spawnSync('/bin/sleep', ['0.1']);
      kernelView = IP_CMDS.map((c) => run(['/usr/sbin/ip', 'netns', 'exec', ns, '/bin/busybox', ...c])).join(
        '== \n',
      );
      config = path.join(dir, 'runsc.yaml');
      fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: /var/run/netns/${ns}\n`);
      fs.mkdirSync(path.join(dir, 'www'));
      blob = Buffer.alloc(1_000_000);
      for (let i = 0; i < blob.length; i++) blob[i] = (i * 2654435761) >>> 24;
      fs.writeFileSync(path.join(dir, 'www', 'blob'), blob);
    });

    after(() => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      spawnSync('/usr/sbin/ip', ['link', 'del', hostIf]);
      spawnSync('/usr/sbin/ip', ['netns', 'del', ns]);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    function sandbox(argv: string[]): { p: ChildProcess; out: () => string } {
      const p = spawn(process.execPath, [RUNSC, 'do', `--config=${config}`, '--cwd', dir, '--', ...argv], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.push(p);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      return { p, out: () => out };
    }

    async function stop(p: ChildProcess): Promise<void> {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([done, sleep(10000)]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }

    /** Retries `argv` (async, so the event loop runs) until it exits 0 or 60 s pass. */
    async function until0(argv: string[], what: () => string): Promise<Buffer> {
      const deadline = Date.now() + 60000;
      for (;;) {
        const r = spawnSync(argv[0], argv.slice(1), { timeout: 30000, maxBuffer: 64 << 20 });
        if (r.status === 0) return r.stdout;
        if (Date.now() > deadline)
          throw new Error(
            `${argv.join(' ')}: ${r.error?.message ?? ''} ${r.stderr.toString()}; sandbox: ${what()}`,
          );
        await sleep(300);
      }
    }

    it('busybox httpd inside: ping -6 and curl -6 from the host; NDP gives the interface MAC; given back at exit', async () => {
      const nsMac = JSON.parse(ip('-n', ns, '-j', 'link', 'show', nsIf))[0].address as string;
      const s = sandbox(['/bin/busybox', 'httpd', '-f', '-p', '[::]:8080', '-h', path.join(dir, 'www')]);
      try {
        const got = await until0(
          ['/usr/bin/curl', '-6', '-sS', '-f', '-m', '20', `http://[${nsAddr}]:8080/blob`],
          s.out,
        );
        assert.equal(sha(got), sha(blob));
        const ping = spawnSync('/usr/bin/ping', ['-6', '-c', '3', '-i', '0.2', '-W', '5', nsAddr], {
          encoding: 'utf8',
          timeout: 30000,
        });
        assert.equal(ping.status, 0, ping.stdout + ping.stderr);
        assert.match(ping.stdout, /3 packets transmitted, 3 received/);
        // The kernel's side holds no IPv6 address now; the host's neighbour entry is the MAC.
        assert.equal(ip('-n', ns, '-6', '-o', 'addr', 'show', nsIf), '');
        const neigh = JSON.parse(ip('-j', '-6', 'neigh', 'show', nsAddr, 'dev', hostIf)) as {
          lladdr?: string;
        }[];
        assert.equal(neigh[0]?.lladdr, nsMac);
        // The link-local address made from the MAC answers too (scoped to the host's end).
        const nsLl = linkLocal(nsMac);
        const p2 = spawnSync('/usr/bin/ping', ['-6', '-c', '1', '-W', '5', `${nsLl}%${hostIf}`], {
          encoding: 'utf8',
          timeout: 30000,
        });
        assert.equal(p2.status, 0, p2.stdout + p2.stderr);
      } finally {
        await stop(s.p);
      }
      assert.match(ip('-n', ns, '-6', '-o', 'addr', 'show', nsIf), new RegExp(`inet6 ${nsAddr}/64`));
      assert.match(ip('-n', ns, '-6', 'route', 'show', 'default'), new RegExp(`via ${hostAddr}`));
      assert.match(
        ip('-n', ns, '-4', '-o', 'addr', 'show', nsIf),
        new RegExp(`inet ${ns4.replace(/\./g, '\\.')}/24`),
      );
    });

    it('busybox ip -6 addr / ip -6 route / ip addr inside show what the kernel showed before runsc took the interface', () => {
      assert.match(kernelView, new RegExp(`inet6 ${nsAddr}/64 scope global`));
      assert.match(kernelView, new RegExp(`default via ${hostAddr} dev ${nsIf}`));
      const script = IP_CMDS.map((c) => `/bin/busybox ${c.join(' ')}`).join('; echo "== "; ');
      const r = runSandbox(['/bin/sh', '-c', script], { flags: [`--config=${config}`] });
      assert.equal(r.stdout, kernelView, r.stderr);
      assert.equal(r.status, 0);
    });

    it('busybox wget inside against a python http.server bound to [::] on the host side; /proc/net/arp and ip neigh then list the host', async () => {
      const hostMac = JSON.parse(ip('-j', 'link', 'show', hostIf))[0].address as string;
      const body = `hello over IPv6 ${Date.now()}\n`;
      const www = path.join(dir, 'hostwww');
      fs.mkdirSync(www, { recursive: true });
      fs.writeFileSync(path.join(www, 'file.txt'), body);
      fs.writeFileSync(path.join(www, 'blob'), blob);
      const { srv, port, log } = await hostHttpServer(PY, '::', www, procs);
      try {
        const r = runSandbox(
          [
            '/bin/sh',
            '-c',
            `busybox wget -q -O - http://[${hostAddr}]:${port}/file.txt && busybox wget -q -O - http://[${hostAddr}]:${port}/blob | sha256sum && busybox wget -q -O - http://${host4}:${port}/file.txt && cat /proc/net/arp && busybox ip neigh`,
          ],
          { flags: [`--config=${config}`] },
        );
        assert.equal(
          r.stdout,
          `${body}${sha(blob)}  -\n${body}` +
            // /proc/net/arp in the kernel's format ("%-16s 0x%-10x0x%-10x%-17s     *        %s").
            'IP address       HW type     Flags       HW address            Mask     Device\n' +
            `${host4.padEnd(16)} 0x1         0x2         ${hostMac}     *        ${nsIf}\n` +
            `${host4} dev ${nsIf} lladdr ${hostMac} REACHABLE\n` +
            `${hostAddr} dev ${nsIf} lladdr ${hostMac} REACHABLE\n`,
          r.stderr,
        );
        assert.equal(r.status, 0);
        // The requests came from the stack's address across the veth (not the host's own).
        for (let i = 0; i < 50 && (log().match(/"GET /g) ?? []).length < 3; i++) await sleep(100);
        const clients = [...log().matchAll(/^(\S+) - - .*"GET \/(\S+) HTTP/gm)].map((m) => `${m[1]} ${m[2]}`);
        assert.deepEqual(clients, [`${nsAddr} file.txt`, `${nsAddr} blob`, `::ffff:${ns4} file.txt`], log());
        // Link-local: a Python client inside reaches the host's fe80:: address on the
        // interface named in the scope; both names carry the interface index as sin6_scope_id.
        const nsLink = JSON.parse(ip('-n', ns, '-j', 'link', 'show', nsIf))[0] as {
          ifindex: number;
          address: string;
        };
        const prog = [
          'import socket, sys',
          `c = socket.create_connection(('${linkLocal(hostMac)}%${nsIf}', ${port}))`,
          'n, p = c.getsockname(), c.getpeername()',
          "print(n[0].split('%')[0], n[3], p[0].split('%')[0], p[3])",
          "c.sendall(b'GET /file.txt HTTP/1.0\\r\\n\\r\\n')",
          "d = b''",
          'while True:',
          '    x = c.recv(65536)',
          '    if not x: break',
          '    d += x',
          "print(d.split(b'\\r\\n\\r\\n', 1)[1].decode(), end='')",
        ].join('\n');
        const py = runSandbox([PY, '-c', prog], { flags: [`--config=${config}`] });
        assert.equal(
          py.stdout,
          `${linkLocal(nsLink.address)} ${nsLink.ifindex} ${linkLocal(hostMac)} ${nsLink.ifindex}\n${body}`,
          py.stderr,
        );
      } finally {
        await stop(srv);
      }
    });
  },
);

/** The modified EUI-64 link-local address of a MAC (written here independently of the stack). */
function linkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const w = [(b[0] ^ 2) * 256 + b[1], b[2] * 256 + 0xff, 0xfe00 + b[3], b[4] * 256 + b[5]];
  return `fe80::${w.map((x) => x.toString(16)).join(':')}`;
}
