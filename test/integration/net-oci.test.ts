/**
 * The network of an OCI container (`runsc --network=host create/run`): the sandbox's host
 * sockets live in the namespace config.json's `linux.namespaces` names (a network entry
 * with a path: that namespace; without a path: a fresh one; no entry: runsc's own, as runc).
 * The test makes a namespace and a veth pair with `ip netns` / `ip link`, and compares
 * with runc run on the same bundle where runc is installed:
 *   - busybox `ip addr` inside shows the namespace (as runc and `ip netns exec` show it);
 *   - a busybox httpd inside is reached from the host across the veth;
 *   - busybox wget inside fetches from a python http.server on the host side;
 *   - /etc/hosts and /etc/resolv.conf given as file bind mounts (as Docker and containerd
 *     pass them) are what the container's resolver uses: a made-up name from the hosts
 *     file, and one answered by a DNS server on the host side named in resolv.conf;
 *   - busybox ping of a name from the hosts file;
 *   - linux.sysctl net.* entries are set in the container's namespace (ping_group_range,
 *     ip_unprivileged_port_start for a non-root server on port 80; refused with the
 *     host's namespace, as runc refuses them).
 * Needs root, iproute2 and busybox. Every namespace, link, container, process and temp dir
 * is removed in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Spec } from '../../core/runtime/oci/spec';
import { buildC } from './harness';
import {
  cleanupRoot,
  cleanupRuncRoot,
  haveBusybox,
  haveRunc,
  isRoot,
  makeBundle,
  runc,
  runsc,
  tmpDir,
  type Result,
} from '../oci/helpers';
import { hostHttpServer, makeVethNamespace, netnsEntry, ok, removeVethNamespace } from './net-helpers';

const PY = '/usr/bin/python3';
const canRun = isRoot() && fs.existsSync('/usr/sbin/ip') && haveBusybox();

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url}: timed out`)));
  });
}

/** A DNS answer to `query` (one question) with one A record, or NXDOMAIN when `addr` is null. */
function dnsAnswer(query: Buffer, addr: string | null): Buffer {
  // The question ends after its labels, a zero byte, then QTYPE and QCLASS.
  let i = 12;
  while (i < query.length && query[i] !== 0) i += query[i] + 1;
  const question = query.subarray(12, i + 5);
  const qtype = query.readUInt16BE(i + 1);
  const answer = addr !== null && qtype === 1;
  const head = Buffer.alloc(12);
  query.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180 | (addr === null ? 3 : 0), 2); // response, RD, RA, rcode
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answer ? 1 : 0, 6);
  if (!answer) return Buffer.concat([head, question]);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  rr.writeUInt16BE(1, 2); // A
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(60, 6); // TTL
  rr.writeUInt16BE(4, 10);
  addr!.split('.').forEach((o, k) => (rr[12 + k] = Number(o)));
  return Buffer.concat([head, question, rr]);
}

/** The name asked in a DNS query, dotted. */
function dnsName(query: Buffer): string {
  const parts: string[] = [];
  let i = 12;
  while (i < query.length && query[i] !== 0) {
    parts.push(query.subarray(i + 1, i + 1 + query[i]).toString('latin1'));
    i += query[i] + 1;
  }
  return parts.join('.');
}

