/**
 * The same IPv6 datagrams sent to the Linux kernel (raw frames written to a TAP device, a
 * Python AF_INET6 UDP socket as the receiver) and to the stack (a channel link), and what
 * each accepted compared: fragments in order, reversed, duplicated and overlapping, an
 * atomic fragment, a fragment of a bad length, bad and zero UDP checksums, UDP lengths
 * too long and too short, a payload length past the frame, hop-by-hop and destination
 * options (skippable and must-drop), hop-by-hop out of place, routing headers with and
 * without segments left, hop limit 0, a wrong version. Checksums are computed here.
 */
import { strict as assert } from 'node:assert';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { parseIpv6, parseMac } from '../src/addr';
import { ChannelLink } from '../src/link/channel';
import { TapLink } from '../src/link/tap';
import { Stack } from '../src/stack';
import { canUseTap } from './host';
import { sleep, until } from './util';

const N = (process.pid % 0xfff0).toString(16);
const IFNAME = `t6cmp${process.pid % 100000}`;
const KERNEL_IP = `fd62:${N}::1`;
const STACK_IP = `fd62:${N}::3`;
const PEER_IP = `fd62:${N}::2`;
const PEER_MAC = parseMac('02:00:5e:62:00:02');
const STACK_MAC = parseMac('02:00:5e:62:00:03');
const UDP_PORT = 9300;

