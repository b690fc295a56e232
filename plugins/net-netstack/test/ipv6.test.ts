/**
 * IPv6 in the stack: address text (checked against WHATWG URL's canonical IPv6 form), the
 * header and extension-header codec, TCP and UDP between endpoints over ::1, ICMPv6 port
 * unreachable → ECONNREFUSED, dual-stack and V6ONLY binds, and, on a channel link with a
 * scripted peer, NDP (answering solicitations, resolving with retries), ICMPv6 echo,
 * reassembly of fragments and the drop rules of the extension-header chain. Checksums of
 * what the stack sends are recomputed here with an independent byte-wise sum.
 */
import { strict as assert } from 'node:assert';
import {
  canonIpv6,
  linkLocalFromMac,
  mapV4,
  parseIpv6,
  readIpv6,
  solicitedNode,
  v4Mapped,
  validAddr,
  ipv4,
} from '../src/addr';
import { ChannelLink } from '../src/link/channel';
import { Stack } from '../src/stack';
import { TcpState, type TcpEndpoint } from '../src/tcp/endpoint';
import { EADDRINUSE, EAGAIN, ECONNREFUSED, EINPROGRESS } from '../src/errno';
import { parseIpv6Header, walkExtensions, writeIpv6Header, NH_UDP, NH_DSTOPTS } from '../src/ipv6';
import { until, readN, sleep } from './util';

/** RFC 1071 sum, byte by byte (independent of src/checksum.ts). */
function csum(parts: Uint8Array[]): number {
  let s = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) s += (p[i] << 8) | (i + 1 < p.length ? p[i + 1] : 0);
  }
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** The IPv6 pseudo-header for an upper-layer packet of `len` bytes. */
function pseudo(src: Uint8Array, dst: Uint8Array, next: number, len: number): Uint8Array {
  const p = new Uint8Array(40);
  p.set(src, 0);
  p.set(dst, 16);
  p[32] = len >>> 24;
  p[33] = (len >>> 16) & 255;
  p[34] = (len >>> 8) & 255;
  p[35] = len & 255;
  p[39] = next;
  return p;
}

const STACK_MAC = Uint8Array.from([0x02, 0x00, 0x5e, 0x61, 0x00, 0x02]);
const PEER_MAC = Uint8Array.from([0x02, 0x00, 0x5e, 0x61, 0x00, 0x01]);
const STACK_IP = 'fd61::2';
const PEER_IP = 'fd61::1';

