/**
 * net-netstack: a user-space TCP/IP stack in TypeScript (gVisor's netstack design): link
 * endpoints (loopback, a non-blocking TAP fd; AF_PACKET later), Ethernet, ARP, IPv4 with
 * fragmentation and reassembly, ICMP echo and errors, UDP and TCP.
 *
 * This slice is built and tested standalone: the stack is driven through its own endpoint
 * API (Stack, TcpEndpoint, UdpEndpoint; non-blocking, readiness callbacks, Linux errnos).
 * The manifest registers nothing the core consumes yet; the adapter to the core's
 * NetworkStack interface comes with the socket layer (see docs/netstack.md).
 */
import type { PluginManifest } from '../../core/plugins';

export { Stack, Nic, HEADROOM, type StackOptions, type StackCounters, type StackStats } from './src/stack';
export { TcpEndpoint, TcpState, DEFAULT_TCP_CONFIG, type TcpConfig } from './src/tcp/endpoint';
export { UdpEndpoint, type UdpDatagram } from './src/udp-endpoint';
export { LoopbackLink } from './src/link/loopback';
export { ChannelLink } from './src/link/channel';
export { TapLink, PacketLink } from './src/link/tap';
export type { LinkEndpoint, LinkStats } from './src/link/link';
export * as errno from './src/errno';
export { ipv4, formatIpv4, parseMac, formatMac } from './src/addr';

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'network',
  name: 'netstack',
  version: '0.1.0',
  description:
    "A user-space TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP) over TAP or loopback links. Standalone for now: it registers nothing the core consumes yet; the NetworkStack adapter follows the core's socket layer.",
  register() {
    // Nothing yet: the core's NetworkStack interface is still being defined (issue 8).
  },
};

export default manifest;
