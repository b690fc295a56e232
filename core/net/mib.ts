/**
 * A network stack's SNMP MIB counters (RFC 2011 IP and ICMP, RFC 4022 TCP, RFC 4113 UDP) as
 * Linux keeps them per network namespace, and /proc/net/snmp rendered from them in Linux
 * 6.x's format. Plain numbers: the hot paths only increment a field. net-netstack keeps
 * them; /proc/net without a stack shows the rendering of an all-zero set.
 *
 * snmp6 has the IPv6 side: Ip6, Icmp6, Udp6 (datagrams of IPv6 sockets to IPv6 peers).
 *
 * What is counted where follows Linux (net/ipv4/ip_input.c, icmp.c, udp.c, tcp_ipv4.c,
 * tcp.c's tcp_set_state): Ip and Icmp count IPv4 only, Udp counts IPv4 datagrams (also
 * those of dual-stack sockets), Tcp counts both IP versions (Linux's TCP MIB is shared).
 * CurrEstab is not a counter: the caller passes the number of endpoints in ESTABLISHED or
 * CLOSE_WAIT. Counters for things the stack never does (forwarding, output discards,
 * rate limiting, UDP-Lite, send buffer errors, memory errors) stay 0.
 */

export interface Mib {
  ipInReceives: number;
  ipInHdrErrors: number;
  ipInAddrErrors: number;
  ipInUnknownProtos: number;
  ipInDiscards: number;
  ipInDelivers: number;
  ipOutRequests: number;
  ipOutNoRoutes: number;
  ipReasmReqds: number;
  ipReasmOKs: number;
  ipFragOKs: number;
  ipFragFails: number;
  ipFragCreates: number;
  ipOutTransmits: number;
  icmpInMsgs: number;
  icmpInErrors: number;
  icmpInCsumErrors: number;
  icmpOutMsgs: number;
  /** Messages received / sent by ICMP type (IcmpMsg InType<N> / OutType<N>). */
  icmpInType: number[];
  icmpOutType: number[];
  tcpActiveOpens: number;
  tcpPassiveOpens: number;
  tcpAttemptFails: number;
  tcpEstabResets: number;
  tcpInSegs: number;
  tcpOutSegs: number;
  tcpRetransSegs: number;
  tcpInErrs: number;
  tcpOutRsts: number;
  tcpInCsumErrors: number;
  udpInDatagrams: number;
  udpNoPorts: number;
  udpInErrors: number;
  udpOutDatagrams: number;
  udpRcvbufErrors: number;
  udpInCsumErrors: number;
  ip6InReceives: number;
  ip6InHdrErrors: number;
  ip6InAddrErrors: number;
  ip6InUnknownProtos: number;
  ip6InDelivers: number;
  ip6OutRequests: number;
  ip6OutNoRoutes: number;
  ip6ReasmReqds: number;
  ip6ReasmOKs: number;
  ip6FragOKs: number;
  ip6FragCreates: number;
  ip6InMcastPkts: number;
  ip6OutMcastPkts: number;
  ip6InOctets: number;
  ip6OutOctets: number;
  ip6InMcastOctets: number;
  ip6OutMcastOctets: number;
  /** Packets received by ECN codepoint (the traffic class's low 2 bits): Not-ECT, ECT(1), ECT(0), CE. */
  ip6InEcn: number[];
  ip6OutTransmits: number;
  icmp6InMsgs: number;
  icmp6InErrors: number;
  icmp6InCsumErrors: number;
  icmp6OutMsgs: number;
  icmp6InType: number[];
  icmp6OutType: number[];
  udp6InDatagrams: number;
  udp6NoPorts: number;
  udp6InErrors: number;
  udp6OutDatagrams: number;
  udp6RcvbufErrors: number;
  udp6InCsumErrors: number;
}

