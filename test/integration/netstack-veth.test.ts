/**
 * The user-space stack across a veth (config `network: netstack` + `netstack: { netns }`),
 * set up as gVisor does: at start runsc moves the namespace's interface addresses, routes
 * and MAC into the stack (the kernel's side keeps none) and reaches the interface through
 * an AF_PACKET socket made in the namespace; at exit it gives them back.
 *   - curl and busybox wget on the host side against busybox httpd inside;
 *   - curl on the host side against a python http.server inside;
 *   - busybox wget inside against a python http.server on the host side;
 *   - rtnetlink dumps from the stack (busybox ip -4 addr, ip route, ip link) equal to what
 *     the kernel showed for the namespace before runsc took the interface.
 * The host end's transmit checksum offload is turned off (the stack verifies every
 * checksum; partial checksums are not understood yet: docs/netstack.md).
 * Needs root, iproute2, ethtool, curl and busybox; every namespace, link, process and
 * temp dir is removed in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveBusybox, REPO, RUNSC, runSandbox } from './harness';
import { hostHttpServer, ip, makeVethNamespace, removeVethNamespace, run, sha, sleep } from './net-helpers';

const PY = '/usr/bin/python3';
const canRun =
  process.getuid?.() === 0 &&
  haveBusybox() &&
  ['/usr/sbin/ip', '/usr/sbin/ethtool', '/usr/bin/curl', '/usr/bin/nsenter'].every((f) => fs.existsSync(f));

(canRun ? describe : describe.skip)('net-netstack: apps in the sandbox across a veth', function () {
  this.timeout(180000);
  const id = `${process.pid % 100000}`;
  const ns = `tsvns${id}`;
  const hostIf = `tsvsh${id}`;
  const nsIf = `tsvsc${id}`;
  const octet = (process.pid % 200) + 20;
  const hostAddr = `10.233.${octet}.1`;
  const nsAddr = `10.233.${octet}.2`;
  let dir = '';
  let config = '';
  let blob: Buffer = Buffer.alloc(0);
  const procs: ChildProcess[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-nstack-veth-'));
    makeVethNamespace({ ns, hostIf, nsIf, hostAddr, nsAddr }, { netstack: true });
    config = path.join(dir, 'runsc.yaml');
    fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: /var/run/netns/${ns}\n`);
    fs.mkdirSync(path.join(dir, 'www'));
    blob = Buffer.alloc(2_000_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(path.join(dir, 'www', 'blob'), blob);
  });

  after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    removeVethNamespace({ ns, hostIf });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a sandbox in the background; its output is collected for failure messages. */
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

  /** curl from the host until the server answers (the sandbox takes a while to start). */
  async function fetchFromHost(url: string, what: () => string): Promise<Buffer> {
    const deadline = Date.now() + 60000;
    for (;;) {
      const r = spawnSync('/usr/bin/curl', ['-sS', '-f', '-m', '20', url], {
        timeout: 30000,
        maxBuffer: 64 << 20,
      });
      if (r.status === 0) return r.stdout;
      if (Date.now() > deadline)
        throw new Error(`curl ${url}: ${r.error?.message ?? ''} ${r.stderr.toString()}; sandbox: ${what()}`);
      await sleep(300);
    }
  }

  async function stop(p: ChildProcess): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([done, sleep(10000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  it('busybox httpd inside: curl and busybox wget on the host side; the address and MAC moved into the stack', async () => {
    const nsMac = JSON.parse(ip('-n', ns, '-j', 'link', 'show', nsIf))[0].address as string;
    const s = sandbox(['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', path.join(dir, 'www')]);
    try {
      const got = await fetchFromHost(`http://${nsAddr}/blob`, s.out);
      assert.equal(sha(got), sha(blob));
      const w = spawnSync('/bin/busybox', ['wget', '-q', '-O', '-', `http://${nsAddr}/blob`], {
        timeout: 30000,
        maxBuffer: 64 << 20,
      });
      assert.equal(w.status, 0, w.stderr.toString());
      assert.equal(sha(w.stdout), sha(blob));
      // The kernel's side of the namespace has given up the address; the host resolved it
      // to the interface's own MAC (the stack answers ARP with it).
      assert.equal(ip('-n', ns, '-4', '-o', 'addr', 'show', nsIf), '');
      const neigh = JSON.parse(ip('-j', 'neigh', 'show', nsAddr, 'dev', hostIf)) as { lladdr?: string }[];
      assert.equal(neigh[0]?.lladdr, nsMac);
    } finally {
      await stop(s.p);
    }
    // Given back when the sandbox ends.
    assert.match(
      ip('-n', ns, '-4', '-o', 'addr', 'show', nsIf),
      new RegExp(`inet ${nsAddr.replace(/\./g, '\\.')}/24`),
    );
    assert.match(
      ip('-n', ns, 'route', 'show', 'default'),
      new RegExp(`via ${hostAddr.replace(/\./g, '\\.')}`),
    );
  });

  it('busybox ip -4 addr / ip route / ip link inside show what the kernel showed before runsc took the interface', () => {
    const cmds = [
      ['ip', '-4', 'addr'],
      ['ip', 'route'],
      ['ip', 'link'],
    ];
    const inNs = (c: string[]) => run(['/usr/sbin/ip', 'netns', 'exec', ns, '/bin/busybox', ...c]);
    const native = cmds.map(inNs).join('== \n');
    assert.match(native, new RegExp(`inet ${nsAddr.replace(/\./g, '\\.')}/24 scope global ${nsIf}`));
    const script = cmds.map((c) => `/bin/busybox ${c.join(' ')}`).join('; echo "== "; ');
    const r = runSandbox(['/bin/sh', '-c', script], { flags: [`--config=${config}`] });
    assert.equal(r.stdout, native, r.stderr);
    assert.equal(r.status, 0);
  });

  it('python http.server inside: curl on the host side', async () => {
    const s = sandbox([
      PY,
      '-m',
      'http.server',
      '8000',
      '--bind',
      '0.0.0.0',
      '--directory',
      path.join(dir, 'www'),
    ]);
    try {
      const got = await fetchFromHost(`http://${nsAddr}:8000/blob`, s.out);
      assert.equal(sha(got), sha(blob));
    } finally {
      await stop(s.p);
    }
  });

  it('busybox wget inside against a python http.server on the host side', async () => {
    const body = `hello from the host ${Date.now()}\n`;
    const www = path.join(dir, 'hostwww');
    fs.mkdirSync(www, { recursive: true });
    fs.writeFileSync(path.join(www, 'file.txt'), body);
    fs.writeFileSync(path.join(www, 'blob'), blob);
    const { srv, port } = await hostHttpServer(PY, hostAddr, www, procs);
    try {
      const r = runSandbox(
        [
          '/bin/sh',
          '-c',
          `busybox wget -q -O - http://${hostAddr}:${port}/file.txt && busybox wget -q -O - http://${hostAddr}:${port}/blob | sha256sum`,
        ],
        { flags: [`--config=${config}`] },
      );
      assert.equal(r.stdout, `${body}${sha(blob)}  -\n`, r.stderr);
      assert.equal(r.status, 0);
    } finally {
      await stop(srv);
    }
  });
});
