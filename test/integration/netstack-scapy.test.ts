/**
 * Edge cases driven by a scapy peer (Debian's python3-scapy), each compared with what the
 * Linux kernel does with the same script. plugins/net-netstack/test/scapy/peer.py speaks
 * raw frames on one end of a veth, from an address no kernel owns (it answers ARP itself);
 * the other end is in a namespace where the system under test runs server.py:
 *   (a) natively: Linux's TCP/IP answers;
 *   (b) in a sandbox with `network: netstack` taking that namespace's veth: our stack answers.
 * The peer prints one transcript per scenario (normalised: relative sequence numbers,
 * window only 0 / >0, no PSH, option presence; peer.py's header says why) and each test
 * asserts the two transcripts are equal, apart from the differences listed in KNOWN.
 * Scenarios: SYN-ACK options; out-of-order, duplicate and partly duplicate segments (SACK,
 * D-SACK); loss with retransmission (RTO; fast retransmit of a SACKed hole; two holes
 * recovered from SACK blocks); zero window,
 * probes and the window update; a receiver whose app does not read (window 0, probe,
 * window update after the app reads); RST in SYN-RECEIVED, ESTABLISHED (out of window, inexact,
 * exact), CLOSE-WAIT, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT, LAST-ACK and SYN-SENT (wrong and
 * right ACK); SYN flood with the accept queue full; IPv4 fragments (reordered, duplicated,
 * overlapping, a corrupt one, one missing); bogus checksums and lengths (IP, UDP, ICMP, TCP).
 * TSVISOR_SCAPY_SCENARIOS=a,b runs only those scenarios.
 * Needs root, iproute2, ethtool and python3-scapy; the namespaces (and so the veth), the
 * server and the sandbox are removed in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

const ALL_SCENARIOS = [
  'handshake-options',
  'out-of-order',
  'retransmit-rto',
  'fast-retransmit',
  'sack-two-holes',
  'zero-window',
  'receive-window',
  'timestamps',
  'rst-states',
  'rst-syn-sent',
  'rst-before-accept',
  'syn-flood',
  'fragments',
  'bogus',
];

/** TSVISOR_SCAPY_SCENARIOS=a,b runs only those scenarios (all by default). */
const SCENARIOS = process.env.TSVISOR_SCAPY_SCENARIOS
  ? process.env.TSVISOR_SCAPY_SCENARIOS.split(',').filter((n) => {
      if (!ALL_SCENARIOS.includes(n)) throw new Error(`TSVISOR_SCAPY_SCENARIOS: unknown scenario ${n}`);
      return true;
    })
  : ALL_SCENARIOS;

/**
 * Where our stack knowingly differs from Linux: the line (found by `line` in both
 * transcripts) must read `linux` in Linux's and `ours` in ours; it is then left out of the
 * comparison. Anything else that differs fails the test.
 */
const KNOWN: Record<string, { line: RegExp; linux: RegExp; ours: RegExp; why: string }[]> = {
  // none at the moment (the half-open SYN flood differed until the stack got SYN cookies)
};

(canRunScapy() ? describe : describe.skip)(
  'net-netstack vs Linux: a scapy peer on the other end of a veth',
  function () {
    this.timeout(300000);
    const pair = peerPair(`${process.pid % 100000}`);
    let dir = '';
    const procs: Background[] = [];
    const transcripts: Record<'linux' | 'netstack', Record<string, string[]>> = { linux: {}, netstack: {} };

    async function runAgainst(where: 'linux' | 'netstack', config: string): Promise<void> {
      const server = await startUntilReady(
        serverArgv(pair, where, config, path.join(SCAPY_DIR, 'server.py')),
        `server.py (${where})`,
      );
      procs.push(server);
      try {
        const out = await runInPeer(
          pair,
          [path.join(SCAPY_DIR, 'peer.py'), pair.peerIf, PEER_IP, SUT_IP, ...SCENARIOS],
          240000,
        );
        transcripts[where] = JSON.parse(out) as Record<string, string[]>;
      } catch (e) {
        throw new Error(`peer against ${where}: ${(e as Error).message}; server: ${server.out()}`);
      } finally {
        await stop(server.p);
      }
    }

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-scapy-'));
      removePeerPair(pair);
      makePeerPair(pair);
      const config = path.join(dir, 'runsc.yaml');
      fs.writeFileSync(config, `network: netstack\nnetstack:\n  netns: /var/run/netns/${pair.sutNs}\n`);
      await runAgainst('linux', config);
      await runAgainst('netstack', config);
    });

    after(async () => {
      for (const b of procs) await stop(b.p);
      removePeerPair(pair);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const name of SCENARIOS) {
      it(`${name}: our stack answers as Linux does`, () => {
        const linux = [...(transcripts.linux[name] ?? [])];
        const ours = [...(transcripts.netstack[name] ?? [])];
        assert.ok(linux.length > 0, `no transcript from Linux for ${name}`);
        // The script found what it looked for on Linux (it is a useful script).
        assert.ok(
          !linux.some((l) => /^no SYN-ACK/.test(l)),
          `Linux did not complete a handshake in ${name}: ${linux.join('\n')}`,
        );
        for (const k of KNOWN[name] ?? []) {
          const li = linux.findIndex((l) => k.line.test(l));
          const oi = ours.findIndex((l) => k.line.test(l));
          assert.ok(li >= 0 && oi >= 0, `${name}: the known difference's line ${k.line} is missing`);
          assert.match(linux[li], k.linux, `${name}: Linux (${k.why})`);
          assert.match(ours[oi], k.ours, `${name}: ours (${k.why})`);
          linux.splice(li, 1);
          ours.splice(oi, 1);
        }
        assert.deepEqual(ours, linux, `${name}: ours (actual) vs Linux (expected)`);
      });
    }
  },
);