export function newMib(): Mib {
  return {
    ipInReceives: 0,
    ipInHdrErrors: 0,
    ipInAddrErrors: 0,
    ipInUnknownProtos: 0,
    ipInDiscards: 0,
    ipInDelivers: 0,
    ipOutRequests: 0,
    ipOutNoRoutes: 0,
    ipReasmReqds: 0,
    ipReasmOKs: 0,
    ipFragOKs: 0,
    ipFragFails: 0,
    ipFragCreates: 0,
    ipOutTransmits: 0,
    icmpInMsgs: 0,
    icmpInErrors: 0,
    icmpInCsumErrors: 0,
    icmpOutMsgs: 0,
    icmpInType: new Array<number>(256).fill(0),
    icmpOutType: new Array<number>(256).fill(0),
    tcpActiveOpens: 0,
    tcpPassiveOpens: 0,
    tcpAttemptFails: 0,
    tcpEstabResets: 0,
    tcpInSegs: 0,
    tcpOutSegs: 0,
    tcpRetransSegs: 0,
    tcpInErrs: 0,
    tcpOutRsts: 0,
    tcpInCsumErrors: 0,
    udpInDatagrams: 0,
    udpNoPorts: 0,
    udpInErrors: 0,
    udpOutDatagrams: 0,
    udpRcvbufErrors: 0,
    udpInCsumErrors: 0,
    ip6InReceives: 0,
    ip6InHdrErrors: 0,
    ip6InAddrErrors: 0,
    ip6InUnknownProtos: 0,
    ip6InDelivers: 0,
    ip6OutRequests: 0,
    ip6OutNoRoutes: 0,
    ip6ReasmReqds: 0,
    ip6ReasmOKs: 0,
    ip6FragOKs: 0,
    ip6FragCreates: 0,
    ip6InMcastPkts: 0,
    ip6OutMcastPkts: 0,
    ip6InOctets: 0,
    ip6OutOctets: 0,
    ip6InMcastOctets: 0,
    ip6OutMcastOctets: 0,
    ip6InEcn: [0, 0, 0, 0],
    ip6OutTransmits: 0,
    icmp6InMsgs: 0,
    icmp6InErrors: 0,
    icmp6InCsumErrors: 0,
    icmp6OutMsgs: 0,
    icmp6InType: new Array<number>(256).fill(0),
    icmp6OutType: new Array<number>(256).fill(0),
    udp6InDatagrams: 0,
    udp6NoPorts: 0,
    udp6InErrors: 0,
    udp6OutDatagrams: 0,
    udp6RcvbufErrors: 0,
    udp6InCsumErrors: 0,
  };
}

/** The Icmp line's per-type fields: [name, ICMP type]. */
const ICMP_TYPES: ReadonlyArray<readonly [string, number]> = [
  ['DestUnreachs', 3],
  ['TimeExcds', 11],
  ['ParmProbs', 12],
  ['SrcQuenchs', 4],
  ['Redirects', 5],
  ['Echos', 8],
  ['EchoReps', 0],
  ['Timestamps', 13],
  ['TimestampReps', 14],
  ['AddrMasks', 17],
  ['AddrMaskReps', 18],
];

/** A "Name: f1 f2 ...\nName: v1 v2 ...\n" pair. */
function pair(name: string, fields: ReadonlyArray<readonly [string, number]>): string {
  return `${name}: ${fields.map((f) => f[0]).join(' ')}\n${name}: ${fields.map((f) => f[1]).join(' ')}\n`;
}

/**
 * /proc/net/snmp. `forwarding` is the RFC 2011 ipForwarding value (1 forwarding, 2 not);
 * the IcmpMsg lines list only the types seen, in and out, 16 to a line pair, as Linux.
 */
