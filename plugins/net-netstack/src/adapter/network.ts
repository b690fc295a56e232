/**
 * The NetworkStack the core attaches for `network: netstack`: AF_INET TCP and UDP sockets
 * served by this plugin's user-space stack (see socket.ts), interface ioctls (SIOCGIF*)
 * and /proc/net/{tcp,udp,dev,route,arp} from the stack's own state.
 *
 * Interfaces: loopback always; with `netns`, the namespace's interfaces (see
 * takeInterfaces). AF_NETLINK NETLINK_ROUTE answers link/address/route dumps from the
 * stack (netlink.ts). AF_INET6 is not served (socket(2) gives EAFNOSUPPORT, as for any
 * family nobody registered).
 */
import {
  EADDRNOTAVAIL,
  EINVAL,
  ENODEV,
  ENOTTY,
  EPERM,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  EACCES,
} from '../../../../core/abi/errno';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { TaskApi } from '../../../../core/kernel/api';
import type { NetworkInitContext, NetworkStack } from '../../../../core/plugins/network';
import { SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, SocketFile } from '../../../../core/net/socket';
import type { FileTask } from '../../../../core/vfs/task';
import { formatIpv4, formatMac, ipv6Bytes, isLinkLocal6, mapV4, prefixMask, type IpAddr } from '../addr';
import { PacketLink } from '../link/tap';
import { Stack, type Nic, type StackOptions } from '../stack';
import { TcpState, type TcpEndpoint } from '../tcp/endpoint';
import { poolStats } from '../tcp/pool';
import { renderSnmp, renderSnmp6 } from '../../../../core/net/mib';
import { AF_NETLINK, NetlinkSocket } from './netlink';
import { AF_INET, AF_INET6, formatSockaddrIn } from './sockaddr';
import { InetSocket, IPPROTO_TCP, IPPROTO_UDP, TcpSocket, UdpSocket, type NetstackOwner } from './socket';

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

const SIOCGIFNAME = 0x8910,
  SIOCGIFCONF = 0x8912,
  SIOCGIFFLAGS = 0x8913,
  SIOCGIFADDR = 0x8915,
  SIOCGIFDSTADDR = 0x8917,
  SIOCGIFBRDADDR = 0x8919,
  SIOCGIFNETMASK = 0x891b,
  SIOCGIFMETRIC = 0x891d,
  SIOCGIFMTU = 0x8921,
  SIOCGIFHWADDR = 0x8927,
  SIOCGIFINDEX = 0x8933,
  SIOCGIFTXQLEN = 0x8942;
/** Requests that change interfaces or routes: the stack's configuration belongs to runsc. */
const NET_ADMIN_IOCTLS = new Set([
  0x890b, 0x890c, 0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8931, 0x8932,
  0x8936, 0x8943,
]);
const IFREQ_SIZE = 40;
const IFF_UP = 0x1,
  IFF_BROADCAST = 0x2,
  IFF_LOOPBACK = 0x8,
  IFF_RUNNING = 0x40,
  IFF_MULTICAST = 0x1000;
const ARPHRD_ETHER = 1,
  ARPHRD_LOOPBACK = 772;

export interface NetstackOptions {
  stack?: StackOptions;
  /**
   * A network namespace file (/var/run/netns/NAME, an OCI linux.namespaces network path):
   * its interfaces' IPv4 addresses, routes and MACs move into the stack (gVisor's way) and
   * the stack reaches the interfaces through AF_PACKET sockets made in that namespace.
   */
  netns?: string;
}

/** An interface of the namespace as `ip -j -4 addr` shows it. */
interface IpLink {
  ifindex: number;
  /** The veth peer's index (in its own namespace). */
  link_index?: number;
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** A route as `ip -j -4 route` shows it. */
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
}

