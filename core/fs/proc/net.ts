/**
 * /proc/net: the network stack's view of its namespace (tcp, tcp6, udp, udp6, dev, route,
 * if_inet6, snmp ...). The attached NetworkStack (core/net/inet) renders each file; without
 * one (network: none) the socket tables have only their header line, there are no links,
 * and snmp and snmp6 show a fresh namespace's counters (all zero).
 */
import { networkStack } from '../../net/inet';
import { renderSnmp, renderSnmp6 } from '../../net/mib';
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
  // A namespace that never saw a packet: the constants and zeros, no IcmpMsg lines.
  // Forwarding is 2 (not forwarding): nothing is forwarded from here, whatever the host's
  // ip_forward.
  snmp: renderSnmp(undefined, 0, 2),
  snmp6: renderSnmp6(undefined),
};

/** What /proc/net/NAME shows without a network stack (undefined: no such file). */
export function procNetFallback(name: string): string | undefined {
  return HEADERS[name];
}

/** Fill the /proc/net directory. */
export function buildProcNet(net: SynthDir): void {
  for (const name of Object.keys(HEADERS))
    net.file(name, () => networkStack()?.procNet?.(name) ?? HEADERS[name]);
}