export function renderSnmp(m: Mib | undefined, currEstab: number, forwarding: 1 | 2): string {
  const z = m ?? newMib();
  let out = pair('Ip', [
    ['Forwarding', forwarding],
    ['DefaultTTL', 64],
    ['InReceives', z.ipInReceives],
    ['InHdrErrors', z.ipInHdrErrors],
    ['InAddrErrors', z.ipInAddrErrors],
    ['ForwDatagrams', 0],
    ['InUnknownProtos', z.ipInUnknownProtos],
    ['InDiscards', z.ipInDiscards],
    ['InDelivers', z.ipInDelivers],
    ['OutRequests', z.ipOutRequests],
    ['OutDiscards', 0],
    ['OutNoRoutes', z.ipOutNoRoutes],
    ['ReasmTimeout', 0],
    ['ReasmReqds', z.ipReasmReqds],
    ['ReasmOKs', z.ipReasmOKs],
    ['ReasmFails', 0],
    ['FragOKs', z.ipFragOKs],
    ['FragFails', z.ipFragFails],
    ['FragCreates', z.ipFragCreates],
    ['OutTransmits', z.ipOutTransmits],
  ]);
  out += pair('Icmp', [
    ['InMsgs', z.icmpInMsgs],
    ['InErrors', z.icmpInErrors],
    ['InCsumErrors', z.icmpInCsumErrors],
    ...ICMP_TYPES.map(([n, t]) => [`In${n}`, z.icmpInType[t]] as const),
    ['OutMsgs', z.icmpOutMsgs],
    ['OutErrors', 0],
    ['OutRateLimitGlobal', 0],
    ['OutRateLimitHost', 0],
    ...ICMP_TYPES.map(([n, t]) => [`Out${n}`, z.icmpOutType[t]] as const),
  ]);
  const seen: Array<readonly [string, number]> = [];
  for (let t = 0; t < 256; t++) if (z.icmpInType[t]) seen.push([`InType${t}`, z.icmpInType[t]]);
  for (let t = 0; t < 256; t++) if (z.icmpOutType[t]) seen.push([`OutType${t}`, z.icmpOutType[t]]);
  for (let i = 0; i < seen.length; i += 16) out += pair('IcmpMsg', seen.slice(i, i + 16));
  out += pair('Tcp', [
    ['RtoAlgorithm', 1],
    ['RtoMin', 200],
    ['RtoMax', 120000],
    ['MaxConn', -1],
    ['ActiveOpens', z.tcpActiveOpens],
    ['PassiveOpens', z.tcpPassiveOpens],
    ['AttemptFails', z.tcpAttemptFails],
    ['EstabResets', z.tcpEstabResets],
    ['CurrEstab', currEstab],
    ['InSegs', z.tcpInSegs],
    ['OutSegs', z.tcpOutSegs],
    ['RetransSegs', z.tcpRetransSegs],
    ['InErrs', z.tcpInErrs],
    ['OutRsts', z.tcpOutRsts],
    ['InCsumErrors', z.tcpInCsumErrors],
  ]);
  const udp = (name: string, u: Mib): string =>
    pair(name, [
      ['InDatagrams', u.udpInDatagrams],
      ['NoPorts', u.udpNoPorts],
      ['InErrors', u.udpInErrors],
      ['OutDatagrams', u.udpOutDatagrams],
      ['RcvbufErrors', u.udpRcvbufErrors],
      ['SndbufErrors', 0],
      ['InCsumErrors', u.udpInCsumErrors],
      ['IgnoredMulti', 0],
      ['MemErrors', 0],
    ]);
  return out + udp('Udp', z) + udp('UdpLite', newMib());
}

/** The ICMPv6 types with a named field in snmp6 (Icmp6In<name> / Icmp6Out<name>). */
const ICMP6_TYPES: ReadonlyArray<readonly [string, number]> = [
  ['DestUnreachs', 1],
  ['PktTooBigs', 2],
  ['TimeExcds', 3],
  ['ParmProblems', 4],
  ['Echos', 128],
  ['EchoReplies', 129],
  ['GroupMembQueries', 130],
  ['GroupMembResponses', 131],
  ['GroupMembReductions', 132],
  ['RouterSolicits', 133],
  ['RouterAdvertisements', 134],
  ['NeighborSolicits', 135],
  ['NeighborAdvertisements', 136],
  ['Redirects', 137],
  ['MLDv2Reports', 143],
];

/**
 * /proc/net/snmp6: one "name<padding to 32>\tvalue" line per counter, Linux 6.x's names
 * and order; after the named ICMPv6 fields, Icmp6InType<N> / Icmp6OutType<N> for each type
 * seen (In then Out), as Linux.
 */
