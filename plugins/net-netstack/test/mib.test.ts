/**
 * The stack's MIB counters (/proc/net/snmp) for what a loopback workload cannot produce:
 * malformed, misaddressed and fragmented packets injected on an Ethernet link, and IPv4
 * fragmentation on output. Each expectation is what Linux counts for that packet (ip_rcv's
 * header checks, ip_route_input without forwarding, ip_local_deliver's unknown protocol,
 * udp_rcv / tcp_v4_rcv / icmp_rcv checksum errors, ip_defrag, ip_fragment). The rendered
 * files' field names are compared with this host's /proc/net/snmp and snmp6 (Linux 6.x).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { ipv4 } from '../src/addr';
import { ETH_HLEN, ETHERTYPE_IPV4, writeEthernet } from '../src/ethernet';
import { IPV4_HLEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP, writeIpv4Header } from '../src/ipv4';
import { ChannelLink } from '../src/link/channel';
import { newMib, renderSnmp, renderSnmp6, type Mib } from '../../../core/net/mib';
import { Stack } from '../src/stack';
import { writeUdp } from '../src/udp';

const STACK_MAC = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const PEER_MAC = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const PEER = ipv4('10.9.0.1');
const US = ipv4('10.9.0.2');

/** An Ethernet frame to the stack holding an IPv4 packet with `payload`. */
function frame(
  proto: number,
  payload: Uint8Array,
  o: { dst?: number; mf?: boolean; fragOff?: number; id?: number } = {},
): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + IPV4_HLEN + payload.length);
  writeEthernet(f, STACK_MAC, PEER_MAC, ETHERTYPE_IPV4);
  writeIpv4Header(f, ETH_HLEN, {
    src: PEER,
    dst: o.dst ?? US,
    proto,
    ttl: 64,
    id: o.id ?? 1,
    mf: o.mf,
    fragOff: o.fragOff,
    payloadLen: payload.length,
  });
  f.set(payload, ETH_HLEN + IPV4_HLEN);
  return f;
}

/** The counters that changed between two snapshots (per-type ICMP arrays as InType<N>). */
function moved(a: Mib, b: Mib): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b) as (keyof Mib)[]) {
    const x = a[k];
    const y = b[k];
    if (Array.isArray(x) && Array.isArray(y)) {
      y.forEach((v, t) => {
        if (v !== x[t]) out[`${k === 'icmpInType' ? 'In' : 'Out'}Type${t}`] = v - x[t];
      });
    } else if (x !== y) out[k] = (y as number) - (x as number);
  }
  return out;
}

function snap(m: Mib): Mib {
  return { ...m, icmpInType: [...m.icmpInType], icmpOutType: [...m.icmpOutType] };
}

