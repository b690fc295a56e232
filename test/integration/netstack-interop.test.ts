/**
 * Interoperability of the user-space stack (`network: netstack`, a veth taken over from a
 * namespace) with the Linux kernel's TCP/IP on the other end of the veth, using real
 * programs on both sides:
 *   - busybox wget and a Python client inside against Debian's nginx on the host side
 *     (content compared by sha256);
 *   - iperf3 both ways: `iperf3 -s` inside with `iperf3 -c` on the host, and `iperf3 -c`
 *     inside against `iperf3 -s` on the host, each in both data directions (-R);
 *   - DNS over UDP to a resolver stub on the host side (a small Python server answering A
 *     records) through resolv.conf: busybox nslookup, getent and Python's resolver inside
 *     print what they print natively in the namespace;
 *   - scale: 10,000 sequential and then 1,000 concurrent connections from the host to a
 *     server inside; /proc/net/sockstat (the stack's tables, timers and pool buffers) back
 *     to its baseline once TIME_WAIT has expired. The sentry's RSS is logged.
 * Subnet 10.62.0.0/24; names start with `ti`. Needs root, iproute2, ethtool, busybox,
 * nginx, iperf3. The namespace, links, processes, /etc/netns entry and temp dir are removed
 * in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveBusybox, REPO, RUNSC, runSandbox } from './harness';
import { makeVethNamespace, removeVethNamespace, sha, sleep } from './net-helpers';

const PY = '/usr/bin/python3';
const NGINX = '/usr/sbin/nginx';
const IPERF = '/usr/bin/iperf3';
const canRun =
  process.getuid?.() === 0 &&
  haveBusybox() &&
  ['/usr/sbin/ip', '/usr/sbin/ethtool', PY, NGINX, IPERF].every((f) => fs.existsSync(f));

const HOST = '10.62.0.1';
const INSIDE = '10.62.0.2';

/** The resolver stub: A records for a few names, NXDOMAIN otherwise, NODATA for other types. */
const DNS_STUB = `
import socket, struct, sys
RECORDS = {'web.ti.test': ['10.62.0.80'], 'multi.ti.test': ['10.62.0.81', '10.62.0.82']}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print('ready', flush=True)
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack('>HHH', q[:6])
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode('ascii', 'replace')); i += q[i] + 1
    qtype, = struct.unpack('>H', q[i + 1:i + 3])
    question = q[12:i + 5]
    name = '.'.join(labels).lower()
    addrs = RECORDS.get(name)
    answers = b''
    if addrs is not None and qtype == 1:
        for a in addrs:
            answers += struct.pack('>HHHIH', 0xC00C, 1, 1, 60, 4) + socket.inet_aton(a)
    rcode = 0 if addrs is not None else 3
    hdr = struct.pack('>HHHHHH', qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(answers) // 16, 0, 0)
    s.sendto(hdr + question + answers, peer)
    print(peer[0], name, qtype, flush=True)
`;

/** The scale server: serves `total` connections, then waits for TIME_WAIT to drain. */
const SCALE_SERVER = `
import json, selectors, socket, sys, time
total, size = int(sys.argv[1]), int(sys.argv[2])
def stat():
    out = {}
    for line in open('/proc/net/sockstat'):
        k, rest = line.split(':', 1)
        f = rest.split()
        out[k] = {f[i]: int(f[i + 1]) for i in range(0, len(f), 2)}
    return out
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('0.0.0.0', 7000))
ls.listen(1024)
ls.setblocking(False)
print(json.dumps({'baseline': stat()}), flush=True)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ)
body = bytes((i * 7) & 255 for i in range(size))
done = 0
while done < total:
    for key, _ in sel.select():
        s = key.fileobj
        if s is ls:
            while True:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    break
                c.setblocking(True)
                sel.register(c, selectors.EVENT_READ)
        else:
            d = s.recv(100)
            sel.unregister(s)
            if d == b'GET\\n':
                s.sendall(body)
            s.close()
            done += 1
print(json.dumps({'served': done, 'busy': stat()}), flush=True)
deadline = time.time() + 150
while True:
    st = stat()
    if st['TCP']['alloc'] <= 1 or time.time() > deadline:
        break
    time.sleep(1)
print(json.dumps({'after': st}), flush=True)
# Stay up until the test has read the sentry's RSS: one last connection says goodbye.
ls.setblocking(True)
bye = ls.accept()[0]
bye.recv(100)
bye.close()
`;

