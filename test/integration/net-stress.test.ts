/**
 * net-host under load and abuse: 1,000 concurrent connections from outside the sandbox
 * to a server inside, without a leak of the sentry's host fds; and a fuzzer of 100,000
 * random socket calls that the sentry survives.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, leftoverProcesses, REPO, RUNSC, runSandbox } from './harness';

const PY = '/usr/bin/python3';

/** An epoll (selectors) echo server: prints its port, serves N connections to EOF, prints "served N", waits for a line on stdin. */
const SERVER = `
import socket, selectors, sys, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
N = int(sys.argv[1])
sel = selectors.DefaultSelector()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 0))
l.listen(4096)
l.setblocking(False)
sel.register(l, selectors.EVENT_READ)
print(l.getsockname()[1], flush=True)
served = 0
while served < N:
    for key, ev in sel.select():
        if key.fileobj is l:
            try:
                c, _ = l.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
        else:
            c = key.fileobj
            d = c.recv(4096)
            if d:
                c.sendall(d)
            else:
                sel.unregister(c)
                c.close()
                served += 1
print('served', served, flush=True)
sys.stdin.readline()
`;

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

describe('net-host: load and fuzzing', function () {
  this.timeout(300000);

  it('1,000 concurrent connections from the host to a server inside; no host fd leaks', async () => {
    const N = 1000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-net-'));
    const script = path.join(dir, 'server.py');
    fs.writeFileSync(script, SERVER);
    // The sentry runs in the `runsc do` process itself: its pid is the child's.
    const p = spawn(process.execPath, [RUNSC, 'do', '--network=host', '--', PY, script, String(N)], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
    const socks: net.Socket[] = [];
    try {
      const lines: string[] = [];
      let buf = '';
      const waiters: (() => void)[] = [];
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        lines.push(...parts);
        for (const w of waiters.splice(0)) w();
      });
      const line = async (i: number): Promise<string> => {
        while (lines.length <= i) {
          const r = await Promise.race([
            new Promise<void>((res) => waiters.push(res)),
            exited.then(() => 'exit'),
          ]);
          if (r === 'exit' && lines.length <= i)
            throw new Error(`server exited early: ${stderr.slice(-2000)}`);
        }
        return lines[i];
      };
      const port = Number(await line(0));
      assert.ok(port > 0);
      const before = fdCount(p.pid!);
      // All N connected at once, then each sends a message, reads its echo and closes.
      await Promise.all(
        Array.from(
          { length: N },
          () =>
            new Promise<void>((res, rej) => {
              const s = net.connect(port, '127.0.0.1', () => res());
              s.on('error', rej);
              socks.push(s);
            }),
        ),
      );
      const during = fdCount(p.pid!);
      const echoes = await Promise.all(
        socks.map(
          (s, i) =>
            new Promise<string>((res, rej) => {
              let got = '';
              s.on('data', (d) => {
                got += d.toString();
                if (got === `message ${i}`) s.end();
              });
              s.on('close', () => res(got));
              s.on('error', rej);
              s.write(`message ${i}`);
            }),
        ),
      );
      echoes.forEach((e, i) => assert.equal(e, `message ${i}`));
      assert.equal(await line(1), `served ${N}`);
      const after = fdCount(p.pid!);
      assert.ok(during > before, `sockets in use show as host fds (${before} -> ${during})`);
      assert.equal(after, before, `sentry host fds before ${before}, after ${after}`);
      p.stdin.end('\n');
      assert.equal(await exited, 0, stderr.slice(-2000));
    } finally {
      for (const s of socks) s.destroy();
      if (p.exitCode === null) p.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('100,000 random socket calls: only errnos; the sentry survives', () => {
    const bin = buildC('netfuzz');
    const r = runSandbox([bin, '4242', '100000'], { flags: ['--network=host'], timeoutMs: 280000 });
    const m = /netfuzz done: (\d+) calls, (\d+) workers, (\d+) deaths/.exec(r.stdout);
    assert.ok(m, `fuzzer output: ${r.stdout.slice(-300)} ${r.stderr.slice(-2000)}`);
    assert.ok(Number(m[1]) >= 100000);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.doesNotMatch(r.stderr, /sentry error|internal error/);
    assert.deepEqual(leftoverProcesses(), []);
  });
});
