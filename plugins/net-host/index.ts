/**
 * The net-host network plugin: the sandbox's AF_INET/AF_INET6 (and NETLINK_ROUTE) sockets
 * are host sockets owned by the sentry (gVisor's `--network=host`). Config block
 * (`net-host:`): see configSchema. Selected with `network: host` / `--network=host`.
 */
import { NetworkStack, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { HostStack, type HostStackOptions } from './src/stack';

export { HostStack, type HostStackOptions } from './src/stack';
export { HostSocket } from './src/socket';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    netns: {
      type: 'string',
      description:
        'Network namespace for the sandbox sockets: a path to a netns file (e.g. /var/run/netns/NAME or an OCI linux.namespaces network path), "new" for a fresh namespace with only loopback, "loopback" for the same or, where runsc may not create one, no sockets at all (what `network: none` uses), or unset for the namespace runsc runs in.',
    },
    raw: {
      type: 'boolean',
      description:
        'Let root in the sandbox open raw ICMP sockets (SOCK_RAW with IPPROTO_ICMP/IPPROTO_ICMPV6; e.g. busybox ping) as host raw sockets, like gVisor --net-raw. Other raw protocols stay EPERM.',
    },
  },
  additionalProperties: false,
};

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'network',
  name: 'net-host',
  version: '0.1.0',
  description: 'AF_INET/AF_INET6 sockets backed by host sockets owned by the sentry (like gVisor hostinet).',
  configSchema,
  register(container, options) {
    const o: HostStackOptions = {};
    if (typeof options.netns === 'string') o.netns = options.netns;
    if (options.raw === true) o.raw = true;
    container.registerInstance(NetworkStack, new HostStack(o));
  },
};

export default manifest;