/** Builds an Ethernet + IPv6 frame around `l4` (its checksum filled in by `ckOff` if given). */
function frame6(opts: {
  src?: string;
  dst?: string;
  dstMac?: Uint8Array;
  next: number;
  hopLimit?: number;
  l4: Uint8Array;
  /** Offset of the upper-layer checksum in the final upper-layer bytes (after extension headers). */
  ckOff?: number;
  /** Extension headers put in front of l4 (their next-header chain is the caller's). */
  ext?: Uint8Array;
  /** The next header value in the fixed header (defaults to `next`). */
  first?: number;
}): Uint8Array {
  const src = opts.src ?? PEER_IP;
  const dst = opts.dst ?? STACK_IP;
  const ext = opts.ext ?? new Uint8Array(0);
  const l4 = opts.l4.slice();
  if (opts.ckOff !== undefined) {
    l4[opts.ckOff] = 0;
    l4[opts.ckOff + 1] = 0;
    const c = ~csum([pseudo(parseIpv6(src)!, parseIpv6(dst)!, opts.next, l4.length), l4]) & 0xffff;
    l4[opts.ckOff] = c >> 8;
    l4[opts.ckOff + 1] = c & 255;
  }
  const f = new Uint8Array(14 + 40 + ext.length + l4.length);
  f.set(opts.dstMac ?? STACK_MAC, 0);
  f.set(PEER_MAC, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  writeIpv6Header(f, 14, {
    src,
    dst,
    next: opts.first ?? opts.next,
    hopLimit: opts.hopLimit ?? 64,
    payloadLen: ext.length + l4.length,
  });
  f.set(ext, 54);
  f.set(l4, 54 + ext.length);
  return f;
}

function udp(sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  u[0] = sport >> 8;
  u[1] = sport & 255;
  u[2] = dport >> 8;
  u[3] = dport & 255;
  u[4] = u.length >> 8;
  u[5] = u.length & 255;
  u.set(data, 8);
  return u;
}

interface Sent {
  dstMac: Uint8Array;
  type: number;
  src: string;
  dst: string;
  next: number;
  hopLimit: number;
  l4: Uint8Array;
}

function parseSent(f: Uint8Array): Sent {
  const h = parseIpv6Header(f.subarray(14));
  if (typeof h === 'string') throw new Error(`the stack sent a bad IPv6 header: ${h}`);
  return {
    dstMac: f.slice(0, 6),
    type: (f[12] << 8) | f[13],
    src: h.src,
    dst: h.dst,
    next: h.next,
    hopLimit: h.hopLimit,
    l4: f.slice(54, 54 + h.payloadLen),
  };
}

/** True when an upper-layer packet the stack sent has a valid checksum. */
function checksumOk(s: Sent): boolean {
  return csum([pseudo(parseIpv6(s.src)!, parseIpv6(s.dst)!, s.next, s.l4.length), s.l4]) === 0xffff;
}

describe('netstack IPv6', () => {
  describe('addresses and codec', () => {
    it('formats addresses as RFC 5952 (the same text as WHATWG URL) and round-trips them', () => {
      const cases = [
        '::',
        '::1',
        '2001:db8::1',
        '2001:DB8:0:0:8:800:200C:417A',
        'fe80::200:5eff:fe61:2',
        '2001:db8:0:1:1:1:1:1',
        '2001:0:0:1:0:0:0:1',
        'ff02::1:ff00:2',
        '1:2:3:4:5:6:7:8',
        '::ffff:192.0.2.1',
        '64:ff9b::192.0.2.33',
        'fd61:0:0:0:0:0:0:2',
      ];
      for (const c of cases) {
        const expected = new URL(`http://[${c}]/`).hostname.slice(1, -1);
        const got = canonIpv6(c);
        // URL writes v4-mapped addresses in hex; inet_ntop (and we) use the dotted quad.
        if (c.startsWith('::ffff:')) assert.equal(got, '::ffff:192.0.2.1');
        else assert.equal(got, expected, c);
        assert.deepEqual(parseIpv6(got!), parseIpv6(expected), c);
      }
      for (const bad of [
        '',
        ':',
        ':::',
        '1::2::3',
        '1:2:3:4:5:6:7:8:9',
        '12345::',
        'g::1',
        '::1.2.3',
        '1.2.3.4',
      ])
        assert.equal(parseIpv6(bad), undefined, bad);
      // Endpoints take canonical text only (the tables compare strings).
      assert.equal(validAddr('::1'), true);
      assert.equal(validAddr('0:0::1'), false);
      assert.equal(validAddr('::'), false);
      assert.equal(v4Mapped('::ffff:127.0.0.1'), ipv4('127.0.0.1'));
      assert.equal(v4Mapped('::1'), undefined);
      assert.equal(mapV4(ipv4('10.61.0.2')), '::ffff:10.61.0.2');
      // Modified EUI-64 (RFC 4291 appendix A): the universal/local bit flipped, ff:fe inserted.
      assert.equal(
        linkLocalFromMac(Uint8Array.from([0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e])),
        'fe80::21b:21ff:fe3c:4d5e',
      );
      assert.equal(solicitedNode('fd61::12:3456'), 'ff02::1:ff12:3456');
    });

    it('parses the fixed header and walks extension headers by their rules', () => {
      const b = new Uint8Array(40 + 16 + 8);
      writeIpv6Header(b, 0, {
        src: 'fd61::1',
        dst: 'fd61::2',
        next: NH_DSTOPTS,
        hopLimit: 9,
        tclass: 0xb8,
        flow: 0x12345,
        payloadLen: 24,
      });
      // Known bytes: version 6, traffic class b8, flow label 12345.
      assert.deepEqual([...b.subarray(0, 8)], [0x6b, 0x81, 0x23, 0x45, 0, 24, 60, 9]);
      const h = parseIpv6Header(b);
      assert.ok(typeof h !== 'string');
      assert.equal(h.tclass, 0xb8);
      assert.equal(h.flow, 0x12345);
      assert.equal(h.src, 'fd61::1');
      // Destination options (16 bytes): PadN, then an unknown option with action 00 (skip).
      b.set([NH_UDP, 1, 1, 2, 0, 0, 0x1e, 2, 0xaa, 0xbb, 1, 2, 0, 0, 0, 0], 40);
      assert.deepEqual(walkExtensions(b, NH_DSTOPTS, 40, b.length, true), { proto: NH_UDP, off: 56 });
      // Action 01 (discard): dropped.
      b[46] = 0x5e;
      assert.equal(walkExtensions(b, NH_DSTOPTS, 40, b.length, true), 'opt-unknown');
      // Hop-by-hop after another header: dropped.
      b[46] = 0x1e;
      b[40] = 0;
      b.set([NH_UDP, 0, 1, 4, 0, 0, 0, 0], 56);
      assert.equal(walkExtensions(b, NH_DSTOPTS, 40, b.length, true), 'hbh-position');
      // Routing header type 0 with segments left: dropped; with none left: skipped.
      const r = Uint8Array.from([NH_UDP, 0, 0, 1, 0, 0, 0, 0]);
      assert.equal(walkExtensions(r, 43, 0, 8, true), 'routing-type0');
      r[3] = 0;
      assert.deepEqual(walkExtensions(r, 43, 0, 8, true), { proto: NH_UDP, off: 8 });
      // A header running past the packet, and a chain longer than 8 headers.
      assert.equal(walkExtensions(r, NH_DSTOPTS, 4, 8, true), 'ext-short');
      const long = new Uint8Array(80);
      for (let i = 0; i < 10; i++) long[i * 8] = NH_DSTOPTS;
      assert.equal(walkExtensions(long, NH_DSTOPTS, 0, 80, true), 'ext-chain');
      // A payload length beyond the buffer, and version 4.
      b[5] = 200;
      assert.equal(parseIpv6Header(b), 'length');
      b[0] = 0x45;
      assert.equal(parseIpv6Header(b), 'version');
    });
  });

  describe('over ::1', () => {
    let stack: Stack;
    beforeEach(() => {
      stack = new Stack({ tcp: { timeWaitMs: 50 } });
    });
    afterEach(() => stack.close());

    async function pair(listenAddr: string | 0, versions: 4 | 6 | 46, dst: string | number, port: number) {
      const l = stack.tcp();
      l.ipVersions = versions;
      assert.equal(l.bind(listenAddr, port), 0);
      assert.equal(l.listen(4), 0);
      const c = stack.tcp();
      assert.equal(c.connect(dst, port), -EINPROGRESS);
      let s: TcpEndpoint | undefined;
      await until(() => {
        const a = l.accept();
        if (typeof a !== 'number') s = a;
        return s !== undefined && c.state === TcpState.ESTABLISHED;
      }, 'handshake over ::1');
      return { l, c, s: s! };
    }

    it('TCP: handshake, data both ways, MSS of lo (65476 - timestamps), addresses, close', async () => {
      const { l, c, s } = await pair('::1', 6, '::1', 7000);
      assert.equal(s.laddr, '::1');
      assert.equal(s.raddr, '::1');
      assert.equal(c.lport, s.rport);
      assert.equal(c.info().mss, 65476 - 12); // Linux's tcpi_snd_mss on lo over IPv6
      const big = new Uint8Array(300_000).map((_, i) => i * 7);
      let off = 0;
      await until(() => {
        while (off < big.length) {
          const n = c.send(big.subarray(off, off + 65536));
          if (n === -EAGAIN) return false;
          off += n;
        }
        return true;
      }, 'send');
      assert.deepEqual(new Uint8Array(await readN(s, big.length)), big);
      assert.equal(s.send(new TextEncoder().encode('back')), 4);
      assert.equal((await readN(c, 4)).toString(), 'back');
      c.close();
      s.close();
      l.close();
      await until(() => stack.counters.tcpEndpoints === 0 && stack.counters.timers === 0, 'everything gone');
    });

    it('a dual-stack listener takes IPv4 connections; V6ONLY and AF_INET wildcards share a port', async () => {
      const { l, c, s } = await pair(0, 46, ipv4('127.0.0.1'), 7001);
      assert.equal(s.laddr, ipv4('127.0.0.1'));
      c.close();
      s.close();
      l.close();
      // 0.0.0.0:P and a V6ONLY [::]:P coexist; a dual-stack [::]:P conflicts with either.
      const v4 = stack.tcp();
      assert.equal(v4.bind(0, 7002), 0);
      const v6only = stack.udp();
      v6only.ipVersions = 6;
      const t6 = stack.tcp();
      t6.ipVersions = 6;
      assert.equal(t6.bind(0, 7002), 0);
      const dual = stack.tcp();
      dual.ipVersions = 46;
      assert.equal(dual.bind(0, 7002), -EADDRINUSE);
      assert.equal(dual.bind('::1', 7002), -EADDRINUSE);
      const dual2 = stack.tcp();
      dual2.ipVersions = 46;
      assert.equal(dual2.bind('::1', 7003), 0);
      const v4b = stack.tcp();
      assert.equal(v4b.bind(ipv4('127.0.0.1'), 7003), 0, 'a specific IPv6 address leaves IPv4 free');
      for (const e of [v4, t6, dual, dual2, v4b]) e.close();
      v6only.close();
    });

    it('a V6ONLY listener does not take IPv4: the connection is refused', async () => {
      const l = stack.tcp();
      l.ipVersions = 6;
      assert.equal(l.bind(0, 7004), 0);
      assert.equal(l.listen(4), 0);
      const c = stack.tcp();
      assert.equal(c.connect(ipv4('127.0.0.1'), 7004), -EINPROGRESS);
      await until(() => c.state === TcpState.CLOSED, 'refused');
      assert.equal(c.takeError(), ECONNREFUSED);
      l.close();
      c.close();
    });

    it('UDP: datagrams with their source; a closed port answers ICMPv6 port unreachable (ECONNREFUSED)', async () => {
      const r = stack.udp();
      r.ipVersions = 6;
      assert.equal(r.bind('::1', 0), 0);
      const w = stack.udp();
      w.ipVersions = 6;
      assert.equal(w.sendTo(new TextEncoder().encode('hello6'), '::1', r.lport), 6);
      await until(() => typeof r.recvFrom(true) !== 'number', 'datagram');
      const d = r.recvFrom();
      assert.ok(typeof d !== 'number');
      assert.equal(Buffer.from(d.data).toString(), 'hello6');
      assert.equal(d.addr, '::1');
      assert.equal(d.port, w.lport);
      const port = r.lport;
      r.close();
      assert.equal(w.connect('::1', port), 0);
      assert.equal(w.sendTo(new TextEncoder().encode('x')), 1);
      await until(() => w.poll() !== 4 /* POLLOUT only */, 'the refusal');
      assert.equal(w.recvFrom(), -ECONNREFUSED);
      assert.equal(stack.stats.icmp6ErrorsSent, 1);
      w.close();
    });
  });

  describe('on a link (scripted peer)', () => {
    let stack: Stack;
    let link: ChannelLink;
    let sent: Sent[];
    beforeEach(() => {
      stack = new Stack({ tcp: { timeWaitMs: 50 } });
      link = new ChannelLink('t6peer', STACK_MAC);
      sent = [];
      link.onSend = (f) => sent.push(parseSent(f));
      stack.addNic(link, { addresses: [`${STACK_IP}/64`] });
    });
    afterEach(() => stack.close());

    it('has a link-local address from its MAC and answers neighbour solicitations for its addresses', async () => {
      const nic = stack.nics.find((n) => n.name === 't6peer')!;
      assert.deepEqual(
        nic.addresses6.map((a) => `${a.addr}/${a.prefixLen}`),
        ['fe80::5eff:fe61:2/64', 'fd61::2/64'],
      );
      for (const target of [STACK_IP, nic.addresses6[0].addr]) {
        sent = [];
        const ns = new Uint8Array(32);
        ns[0] = 135;
        ns.set(parseIpv6(target)!, 8);
        ns.set([1, 1, ...PEER_MAC], 24);
        const group = solicitedNode(target);
        link.inject(
          frame6({
            dst: group,
            dstMac: Uint8Array.from([0x33, 0x33, 0xff, ...parseIpv6(target)!.subarray(13)]),
            next: 58,
            hopLimit: 255,
            l4: ns,
            ckOff: 2,
          }),
        );
        await until(() => sent.length > 0, 'neighbour advertisement');
        const na = sent[0];
        assert.deepEqual([...na.dstMac], [...PEER_MAC]);
        assert.equal(na.type, 0x86dd);
        assert.equal(na.src, target);
        assert.equal(na.dst, PEER_IP);
        assert.equal(na.hopLimit, 255);
        assert.equal(na.l4[0], 136);
        assert.equal(na.l4[4], 0x60, 'solicited + override');
        assert.equal(readIpv6(na.l4, 8), target);
        assert.deepEqual([...na.l4.subarray(24, 32)], [2, 1, ...STACK_MAC]);
        assert.ok(checksumOk(na), 'NA checksum');
      }
      // Not ours, or a hop limit below 255 (it crossed a router): no answer.
      sent = [];
      const ns = new Uint8Array(32);
      ns[0] = 135;
      ns.set(parseIpv6('fd61::99')!, 8);
      ns.set([1, 1, ...PEER_MAC], 24);
      link.inject(frame6({ next: 58, hopLimit: 255, l4: ns, ckOff: 2 }));
      ns.set(parseIpv6(STACK_IP)!, 8);
      link.inject(frame6({ next: 58, hopLimit: 254, l4: ns, ckOff: 2 }));
      await sleep(20);
      assert.equal(sent.length, 0);
      assert.equal(stack.stats.drops['ndp-invalid'], 1);
    });

    it('resolves a neighbour (NS to the solicited-node group, retries), then sends what waited; ping answered', async () => {
      const u = stack.udp();
      u.ipVersions = 6;
      assert.equal(u.sendTo(new TextEncoder().encode('q'), PEER_IP, 53), 1);
      await until(() => sent.length >= 2, 'a retried solicitation', 3000);
      for (const ns of sent.slice(0, 2)) {
        assert.deepEqual([...ns.dstMac], [0x33, 0x33, 0xff, 0, 0, 1]);
        assert.equal(ns.dst, 'ff02::1:ff00:1');
        assert.equal(ns.src, STACK_IP);
        assert.equal(ns.hopLimit, 255);
        assert.equal(ns.l4[0], 135);
        assert.equal(readIpv6(ns.l4, 8), PEER_IP);
        assert.deepEqual([...ns.l4.subarray(24, 32)], [1, 1, ...STACK_MAC]);
        assert.ok(checksumOk(ns), 'NS checksum');
      }
      sent = [];
      const na = new Uint8Array(32);
      na[0] = 136;
      na[4] = 0x60;
      na.set(parseIpv6(PEER_IP)!, 8);
      na.set([2, 1, ...PEER_MAC], 24);
      link.inject(frame6({ next: 58, hopLimit: 255, l4: na, ckOff: 2 }));
      await until(() => sent.some((s) => s.next === NH_UDP), 'the queued datagram');
      const d = sent.find((s) => s.next === NH_UDP)!;
      assert.deepEqual([...d.dstMac], [...PEER_MAC]);
      assert.equal(d.src, STACK_IP);
      assert.ok(checksumOk(d), 'UDP checksum');
      assert.equal(Buffer.from(d.l4.subarray(8)).toString(), 'q');
      // Echo request → reply with the same identifier, sequence and data.
      sent = [];
      const echo = Uint8Array.from([128, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5]);
      link.inject(frame6({ next: 58, l4: echo, ckOff: 2 }));
      await until(() => sent.length > 0, 'echo reply');
      assert.equal(sent[0].l4[0], 129);
      assert.deepEqual([...sent[0].l4.subarray(4)], [0x12, 0x34, 0, 7, 1, 2, 3, 4, 5]);
      assert.ok(checksumOk(sent[0]), 'echo reply checksum');
      // A corrupt checksum is dropped.
      sent = [];
      const bad = frame6({ next: 58, l4: echo, ckOff: 2 });
      bad[bad.length - 1] ^= 1;
      link.inject(bad);
      await sleep(20);
      assert.equal(sent.length, 0);
      u.close();
    });

    it('gives up after 3 solicitations and drops the queued packets', async () => {
      const u = stack.udp();
      u.ipVersions = 6;
      u.sendTo(new Uint8Array(1), 'fd61::77', 9);
      await until(() => (stack.stats.drops['ndp-unresolved'] ?? 0) === 1, 'unresolved', 6000);
      assert.equal(sent.filter((s) => s.l4[0] === 135).length, 3);
      assert.equal(stack.counters.timers, 0);
      u.close();
    }).timeout(8000);

    it('reassembles fragments in any order, drops overlaps, and answers UDP to closed ports', async () => {
      const r = stack.udp();
      r.ipVersions = 6;
      assert.equal(r.bind(0, 5000), 0);
      const payload = new Uint8Array(3000).map((_, i) => i % 251);
      const dg = udp(4000, 5000, payload);
      const c = ~csum([pseudo(parseIpv6(PEER_IP)!, parseIpv6(STACK_IP)!, NH_UDP, dg.length), dg]) & 0xffff;
      dg[6] = c >> 8;
      dg[7] = c & 255;
      const frag = (off: number, len: number, more: boolean, id: number): Uint8Array => {
        const fh = Uint8Array.from([NH_UDP, 0, (off >> 8) & 255, (off & 0xf8) | (more ? 1 : 0), 0, 0, 0, id]);
        return frame6({ next: 44, first: 44, ext: fh, l4: dg.subarray(off, off + len) });
      };
      // In reverse order.
      link.inject(frag(2400, dg.length - 2400, false, 1));
      link.inject(frag(1200, 1200, true, 1));
      link.inject(frag(0, 1200, true, 1));
      await until(() => typeof r.recvFrom(true) !== 'number', 'the reassembled datagram');
      const got = r.recvFrom();
      assert.ok(typeof got !== 'number');
      assert.deepEqual(new Uint8Array(got.data), payload);
      assert.equal(got.addr, PEER_IP);
      // Overlapping fragments: the datagram is dropped.
      link.inject(frag(0, 1200, true, 2));
      link.inject(frag(1192, 1208, true, 2));
      link.inject(frag(2400, dg.length - 2400, false, 2));
      await sleep(30);
      assert.equal(r.recvFrom(), -EAGAIN);
      // A datagram to a closed port: ICMPv6 port unreachable quoting it (after NDP for the peer).
      sent = [];
      const closed = udp(4000, 5999, new Uint8Array([1, 2, 3]));
      link.inject(frame6({ next: NH_UDP, l4: closed, ckOff: 6 }));
      await until(() => sent.some((s) => s.l4[0] === 135), 'resolution of the peer');
      const adv = new Uint8Array(32);
      adv[0] = 136;
      adv[4] = 0x60;
      adv.set(parseIpv6(PEER_IP)!, 8);
      adv.set([2, 1, ...PEER_MAC], 24);
      link.inject(frame6({ next: 58, hopLimit: 255, l4: adv, ckOff: 2 }));
      await until(() => sent.some((s) => s.next === 58 && s.l4[0] === 1), 'port unreachable');
      const un = sent.find((s) => s.next === 58 && s.l4[0] === 1)!;
      assert.equal(un.l4[1], 4, 'code 4: port unreachable');
      assert.equal(un.dst, PEER_IP);
      assert.equal(readIpv6(un.l4, 8 + 8), PEER_IP, 'the quoted packet');
      assert.ok(checksumOk(un));
      r.close();
    });

    it('survives 60,000 random and mutated IPv6 frames (NDP, echo, UDP, TCP, fragments, extension headers), then still answers', async () => {
      const l = stack.tcp();
      l.ipVersions = 6;
      assert.equal(l.bind(0, 80), 0);
      assert.equal(l.listen(8), 0);
      const u = stack.udp();
      u.ipVersions = 6;
      assert.equal(u.bind(0, 5002), 0);
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const ns = new Uint8Array(32);
      ns[0] = 135;
      ns.set(parseIpv6(STACK_IP)!, 8);
      ns.set([1, 1, ...PEER_MAC], 24);
      const syn = new Uint8Array(20);
      syn.set([0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff]);
      const bases = [
        frame6({ next: 58, hopLimit: 255, l4: ns, ckOff: 2 }),
        frame6({ next: 58, l4: Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1, 9, 9]), ckOff: 2 }),
        frame6({ next: NH_UDP, l4: udp(4000, 5002, new Uint8Array(40)), ckOff: 6 }),
        frame6({ next: 6, l4: syn, ckOff: 16 }),
        frame6({
          next: 44,
          first: 44,
          ext: Uint8Array.from([NH_UDP, 0, 0, 1, 0, 0, 0, 7]),
          l4: udp(4000, 5002, new Uint8Array(64)),
        }),
        frame6({
          next: NH_UDP,
          first: NH_DSTOPTS,
          ext: Uint8Array.from([0, 0, 1, 4, 0, 0, 0, 0, NH_UDP, 0, 1, 4, 0, 0, 0, 0]),
          l4: udp(4000, 5002, new Uint8Array(8)),
          ckOff: 6,
        }),
      ];
      for (let i = 0; i < 60_000; i++) {
        let f: Uint8Array;
        if (i % 3 === 0) {
          f = new Uint8Array(14 + rnd(200));
          for (let j = 0; j < f.length; j++) f[j] = rnd(256);
          f.set(STACK_MAC, 0);
          f[12] = 0x86;
          f[13] = 0xdd;
          if (f.length > 14) f[14] = 0x60 | (f[14] & 15);
        } else {
          f = bases[rnd(bases.length)].slice();
          for (let k = 1 + rnd(4); k > 0; k--) f[14 + rnd(f.length - 14)] = rnd(256);
          if (rnd(4) === 0) f = f.subarray(0, 14 + rnd(f.length - 14));
        }
        link.injectNow(f);
      }
      assert.equal(stack.stats.drops.internal, undefined, 'no internal errors');
      // Solicitations from 2,000 different (spoofed) sources: all answered, the cache bounded.
      const nic = stack.nics.find((n) => n.name === 't6peer')!;
      for (let i = 0; i < 2000; i++)
        link.injectNow(
          frame6({ src: `fd61::1:${i.toString(16)}`, next: 58, hopLimit: 255, l4: ns, ckOff: 2 }),
        );
      assert.ok(nic.neighbors.size <= 1024, `${nic.neighbors.size} neighbour entries`);
      assert.ok((stack.stats.drops['ndp-table-full'] ?? 0) >= 2000 - 1024);
      // Still alive: a neighbour solicitation is answered.
      sent = [];
      link.inject(frame6({ next: 58, hopLimit: 255, l4: ns, ckOff: 2 }));
      await until(() => sent.some((x) => x.l4[0] === 136), 'an advertisement after the fuzz');
      l.close();
      u.close();
    });

    /** The peer's solicitation for our address: we answer it and learn the peer's MAC. */
    async function learnPeer(): Promise<void> {
      const ns = new Uint8Array(32);
      ns[0] = 135;
      ns.set(parseIpv6(STACK_IP)!, 8);
      ns.set([1, 1, ...PEER_MAC], 24);
      link.inject(frame6({ next: 58, hopLimit: 255, l4: ns, ckOff: 2 }));
      await until(() => sent.some((x) => x.l4[0] === 136), 'advertisement');
      sent = [];
    }

    it('answers a DAD probe to all nodes; unknown next header → parameter problem; packet too big lowers the path MTU', async () => {
      // DAD: source ::, to the solicited-node group, no source link-layer option.
      const probe = new Uint8Array(24);
      probe[0] = 135;
      probe.set(parseIpv6(STACK_IP)!, 8);
      link.inject(
        frame6({ src: '::', dst: solicitedNode(STACK_IP), next: 58, hopLimit: 255, l4: probe, ckOff: 2 }),
      );
      await until(() => sent.length > 0, 'the advertisement to all nodes');
      assert.equal(sent[0].dst, 'ff02::1');
      assert.deepEqual([...sent[0].dstMac], [0x33, 0x33, 0, 0, 0, 1]);
      assert.equal(sent[0].l4[4], 0x20, 'override, not solicited');
      assert.ok(checksumOk(sent[0]));
      sent = [];
      await learnPeer();
      // Next header 253 (experimental): parameter problem, code 1, pointer 6.
      link.inject(frame6({ next: 253, l4: new Uint8Array(8) }));
      await until(() => sent.length > 0, 'parameter problem');
      assert.deepEqual([...sent[0].l4.subarray(0, 2)], [4, 1]);
      assert.deepEqual([...sent[0].l4.subarray(4, 8)], [0, 0, 0, 6]);
      assert.ok(checksumOk(sent[0]));
      sent = [];
      // A 1,400-byte datagram fits the link (1500); after a packet too big of 1280 it is fragmented.
      const u = stack.udp();
      u.ipVersions = 6;
      assert.equal(u.sendTo(new Uint8Array(1400), PEER_IP, 9), 1400);
      assert.equal(sent.length, 1);
      const quoted = frame6({
        src: STACK_IP,
        dst: PEER_IP,
        next: NH_UDP,
        l4: udp(1, 9, new Uint8Array(8)),
      }).subarray(14);
      const ptb = new Uint8Array(8 + quoted.length);
      ptb.set([2, 0, 0, 0, 0, 0, 0x05, 0x00]);
      ptb.set(quoted, 8);
      link.inject(frame6({ next: 58, l4: ptb, ckOff: 2 }));
      await sleep(20);
      sent = [];
      assert.equal(u.sendTo(new Uint8Array(1400), PEER_IP, 9), 1400);
      assert.equal(sent.length, 2);
      for (const f of sent) {
        assert.equal(f.next, 44, 'a fragment header');
        assert.ok(40 + f.l4.length <= 1280, `fragment of ${40 + f.l4.length} bytes fits 1280`);
      }
      u.close();
    });

    it('drops packets with a routing header that has segments left, and unknown must-drop options', async () => {
      const r = stack.udp();
      r.ipVersions = 6;
      assert.equal(r.bind(0, 5001), 0);
      const dg = udp(4000, 5001, new Uint8Array([9]));
      const rh = Uint8Array.from([NH_UDP, 0, 0, 1, 0, 0, 0, 0]);
      link.inject(frame6({ next: NH_UDP, first: 43, ext: rh, l4: dg, ckOff: 6 }));
      const opt = Uint8Array.from([NH_UDP, 0, 0x9e, 2, 0, 0, 1, 0]);
      link.inject(frame6({ next: NH_UDP, first: NH_DSTOPTS, ext: opt, l4: dg, ckOff: 6 }));
      await sleep(20);
      assert.equal(r.recvFrom(), -EAGAIN);
      assert.equal(stack.stats.drops['ip6-routing-type0'], 1);
      assert.equal(stack.stats.drops['ip6-opt-unknown'], 1);
      // The same datagram behind a skippable option arrives.
      opt[2] = 0x1e;
      link.inject(frame6({ next: NH_UDP, first: NH_DSTOPTS, ext: opt, l4: dg, ckOff: 6 }));
      await until(() => typeof r.recvFrom(true) !== 'number', 'the datagram');
      r.close();
    });
  });
});
