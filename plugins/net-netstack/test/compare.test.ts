/**
 * The same scripted peer (test/peer.ts) run against our stack and against the Linux
 * kernel, and the answers compared: out-of-order segments and their SACK blocks, a hole
 * filled, a duplicate (D-SACK), RFC 5961 challenge ACKs for an inexact RST and for a SYN on
 * an established connection, an exact RST, a segment after the reset, and a SYN to a
 * closed port. The kernel is reached through a TAP device (the peer writes raw frames
 * to it); its listener is a Python socket that accepts and never reads, as ours.
 */
import { strict as assert } from 'node:assert';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { Stack } from '../src/stack';
import { TapLink } from '../src/link/tap';
import { ipv4, parseMac } from '../src/addr';
import { ACK, PSH, RST, SYN, seqAdd, seqDiff } from '../src/tcp/segment';
import { Peer } from './peer';
import { canUseTap } from './host';
import { sleep, until } from './util';

const PORT = 9100;
const N = 20 + (process.pid % 200);
const IFNAME = `tsvcmp${process.pid % 100000}`;
const KERNEL_IP = `10.76.${N}.1`;
const PEER_IP = `10.76.${N}.2`;
const PEER_MAC = parseMac('02:00:5e:76:00:02');

/** Runs the script; returns one line per answer, numbers relative to the script's ISN. */
async function script(peer: Peer, sport: number): Promise<string[]> {
  const iss = 0x10000000 + sport;
  const rel = (x: number): number => seqDiff(x, seqAdd(iss, 1));
  const trace: string[] = [];
  const fromThem = (s: { dstPort: number }): boolean => s.dstPort === sport;
  const ackLine = (s: { flags: number; ack: number; sack: number[] }): string =>
    `flags=${s.flags} ack=${rel(s.ack)} sack=[${s.sack.map(rel).join(',')}]`;
  peer.skip();
  peer.send({
    srcPort: sport,
    dstPort: PORT,
    seq: iss,
    ack: 0,
    flags: SYN,
    window: 65535,
    mss: 1000,
    sackPermitted: true,
  });
  const sa = await peer.next((s) => fromThem(s) && s.flags === (SYN | ACK), 'SYN-ACK');
  trace.push(
    `SYN-ACK ack=${rel(sa.ack)} sackOK=${sa.sackPermitted} mss=${sa.mss > 0} ws=${sa.wscale} ts=${sa.hasTs}`,
  );
  const their = seqAdd(sa.seq, 1);
  const seg = (flags: number, off: number) => ({
    srcPort: sport,
    dstPort: PORT,
    seq: seqAdd(iss, 1 + off),
    ack: their,
    flags,
    window: 65535,
  });
  peer.send(seg(ACK, 0));
  await sleep(50);
  const text = (t: string): Uint8Array => new TextEncoder().encode(t);
  const step = async (what: string, flags: number, off: number, payload?: Uint8Array): Promise<void> => {
    peer.send(seg(flags, off), payload);
    const a = await peer.next((s) => fromThem(s), what);
    trace.push(`${what}: ${ackLine(a)}`);
  };
  await step('third segment first', ACK | PSH, 8, text('CCCC'));
  await step('second segment', ACK | PSH, 4, text('BBBB'));
  await step('first segment fills the hole', ACK | PSH, 0, text('AAAA'));
  await step('duplicate of the second', ACK | PSH, 4, text('BBBB'));
  await sleep(600); // Linux rate-limits challenge ACKs per socket (tcp_invalid_ratelimit, 500 ms)
  await step('RST in window, inexact', RST, 100);
  await sleep(600);
  await step('SYN on an established connection', SYN, 5);
  peer.send(seg(RST, 12));
  await sleep(50);
  await step('data after an exact RST', ACK | PSH, 12, text('late'));
  // A SYN to a port nobody listens on.
  const iss2 = iss + 1000;
  peer.send({ srcPort: sport + 1, dstPort: PORT + 1, seq: iss2, ack: 0, flags: SYN, window: 65535 });
  const r = await peer.next((s) => s.dstPort === sport + 1, 'answer to a SYN for a closed port');
  trace.push(`closed port: flags=${r.flags} seq=${r.seq} ack=${seqDiff(r.ack, iss2)}`);
  return trace;
}

describe('netstack vs the Linux kernel: the same scripted peer', function () {
  this.timeout(60_000);
  let tap: TapLink | undefined;
  let py: ChildProcess | undefined;
  let stack: Stack | undefined;

  before(async function () {
    if (canUseTap()) this.skip();
    tap = new TapLink(IFNAME, PEER_MAC);
    try {
      execFileSync('sysctl', ['-qw', `net.ipv6.conf.${IFNAME}.disable_ipv6=1`]);
    } catch {
      // chatter is ignored by the peer
    }
    execFileSync('ip', ['addr', 'add', `${KERNEL_IP}/24`, 'dev', IFNAME]);
    execFileSync('ip', ['link', 'set', IFNAME, 'up']);
    py = spawn('/usr/bin/python3', [
      '-c',
      `
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL_IP}", ${PORT}))
s.listen(8)
keep = []
while True:
    c, _ = s.accept()
    keep.append(c)
`,
    ]);
    await until(
      () => execFileSync('ss', ['-Hltn', `src ${KERNEL_IP}:${PORT}`], { encoding: 'utf8' }).trim() !== '',
      'python listener',
    );
  });

  after(() => {
    py?.kill('SIGKILL');
    tap?.close();
    stack?.close();
    try {
      execFileSync('ip', ['link', 'del', IFNAME], { stdio: 'ignore' });
    } catch {
      // gone with its fd
    }
  });

  it('gives the same answers as Linux', async () => {
    const kernelMac = parseMac(fs.readFileSync(`/sys/class/net/${IFNAME}/address`, 'utf8').trim());
    const kpeer = new Peer(
      undefined,
      { send: (f) => tap!.send(f) },
      {
        ourIp: ipv4(PEER_IP),
        ourMac: PEER_MAC,
        theirIp: ipv4(KERNEL_IP),
        theirMac: kernelMac,
      },
    );
    tap!.attach((f) => kpeer.rx(f));
    const kernel = await script(kpeer, 41000);

    stack = new Stack();
    const speer = new Peer(stack);
    const l = stack.tcp();
    l.bind(0, PORT);
    l.listen(8);
    l.onEvent = () => void l.accept(); // accept, never read (as the Python listener)
    const ours = await script(speer, 41000);
    assert.deepEqual(ours, kernel);
  });
});
