/**
 * /proc/net: the network stack's view of its namespace (tcp, tcp6, udp, udp6, dev, route,
 * if_inet6, snmp ...). The attached NetworkStack (core/net/inet) renders each file; without
 * one (network: none) the socket tables have only their header line, there are no links,
 * and snmp and snmp6 show a fresh namespace's counters (all zero).
 */
import { networkStack } from '../../net/inet';
import type { SynthDir } from './synth';

/** Header lines of the tables, as Linux prints them (an empty table is just the header). */
const HEADERS: Readonly<Record<string, string>> = {
  tcp: '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n',
  tcp6: '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
  udp: '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            \n',
  udp6: '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n',
  dev: 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n',
  route:
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n',
  if_inet6: '',
  ipv6_route: '',
  raw: '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n',
  raw6: '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n',
  arp: 'IP address       HW type     Flags       HW address            Mask     Device\n',
  sockstat:
    'sockets: used 0\nTCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n',
  snmp: snmpFallback(),
  snmp6: snmp6Fallback(),
};

/** /proc/net/snmp6 of a namespace that never saw a packet: Linux 6.x's counters, all 0. */
function snmp6Fallback(): string {
  const ip6 =
    'InReceives InHdrErrors InTooBigErrors InNoRoutes InAddrErrors InUnknownProtos InTruncatedPkts ' +
    'InDiscards InDelivers OutForwDatagrams OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ' +
    'ReasmOKs ReasmFails FragOKs FragFails FragCreates InMcastPkts OutMcastPkts InOctets OutOctets ' +
    'InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ' +
    'OutTransmits';
  const types =
    'DestUnreachs PktTooBigs TimeExcds ParmProblems Echos EchoReplies GroupMembQueries GroupMembResponses ' +
    'GroupMembReductions RouterSolicits RouterAdvertisements NeighborSolicits NeighborAdvertisements ' +
    'Redirects MLDv2Reports';
  const icmp6 =
    'InMsgs InErrors OutMsgs OutErrors InCsumErrors OutRateLimitHost ' +
    types.replace(/(\S+)/g, 'In$1') +
    ' ' +
    types.replace(/(\S+)/g, 'Out$1');
  const udp = 'InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors';
  const names = [
    ...ip6.split(' ').map((n) => `Ip6${n}`),
    ...icmp6.split(' ').map((n) => `Icmp6${n}`),
    ...`${udp} IgnoredMulti MemErrors`.split(' ').map((n) => `Udp6${n}`),
    ...`${udp} MemErrors`.split(' ').map((n) => `UdpLite6${n}`),
  ];
  return names.map((n) => `${n.padEnd(32)}\t0\n`).join('');
}

/**
 * /proc/net/snmp of a namespace that never saw a packet, in Linux 6.x's format: the
 * constants (DefaultTTL 64, RtoAlgorithm 1, RtoMin 200, RtoMax 120000, MaxConn -1) and
 * zeros; no IcmpMsg lines (Linux prints only the ICMP types seen). Forwarding is 2 (not
 * forwarding): nothing is forwarded from here, whatever the host's ip_forward.
 */
function snmpFallback(): string {
  const zeros = (n: number): string => ' 0'.repeat(n);
  const udp =
    'InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors';
  const icmpTypes = [
    'DestUnreachs',
    'TimeExcds',
    'ParmProbs',
    'SrcQuenchs',
    'Redirects',
    'Echos',
    'EchoReps',
    'Timestamps',
    'TimestampReps',
    'AddrMasks',
    'AddrMaskReps',
  ];
  return (
    'Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards ' +
    'InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs ' +
    `FragFails FragCreates OutTransmits\nIp: 2 64${zeros(18)}\n` +
    `Icmp: InMsgs InErrors InCsumErrors ${icmpTypes.map((t) => `In${t}`).join(' ')} ` +
    `OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost ${icmpTypes.map((t) => `Out${t}`).join(' ')}\n` +
    `Icmp:${zeros(29)}\n` +
    'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab ' +
    `InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\nTcp: 1 200 120000 -1${zeros(11)}\n` +
    `Udp: ${udp}\nUdp:${zeros(9)}\nUdpLite: ${udp}\nUdpLite:${zeros(9)}\n`
  );
}

/** What /proc/net/NAME shows without a network stack (undefined: no such file). */
export function procNetFallback(name: string): string | undefined {
  return HEADERS[name];
}

/** Fill the /proc/net directory. */
export function buildProcNet(net: SynthDir): void {
  for (const name of Object.keys(HEADERS))
    net.file(name, () => networkStack()?.procNet?.(name) ?? HEADERS[name]);
}