export function renderSnmp6(m: Mib | undefined): string {
  const z = m ?? newMib();
  const rows: Array<readonly [string, number]> = [
    ['Ip6InReceives', z.ip6InReceives],
    ['Ip6InHdrErrors', z.ip6InHdrErrors],
    ['Ip6InTooBigErrors', 0],
    ['Ip6InNoRoutes', 0],
    ['Ip6InAddrErrors', z.ip6InAddrErrors],
    ['Ip6InUnknownProtos', z.ip6InUnknownProtos],
    ['Ip6InTruncatedPkts', 0],
    ['Ip6InDiscards', 0],
    ['Ip6InDelivers', z.ip6InDelivers],
    ['Ip6OutForwDatagrams', 0],
    ['Ip6OutRequests', z.ip6OutRequests],
    ['Ip6OutDiscards', 0],
    ['Ip6OutNoRoutes', z.ip6OutNoRoutes],
    ['Ip6ReasmTimeout', 0],
    ['Ip6ReasmReqds', z.ip6ReasmReqds],
    ['Ip6ReasmOKs', z.ip6ReasmOKs],
    ['Ip6ReasmFails', 0],
    ['Ip6FragOKs', z.ip6FragOKs],
    ['Ip6FragFails', 0],
    ['Ip6FragCreates', z.ip6FragCreates],
    ['Ip6InMcastPkts', z.ip6InMcastPkts],
    ['Ip6OutMcastPkts', z.ip6OutMcastPkts],
    ['Ip6InOctets', z.ip6InOctets],
    ['Ip6OutOctets', z.ip6OutOctets],
    ['Ip6InMcastOctets', z.ip6InMcastOctets],
    ['Ip6OutMcastOctets', z.ip6OutMcastOctets],
    ['Ip6InBcastOctets', 0],
    ['Ip6OutBcastOctets', 0],
    ['Ip6InNoECTPkts', z.ip6InEcn[0]],
    ['Ip6InECT1Pkts', z.ip6InEcn[1]],
    ['Ip6InECT0Pkts', z.ip6InEcn[2]],
    ['Ip6InCEPkts', z.ip6InEcn[3]],
    ['Ip6OutTransmits', z.ip6OutTransmits],
    ['Icmp6InMsgs', z.icmp6InMsgs],
    ['Icmp6InErrors', z.icmp6InErrors],
    ['Icmp6OutMsgs', z.icmp6OutMsgs],
    ['Icmp6OutErrors', 0],
    ['Icmp6InCsumErrors', z.icmp6InCsumErrors],
    ['Icmp6OutRateLimitHost', 0],
    ...ICMP6_TYPES.map(([n, t]) => [`Icmp6In${n}`, z.icmp6InType[t]] as const),
    ...ICMP6_TYPES.map(([n, t]) => [`Icmp6Out${n}`, z.icmp6OutType[t]] as const),
  ];
  for (let t = 0; t < 256; t++) if (z.icmp6InType[t]) rows.push([`Icmp6InType${t}`, z.icmp6InType[t]]);
  for (let t = 0; t < 256; t++) if (z.icmp6OutType[t]) rows.push([`Icmp6OutType${t}`, z.icmp6OutType[t]]);
  rows.push(
    ['Udp6InDatagrams', z.udp6InDatagrams],
    ['Udp6NoPorts', z.udp6NoPorts],
    ['Udp6InErrors', z.udp6InErrors],
    ['Udp6OutDatagrams', z.udp6OutDatagrams],
    ['Udp6RcvbufErrors', z.udp6RcvbufErrors],
    ['Udp6SndbufErrors', 0],
    ['Udp6InCsumErrors', z.udp6InCsumErrors],
    ['Udp6IgnoredMulti', 0],
    ['Udp6MemErrors', 0],
  );
  for (const n of ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors'])
    rows.push([`UdpLite6${n}`, 0]);
  rows.push(['UdpLite6InCsumErrors', 0], ['UdpLite6MemErrors', 0]);
  return rows.map(([n, v]) => `${n.padEnd(32)}\t${v}\n`).join('');
}