/** A process in the background: its output (stdout and stderr), and its stdout alone. */
interface Background {
  p: ChildProcess;
  out: () => string;
  stdout: () => string;
}

interface IperfResult {
  error?: string;
  end: { sum_sent?: { bytes: number }; sum_received?: { bytes: number } };
}

(canRun ? describe : describe.skip)('net-netstack interop: Linux programs across a veth', function () {
  this.timeout(300000);
  const id = `${process.pid % 100000}`;
  const ns = `tins${id}`;
  const hostIf = `tih${id}`;
  const nsIf = `tic${id}`;
  const netnsEtc = `/etc/netns/${ns}`;
  let dir = '';
  let config = '';
  let blob: Buffer = Buffer.alloc(0);
  let nginxPort = 0;
  const procs: ChildProcess[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ti-'));
    fs.chmodSync(dir, 0o755); // nginx's worker runs as nobody
    makeVethNamespace({ ns, hostIf, nsIf, hostAddr: HOST, nsAddr: INSIDE }, { netstack: true });
    config = path.join(dir, 'runsc.yaml');
    fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: /var/run/netns/${ns}\n`);
    fs.mkdirSync(path.join(dir, 'www'));
    blob = Buffer.alloc(3_000_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(path.join(dir, 'www', 'blob'), blob);
    fs.writeFileSync(path.join(dir, 'www', 'index.html'), '<h1>ti</h1>\n');
    nginxPort = await startNginx();
  });

  after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    removeVethNamespace({ ns, hostIf });
    fs.rmSync(netnsEtc, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a host process in the background; its output is kept for failure messages. */
  function background(argv: string[]): Background {
    const p = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    let out = '';
    let stdout = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      stdout += d.toString();
    });
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return { p, out: () => out, stdout: () => stdout };
  }

  /** A sandbox in the background (the same namespace's veth, through the config). */
  function sandbox(argv: string[]) {
    return background([process.execPath, RUNSC, 'do', `--config=${config}`, '--cwd', dir, '--', ...argv]);
  }

  async function stop(p: ChildProcess): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([done, sleep(10000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  async function exited(p: ChildProcess, ms: number): Promise<number | null> {
    if (p.exitCode === null && p.signalCode === null)
      await Promise.race([new Promise((r) => p.once('exit', r)), sleep(ms)]);
    return p.exitCode;
  }

  /** Waits until `out()` matches `re` (or the process ends, or `ms` pass). */
  async function waitFor(
    out: () => string,
    re: RegExp,
    p: ChildProcess,
    ms = 60000,
  ): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(out());
      if (m) return m;
      if (p.exitCode !== null || p.signalCode !== null || Date.now() > deadline)
        throw new Error(`waiting for ${re}: exit ${p.exitCode ?? p.signalCode}; output: ${out()}`);
      await sleep(100);
    }
  }

  /** nginx (Debian) on the host end of the veth, with a config of our own; its port. */
  async function startNginx(): Promise<number> {
    const port = 18000 + (process.pid % 1000);
    const conf = path.join(dir, 'nginx.conf');
    const temp = ['proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`);
    fs.writeFileSync(
      conf,
      [
        'daemon off;',
        // One process: the test's SIGKILL in after() then leaves no orphaned worker.
        'master_process off;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/nginx-error.log;`,
        'events { worker_connections 256; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${dir}/body;`,
        ...temp,
        `  server { listen ${HOST}:${port}; root ${dir}/www; }`,
        '}',
        '',
      ].join('\n'),
    );
    const n = background([NGINX, '-c', conf, '-p', dir]);
    const deadline = Date.now() + 20000;
    for (;;) {
      const r = spawnSync('/usr/bin/curl', ['-sf', '-o', '/dev/null', `http://${HOST}:${port}/index.html`]);
      if (r.status === 0) return port;
      if (n.p.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `nginx did not start: ${n.out()} ${fs.readFileSync(`${dir}/nginx-error.log`, 'utf8')}`,
        );
      await sleep(100);
    }
  }

  /** Runs a shell script natively in the namespace (while no sandbox holds its address). */
  function nativeInNs(script: string, ...args: string[]) {
    return spawnSync('/usr/sbin/ip', ['netns', 'exec', ns, '/bin/sh', '-c', script, ...args], {
      encoding: 'utf8',
      timeout: 120000,
    });
  }

  it('ti: busybox wget and a Python client inside against nginx on the host side (sha256), as natively', () => {
    const url = `http://${HOST}:${nginxPort}`;
    const pyClient = [
      'import hashlib, http.client',
      `c = http.client.HTTPConnection('${HOST}', ${nginxPort}, timeout=30)`,
      "for p in ('/blob', '/index.html', '/missing', '/blob'):",
      "    c.request('GET', p)",
      '    r = c.getresponse()',
      '    b = r.read()',
      "    print(p, r.status, r.getheader('Content-Length'), len(b), hashlib.sha256(b).hexdigest())",
    ].join('\n');
    const script =
      `busybox wget -q -O - ${url}/blob | sha256sum; busybox wget -q -O - ${url}/index.html; ` +
      `busybox wget -q -O - ${url}/missing; echo "wget: $?"; ${PY} -c "$0"`;
    const native = nativeInNs(script, pyClient);
    assert.equal(native.status, 0, native.stderr);
    assert.match(
      native.stdout,
      new RegExp(`^${sha(blob)}  -\n<h1>ti</h1>\nwget: 1\n/blob 200 ${blob.length} `),
    );
    const r = runSandbox(['/bin/sh', '-c', script, pyClient], {
      timeoutMs: 120000,
      flags: [`--config=${config}`],
    });
    assert.equal(r.stdout, native.stdout, r.stderr);
    assert.equal(r.status, 0);
  });

  const N = 32 << 20;
  const BLOCK = 128 << 10; // iperf3's default TCP block

  /**
   * iperf3's byte counts for `-n N`, checked for what iperf3 guarantees. The sender sends
   * whole blocks until it has sent at least N. The side that ends the test then sends
   * TEST_END on the control connection, and the receiver stops counting when that arrives
   * (iperf3 3.12 handles the control socket first in its select loop): what was still in the
   * sender's send buffer or the receiver's queue is sent but not counted. Natively this shows
   * whenever the receiver lags, as one under ptrace does. So: the sender's count is N or up to
   * a block more, the receiver's is no more than that and at most the two buffers less.
   */
  function checkCounts(sent: number, received: number, sender: 'kernel' | 'stack'): void {
    const max = (f: string) => Number(fs.readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
    const ours = 1 << 20; // the stack's default send and receive buffers
    const slack =
      sender === 'kernel'
        ? max('/proc/sys/net/ipv4/tcp_wmem') + ours
        : ours + max('/proc/sys/net/ipv4/tcp_rmem');
    assert.ok(sent >= N && sent <= N + BLOCK, `sent ${sent} for -n ${N}`);
    assert.ok(
      received <= sent && received >= sent - slack,
      `received ${received} of ${sent} (slack ${slack})`,
    );
  }

  function iperfJson(text: string, what: string): IperfResult {
    try {
      return JSON.parse(text) as IperfResult;
    } catch {
      throw new Error(`${what}: not iperf3 JSON: ${text}`);
    }
  }

  /** Runs the host's iperf3 client until the server inside answers (it takes a while to start). */
  async function hostClient(args: string[], server: Background): Promise<IperfResult> {
    const deadline = Date.now() + 60000;
    for (;;) {
      const r = spawnSync(IPERF, ['-c', INSIDE, '-J', ...args], { encoding: 'utf8', timeout: 120000 });
      const j = r.stdout ? iperfJson(r.stdout, 'iperf3 -c') : undefined;
      if (r.status === 0 && j && !j.error) return j;
      const refused = /Connection refused|No route|unable to connect/i.test(`${j?.error ?? ''} ${r.stderr}`);
      if (!refused || Date.now() > deadline || server.p.exitCode !== null)
        throw new Error(`iperf3 -c: exit ${r.status} ${j?.error ?? r.stderr}; server: ${server.out()}`);
      await sleep(300);
    }
  }

  for (const reverse of [false, true]) {
    it(`ti: iperf3 -s inside, iperf3 -c on the host, ${reverse ? 'inside → host (-R)' : 'host → inside'}: bytes and clean exits`, async () => {
      const srv = sandbox([IPERF, '-s', '-1', '-J']);
      try {
        const c = await hostClient(['-n', String(N), ...(reverse ? ['-R'] : [])], srv);
        assert.equal(await exited(srv.p, 30000), 0, srv.out());
        const s = iperfJson(srv.stdout(), 'iperf3 -s');
        assert.equal(s.error, undefined);
        // Each side's summary holds the other's figure too (the results exchange worked).
        if (reverse) {
          assert.equal(c.end.sum_sent!.bytes, s.end.sum_sent!.bytes);
          checkCounts(s.end.sum_sent!.bytes, c.end.sum_received!.bytes, 'stack');
        } else {
          assert.equal(c.end.sum_received!.bytes, s.end.sum_received!.bytes);
          checkCounts(c.end.sum_sent!.bytes, s.end.sum_received!.bytes, 'kernel');
        }
      } finally {
        await stop(srv.p);
      }
    });

    it(`ti: iperf3 -c inside against iperf3 -s on the host, ${reverse ? 'host → inside (-R)' : 'inside → host'}: bytes and clean exits`, async () => {
      const port = 5200 + (process.pid % 500);
      const srv = background([IPERF, '-s', '-1', '-J', '-B', HOST, '-p', String(port)]);
      try {
        await sleep(500); // iperf3 -s listens at once; -J prints nothing until the end
        const r = runSandbox(
          [IPERF, '-c', HOST, '-p', String(port), '-n', String(N), '-J', ...(reverse ? ['-R'] : [])],
          {
            timeoutMs: 180000,
            flags: [`--config=${config}`],
          },
        );
        assert.equal(r.status, 0, `${r.stdout} ${r.stderr}`);
        const c = iperfJson(r.stdout, 'iperf3 -c inside');
        assert.equal(c.error, undefined);
        assert.equal(await exited(srv.p, 30000), 0, srv.out());
        const s = iperfJson(srv.stdout(), 'iperf3 -s on the host');
        assert.equal(s.error, undefined);
        if (reverse) {
          assert.equal(c.end.sum_sent!.bytes, s.end.sum_sent!.bytes);
          checkCounts(s.end.sum_sent!.bytes, c.end.sum_received!.bytes, 'kernel');
        } else {
          assert.equal(c.end.sum_received!.bytes, s.end.sum_received!.bytes);
          checkCounts(c.end.sum_sent!.bytes, s.end.sum_received!.bytes, 'stack');
        }
      } finally {
        await stop(srv.p);
      }
    });
  }

  it('ti: DNS over UDP to a resolver stub on the host: nslookup, getent and Python inside print what they print natively', async () => {
    const stubFile = path.join(dir, 'dns-stub.py');
    fs.writeFileSync(stubFile, DNS_STUB);
    const stub = background([PY, '-u', stubFile, HOST]);
    try {
      await waitFor(stub.out, /ready/, stub.p);
      const script = [
        'busybox nslookup web.ti.test',
        'echo "nslookup: $?"',
        'busybox nslookup nothere.ti.test; echo "nslookup: $?"',
        'getent ahostsv4 multi.ti.test; echo "getent: $?"',
        'getent hosts nothere.ti.test; echo "getent: $?"',
        `${PY} -c "import socket; print(socket.gethostbyname('web.ti.test'))"`,
      ].join('\n');
      // Natively in the namespace (the kernel holds the address while no sandbox runs):
      // `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
      fs.mkdirSync(netnsEtc, { recursive: true });
      fs.writeFileSync(path.join(netnsEtc, 'resolv.conf'), `nameserver ${HOST}\n`);
      const native = nativeInNs(script);
      await sleep(500); // spawnSync held the event loop: let the stub's log lines in
      assert.match(native.stdout, /Address: 10\.62\.0\.80/);
      assert.match(native.stdout, /10\.62\.0\.82/);
      const queries = () =>
        stub
          .out()
          .split('\n')
          .filter((l) => l.startsWith(`${INSIDE} `));
      const nativeQueries = queries();
      assert.ok(nativeQueries.length > 0, stub.out());
      // In the sandbox: the root is an overlay the app may write, so it writes resolv.conf.
      const r = runSandbox(['/bin/sh', '-c', `echo "nameserver ${HOST}" > /etc/resolv.conf\n${script}`], {
        timeoutMs: 120000,
        flags: [`--config=${config}`],
      });
      await sleep(500);
      assert.equal(r.stdout, native.stdout, r.stderr);
      assert.equal(r.status, native.status);
      // The answers came from the stub, over the veth, from the stack's address.
      // The same questions reached the stub, over the veth, from the stack's address.
      assert.deepEqual(queries().slice(nativeQueries.length), nativeQueries);
    } finally {
      await stop(stub.p);
    }
  });

  /** The sentry's resident set (KiB): the `runsc do` process is the sentry. */
  function rssKiB(pid: number): number {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  }

  /** One connection from the host: request, the whole response, close. */
  function fetchOnce(size: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let got = 0;
      const s = net.connect({ host: INSIDE, port: 7000 }, () => s.write('GET\n'));
      s.setTimeout(60000, () => s.destroy(new Error('timeout')));
      s.on('data', (d: Buffer) => (got += d.length));
      s.on('error', reject);
      s.on('close', () => (got === size ? resolve() : reject(new Error(`got ${got} of ${size} bytes`))));
    });
  }

  it('ti: 10,000 sequential and 1,000 concurrent connections from the host; sockstat back to its baseline after TIME_WAIT', async function () {
    this.timeout(900000);
    const SEQ = 10000;
    const CONC = 1000;
    const SIZE = 20000; // a send-queue pool buffer per response
    const file = path.join(dir, 'scale.py');
    fs.writeFileSync(file, SCALE_SERVER);
    const srv = sandbox([PY, '-u', file, String(SEQ + CONC), String(SIZE)]);
    try {
      const line = (key: string) => waitFor(srv.stdout, new RegExp(`^\\{"${key}".*$`, 'm'), srv.p, 240000);
      type Stat = Record<string, Record<string, number>>;
      const baseline = (JSON.parse((await line('baseline'))[0]) as { baseline: Stat }).baseline;
      const rss0 = rssKiB(srv.p.pid!);
      for (let i = 0; i < SEQ; i++) await fetchOnce(SIZE);
      const rss1 = rssKiB(srv.p.pid!);
      await Promise.all(Array.from({ length: CONC }, () => fetchOnce(SIZE)));
      const busy = JSON.parse((await line('served'))[0]) as { served: number; busy: Stat };
      const rss2 = rssKiB(srv.p.pid!);
      assert.equal(busy.served, SEQ + CONC);
      // Every connection closed by the server first sits in TIME_WAIT (60 s) with its timer.
      assert.ok(busy.busy.TCP.tw > 0 && busy.busy.NETSTACK.timers > 0, JSON.stringify(busy.busy));
      const after = (JSON.parse((await line('after'))[0]) as { after: Stat }).after;
      const rss3 = rssKiB(srv.p.pid!);
      await fetchOnce(0); // the goodbye: the server exits after it
      // pool_free is a cache (up to 64 recycled buffers), not a leak.
      const { pool_free: _f0, ...base } = baseline.NETSTACK;
      const { pool_free: _f1, ...now } = after.NETSTACK;
      assert.deepEqual(now, base, `after: ${JSON.stringify(after)}\nbaseline: ${JSON.stringify(baseline)}`);
      assert.deepEqual(after.TCP, baseline.TCP);
      assert.deepEqual(after.UDP, baseline.UDP);
      assert.deepEqual(after.FRAG, baseline.FRAG);
      assert.equal(await exited(srv.p, 30000), 0, srv.out());
      console.log(
        `      sentry RSS (KiB): start ${rss0}, after ${SEQ} sequential ${rss1}, after ${CONC} concurrent ${rss2}, ` +
          `after TIME_WAIT ${rss3}; busy: ${JSON.stringify(busy.busy.TCP)} ${JSON.stringify(busy.busy.NETSTACK)}`,
      );
    } finally {
      await stop(srv.p);
    }
  });
});
