/**
 * net-host in a network namespace of its own (config `net-host: { netns: ... }`), joined to
 * the host by a veth pair the test sets up with `ip netns` / `ip link`:
 *   - a server inside the sandbox is reached from the host across the veth;
 *   - busybox wget inside fetches from a Python http.server on the host side;
 *   - busybox ip addr inside shows the namespace's links (same as `ip netns exec`);
 *   - `netns: new` gives a fresh namespace with only loopback.
 * Needs root and iproute2; every namespace, link, process and temp dir is removed in after().
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveBusybox, REPO, RUNSC, runNative, runSandbox } from './harness';
import { hostHttpServer } from './net-helpers';

const PY = '/usr/bin/python3';
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/ip') && haveBusybox();

function ip(...args: string[]): void {
  const r = spawnSync('/usr/sbin/ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Collects a child's output; until(re) waits for stdout to match. */
function watch(p: ChildProcess, what: string): { until(re: RegExp): Promise<string> } {
  let out = '';
  let err = '';
  let exited: number | null | undefined;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    wake();
  });
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  p.on('exit', (c) => {
    exited = c;
    wake();
  });
  return {
    async until(re: RegExp): Promise<string> {
      const deadline = Date.now() + 30000;
      while (!re.test(out)) {
        if (exited !== undefined) throw new Error(`${what}: exited ${exited}; stdout ${out} stderr ${err}`);
        if (Date.now() > deadline) throw new Error(`${what}: timed out; stdout ${out} stderr ${err}`);
        await new Promise<void>((res) => {
          waiters.push(res);
          setTimeout(res, 1000);
        });
      }
      return out;
    },
  };
}

(canRun ? describe : describe.skip)(
  'net-host: a sandbox in its own network namespace over a veth',
  function () {
    this.timeout(120000);
    const id = `${process.pid % 100000}`;
    const ns = `tsvnh${id}`;
    const hostIf = `tsvh${id}`;
    const nsIf = `tsvc${id}`;
    const octet = (process.pid % 200) + 20;
    const hostAddr = `10.231.${octet}.1`;
    const nsAddr = `10.231.${octet}.2`;
    let dir = '';
    let config = '';
    const procs: ChildProcess[] = [];

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-veth-'));
      ip('netns', 'add', ns);
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
      ip('link', 'set', nsIf, 'netns', ns);
      ip('addr', 'add', `${hostAddr}/24`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      ip('-n', ns, 'addr', 'add', `${nsAddr}/24`, 'dev', nsIf);
      ip('-n', ns, 'link', 'set', nsIf, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      config = path.join(dir, 'runsc.yaml');
      fs.writeFileSync(config, `network: host\nnet-host:\n  netns: /var/run/netns/${ns}\n`);
    });

    after(() => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      spawnSync('/usr/sbin/ip', ['link', 'del', hostIf]);
      spawnSync('/usr/sbin/ip', ['netns', 'del', ns]);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('busybox ip addr inside shows the namespace (as ip netns exec does)', () => {
      const inside = runSandbox(['/bin/busybox', 'ip', 'addr'], { flags: [`--config=${config}`] });
      const native = runNative(['/usr/sbin/ip', 'netns', 'exec', ns, '/bin/busybox', 'ip', 'addr']);
      assert.equal(native.status, 0, native.stderr);
      assert.match(native.stdout, new RegExp(`inet ${nsAddr.replace(/\./g, '\\.')}/24`));
      assert.equal(inside.stdout, native.stdout);
      assert.equal(inside.status, 0);
    });

    it('a server inside is reached from the host through the veth', async () => {
      const prog = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 0)); s.listen()
print('port', s.getsockname()[1], flush=True)
c, a = s.accept()
print('peer', a[0], flush=True)
c.sendall(c.recv(100).upper()); c.close()
`;
      const p = spawn(process.execPath, [RUNSC, 'do', `--config=${config}`, '--', PY, '-c', prog], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.push(p);
      const w = watch(p, 'sandboxed server');
      const out = await w.until(/port \d+\n/);
      const port = Number(/port (\d+)/.exec(out)![1]);
      const reply = await new Promise<string>((res, rej) => {
        const s = net.connect(port, nsAddr, () => s.write('across the veth'));
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => res(got));
        s.on('error', rej);
      });
      assert.equal(reply, 'ACROSS THE VETH');
      const all = await w.until(/peer .*\n/);
      assert.match(all, new RegExp(`peer ${hostAddr.replace(/\./g, '\\.')}\n`));
    });

    it('busybox wget inside fetches from a python http.server on the host side', async () => {
      const www = path.join(dir, 'www');
      fs.mkdirSync(www);
      const body = `hello from the host ${Date.now()}\n`;
      fs.writeFileSync(path.join(www, 'file.txt'), body);
      const { srv, port } = await hostHttpServer(PY, hostAddr, www, procs);
      const r = runSandbox(['/bin/busybox', 'wget', '-q', '-O', '-', `http://${hostAddr}:${port}/file.txt`], {
        flags: [`--config=${config}`],
      });
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, body);
      assert.equal(r.status, 0);
      srv.kill('SIGTERM');
    });

    it('netns: new gives a fresh namespace with only loopback', () => {
      const cfg = path.join(dir, 'new.yaml');
      fs.writeFileSync(cfg, 'network: host\nnet-host:\n  netns: new\n');
      const r = runSandbox(['/bin/busybox', 'ip', '-o', 'link'], { flags: [`--config=${cfg}`] });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(
        r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(':')[1].trim()),
        ['lo'],
      );
    });
  },
);
