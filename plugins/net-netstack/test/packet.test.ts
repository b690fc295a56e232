/**
 * The AF_PACKET link on our end of a veth pair whose other end lives in a network
 * namespace the test creates (10.75.N.1/24 there, the stack 10.75.N.2/24 on our end, which
 * has no kernel address). The namespace's kernel pings us and fetches over HTTP with curl;
 * the stack connects to a Python server inside the namespace. Offloads are turned off on
 * the namespace's end (ethtool), as research/netio.md requires.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { Stack } from '../src/stack';
import { PacketLink } from '../src/link/tap';
import { TcpState } from '../src/tcp/endpoint';
import { ipv4 } from '../src/addr';
import { EAGAIN, EINPROGRESS, SHUT_WR } from '../src/errno';
import { until, writeAll, readAll, sha256, pattern } from './util';
import { run } from './host';

const N = 20 + (process.pid % 200);
const NS = `tsvns${process.pid % 100000}`;
const OURS = `tsvva${process.pid % 100000}`;
const THEIRS = `tsvvb${process.pid % 100000}`;
const THEIR_IP = `10.75.${N}.1`;
const OUR_IP = `10.75.${N}.2`;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

function nsRun(args: string[], timeoutMs = 60_000) {
  return run('ip', ['netns', 'exec', NS, ...args], timeoutMs);
}

describe('netstack over AF_PACKET on a veth pair', function () {
  this.timeout(120_000);
  let stack: Stack | undefined;
  let made = false;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    try {
      sh('ethtool', ['--version']);
    } catch {
      this.skip(); // offloads cannot be turned off without ethtool
    }
    sh('ip', ['netns', 'add', NS]);
    made = true;
    sh('ip', ['link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS]);
    sh('ip', ['link', 'set', THEIRS, 'netns', NS]);
    try {
      sh('sysctl', ['-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`]);
    } catch {
      // chatter is dropped anyway
    }
    sh('ip', ['link', 'set', OURS, 'up']);
    sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${THEIR_IP}/24`, 'dev', THEIRS]);
    sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', THEIRS, 'up']);
    sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    sh('ip', [
      'netns',
      'exec',
      NS,
      'ethtool',
      '-K',
      THEIRS,
      'tx',
      'off',
      'tso',
      'off',
      'gso',
      'off',
      'gro',
      'off',
    ]);
    stack = new Stack({ tcp: { timeWaitMs: 100 } });
    stack.addNic(new PacketLink(OURS), { addresses: [`${OUR_IP}/24`] });
  });

  after(() => {
    stack?.close();
    if (made) {
      try {
        execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); // takes the veth pair with it
      } catch {
        // already gone
      }
    }
  });

  it('answers ping from the namespace', async () => {
    const r = await nsRun(['ping', '-c', '3', '-i', '0.2', '-W', '2', OUR_IP]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 packets transmitted, 3 received/);
  });

  it('serves 4 MiB to curl in the namespace (sha256)', async () => {
    const body = pattern(4 << 20, 11);
    const l = stack!.tcp();
    l.bind(0, 80);
    l.listen(4);
    const errors: Error[] = [];
    const t = setInterval(() => {
      const c = l.accept();
      if (typeof c === 'number') return;
      (async () => {
        const buf = new Uint8Array(4096);
        await until(() => c.recv(buf) > 0 || false, 'request');
        await writeAll(
          c,
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
        );
        await writeAll(c, body);
        c.shutdown(SHUT_WR);
        await until(() => c.recv(buf) !== -EAGAIN, 'client close');
        c.close();
      })().catch((e: Error) => errors.push(e));
    }, 1);
    try {
      const r = await nsRun(['sh', '-c', `curl -sS --max-time 60 http://${OUR_IP}/ | sha256sum`]);
      assert.equal(r.stdout.split(' ')[0], sha256(body), r.stderr);
      assert.deepEqual(errors, []);
    } finally {
      clearInterval(t);
      l.close();
    }
    assert.equal(
      stack!.stats.drops['tcp-malformed'] ?? 0,
      0,
      'every segment from the peer had a full checksum',
    );
  });

  it('connects to a Python server in the namespace', async () => {
    const py = nsRun([
      '/usr/bin/python3',
      '-c',
      `
import socket, hashlib
s = socket.socket()
s.bind(("${THEIR_IP}", 9300))
s.listen(1)
c, _ = s.accept()
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
c.sendall(h.hexdigest().encode())
c.close()
`,
    ]);
    // The server may not be listening yet: a refused attempt is retried with a new endpoint.
    let ep = stack!.tcp();
    assert.equal(ep.connect(ipv4(THEIR_IP), 9300), -EINPROGRESS);
    await until(
      () => {
        if (ep.state === TcpState.ESTABLISHED) return true;
        if (ep.state === TcpState.CLOSED) {
          ep.close();
          ep = stack!.tcp();
          ep.connect(ipv4(THEIR_IP), 9300);
        }
        return false;
      },
      'connected',
      20_000,
    );
    const data = pattern(2 << 20, 12);
    await writeAll(ep, data);
    ep.shutdown(SHUT_WR);
    assert.equal((await readAll(ep)).toString(), sha256(data));
    ep.close();
    const r = await py;
    assert.equal(r.code, 0, r.stderr);
  });
});
