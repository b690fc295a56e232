/**
 * ICMP through net-host, compared with Linux in the same network namespace (one the test
 * makes, so it can set that namespace's net.ipv4.ping_group_range without touching the
 * host's):
 *   - ping sockets (SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6): c/ping.c — echo to
 *     127.0.0.1 and ::1, the id rewritten to the socket's, bind/connect, MSG_TRUNC, the
 *     errnos of bad requests — prints exactly what it prints natively;
 *   - the ping_group_range rule: egid or a supplementary group in the range, else EACCES
 *     (root is not exempt), for ranges that do and do not include the sentry's own group;
 *   - busybox ping / ping6 -c 2 (raw ICMP sockets, `net-host.raw: true`) print what they
 *     print natively (times aside); without `raw` the raw socket is EPERM.
 * Needs root, iproute2 and busybox; the namespace and temp dir are removed in after().
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, haveBusybox, runNative, runSandbox, type RunResult } from './harness';

const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/ip');

(canRun ? describe : describe.skip)('net-host: ICMP ping sockets and raw ICMP vs Linux', function () {
  this.timeout(120000);
  const ns = `tsvping${process.pid % 100000}`;
  let dir = '';
  let cfg = '';
  let rawCfg = '';
  let bin = '';

  function setRange(range: string): void {
    const r = spawnSync(
      '/usr/sbin/ip',
      ['netns', 'exec', ns, '/usr/sbin/sysctl', '-qw', `net.ipv4.ping_group_range=${range}`],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`sysctl ping_group_range=${range} in ${ns}: ${r.stderr}`);
  }

  /** argv natively in the namespace, and in the sandbox with `config`. */
  function both(argv: string[], config = cfg): { native: RunResult; ours: RunResult } {
    return {
      native: runNative(['/usr/sbin/ip', 'netns', 'exec', ns, ...argv]),
      ours: runSandbox(argv, { flags: [`--config=${config}`] }),
    };
  }

  before(() => {
    bin = buildC('ping');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ping-'));
    const r = spawnSync('/usr/sbin/ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
    spawnSync('/usr/sbin/ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    cfg = path.join(dir, 'ping.yaml');
    fs.writeFileSync(cfg, `network: host\nnet-host:\n  netns: /var/run/netns/${ns}\n`);
    rawCfg = path.join(dir, 'raw.yaml');
    fs.writeFileSync(rawCfg, `network: host\nnet-host:\n  netns: /var/run/netns/${ns}\n  raw: true\n`);
  });

  after(() => {
    spawnSync('/usr/sbin/ip', ['netns', 'del', ns]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ports below 1024 and raw ICMP follow CAP_NET_BIND_SERVICE and CAP_NET_RAW, not the uid (setpriv), as Linux', function () {
    if (!fs.existsSync('/usr/bin/setpriv')) this.skip();
    const caps = buildC('netcaps');
    const cases: [string, string[]][] = [
      ['root', []],
      ['root without the two', ['--inh-caps=-all', '--bounding-set=-net_bind_service,-net_raw']],
      ['uid 1000', ['--reuid=1000', '--regid=1000', '--clear-groups']],
      [
        'uid 1000 with both (ambient)',
        [
          '--reuid=1000',
          '--regid=1000',
          '--clear-groups',
          '--inh-caps=+net_bind_service,+net_raw',
          '--ambient-caps=+net_bind_service,+net_raw',
        ],
      ],
      [
        'uid 1000 with net_bind_service only',
        [
          '--reuid=1000',
          '--regid=1000',
          '--clear-groups',
          '--inh-caps=+net_bind_service',
          '--ambient-caps=+net_bind_service',
        ],
      ],
    ];
    const seen = new Set<string>();
    for (const [what, args] of cases) {
      const { native, ours } = both(['/usr/bin/setpriv', ...args, '--', caps], rawCfg);
      assert.equal(native.status, 0, `${what}: ${native.stderr}`);
      assert.equal(ours.stdout, native.stdout, what);
      assert.equal(ours.status, native.status, `${what}: ${ours.stderr}`);
      seen.add(native.stdout.replace(/^euid=\d+\n/, ''));
    }
    assert.ok(seen.size >= 3, `the cases should differ: ${[...seen].join(' | ')}`);
  });

  it('ping.c: echo to 127.0.0.1 and ::1, id rewriting, bind, connect, MSG_TRUNC, errors — as Linux', () => {
    setRange('0 2147483647');
    const { native, ours } = both([bin]);
    assert.equal(native.status, 0, native.stderr);
    assert.match(native.stdout, /reply: .* type 0 code 0, id = the socket's, seq 1, data "hello ping"/);
    assert.match(native.stdout, /reply6: .* type 129 code 0, id = the socket's/);
    assert.equal(ours.stdout, native.stdout);
    assert.equal(ours.status, native.status, ours.stderr);
  });

  it('net.ipv4.ping_group_range decides who may make ping sockets (EACCES otherwise), root included', () => {
    const specs = ['gid:0', 'gid:99', 'gid:100', 'gid:150', 'gid:200', 'gid:201', 'sup:100', 'sup:201'];
    // Empty (Linux's default), one that leaves out the sentry's own group 0, and one with it.
    for (const range of ['1 0', '100 200', '0 100']) {
      setRange(range);
      const { native, ours } = both([bin, 'rules', ...specs]);
      assert.equal(native.status, 0, native.stderr);
      assert.equal(native.stdout.split('\n').filter((l) => l.includes(': icmp')).length, specs.length);
      assert.equal(ours.stdout, native.stdout, `range ${range}`);
    }
  });

  (haveBusybox() ? it : it.skip)(
    'busybox ping -c 2 127.0.0.1 and ping6 -c 2 ::1 (raw ICMP, net-host.raw) as Linux',
    () => {
      const times = (s: string) =>
        s.replace(/time=[\d.]+ ms/g, 'time=T ms').replace(/= [\d.]+\/[\d.]+\/[\d.]+ ms/, '= T ms');
      for (const argv of [
        ['/bin/busybox', 'ping', '-c', '2', '127.0.0.1'],
        ['/bin/busybox', 'ping6', '-c', '2', '::1'],
      ]) {
        const { native, ours } = both(argv, rawCfg);
        assert.equal(native.status, 0, native.stderr);
        assert.match(native.stdout, /2 packets transmitted, 2 packets received/);
        assert.equal(times(ours.stdout), times(native.stdout));
        assert.equal(ours.stderr, native.stderr);
        assert.equal(ours.status, 0);
      }
    },
  );

  (haveBusybox() ? it : it.skip)(
    'without net-host.raw, raw ICMP sockets are EPERM (busybox ping: permission denied)',
    () => {
      const r = runSandbox(['/bin/busybox', 'ping', '-c', '1', '127.0.0.1'], { flags: [`--config=${cfg}`] });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /permission denied/);
    },
  );
});
