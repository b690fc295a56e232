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
import { ETH_HLEN, ETHERTYPE_IPV4, writeEthernet } from '../src/ethernet';
import { PROTO_UDP, writeIpv4Header, type Ipv4Fields } from '../src/ipv4';
import { writeUdp } from '../src/udp';
import { checksum } from '../src/checksum';
import { EAGAIN } from '../src/errno';
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

const UDP_PORT = 9200;

/** An Ethernet + IPv4 frame from the peer carrying `payload`; `tweak` may damage the header. */
function ipFrame(
  peer: Peer,
  f: Partial<Ipv4Fields>,
  payload: Uint8Array,
  tweak?: (ip: Uint8Array) => void,
): Uint8Array {
  const frame = new Uint8Array(ETH_HLEN + 20 + payload.length);
  frame.set(payload, ETH_HLEN + 20);
  writeIpv4Header(frame, ETH_HLEN, {
    src: peer.a.ourIp,
    dst: peer.a.theirIp,
    proto: PROTO_UDP,
    ttl: 64,
    id: 0x4242,
    payloadLen: payload.length,
    ...f,
  });
  tweak?.(frame.subarray(ETH_HLEN));
  writeEthernet(frame, peer.a.theirMac, peer.a.ourMac, ETHERTYPE_IPV4);
  return frame;
}

/** A UDP datagram (header + body) from the peer to UDP_PORT. */
function udp(peer: Peer, body: Uint8Array, tweak?: (d: Uint8Array) => void): Uint8Array {
  const d = new Uint8Array(8 + body.length);
  writeUdp(d, 0, peer.a.ourIp, peer.a.theirIp, 5555, UDP_PORT, body);
  tweak?.(d);
  return d;
}

function refreshIpChecksum(ip: Uint8Array, hlen = 20): void {
  ip[10] = 0;
  ip[11] = 0;
  const c = checksum(ip, 0, hlen);
  ip[10] = c >> 8;
  ip[11] = c & 255;
}

/**
 * Sends one datagram per case, each marked with its name; returns the frames. Fragments
 * are 24 bytes (a 64-byte datagram makes three).
 */
function udpCases(peer: Peer): Uint8Array[] {
  const body = (name: string): Uint8Array => {
    const b = new Uint8Array(56).fill(0x2e);
    b.set(new TextEncoder().encode(name));
    return b;
  };
  const frags = (d: Uint8Array, id: number, order: number[], extra?: Uint8Array[]): Uint8Array[] => {
    const pieces = [0, 24, 48].map((off) =>
      ipFrame(
        peer,
        { id, fragOff: off, mf: off + 24 < d.length, payloadLen: Math.min(24, d.length - off) },
        d.subarray(off, off + 24),
      ),
    );
    const out = order.map((i) => pieces[i]);
    return extra ? [...out, ...extra] : out;
  };
  const out: Uint8Array[] = [];
  out.push(ipFrame(peer, {}, udp(peer, body('plain'))));
  out.push(...frags(udp(peer, body('frag-in-order')), 1, [0, 1, 2]));
  out.push(...frags(udp(peer, body('frag-reversed')), 2, [2, 1, 0]));
  out.push(...frags(udp(peer, body('frag-duplicate')), 3, [0, 1, 1, 2]));
  {
    const d = udp(peer, body('frag-overlap'));
    const evil = d.slice(16, 40).fill(0x21);
    const overlap = ipFrame(peer, { id: 4, fragOff: 16, mf: true, payloadLen: 24 }, evil);
    out.push(...frags(d, 4, [0], [overlap]), ...frags(d, 4, [1, 2]));
  }
  {
    const d = udp(peer, body('frag-bad-ip-checksum'));
    const f = frags(d, 5, [0, 1, 2]);
    f[1][ETH_HLEN + 10] ^= 0xff;
    out.push(...f);
  }
  out.push(
    ipFrame(
      peer,
      {},
      udp(peer, body('udp-bad-checksum'), (u) => (u[7] ^= 0x55)),
    ),
  );
  out.push(
    ipFrame(
      peer,
      {},
      udp(peer, body('udp-length-too-long'), (u) => (u[5] += 8)),
    ),
  );
  {
    // UDP length shorter than the IP payload (trailing bytes), checksum over the UDP length.
    const short = udp(peer, body('udp-short').subarray(0, 40));
    const padded = new Uint8Array(short.length + 16).fill(0x3f);
    padded.set(short);
    out.push(ipFrame(peer, {}, padded));
  }
  out.push(
    ipFrame(peer, {}, udp(peer, body('ip-total-length-too-long')), (ip) => {
      ip[3] += 40;
      refreshIpChecksum(ip);
    }),
  );
  out.push(
    ipFrame(peer, {}, udp(peer, body('ip-ihl-4')), (ip) => {
      ip[0] = 0x44;
      refreshIpChecksum(ip);
    }),
  );
  out.push(ipFrame(peer, { ttl: 0 }, udp(peer, body('ip-ttl-0'))));
  {
    // A header with 4 bytes of options (NOP NOP NOP EOL).
    const d = udp(peer, body('ip-options'));
    const frame = new Uint8Array(ETH_HLEN + 24 + d.length);
    frame.set(d, ETH_HLEN + 24);
    const ip = frame.subarray(ETH_HLEN);
    writeIpv4Header(frame, ETH_HLEN, {
      src: peer.a.ourIp,
      dst: peer.a.theirIp,
      proto: PROTO_UDP,
      ttl: 64,
      id: 9,
      payloadLen: d.length + 4,
    });
    ip[0] = 0x46;
    ip.set([1, 1, 1, 0], 20);
    refreshIpChecksum(ip, 24);
    writeEthernet(frame, peer.a.theirMac, peer.a.ourMac, ETHERTYPE_IPV4);
    out.push(frame);
  }
  return out;
}

