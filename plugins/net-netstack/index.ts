/**
 * net-netstack: a user-space TCP/IP stack in TypeScript (gVisor's netstack design): link
 * endpoints (loopback, a non-blocking TAP fd; AF_PACKET later), Ethernet, ARP, IPv4 with
 * fragmentation and reassembly, ICMP echo and errors, UDP and TCP.
 *
 * The stack is driven through its own endpoint API (Stack, TcpEndpoint, UdpEndpoint;
 * non-blocking, readiness callbacks, Linux errnos); src/adapter adapts it to the core's
 * NetworkStack interface, so `network: netstack` serves the sandbox's AF_INET sockets
 * (see docs/netstack.md).
 */
import { NetworkStack, type PluginManifest } from '../../core/plugins';
import { NetstackNetwork } from './src/adapter/network';

export { Stack, Nic, HEADROOM, type StackOptions, type StackCounters, type StackStats } from './src/stack';
export { TcpEndpoint, TcpState, DEFAULT_TCP_CONFIG, type TcpConfig } from './src/tcp/endpoint';
export { UdpEndpoint, type UdpDatagram } from './src/udp-endpoint';
export { LoopbackLink } from './src/link/loopback';
export { ChannelLink } from './src/link/channel';
export { TapLink, PacketLink } from './src/link/tap';
export type { LinkEndpoint, LinkStats } from './src/link/link';
export * as errno from './src/errno';
export { ipv4, formatIpv4, parseMac, formatMac } from './src/addr';
export { NetstackNetwork, type NetstackOptions } from './src/adapter/network';
export { TcpSocket, UdpSocket } from './src/adapter/socket';

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'network',
  name: 'netstack',
  version: '0.1.0',
  description:
    "A user-space TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP): the sandbox's AF_INET sockets are served by TypeScript in the sentry (gVisor's netstack). Loopback, and the interfaces of a network namespace (AF_PACKET).",
  configSchema: {
    type: 'object',
    properties: {
      netns: {
        type: 'string',
        description:
          'A network namespace file (/var/run/netns/NAME or an OCI linux.namespaces network path): its interfaces\' IPv4 addresses, routes and MACs move into the stack, which reaches them through AF_PACKET sockets. "new": loopback only. Unset: the OCI spec\'s linux.namespaces network entry under runsc create/run (a path: that namespace; no path or no entry: loopback only, as gVisor), loopback only under runsc do.',
      },
    },
    additionalProperties: false,
  },
  register(container, options) {
    const netns = typeof options.netns === 'string' && options.netns !== '' ? options.netns : undefined;
    container.registerInstance(NetworkStack, new NetstackNetwork({ netns }));
  },
};

export default manifest;