/** Runs `ip ARGS` in the network namespace `netns`; its stdout, or an Error naming the command. */
function ipIn(netns: string, args: string[]): string {
  const argv = [`--net=${netns}`, '/usr/sbin/ip', ...args];
  const r = spawnSync('/usr/bin/nsenter', argv, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`netstack: nsenter ${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`netstack: nsenter ${argv.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The magic number statfs(2) gives for namespace files (nsfs). */
const NSFS_MAGIC = 0x6e736673;

/** Throws an Error naming `ns` unless it is a namespace file (nsenter says whether it is a network one). */
function checkNetnsFile(ns: string): void {
  let type: number;
  try {
    type = fs.statfsSync(ns).type;
  } catch (e) {
    throw new Error(`netstack: cannot open the network namespace ${ns}: ${(e as Error).message}`);
  }
  if (type !== NSFS_MAGIC) throw new Error(`netstack: ${ns} is not a network namespace (not an nsfs file)`);
}

export class NetstackNetwork implements NetworkStack, NetstackOwner {
  readonly name = 'netstack';
  readonly families = [AF_INET, AF_INET6, AF_NETLINK] as const;
  readonly unprivilegedPortStart = 1024;
  private st: Stack | null = null;
  private readonly live = new Set<InetSocket>();
  /** NIC index -> the veth peer's index (rtnetlink's IFLA_LINK: `ip link` shows "@ifN"). */
  private readonly peerIndex = new Map<number, number>();
  private log: NetworkInitContext['log'];
  private down = false;
  /** Interfaces taken from a namespace, to give back at shutdown. */
  private readonly taken: { netns: string; ifname: string; addrs: string[]; routes: IpRoute[] }[] = [];

  constructor(private readonly opts: NetstackOptions = {}) {}

  get stack(): Stack {
    if (!this.st) throw new Error('netstack: the stack is not initialized (init() was not called)');
    return this.st;
  }

  /** Sockets the sandbox holds open (tests count them). */
  get openSockets(): number {
    return this.live.size;
  }

  /**
   * Builds the stack. Its interfaces follow the namespace it is given, as gVisor's
   * `--network=sandbox` does: the plugin's own `netns` option if set, else the runtime's
   * (ctx.netns: the OCI spec's `linux.namespaces` network entry under `runsc create/run`).
   *   - a path: that namespace's interfaces move into the stack (takeInterfaces);
   *   - 'new' (an entry without a path) or none (no entry, and `runsc do`): loopback only.
   *     gVisor starts its sandbox in a fresh network namespace in both cases, so the stack
   *     never takes the interfaces of the namespace runsc itself runs in.
   */
  init(ctx?: NetworkInitContext): void {
    this.log = ctx?.log;
    const log = this.log;
    const own = this.opts.netns;
    const ns = own ?? ctx?.netns;
    if (own && ctx?.netns !== undefined && own !== ctx.netns)
      log?.debug({ netns: own, spec: ctx.netns }, "netstack: the configured netns overrides the spec's");
    if (ctx?.sysctl && Object.keys(ctx.sysctl).length)
      log?.debug({ sysctl: ctx.sysctl }, 'netstack: net.* sysctls are not applied to the stack');
    this.st = new Stack({
      ...this.opts.stack,
      onError: (msg, err) => log?.warn({ err }, msg),
    });
    if (ns !== undefined && ns !== 'new') {
      checkNetnsFile(ns);
      this.takeInterfaces(ns);
    }
    log?.debug(
      {
        netns: ns ?? null,
        nics: this.st.nics.map((n) => ({ name: n.name, addresses: n.addresses.length })),
      },
      'netstack: user-space stack up',
    );
  }

  /**
   * gVisor's set-up: every interface of `netns` but lo that has IPv4 addresses becomes a
   * NIC of the stack (an AF_PACKET socket bound to it in the namespace, its MAC and MTU);
   * its addresses and the routes through it move into the stack and are removed from the
   * kernel's side, so the kernel neither answers ARP for them nor takes their TCP.
   */
  private takeInterfaces(netns: string): void {
    const st = this.stack;
    let links: IpLink[];
    let routes: IpRoute[];
    try {
      links = JSON.parse(ipIn(netns, ['-j', 'addr', 'show'])) as IpLink[];
      routes = JSON.parse(ipIn(netns, ['-j', '-4', 'route', 'show'])) as IpRoute[];
      routes.push(...(JSON.parse(ipIn(netns, ['-j', '-6', 'route', 'show'])) as IpRoute[]));
    } catch (e) {
      throw new Error(
        `netstack: cannot read the interfaces of the network namespace ${netns}: ${(e as Error).message}`,
      );
    }
    for (const l of links) {
      const addrs = (l.addr_info ?? [])
        .filter((a) => a.family === 'inet')
        .map((a) => `${a.local}/${a.prefixlen}`);
      // IPv6: the static (non link-local) addresses move in; the link-local one the stack
      // makes from the MAC it takes, as the kernel did (it is flushed and given back too).
      const addrs6 = (l.addr_info ?? []).filter((a) => a.family === 'inet6');
      const global6 = addrs6.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
      if (l.ifname === 'lo' || (!addrs.length && !global6.length)) continue;
      let link: PacketLink;
      try {
        link = new PacketLink(l.ifname, l.mtu, netns);
      } catch (e) {
        throw new Error(`netstack: cannot open interface ${l.ifname} in ${netns}: ${(e as Error).message}`);
      }
      const nic = st.addNic(link, { addresses: [...addrs, ...global6], id: l.ifindex });
      if (l.link_index) this.peerIndex.set(nic.id, l.link_index);
      for (const r of routes) {
        if (r.dev !== l.ifname || !r.gateway) continue;
        const v6 = r.gateway.includes(':');
        const [dest, len] =
          r.dst === 'default'
            ? [v6 ? '::' : '0.0.0.0', 0]
            : [r.dst.split('/')[0], Number(r.dst.split('/')[1] ?? (v6 ? 128 : 32))];
        st.addRoute(dest, len, nic, r.gateway, r.metric);
      }
      // The kernel's side gives up the addresses (and with them its routes through l);
      // shutdown() gives them back, so a namespace outlives one `runsc do`.
      ipIn(netns, ['addr', 'flush', 'dev', l.ifname]);
      this.taken.push({
        netns,
        ifname: l.ifname,
        addrs: [...addrs, ...addrs6.map((a) => `${a.local}/${a.prefixlen}`)],
        routes: routes.filter((r) => r.dev === l.ifname && r.gateway),
      });
      this.log?.debug({ ifname: l.ifname, addrs, mac: formatMac(link.mac) }, 'netstack: took interface');
    }
  }

  socket(_t: FileTask, family: number, type: number, protocol: number, flags: number): SocketFile | number {
    if (this.down) return -ESOCKTNOSUPPORT;
    if (family === AF_NETLINK) {
      if (type !== SOCK_RAW && type !== SOCK_DGRAM) return -ESOCKTNOSUPPORT;
      if (protocol !== 0 /* NETLINK_ROUTE */) return -EPROTONOSUPPORT;
      return new NetlinkSocket(this.stack, type, flags, (id) => this.peerIndex.get(id));
    }
    if (family !== AF_INET && family !== AF_INET6) return -ESOCKTNOSUPPORT;
    // Linux's inet_create / inet6_create: the protocol must fit the type (0 picks the default).
    switch (type) {
      case SOCK_STREAM:
        if (protocol !== 0 && protocol !== IPPROTO_TCP) return -EPROTONOSUPPORT;
        return new TcpSocket(this, flags, undefined, family);
      case SOCK_DGRAM:
        // ICMP "ping" sockets: Linux's default ping_group_range ("1 0") admits nobody.
        if (protocol === (family === AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) return -EACCES;
        if (protocol !== 0 && protocol !== IPPROTO_UDP) return -EPROTONOSUPPORT;
        return new UdpSocket(this, flags, family);
      case SOCK_RAW:
        // Raw IP sockets are not served by this stack (listed in docs/netstack.md).
        return -EPERM;
      default:
        return -ESOCKTNOSUPPORT;
    }
  }

  opened(s: InetSocket): void {
    this.live.add(s);
  }

  closed(s: InetSocket): void {
    this.live.delete(s);
  }

  // ---------------------------------------------------------------- interfaces

  private nicByName(name: string): Nic | undefined {
    return this.stack.nics.find((n) => n.name === name);
  }

  private flagsOf(n: Nic): number {
    return n.link.ethernet
      ? IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST
      : IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  }

  deviceIoctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === SIOCGIFCONF) return this.ifconf(t, arg);
    if (NET_ADMIN_IOCTLS.has(cmd)) return -EPERM;
    const known = [
      SIOCGIFNAME,
      SIOCGIFFLAGS,
      SIOCGIFADDR,
      SIOCGIFDSTADDR,
      SIOCGIFBRDADDR,
      SIOCGIFNETMASK,
      SIOCGIFMETRIC,
      SIOCGIFMTU,
      SIOCGIFHWADDR,
      SIOCGIFINDEX,
      SIOCGIFTXQLEN,
    ];
    if (!known.includes(cmd)) return -ENOTTY;
    const req = t.mem.copyIn(arg, IFREQ_SIZE).slice();
    const dv = new DataView(req.buffer);
    let nic: Nic | undefined;
    if (cmd === SIOCGIFNAME) {
      const idx = dv.getInt32(16, true);
      nic = this.stack.nics.find((n) => n.id === idx);
      if (!nic) return -ENODEV;
      req.fill(0, 0, 16);
      req.set(Buffer.from(nic.name, 'latin1').subarray(0, 15), 0);
      t.mem.copyOut(arg, req);
      return 0;
    }
    const end = req.indexOf(0);
    const name = Buffer.from(req.subarray(0, end < 0 || end > 16 ? 16 : end)).toString('latin1');
    nic = this.nicByName(name);
    if (!nic) return -ENODEV;
    const a = nic.addresses[0];
    req.fill(0, 16);
    switch (cmd) {
      case SIOCGIFFLAGS:
        dv.setInt16(16, this.flagsOf(nic), true);
        break;
      case SIOCGIFADDR:
      case SIOCGIFDSTADDR:
      case SIOCGIFBRDADDR:
      case SIOCGIFNETMASK: {
        if (!a) return -EADDRNOTAVAIL;
        const mask = prefixMask(a.prefixLen);
        const v =
          cmd === SIOCGIFNETMASK
            ? mask
            : cmd === SIOCGIFBRDADDR
              ? nic.link.ethernet
                ? (a.addr | ~mask) >>> 0
                : 0
              : a.addr;
        req.set(formatSockaddrIn(v, 0), 16);
        break;
      }
      case SIOCGIFMETRIC:
        break;
      case SIOCGIFMTU:
        dv.setInt32(16, nic.link.mtu, true);
        break;
      case SIOCGIFHWADDR:
        dv.setUint16(16, nic.link.ethernet ? ARPHRD_ETHER : ARPHRD_LOOPBACK, true);
        if (nic.link.ethernet) req.set(nic.link.mac.subarray(0, 6), 18);
        break;
      case SIOCGIFINDEX:
        dv.setInt32(16, nic.id, true);
        break;
      case SIOCGIFTXQLEN:
        dv.setInt32(16, 1000, true);
        break;
    }
    t.mem.copyOut(arg, req);
    return 0;
  }

  /** SIOCGIFCONF: one struct ifreq (name + sockaddr_in) per IPv4 address. */
  private ifconf(t: TaskApi, arg: number): number {
    const raw = t.mem.copyIn(arg, 16);
    const dv = new DataView(raw.buffer, raw.byteOffset, 16);
    const len = dv.getInt32(0, true);
    const buf = Number(dv.getBigUint64(8, true));
    if (len < 0) return -EINVAL;
    const entries: Uint8Array[] = [];
    for (const n of this.stack.nics) {
      const a = n.addresses[0];
      if (!a) continue;
      const e = new Uint8Array(IFREQ_SIZE);
      e.set(Buffer.from(n.name, 'latin1').subarray(0, 15), 0);
      e.set(formatSockaddrIn(a.addr, 0), 16);
      entries.push(e);
    }
    if (!buf) {
      t.mem.writeI32(arg, entries.length * IFREQ_SIZE);
      return 0;
    }
    const fit = Math.min(entries.length, Math.floor(len / IFREQ_SIZE));
    for (let i = 0; i < fit; i++) t.mem.copyOut(buf + i * IFREQ_SIZE, entries[i]);
    t.mem.writeI32(arg, fit * IFREQ_SIZE);
    return 0;
  }

  // ---------------------------------------------------------------- /proc/net

  procNet(name: string): string | null {
    if (!this.st) return null;
    switch (name) {
      case 'tcp':
        return this.procTcp();
      case 'udp':
        return this.procUdp();
      case 'tcp6':
        return this.procTcp6();
      case 'udp6':
        return this.procUdp6();
      case 'if_inet6':
        return this.procIfInet6();
      case 'arp':
        return this.procArp();
      case 'dev':
        return this.procDev();
      case 'route':
        return this.procRoute();
      case 'sockstat':
        return this.procSockstat();
      case 'snmp':
        return this.procSnmp();
      case 'snmp6':
        return renderSnmp6(this.stack.mib);
      default:
        return null;
    }
  }

  /**
   * /proc/net/snmp from the stack's MIB counters (Forwarding 2: the stack never forwards);
   * CurrEstab counts the endpoints in ESTABLISHED or CLOSE_WAIT, as Linux's.
   */
  private procSnmp(): string {
    let estab = 0;
    for (const ep of this.stack.tcpEndpointList())
      if (ep.state === TcpState.ESTABLISHED || ep.state === TcpState.CLOSE_WAIT) estab++;
    return renderSnmp(this.stack.mib, estab, 2);
  }

  private inodeOf(ep: TcpEndpoint): number {
    for (const s of this.live) if (s instanceof TcpSocket && s.endpoint === ep) return s.ino;
    return 0;
  }

  private procTcp(): string {
    const head =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n';
    const eps = this.stack.tcpEndpointList().filter((ep) => ep.ipVersions === 4);
    // Linux lists listeners first (the listening hash), then the established hash.
    eps.sort((a, b) => Number(b.state === TcpState.LISTEN) - Number(a.state === TcpState.LISTEN));
    const lines = eps.map((ep, i) => {
      const rx = ep.state === TcpState.LISTEN ? ep.acceptQueueLength : ep.readable;
      const line =
        `${String(i).padStart(4)}: ${hexAddr(ep.laddr)}:${hex(ep.lport, 4)} ${hexAddr(ep.raddr)}:${hex(ep.rport, 4)} ` +
        `${hex(ep.state, 2)} ${hex(ep.unacked, 8)}:${hex(rx, 8)} 00:00000000 00000000 ` +
        `${String(0).padStart(5)} ${String(0).padStart(8)} ${this.inodeOf(ep)}`;
      return line.padEnd(149) + '\n';
    });
    return head + lines.join('');
  }

  private procUdp(): string {
    const head =
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            \n';
    const lines = this.stack
      .udpEndpointList()
      .filter((ep) => ep.ipVersions === 4)
      .map((ep, i) => {
        let ino = 0;
        for (const s of this.live) if (s instanceof UdpSocket && s.isFor(ep)) ino = s.ino;
        const line =
          `${String(i).padStart(5)}: ${hexAddr(ep.laddr)}:${hex(ep.lport, 4)} ${hexAddr(ep.raddr)}:${hex(ep.rport, 4)} ` +
          `${hex(ep.raddr ? 1 : 7, 2)} 00000000:00000000 00:00000000 00000000 ` +
          `${String(0).padStart(5)} ${String(0).padStart(8)} ${ino} 2 0000000000000000 ${ep.stats.drops}`;
        return line.padEnd(127) + '\n';
      });
    return head + lines.join('');
  }

  /** /proc/net/tcp6: the AF_INET6 sockets' endpoints (v4-mapped addresses for IPv4 traffic). */
  private procTcp6(): string {
    const head =
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    const eps = this.stack.tcpEndpointList().filter((ep) => ep.ipVersions !== 4);
    eps.sort((a, b) => Number(b.state === TcpState.LISTEN) - Number(a.state === TcpState.LISTEN));
    const lines = eps.map((ep, i) => {
      const rx = ep.state === TcpState.LISTEN ? ep.acceptQueueLength : ep.readable;
      return (
        `${String(i).padStart(4)}: ${hexAddr6(ep.laddr)}:${hex(ep.lport, 4)} ${hexAddr6(ep.raddr)}:${hex(ep.rport, 4)} ` +
        `${hex(ep.state, 2)} ${hex(ep.unacked, 8)}:${hex(rx, 8)} 00:00000000 00000000 ` +
        `${String(0).padStart(5)} ${String(0).padStart(8)} ${this.inodeOf(ep)}\n`
      );
    });
    return head + lines.join('');
  }

  /**
   * Linux's sockstat lines from the stack's tables (`mem` is 0: buffers are not counted in
   * pages), then a NETSTACK line with what a leak check needs: live host timers, TCP
   * 4-tuples, bound ports, listeners, pending ARP resolutions, IPv4 reassembly, and the
   * recycled send-queue buffers out in queues and on the free list. After every socket is
   * closed and its TIME_WAIT has expired, all but pool_free are back at their baseline.
   */
  private procSockstat(): string {
    const g = this.stack.gauges();
    const owned = new Set<TcpEndpoint>();
    let udp = 0;
    for (const s of this.live) {
      if (s instanceof TcpSocket) owned.add(s.endpoint);
      else if (s instanceof UdpSocket) udp++;
    }
    let orphans = 0;
    for (const ep of this.stack.tcpEndpointList())
      if (!owned.has(ep) && ep.state !== TcpState.TIME_WAIT) orphans++;
    const p = poolStats();
    return (
      `sockets: used ${this.live.size}\n` +
      `TCP: inuse ${g.tcpEndpoints - g.tcpTimeWait} orphan ${orphans} tw ${g.tcpTimeWait} alloc ${g.tcpEndpoints} mem 0\n` +
      `UDP: inuse ${udp} mem 0\n` +
      'UDPLITE: inuse 0\n' +
      'RAW: inuse 0\n' +
      `FRAG: inuse ${g.reassemblyDatagrams} memory ${g.reassemblyBytes}\n` +
      `NETSTACK: timers ${g.timers} tcp_endpoints ${g.tcpEndpoints} tcp_conns ${g.tcpConnections} ` +
      `tcp_ports ${g.tcpPorts} tcp_listeners ${g.tcpListeners} udp_endpoints ${g.udpEndpoints} ` +
      `arp_pending ${g.arpPending} pool_out ${p.out} pool_free ${p.free}\n`
    );
  }

  private procUdp6(): string {
    const head =
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
    const eps = this.stack.udpEndpointList().filter((ep) => ep.ipVersions !== 4);
    const lines = eps.map((ep, i) => {
      let ino = 0;
      for (const s of this.live) if (s instanceof UdpSocket && s.isFor(ep)) ino = s.ino;
      return (
        `${String(i).padStart(5)}: ${hexAddr6(ep.laddr)}:${hex(ep.lport, 4)} ${hexAddr6(ep.raddr)}:${hex(ep.rport, 4)} ` +
        `${hex(ep.raddr ? 1 : 7, 2)} 00000000:00000000 00:00000000 00000000 ` +
        `${String(0).padStart(5)} ${String(0).padStart(8)} ${ino} 2 0000000000000000 ${ep.stats.drops}\n`
      );
    });
    return head + lines.join('');
  }

  /** /proc/net/if_inet6: address, index, prefix length, scope, flags (permanent), name. */
  private procIfInet6(): string {
    let out = '';
    for (const n of this.stack.nics) {
      for (const a of n.addresses6) {
        const hexa = Array.from(ipv6Bytes(a.addr), (b) => b.toString(16).padStart(2, '0')).join('');
        const scope = a.addr === '::1' ? 0x10 : isLinkLocal6(a.addr) ? 0x20 : 0;
        const hx = (v: number): string => v.toString(16).padStart(2, '0');
        out += `${hexa} ${hx(n.id)} ${hx(a.prefixLen)} ${hx(scope)} ${hx(0x80)} ${n.name.padStart(8)}\n`;
      }
    }
    return out;
  }

  /** /proc/net/arp: the stack's ARP cache (complete entries). */
  private procArp(): string {
    let out = 'IP address       HW type     Flags       HW address            Mask     Device\n';
    const now = performance.now();
    for (const n of this.stack.nics) {
      for (const [ip, e] of n.arp) {
        if (e.expires <= now) continue;
        out += `${formatIpv4(ip).padEnd(16)} 0x1         0x2         ${formatMac(e.mac)}     *        ${n.name}\n`;
      }
    }
    return out;
  }

  private procDev(): string {
    let out =
      'Inter-|   Receive                                                |  Transmit\n' +
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
    for (const n of this.stack.nics) {
      const s = n.link.stats;
      const cols = [s.rxBytes, s.rxFrames, 0, 0, 0, 0, 0, 0].map((v, i) => String(v).padStart(i < 2 ? 8 : 4));
      const txc = [s.txBytes, s.txFrames, 0, s.txDropped, 0, 0, 0, 0].map((v, i) =>
        String(v).padStart(i < 2 ? 8 : 4),
      );
      out += `${n.name.padStart(6)}: ${cols.join(' ')} ${txc.join(' ')}\n`;
    }
    return out;
  }

  private procRoute(): string {
    let out =
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n';
    for (const r of this.stack.routeList()) {
      if (r.nic === this.stack.loopback) continue; // Linux keeps lo's routes in the local table
      const flags = 0x1 | (r.gateway ? 0x2 : 0);
      const line = `${r.nic.name}\t${hexAddr(r.dest)}\t${hexAddr(r.gateway)}\t${hex(flags, 4)}\t0\t0\t0\t${hexAddr(prefixMask(r.prefixLen))}\t0\t0\t0`;
      out += line.padEnd(127) + '\n';
    }
    return out;
  }

  shutdown(): void {
    if (this.down) return;
    this.down = true;
    this.live.clear();
    if (this.st) {
      // What the stack saw and dropped, by reason (drops.internal: exceptions caught while
      // handling a frame or timer, which should never happen).
      const { stats, counters } = this.st;
      this.log?.debug(
        { stats, counters, links: this.st.nics.map((n) => ({ name: n.name, ...n.link.stats })) },
        'netstack: counters at shutdown',
      );
    }
    this.st?.close();
    // Each address and route on its own: one that cannot be given back (say the kernel made
    // its link-local address again) does not keep the others from going back.
    for (const t of this.taken.splice(0)) {
      const steps = [
        ...t.addrs.map((a) => ['addr', 'add', a, 'dev', t.ifname]),
        ...t.routes.map((r) => ['route', 'replace', r.dst, 'via', r.gateway!, 'dev', t.ifname]),
      ];
      for (const args of steps) {
        try {
          ipIn(t.netns, args);
        } catch (e) {
          this.log?.warn(
            { err: e, ifname: t.ifname },
            'netstack: cannot give an interface its address or route back',
          );
        }
      }
    }
  }

  /** The NIC's MAC as text (diagnostics). */
  macOf(name: string): string | undefined {
    const n = this.nicByName(name);
    return n ? formatMac(n.link.mac) : undefined;
  }
}

function hex(v: number, w: number): string {
  return v.toString(16).toUpperCase().padStart(w, '0');
}

/** An IPv6 address as /proc/net/*6 prints it: four __be32 words with %08X each (IPv4 as v4-mapped). */
function hexAddr6(a: IpAddr): string {
  const b = ipv6Bytes(typeof a === 'string' ? a : a === 0 ? '::' : mapV4(a));
  let out = '';
  for (let w = 0; w < 16; w += 4)
    out += hex(b[w] + b[w + 1] * 0x100 + b[w + 2] * 0x10000 + b[w + 3] * 0x1000000, 8);
  return out;
}

/** An address as /proc/net prints a __be32 with %08X on a little-endian machine. */
function hexAddr(a: IpAddr): string {
  if (typeof a === 'string') return '00000000';
  const le =
    (a & 255) * 0x1000000 + ((a >>> 8) & 255) * 0x10000 + ((a >>> 16) & 255) * 0x100 + ((a >>> 24) & 255);
  return hex(le, 8);
}