/** What a receiver got: the case names and lengths, sorted. */
function names(datagrams: Uint8Array[]): string[] {
  return datagrams.map((d) => `${new TextDecoder().decode(d).replace(/[.?]+$/, '')}/${d.length}`).sort();
}

/**
 * The other side sends 3,000 bytes as soon as it accepts; the peer offers a 2,000-byte
 * window, then closes it, waits for a zero-window probe, and reopens it.
 */
async function zeroWindowScript(peer: Peer, dport: number, sport: number): Promise<string[]> {
  const iss = 0x20000000 + sport;
  const trace: string[] = [];
  const fromThem = (s: { srcPort: number; dstPort: number }): boolean =>
    s.dstPort === sport && s.srcPort === dport;
  peer.skip();
  peer.send({ srcPort: sport, dstPort: dport, seq: iss, ack: 0, flags: SYN, window: 2000, mss: 1000 });
  const sa = await peer.next((s) => fromThem(s) && s.flags === (SYN | ACK), 'SYN-ACK');
  const base = seqAdd(sa.seq, 1);
  const rel = (x: number): number => seqDiff(x, base);
  const seg = (ack: number, window: number) => ({
    srcPort: sport,
    dstPort: dport,
    seq: iss + 1,
    ack,
    flags: ACK,
    window,
  });
  peer.send(seg(base, 2000));
  let got = 0;
  while (got < 2000) {
    const d = await peer.next((s) => fromThem(s) && s.payload.length > 0, 'data into the 2,000-byte window');
    trace.push(`data seq=${rel(d.seq)} len=${d.payload.length}`);
    got = rel(d.seq) + d.payload.length;
  }
  peer.send(seg(seqAdd(base, 2000), 0)); // everything taken, window closed
  const probe = await peer.next((s) => fromThem(s), 'zero-window probe', 10_000);
  trace.push(`probe flags=${probe.flags} seq=${rel(probe.seq)} len=${probe.payload.length}`);
  peer.send(seg(seqAdd(base, 2000), 65535)); // window update
  const rest = await peer.next((s) => fromThem(s) && s.payload.length > 0, 'data after the window update');
  trace.push(`after update seq=${rel(rest.seq)} len=${rest.payload.length}`);
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

  it('probes a zero window and resumes on the update as Linux does', async () => {
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
    const sender = spawn('/usr/bin/python3', [
      '-c',
      `
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL_IP}", ${PORT + 2}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.sendall(b"z" * 3000)
time.sleep(20)
`,
    ]);
    let out = '';
    sender.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => out.startsWith('ready'), 'python sender');
      const kernel = await zeroWindowScript(kpeer, PORT + 2, 42000);

      stack?.close();
      stack = new Stack();
      const speer = new Peer(stack);
      const l = stack.tcp();
      l.bind(0, PORT + 2);
      l.listen(1);
      l.onEvent = () => {
        const c = l.accept();
        if (typeof c !== 'number') c.send(new Uint8Array(3000).fill(0x7a));
      };
      const ours = await zeroWindowScript(speer, PORT + 2, 42000);
      assert.deepEqual(ours, kernel);
    } finally {
      sender.kill('SIGKILL');
    }
  });

  it('accepts and drops the same datagrams as Linux (fragments, overlaps, bad checksums and lengths, options)', async () => {
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
    // The kernel's receiver: a Python UDP socket that reports what it got after 1 s of silence.
    const rx = spawn('/usr/bin/python3', [
      '-c',
      `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${KERNEL_IP}", ${UDP_PORT}))
print("ready", flush=True)
s.settimeout(1.0)
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    print(d.hex(), flush=True)
`,
    ]);
    let out = '';
    rx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.startsWith('ready'), 'python UDP receiver');
    for (const f of udpCases(kpeer)) tap!.send(f);
    await new Promise((r) => rx.on('close', r));
    const kernel = names(
      out
        .trim()
        .split('\n')
        .slice(1)
        .map((h) => Uint8Array.from(Buffer.from(h, 'hex'))),
    );

    stack?.close();
    stack = new Stack();
    const speer = new Peer(stack);
    const u = stack.udp();
    assert.equal(u.bind(0, UDP_PORT), 0);
    for (const f of udpCases(speer)) speer.sendFrame(f);
    await sleep(100);
    const got: Uint8Array[] = [];
    for (;;) {
      const d = u.recvFrom();
      if (d === -EAGAIN || typeof d === 'number') break;
      got.push(d.data);
    }
    const ours = names(got);
    assert.ok(kernel.includes('plain/56'), `the kernel received the plain datagram: ${kernel.join(' ')}`);
    assert.deepEqual(ours, kernel);
  });
});
