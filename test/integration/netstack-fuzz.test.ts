/**
 * The sentry survives a fuzz of 100,000 random and mutated frames injected on the veth of a
 * sandbox running on the user-space stack (`network: netstack`): random bytes, ARP, IPv4
 * with options and fragments, TCP/UDP/ICMP with random flags, lengths and checksums
 * (plugins/net-netstack/test/scapy/fuzz.py says what exactly). The app (server.py) keeps
 * serving: a UDP echo every 10,000 frames comes back, and afterwards a UDP echo and a TCP
 * echo through a fresh handshake work. The stack's counters (logged at shutdown) show every
 * frame reached it, no internal error (an exception caught while handling a frame), and
 * drops that add up. TSVISOR_FUZZ_SEED=N replays a run; the seed is in every failure message.
 * Needs root, iproute2, ethtool and python3-scapy; the namespaces, the sandbox and the temp
 * dir are removed in after(), even when the test fails.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ip } from './net-helpers';
import {
  canRunScapy,
  makePeerPair,
  peerPair,
  PEER_IP,
  removePeerPair,
  runInPeer,
  SCAPY_DIR,
  serverArgv,
  startUntilReady,
  stop,
  SUT_IP,
  type Background,
} from './netstack-scapy-helpers';
import { RUNSC } from './harness';

const FRAMES = 100_000;

interface FuzzResult {
  seed: number;
  sent: number;
  'send errors': number;
  kinds: Record<string, number>;
  'marks echoed': number;
  marks: number;
  after: { 'udp echo': boolean; 'tcp handshake': string; 'tcp echo'?: string };
}

interface ShutdownCounters {
  stats: { rxFrames: number; drops: Record<string, number> };
  links: { name: string; rxFrames: number }[];
}

(canRunScapy() ? describe : describe.skip)('net-netstack: a fuzz of 100,000 frames on the veth', function () {
  this.timeout(240000);
  const pair = peerPair(`${process.pid % 100000}z`);
  let dir = '';
  let server: Background | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-nsfuzz-'));
    removePeerPair(pair);
    makePeerPair(pair);
  });

  after(async () => {
    if (server) await stop(server.p);
    removePeerPair(pair);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the sentry and the app survive; the stack counted every frame and no internal error', async () => {
    const seed = Number(process.env.TSVISOR_FUZZ_SEED ?? Math.floor(Math.random() * 1e9));
    const config = path.join(dir, 'runsc.yaml');
    const logFile = path.join(dir, 'sentry.log');
    fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: /var/run/netns/${pair.sutNs}\n`);
    const mac = (
      JSON.parse(ip('-n', pair.sutNs, '-j', 'link', 'show', pair.sutIf)) as { address: string }[]
    )[0].address;
    const argv = serverArgv(pair, 'netstack', config, path.join(SCAPY_DIR, 'server.py'));
    // runsc do --debug --debug-log=FILE --log-format=json ... (global flags after `do`)
    const at = argv.indexOf(RUNSC) + 2;
    argv.splice(at, 0, '--debug', `--debug-log=${logFile}`, '--log-format=json');
    server = await startUntilReady(argv, 'server.py in the sandbox');
    const what = () => `seed ${seed} (TSVISOR_FUZZ_SEED); sandbox: ${(server?.out() ?? '').slice(-3000)}`;
    const out = await runInPeer(
      pair,
      [path.join(SCAPY_DIR, 'fuzz.py'), pair.peerIf, PEER_IP, SUT_IP, mac, String(FRAMES), String(seed)],
      180000,
    );
    const r = JSON.parse(out) as FuzzResult;
    assert.equal(server.p.exitCode, null, `the sandbox died: ${what()}`);
    assert.equal(r.sent + r['send errors'], FRAMES);
    assert.ok(r.sent >= FRAMES * 0.99, `only ${r.sent} frames sent: ${what()}`);
    assert.equal(r['marks echoed'], r.marks, `UDP echoes during the fuzz: ${JSON.stringify(r)}; ${what()}`);
    assert.equal(r.after['udp echo'], true, `UDP echo after the fuzz: ${what()}`);
    assert.match(r.after['tcp handshake'], /^SYN-ACK ack=0 /, `TCP handshake after the fuzz: ${what()}`);
    assert.equal(r.after['tcp echo'], 'hello after the fuzz\n', `TCP echo after the fuzz: ${what()}`);

    await stop(server.p);
    const line = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('netstack: counters at shutdown'))
      .pop();
    assert.ok(line, `no counters logged at shutdown in ${logFile}`);
    const c = JSON.parse(line) as ShutdownCounters;
    const veth = c.links.find((l) => l.name === pair.sutIf);
    assert.ok(veth, `no ${pair.sutIf} in ${line}`);
    // Every injected frame reached the stack (the AF_PACKET socket's buffer did not overflow
    // more than 1%: the fuzzer paces itself on the echoes).
    assert.ok(veth.rxFrames >= r.sent * 0.99, `the stack saw ${veth.rxFrames} of ${r.sent} frames`);
    assert.equal(c.stats.drops.internal ?? 0, 0, `internal errors while handling frames: ${line}; ${what()}`);
    const dropped = Object.values(c.stats.drops).reduce((a, b) => a + b, 0);
    // Most random frames are dropped (by reason), but never more than were received.
    assert.ok(dropped > r.sent / 4 && dropped <= c.stats.rxFrames, `drops ${dropped} of ${c.stats.rxFrames}`);
    const warnings = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => /"level":"(warn|error|fatal)"/.test(l) && /netstack|stack/.test(l));
    assert.deepEqual(warnings, [], `the stack logged trouble; ${what()}`);
  });
});