(canRun ? describe : describe.skip)(
  'net-host under runsc create/run: the OCI network namespace',
  function () {
    this.timeout(180000);
    const id = `${process.pid % 100000}`;
    const ns = `tsvoci${id}`;
    const nsPath = `/var/run/netns/${ns}`;
    const hostIf = `tsvoh${id}`;
    const nsIf = `tsvoc${id}`;
    const octet = (process.pid % 200) + 20;
    const hostAddr = `10.233.${octet}.1`;
    const nsAddr = `10.233.${octet}.2`;
    let work = '';
    let root = '';
    let runcRoot = '';
    let n = 0;
    const procs: ChildProcess[] = [];
    const sockets: dgram.Socket[] = [];

    /** A fresh bundle dir running `args` (busybox rootfs) with `edit` applied. */
    function bundle(args: string[], ...edits: ((s: Spec) => void)[]): string {
      return makeBundle(path.join(work, `b${++n}`), args, (s) => {
        s.process!.terminal = false;
        for (const e of edits) e(s);
      });
    }

    /** runsc --network=host run; and runc run of the same bundle when runc is installed. */
    async function both(b: string): Promise<{ ours: Result; theirs: Result | null }> {
      const ours = await runsc(root, ['--network=host', 'run', '--bundle', b, `c${++n}`]);
      const theirs = haveRunc() ? await runc(runcRoot, ['run', '--bundle', b, `r${n}`]) : null;
      return { ours, theirs };
    }

    before(() => {
      work = tmpDir('tsvisor-netoci-');
      root = path.join(work, 'state');
      runcRoot = path.join(work, 'runc-state');
      makeVethNamespace({ ns, hostIf, nsIf, hostAddr, nsAddr });
    });

    after(async () => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      for (const s of sockets) s.close();
      if (root) await cleanupRoot(root);
      if (runcRoot) await cleanupRuncRoot(runcRoot);
      removeVethNamespace({ ns, hostIf });
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it('a network entry with a path: busybox ip addr inside shows that namespace, as runc and ip netns exec', async () => {
      const { ours, theirs } = await both(bundle(['busybox', 'ip', 'addr'], netnsEntry(nsPath)));
      ok(ours, 'runsc run');
      assert.match(ours.stdout, new RegExp(`inet ${nsAddr.replace(/\./g, '\\.')}/24 .*${nsIf}`));
      const native = spawnSync('/usr/sbin/ip', ['netns', 'exec', ns, '/bin/busybox', 'ip', 'addr'], {
        encoding: 'utf8',
      });
      assert.equal(ours.stdout, native.stdout);
      if (theirs) {
        ok(theirs, 'runc run');
        assert.equal(ours.stdout, theirs.stdout);
      }
    });

    it('no network entry: the namespace runsc runs in (the host routes), as runc', async () => {
      const { ours, theirs } = await both(bundle(['busybox', 'ip', 'route'], netnsEntry(null)));
      ok(ours, 'runsc run');
      const native = spawnSync('/bin/busybox', ['ip', 'route'], { encoding: 'utf8' });
      assert.match(
        native.stdout,
        new RegExp(`${hostAddr.replace(/\d+$/, '0').replace(/\./g, '\\.')}/24 dev ${hostIf}`),
      );
      assert.equal(ours.stdout, native.stdout);
      if (theirs) assert.equal(ours.stdout, ok(theirs, 'runc run').stdout);
    });

    it('a network entry without a path: a fresh namespace with only loopback', async () => {
      const r = ok(
        await runsc(root, [
          '--network=host',
          'run',
          '--bundle',
          bundle(['busybox', 'ip', '-o', 'addr'], netnsEntry('new')),
          'fresh',
        ]),
        'runsc run',
      );
      // Only lo's addresses (runc leaves lo down in a fresh namespace; gVisor and we bring it up).
      const names = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[1]);
      assert.deepEqual([...new Set(names)], ['lo'], r.stdout);
      assert.match(r.stdout, /inet 127\.0\.0\.1\/8/);
    });

    it('network: none keeps the container on loopback whatever the spec names', async () => {
      const b = bundle(['busybox', 'ip', '-o', 'addr'], netnsEntry(nsPath));
      const r = ok(await runsc(root, ['--network=none', 'run', '--bundle', b, 'none']), 'runsc run');
      assert.deepEqual(
        [
          ...new Set(
            r.stdout
              .trim()
              .split('\n')
              .map((l) => l.split(/\s+/)[1]),
          ),
        ],
        ['lo'],
        r.stdout,
      );
    });

    it('a path that is not a network namespace: create fails naming linux.namespaces', async () => {
      const r = await runsc(root, [
        '--network=host',
        'create',
        '--bundle',
        bundle(['true'], netnsEntry('/etc/hostname')),
        'badns',
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /linux\.namespaces: network \/etc\/hostname: .*not a network namespace/);
    });

    it('a busybox httpd inside the container is reached from the host through the veth', async () => {
      const b = bundle(['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], netnsEntry(nsPath));
      const body = `served from inside ${Date.now()}\n`;
      fs.mkdirSync(path.join(b, 'rootfs', 'www'));
      fs.writeFileSync(path.join(b, 'rootfs', 'www', 'index.html'), body);
      ok(await runsc(root, ['--network=host', 'run', '--detach', '--bundle', b, 'httpd']), 'runsc run -d');
      let got: { status: number; body: string } | undefined;
      let lastErr: unknown;
      for (let i = 0; i < 100 && !got; i++) {
        try {
          got = await get(`http://${nsAddr}:8080/index.html`);
        } catch (e) {
          lastErr = e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.ok(got, `no answer from the container's httpd: ${String(lastErr)}`);
      assert.equal(got.status, 200);
      assert.equal(got.body, body);
      ok(await runsc(root, ['kill', 'httpd', 'KILL']), 'runsc kill');
      await runsc(root, ['delete', '--force', 'httpd']);
    });

    it('busybox wget inside fetches from a python http.server on the host side, as runc', async () => {
      const www = path.join(work, 'www');
      fs.mkdirSync(www);
      const body = `hello from the host ${Date.now()}\n`;
      fs.writeFileSync(path.join(www, 'file.txt'), body);
      const { srv, port } = await hostHttpServer(PY, hostAddr, www, procs);
      const { ours, theirs } = await both(
        bundle(
          ['busybox', 'wget', '-q', '-O', '-', `http://${hostAddr}:${port}/file.txt`],
          netnsEntry(nsPath),
        ),
      );
      assert.equal(ok(ours, 'runsc run').stdout, body);
      if (theirs) assert.equal(ok(theirs, 'runc run').stdout, body);
      srv.kill('SIGTERM');
    });

    it('/etc/hosts and /etc/resolv.conf as file bind mounts (as Docker passes them) are what lookups use, as runc', async () => {
      const www = path.join(work, 'www2');
      fs.mkdirSync(www);
      const body = `found by name ${Date.now()}\n`;
      fs.writeFileSync(path.join(www, 'f.txt'), body);
      const { srv, port } = await hostHttpServer(PY, hostAddr, www, procs);
      // A DNS server on the host side of the veth that knows one made-up name.
      const dns = dgram.createSocket('udp4');
      sockets.push(dns);
      const asked: string[] = [];
      dns.on('message', (q, rinfo) => {
        const name = dnsName(q);
        asked.push(name);
        dns.send(dnsAnswer(q, name === 'only-in-dns.test' ? hostAddr : null), rinfo.port, rinfo.address);
      });
      await new Promise<void>((res) => dns.bind(53, hostAddr, res));
      const hosts = path.join(work, 'hosts');
      fs.writeFileSync(hosts, `127.0.0.1 localhost\n${hostAddr} made-up-host.example made-up\n`);
      const resolv = path.join(work, 'resolv.conf');
      fs.writeFileSync(resolv, `nameserver ${hostAddr}\noptions timeout:2 attempts:1\n`);
      const mounts = (s: Spec): void => {
        s.mounts!.push(
          { destination: '/etc/hosts', type: 'bind', source: hosts, options: ['rbind', 'ro'] },
          { destination: '/etc/resolv.conf', type: 'bind', source: resolv, options: ['rbind', 'ro'] },
        );
      };
      const script = [
        `busybox wget -q -O - http://made-up:${port}/f.txt`,
        `busybox wget -q -O - http://only-in-dns.test:${port}/f.txt`,
        'busybox cat /etc/hosts /etc/resolv.conf',
        `busybox wget -q -O - http://not-anywhere.test:${port}/f.txt; echo "wget: $?"`,
      ].join('; ');
      const b = bundle(['sh', '-c', script], netnsEntry(nsPath), mounts);
      const ours = await runsc(root, ['--network=host', 'run', '--bundle', b, 'names']);
      const want = `${body}${body}${fs.readFileSync(hosts, 'utf8')}${fs.readFileSync(resolv, 'utf8')}wget: 1\n`;
      assert.equal(ok(ours, 'runsc run').stdout, want, ours.stderr);
      assert.ok(asked.includes('only-in-dns.test'), `the DNS server was asked: ${asked.join(', ')}`);
      assert.ok(
        !asked.some((a) => a.startsWith('made-up')),
        `the hosts file answered made-up: ${asked.join(', ')}`,
      );
      const theirs = haveRunc() ? await runc(runcRoot, ['run', '--bundle', b, 'names']) : null;
      if (theirs) {
        assert.equal(ok(theirs, 'runc run').stdout, want);
        assert.equal(ours.stderr, theirs.stderr);
      }
      srv.kill('SIGTERM');
    });

    it("linux.sysctl net.* (Docker's ping_group_range) is set in the container's namespace: ping.c inside as runc", async () => {
      const ping = buildC('ping');
      const sysctl = (s: Spec) => {
        s.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 2147483647' };
      };
      const b = bundle(['/ping'], netnsEntry(nsPath), sysctl);
      fs.copyFileSync(ping, path.join(b, 'rootfs', 'ping'));
      const range = () =>
        spawnSync(
          '/usr/sbin/ip',
          ['netns', 'exec', ns, '/usr/sbin/sysctl', '-n', 'net.ipv4.ping_group_range'],
          {
            encoding: 'utf8',
          },
        ).stdout.trim();
      const reset = () =>
        spawnSync('/usr/sbin/ip', [
          'netns',
          'exec',
          ns,
          '/usr/sbin/sysctl',
          '-qw',
          'net.ipv4.ping_group_range=1 0',
        ]);
      reset();
      const ours = ok(await runsc(root, ['--network=host', 'run', '--bundle', b, 'sysctl']), 'runsc run');
      assert.equal(range(), '0\t2147483647');
      assert.match(ours.stdout, /reply: .* type 0 code 0, id = the socket's, seq 1/);
      if (haveRunc()) {
        reset();
        const theirs = ok(await runc(runcRoot, ['run', '--bundle', b, 'sysctl']), 'runc run');
        assert.equal(ours.stdout, theirs.stdout);
      }
      reset();
      // A net.* sysctl with the host's namespace is refused, as runc refuses it.
      const hostNs = bundle(['true'], netnsEntry(null), sysctl);
      const r = await runsc(root, ['--network=host', 'create', '--bundle', hostNs, 'sysctl-host']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /sysctl "net\.ipv4\.ping_group_range" not allowed in host network namespace/);
      if (haveRunc()) {
        const t = await runc(runcRoot, ['create', '--bundle', hostNs, 'sysctl-host']);
        assert.notEqual(t.code, 0);
        assert.match(t.stderr, /not allowed in host network namespace/);
      }
    });

    it("Docker's net.ipv4.ip_unprivileged_port_start=0 lets a non-root process bind port 80, as runc", async () => {
      // busybox httpd binds, then daemonizes (exit 0); a refused bind exits 1.
      const script = 'busybox httpd -p 80 -h /; echo "httpd: $?"';
      const user = (s: Spec) => {
        s.process!.user = { uid: 1000, gid: 1000 };
      };
      const open = bundle(['sh', '-c', script], netnsEntry(nsPath), user, (s) => {
        s.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '0' };
      });
      const closed = bundle(['sh', '-c', script], netnsEntry(nsPath), user, (s) => {
        s.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '1024' };
      });
      const o = ok(await runsc(root, ['--network=host', 'run', '--bundle', open, 'port-open']), 'runsc run');
      assert.equal(o.stdout, 'httpd: 0\n', o.stderr);
      const c = ok(
        await runsc(root, ['--network=host', 'run', '--bundle', closed, 'port-closed']),
        'runsc run',
      );
      assert.equal(c.stdout, 'httpd: 1\n');
      if (haveRunc()) {
        const to = ok(await runc(runcRoot, ['run', '--bundle', open, 'port-open']), 'runc run');
        const tc = ok(await runc(runcRoot, ['run', '--bundle', closed, 'port-closed']), 'runc run');
        assert.equal(o.stdout, to.stdout);
        assert.equal(c.stdout, tc.stdout);
        assert.equal(c.stderr, tc.stderr);
      }
    });

    it('busybox ping -c 1 of a name from the bind-mounted /etc/hosts resolves it to the given address, as runc', async () => {
      const hosts = path.join(work, 'hosts-ping');
      fs.writeFileSync(hosts, `${hostAddr} pingable-made-up\n`);
      // runc's root needs CAP_NET_RAW for busybox's raw ICMP socket; ours needs net-host.raw.
      const b = bundle(
        ['busybox', 'ping', '-c', '1', '-W', '5', 'pingable-made-up'],
        netnsEntry(nsPath),
        (s) => {
          s.mounts!.push({
            destination: '/etc/hosts',
            type: 'bind',
            source: hosts,
            options: ['rbind', 'ro'],
          });
          const caps = s.process!.capabilities!;
          for (const k of ['bounding', 'effective', 'permitted'] as const)
            caps[k] = [...(caps[k] ?? []), 'CAP_NET_RAW'];
        },
      );
      const cfg = path.join(work, 'raw.yaml');
      fs.writeFileSync(cfg, 'network: host\nnet-host:\n  raw: true\n');
      const times = (t: string) =>
        t.replace(/time=[\d.]+ ms/g, 'time=T ms').replace(/= [\d.]+\/[\d.]+\/[\d.]+ ms/, '= T ms');
      const ours = ok(await runsc(root, [`--config=${cfg}`, 'run', '--bundle', b, 'ping']), 'runsc run');
      assert.match(ours.stdout, new RegExp(`^PING pingable-made-up \\(${hostAddr.replace(/\./g, '\\.')}\\)`));
      assert.match(ours.stdout, /1 packets transmitted, 1 packets received/);
      if (haveRunc()) {
        const theirs = ok(await runc(runcRoot, ['run', '--bundle', b, 'ping']), 'runc run');
        assert.equal(times(ours.stdout), times(theirs.stdout));
      }
    });
  },
);