describe('netstack MIB counters (/proc/net/snmp)', () => {
  let stack: Stack;
  let link: ChannelLink;

  beforeEach(() => {
    stack = new Stack();
    link = new ChannelLink('tmib', STACK_MAC);
    stack.addNic(link, { addresses: ['10.9.0.2/24'] });
  });
  afterEach(() => stack.close());

  function inject(f: Uint8Array): Record<string, number> {
    const before = snap(stack.mib);
    link.injectNow(f);
    return moved(before, stack.mib);
  }

  it('a truncated IPv4 header: InReceives and InHdrErrors', () => {
    const f = frame(PROTO_UDP, new Uint8Array(8)).subarray(0, ETH_HLEN + 12);
    assert.deepEqual(inject(f), { ipInReceives: 1, ipInHdrErrors: 1 });
  });

  it('a packet for an address not ours (no forwarding): InAddrErrors', () => {
    assert.deepEqual(inject(frame(PROTO_UDP, new Uint8Array(8), { dst: ipv4('10.9.0.77') })), {
      ipInReceives: 1,
      ipInAddrErrors: 1,
    });
  });

  it('an unknown protocol: InUnknownProtos and an ICMP protocol unreachable out', () => {
    assert.deepEqual(inject(frame(99, new Uint8Array(8))), {
      ipInReceives: 1,
      ipInUnknownProtos: 1,
      icmpOutMsgs: 1,
      OutType3: 1,
      ipOutRequests: 1,
      ipOutTransmits: 1,
    });
  });

  it('bad UDP, TCP and ICMP checksums: the protocol InErrors and InCsumErrors', () => {
    const udp = new Uint8Array(12);
    writeUdp(udp, 0, PEER, US, 1000, 2000, Uint8Array.of(1, 2, 3, 4));
    udp[6] ^= 0x55;
    assert.deepEqual(inject(frame(PROTO_UDP, udp)), {
      ipInReceives: 1,
      ipInDelivers: 1,
      udpInErrors: 1,
      udpInCsumErrors: 1,
    });
    const tcp = new Uint8Array(20);
    tcp[12] = 5 << 4;
    tcp[16] = 0x12; // a checksum that cannot be right for this header
    assert.deepEqual(inject(frame(PROTO_TCP, tcp)), {
      ipInReceives: 1,
      ipInDelivers: 1,
      tcpInSegs: 1,
      tcpInErrs: 1,
      tcpInCsumErrors: 1,
    });
    const icmp = Uint8Array.of(8, 0, 0xde, 0xad, 0, 1, 0, 1);
    assert.deepEqual(inject(frame(PROTO_ICMP, icmp)), {
      ipInReceives: 1,
      ipInDelivers: 1,
      icmpInMsgs: 1,
      icmpInErrors: 1,
      icmpInCsumErrors: 1,
    });
  });

  it('a UDP datagram in two fragments: ReasmReqds 2, ReasmOKs 1, delivered once; read: InDatagrams', () => {
    const u = stack.udp();
    assert.equal(u.bind(0, 4000), 0);
    const payload = new Uint8Array(40).fill(7);
    const dgram = new Uint8Array(8 + payload.length);
    writeUdp(dgram, 0, PEER, US, 1000, 4000, payload);
    const a = inject(frame(PROTO_UDP, dgram.subarray(0, 24), { mf: true, id: 9 }));
    assert.deepEqual(a, { ipInReceives: 1, ipReasmReqds: 1 });
    const b = inject(frame(PROTO_UDP, dgram.subarray(24), { fragOff: 24, id: 9 }));
    assert.deepEqual(b, { ipInReceives: 1, ipReasmReqds: 1, ipReasmOKs: 1, ipInDelivers: 1 });
    const before = snap(stack.mib);
    const d = u.recvFrom();
    assert.notEqual(typeof d, 'number');
    assert.deepEqual(moved(before, stack.mib), { udpInDatagrams: 1 });
    u.close();
  });

  it('a datagram to a closed port: NoPorts and an ICMP port unreachable out', () => {
    const dgram = new Uint8Array(12);
    writeUdp(dgram, 0, PEER, US, 1000, 4001, Uint8Array.of(1, 2, 3, 4));
    assert.deepEqual(inject(frame(PROTO_UDP, dgram)), {
      ipInReceives: 1,
      ipInDelivers: 1,
      udpNoPorts: 1,
      icmpOutMsgs: 1,
      OutType3: 1,
      ipOutRequests: 1,
      ipOutTransmits: 1,
    });
  });

  it('a 3,000-byte datagram out of a 1,500 MTU link: OutRequests 1, FragOKs 1, FragCreates and OutTransmits 3', () => {
    const u = stack.udp();
    const before = snap(stack.mib);
    assert.equal(u.sendTo(new Uint8Array(3000), PEER, 5000), 3000);
    assert.deepEqual(moved(before, stack.mib), {
      ipOutRequests: 1,
      ipFragOKs: 1,
      ipFragCreates: 3,
      ipOutTransmits: 3,
      udpOutDatagrams: 1,
    });
    u.close();
  });

  it('no route: OutNoRoutes, and the send fails', () => {
    const u = stack.udp();
    const before = snap(stack.mib);
    assert.ok(u.sendTo(new Uint8Array(10), ipv4('192.0.2.1'), 5000) < 0);
    assert.deepEqual(moved(before, stack.mib), { ipOutNoRoutes: 1 });
    u.close();
  });

  it("renders Linux 6.x's field-name lines; IcmpMsg lists only the types seen, 16 to a line pair", function () {
    const host = fs.readFileSync('/proc/net/snmp', 'utf8');
    if (!/OutTransmits/.test(host)) this.skip(); // not Linux 6.3+: other Ip fields
    const names = (t: string): string[] =>
      t.split('\n').filter((l, i) => i % 2 === 0 && l && !l.startsWith('IcmpMsg'));
    assert.deepEqual(names(renderSnmp(newMib(), 0, 2)), names(host));
    const m = newMib();
    assert.doesNotMatch(renderSnmp(m, 0, 2), /IcmpMsg/);
    m.icmpInType[3] = 2;
    m.icmpOutType[0] = 5;
    assert.match(renderSnmp(m, 0, 2), /\nIcmpMsg: InType3 OutType0\nIcmpMsg: 2 5\nTcp: /);
    for (let t = 0; t < 20; t++) m.icmpInType[t] = t + 1;
    const lines = renderSnmp(m, 0, 2)
      .split('\n')
      .filter((l) => l.startsWith('IcmpMsg'));
    assert.equal(lines.length, 4);
    assert.equal(lines[0].split(' ').length, 17);
    assert.equal(lines[2], 'IcmpMsg: InType16 InType17 InType18 InType19 OutType0');
  });

  it("renders snmp6 with Linux 6.x's names in order; Icmp6 types seen get Icmp6InType<N> lines", function () {
    const host = fs.readFileSync('/proc/net/snmp6', 'utf8');
    if (!/Ip6OutTransmits/.test(host)) this.skip(); // not Linux 6.3+
    const names = (t: string): string[] =>
      t
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[0])
        .filter((n) => !/Type\d+$/.test(n));
    assert.deepEqual(names(renderSnmp6(newMib())), names(host));
    const m = newMib();
    m.icmp6InType[135] = 4;
    m.icmp6OutType[1] = 1;
    const text = renderSnmp6(m);
    assert.match(text, /\nIcmp6InNeighborSolicits {9}\t4\n/);
    assert.match(text, /\nIcmp6InType135 {18}\t4\nIcmp6OutType1 {19}\t1\nUdp6InDatagrams/);
  });
});
