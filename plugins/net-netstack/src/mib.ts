/**
 * The stack's SNMP MIB counters (RFC 2011 IP and ICMP, RFC 4022 TCP, RFC 4113 UDP) as Linux
 * keeps them per network namespace, and /proc/net/snmp rendered from them in Linux 6.x's
 * format. Plain numbers: the hot paths only increment a field.
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