/** RFC 1071 sum, byte by byte. */
function csum(parts: Uint8Array[]): number {
  let s = 0;
  for (const p of parts)
    for (let i = 0; i < p.length; i += 2) s += (p[i] << 8) | (i + 1 < p.length ? p[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** A UDP datagram to UDP_PORT with a correct checksum for (src, dst); `tweak` may damage it after. */
function udp(dst: string, body: Uint8Array, tweak?: (d: Uint8Array) => void): Uint8Array {
  const d = new Uint8Array(8 + body.length);
  d.set([0x15, 0xb3, UDP_PORT >> 8, UDP_PORT & 255, d.length >> 8, d.length & 255], 0);
  d.set(body, 8);
  const ph = new Uint8Array(40);
  ph.set(parseIpv6(PEER_IP)!, 0);
  ph.set(parseIpv6(dst)!, 16);
  ph[34] = d.length >> 8;
  ph[35] = d.length & 255;
  ph[39] = 17;
  const c = ~csum([ph, d]) & 0xffff || 0xffff;
  d[6] = c >> 8;
  d[7] = c & 255;
  tweak?.(d);
  return d;
}

/** Ethernet + IPv6 from the peer: `first` next header, `rest` everything after the fixed header. */
function frame(
  dst: string,
  dstMac: Uint8Array,
  first: number,
  rest: Uint8Array,
  tweak?: (ip: Uint8Array) => void,
): Uint8Array {
  const f = new Uint8Array(14 + 40 + rest.length);
  f.set(dstMac, 0);
  f.set(PEER_MAC, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f.set([0x60, 0, 0, 0, rest.length >> 8, rest.length & 255, first, 64], 14);
  f.set(parseIpv6(PEER_IP)!, 22);
  f.set(parseIpv6(dst)!, 38);
  f.set(rest, 54);
  tweak?.(f.subarray(14));
  return f;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The datagrams, each marked with its name; fragments carry 24 bytes (a 64-byte datagram makes three). */
function cases(dst: string, dstMac: Uint8Array): Uint8Array[] {
  const body = (name: string): Uint8Array => {
    const b = new Uint8Array(56).fill(0x2e);
    b.set(new TextEncoder().encode(name));
    return b;
  };
  const fragHdr = (off: number, more: boolean, id: number): Uint8Array =>
    Uint8Array.from([17, 0, off >> 8, (off & 0xf8) | (more ? 1 : 0), 0, 0, id >> 8, id & 255]);
  const frags = (d: Uint8Array, id: number, order: number[]): Uint8Array[] => {
    const pieces = [0, 24, 48].map((off) =>
      frame(dst, dstMac, 44, cat(fragHdr(off, off + 24 < d.length, id), d.subarray(off, off + 24))),
    );
    return order.map((i) => pieces[i]);
  };
  const plain = (name: string, tweak?: (u: Uint8Array) => void): Uint8Array =>
    frame(dst, dstMac, 17, udp(dst, body(name), tweak));
  const out: Uint8Array[] = [];
  out.push(plain('plain'));
  out.push(...frags(udp(dst, body('frag-in-order')), 1, [0, 1, 2]));
  out.push(...frags(udp(dst, body('frag-reversed')), 2, [2, 1, 0]));
  out.push(...frags(udp(dst, body('frag-duplicate')), 3, [0, 1, 1, 2]));
  {
    const d = udp(dst, body('frag-overlap'));
    const evil = frame(dst, dstMac, 44, cat(fragHdr(16, true, 4), d.slice(16, 40).fill(0x21)));
    const f = frags(d, 4, [0, 1, 2]);
    out.push(f[0], evil, f[1], f[2]);
  }
  out.push(frame(dst, dstMac, 44, cat(fragHdr(0, false, 5), udp(dst, body('frag-atomic')))));
  {
    // A first fragment of 20 bytes with more to come (not a multiple of 8), then the rest.
    const d = udp(dst, body('frag-odd-length'));
    out.push(frame(dst, dstMac, 44, cat(fragHdr(0, true, 6), d.subarray(0, 20))));
    out.push(frame(dst, dstMac, 44, cat(fragHdr(20, false, 6), d.subarray(20))));
  }
  out.push(plain('udp-bad-checksum', (u) => (u[7] ^= 0x55)));
  out.push(
    plain('udp-zero-checksum', (u) => {
      u[6] = 0;
      u[7] = 0;
    }),
  );
  out.push(plain('udp-length-too-long', (u) => (u[5] += 8)));
  {
    // UDP length shorter than the IPv6 payload (trailing bytes), checksum over the UDP length.
    const short = udp(dst, body('udp-short').subarray(0, 40));
    const padded = new Uint8Array(short.length + 16).fill(0x3f);
    padded.set(short);
    out.push(frame(dst, dstMac, 17, padded));
  }
  out.push(frame(dst, dstMac, 17, udp(dst, body('payload-length-too-long')), (ip) => (ip[5] += 40)));
  out.push(frame(dst, dstMac, 17, udp(dst, body('hop-limit-0')), (ip) => (ip[7] = 0)));
  out.push(frame(dst, dstMac, 17, udp(dst, body('version-4')), (ip) => (ip[0] = 0x40)));
  const opts = (next: number, type: number): Uint8Array => Uint8Array.from([next, 0, 1, 0, type, 2, 0, 0]);
  out.push(frame(dst, dstMac, 0, cat(opts(17, 1), udp(dst, body('hbh-padn')))));
  out.push(frame(dst, dstMac, 60, cat(opts(17, 0x1e), udp(dst, body('dstopt-unknown-skip')))));
  out.push(frame(dst, dstMac, 60, cat(opts(17, 0x5e), udp(dst, body('dstopt-unknown-drop')))));
  out.push(frame(dst, dstMac, 60, cat(opts(0, 1), opts(17, 1), udp(dst, body('hbh-after-dstopts')))));
  const rh = (type: number, left: number): Uint8Array => Uint8Array.from([17, 0, type, left, 0, 0, 0, 0]);
  out.push(frame(dst, dstMac, 43, cat(rh(0, 0), udp(dst, body('routing0-none-left')))));
  out.push(frame(dst, dstMac, 43, cat(rh(0, 1), udp(dst, body('routing0-one-left')))));
  out.push(frame(dst, dstMac, 43, cat(rh(253, 0), udp(dst, body('routing253-none-left')))));
  return out;
}

/** What a receiver got: the case names and lengths, sorted. */
function names(datagrams: Uint8Array[]): string[] {
  return datagrams.map((d) => `${new TextDecoder().decode(d).replace(/[.?]+$/, '')}/${d.length}`).sort();
}

describe('netstack vs the Linux kernel: the same IPv6 datagrams', function () {
  this.timeout(60_000);
  let tap: TapLink | undefined;
  let rx: ChildProcess | undefined;
  let stack: Stack | undefined;

  before(function () {
    if (canUseTap()) this.skip();
    tap = new TapLink(IFNAME, PEER_MAC);
    tap.attach(() => {}); // the kernel's own chatter (NDP, MLD) is ignored
    execFileSync('ip', ['link', 'set', IFNAME, 'up']);
    execFileSync('ip', ['addr', 'add', `${KERNEL_IP}/64`, 'dev', IFNAME, 'nodad']);
  });

  after(() => {
    rx?.kill('SIGKILL');
    tap?.close();
    stack?.close();
    try {
      execFileSync('ip', ['link', 'del', IFNAME], { stdio: 'ignore' });
    } catch {
      // gone with its fd
    }
  });

  it('accepts and drops the same datagrams as Linux (fragments, extension headers, checksums, lengths)', async () => {
    const kernelMac = parseMac(fs.readFileSync(`/sys/class/net/${IFNAME}/address`, 'utf8').trim());
    rx = spawn('/usr/bin/python3', [
      '-c',
      `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
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
    const closed = new Promise((r) => rx!.on('close', r));
    await until(() => out.startsWith('ready'), 'python UDP receiver');
    for (const f of cases(KERNEL_IP, kernelMac)) tap!.send(f);
    await closed;
    const kernel = names(
      out
        .trim()
        .split('\n')
        .slice(1)
        .map((h) => Uint8Array.from(Buffer.from(h, 'hex'))),
    );

    stack = new Stack();
    const link = new ChannelLink('t6cmp', STACK_MAC);
    stack.addNic(link, { addresses: [`${STACK_IP}/64`] });
    const u = stack.udp();
    u.ipVersions = 6;
    assert.equal(u.bind(0, UDP_PORT), 0);
    for (const f of cases(STACK_IP, STACK_MAC)) link.injectNow(f);
    await sleep(50);
    const got: Uint8Array[] = [];
    for (;;) {
      const d = u.recvFrom();
      if (typeof d === 'number') break;
      got.push(d.data);
    }
    assert.ok(kernel.includes('plain/56'), `the kernel received the plain datagram: ${kernel.join(' ')}`);
    assert.deepEqual(names(got), kernel);
  });
});
