/**
 * The stack: NICs (one link endpoint each) with IPv4 addresses, a route table, ARP, IPv4
 * input/output with reassembly and fragmentation, ICMP echo and errors, and the UDP and
 * TCP demultiplexing tables. Everything runs on the event loop; nothing blocks.
 *
 * Robustness contract: a frame from a link never throws out of the stack. Whatever is
 * malformed (short, bad checksum, bad lengths, unknown protocol) is dropped and counted in
 * `stats.drops[reason]`; an unexpected exception while handling a frame is caught, counted
 * as `drops.internal` and logged.
 *
 * Packet buffers: transports allocate `headroom + transport length` bytes and write their
 * header at `headroom`; the IPv4 layer writes its header in front, the NIC the Ethernet
 * header in front of that, so a segment is built without copies.
 */
import {
  BROADCAST_MAC,
  formatIpv4,
  ipv4,
  ipv6,
  isLoopback,
  isLinkLocal6,
  isMulticast6,
  linkLocalFromMac,
  macEqual,
  multicastMac6,
  prefix6,
  prefixMask,
  readIpv4,
  readIpv6,
  sameSubnet,
  samePrefix6,
  solicitedNode,
  type IpAddr,
} from './addr';
import { ARP_REPLY, ARP_REQUEST, buildArpFrame, parseArp } from './arp';
import { EADDRINUSE, EADDRNOTAVAIL, EAGAIN, EMSGSIZE, ENETUNREACH } from './errno';
import {
  ETH_HLEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  etherType,
  writeEthernet,
} from './ethernet';
import {
  ICMP6_DEST_UNREACH,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROBLEM,
  ICMP6_QUOTE_MAX,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  PARAM_NEXT_HEADER,
  UNREACH6_PORT,
  isIcmp6Error,
  parseIcmp6,
  writeIcmp6,
} from './icmpv6';
import {
  DEFAULT_HOP_LIMIT,
  FRAG_HLEN,
  IPV6_HLEN,
  IPV6_MIN_MTU,
  NH_FRAGMENT,
  NH_ICMPV6,
  NH_NONE,
  NH_TCP,
  NH_UDP,
  fragmentPlan6,
  parseIpv6Header,
  walkExtensions,
  writeFragHeader,
  writeIpv6Header,
  type Ipv6Header,
} from './ipv6';
import {
  NA_OVERRIDE,
  NA_SOLICITED,
  ND_HOP_LIMIT,
  OPT_SOURCE_LLADDR,
  OPT_TARGET_LLADDR,
  ndBody,
  parseNd,
} from './ndp';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  UNREACH_FRAG_NEEDED,
  UNREACH_PORT,
  UNREACH_PROTOCOL,
  parseIcmp,
  writeIcmp,
} from './icmp';
import {
  DEFAULT_TTL,
  IPV4_HLEN,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  Reassembler,
  fragmentPlan,
  parseIpv4Header,
  writeIpv4Header,
  type Ipv4Header,
} from './ipv4';
import type { LinkEndpoint } from './link/link';
import { LoopbackLink } from './link/loopback';
import { DEFAULT_TCP_CONFIG, TcpEndpoint, TcpState, type TcpConfig } from './tcp/endpoint';
import type { Route, TcpHost } from './tcp/host';
import { ACK, RST, SYN, FIN, TCP_HLEN, parseTcp, seqAdd, writeTcp, type TcpSegment } from './tcp/segment';
import { Timer } from './timer';
import { UDP_HLEN, parseUdp, writeUdp } from './udp';
import { UdpEndpoint, type UdpHost } from './udp-endpoint';
import { newMib, type Mib } from '../../../core/net/mib';

export const HEADROOM = ETH_HLEN + IPV4_HLEN;
/** Room for Ethernet + the IPv6 header: what TCP endpoints leave (IPv4 uses the last 34 bytes). */
export const HEADROOM6 = ETH_HLEN + IPV6_HLEN;
const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;
const ARP_TIMEOUT_MS = 60_000;
/** Linux's net.ipv4.route.min_pmtu and mtu_expires. */
const MIN_PMTU4 = 552;
const PMTU_EXPIRES_MS = 600_000;
const ARP_RETRY_MS = 1000;
const ARP_RETRIES = 3;
const ARP_QUEUE_MAX = 64;
/** The most IPv6 neighbour entries a NIC keeps (Linux's default gc_thresh3). */
const NEIGHBOR_MAX = 1024;

export interface AddressConfig {
  /** "10.0.0.2/24" or a number with prefixLen. */
  addr: number;
  prefixLen: number;
}

export interface NicConfig {
  /** Addresses as "a.b.c.d/len" or IPv6 "x:y::z/len" strings. */
  addresses: string[];
  /** Ethernet NICs get a link-local address from their MAC (fe80::/64) unless this is false. */
  linkLocal?: boolean;
  /** The interface index (default: the next free one); e.g. the kernel's, for a taken veth. */
  id?: number;
}

interface ArpEntry {
  mac: Uint8Array;
  expires: number;
}

interface ArpPending {
  packets: Uint8Array[];
  tries: number;
  timer: Timer;
}

export interface Address6Config {
  /** Canonical IPv6 text. */
  addr: string;
  prefixLen: number;
}

export class Nic {
  readonly addresses: AddressConfig[] = [];
  readonly addresses6: Address6Config[] = [];
  readonly arp = new Map<number, ArpEntry>();
  readonly pending = new Map<number, ArpPending>();
  /** The IPv6 neighbour cache (NDP) and resolutions in progress. */
  readonly neighbors = new Map<string, ArpEntry>();
  readonly pending6 = new Map<string, ArpPending>();

  constructor(
    readonly id: number,
    readonly link: LinkEndpoint,
  ) {}

  get name(): string {
    return this.link.name;
  }

  hasAddress(a: number): boolean {
    return this.addresses.some((x) => x.addr === a);
  }

  hasAddress6(a: string): boolean {
    return this.addresses6.some((x) => x.addr === a);
  }

  /** Multicast groups the NIC is in: all-nodes and our addresses' solicited-node groups. */
  inGroup6(a: string): boolean {
    if (a === 'ff02::1' || a === 'ff01::1') return true;
    return this.addresses6.some((x) => solicitedNode(x.addr) === a);
  }

  isBroadcast(a: number): boolean {
    if (a === 0xffffffff) return true;
    return this.addresses.some(
      (x) =>
        x.prefixLen < 31 && (a | ~prefixMask(x.prefixLen)) >>> 0 === a && sameSubnet(a, x.addr, x.prefixLen),
    );
  }
}

export interface RouteEntry {
  dest: number;
  prefixLen: number;
  gateway: number;
  nic: Nic;
}

export interface Route6Entry {
  /** Canonical IPv6 text of the prefix ("::" with prefixLen 0 is the default route). */
  dest: string;
  prefixLen: number;
  /** The next hop ("" when on-link). */
  gateway: string;
  nic: Nic;
  /** The metric the kernel showed (256 for connected routes, 1024 by default via a gateway). */
  metric: number;
}

export interface StackOptions {
  tcp?: Partial<TcpConfig>;
  /** Reassembly timeout (ms). */
  reassemblyTimeoutMs?: number;
  /** Called with (message, fields) for internal errors; defaults to nothing. */
  onError?: (msg: string, err: unknown) => void;
}

/** Stack-wide counters. `live` values must return to zero when everything is closed. */
export interface StackCounters {
  /** Live host timeouts (retransmission, delayed ACK, TIME_WAIT, ARP, ...). */
  timers: number;
  /** TCP endpoints in the tables (bound, listening, connecting, connected, TIME_WAIT). */
  tcpEndpoints: number;
  /** UDP endpoints bound. */
  udpEndpoints: number;
}

/** The counters plus the sizes of the stack's tables (`Stack.gauges()`). */
export interface StackGauges extends StackCounters {
  /** TCP endpoints in TIME_WAIT (included in tcpEndpoints). */
  tcpTimeWait: number;
  /** Entries in the 4-tuple table. */
  tcpConnections: number;
  tcpListeners: number;
  /** Local ports with at least one TCP endpoint bound. */
  tcpPorts: number;
  /** Next hops waiting for an ARP reply. */
  arpPending: number;
  /** IPv4 datagrams being reassembled, and the bytes they hold. */
  reassemblyDatagrams: number;
  reassemblyBytes: number;
}

export interface StackStats {
  rxFrames: number;
  txFrames: number;
  ipIn: number;
  ipOut: number;
  icmpEchoReplies: number;
  icmpUnreachSent: number;
  /** Path MTUs lowered by ICMP fragmentation needed. */
  pmtuUpdates: number;
  ip6In: number;
  ip6Out: number;
  icmp6EchoReplies: number;
  icmp6ErrorsSent: number;
  ndpSolicitsSent: number;
  ndpAdvertsSent: number;
  tcpResetsSent: number;
  listenDrops: number;
  timeWaits: number;
  fragmentsOut: number;
  drops: Record<string, number>;
}

export class Stack implements TcpHost, UdpHost {
  readonly headroom = HEADROOM6;
  readonly counters: StackCounters = { timers: 0, tcpEndpoints: 0, udpEndpoints: 0 };
  /** The SNMP MIB counters of /proc/net/snmp (see mib.ts for what counts where). */
  readonly mib: Mib = newMib();
  readonly stats: StackStats = {
    rxFrames: 0,
    txFrames: 0,
    ipIn: 0,
    ipOut: 0,
    icmpEchoReplies: 0,
    icmpUnreachSent: 0,
    pmtuUpdates: 0,
    ip6In: 0,
    ip6Out: 0,
    icmp6EchoReplies: 0,
    icmp6ErrorsSent: 0,
    ndpSolicitsSent: 0,
    ndpAdvertsSent: 0,
    tcpResetsSent: 0,
    listenDrops: 0,
    timeWaits: 0,
    fragmentsOut: 0,
    drops: {},
  };
  readonly tcpConfig: TcpConfig;
  readonly nics: Nic[] = [];
  private readonly nicById = new Map<number, Nic>();
  readonly loopback: Nic;
  private readonly routes: RouteEntry[] = [];
  private readonly routes6: Route6Entry[] = [];
  private readonly reassembler: Reassembler;
  private readonly reassembler6: Reassembler;
  private ipId = Math.floor(Math.random() * 65536);
  private ip6Id = Math.floor(Math.random() * 0x100000000);
  private readonly onError: (msg: string, err: unknown) => void;

  // Transport tables.
  private readonly tcpConns = new Map<string, TcpEndpoint>();
  private readonly tcpListeners = new Map<number, TcpEndpoint[]>();
  /** Port -> endpoints bound to it (for bind conflicts). */
  private readonly tcpPorts = new Map<number, Set<TcpEndpoint>>();
  private readonly udpPorts = new Map<number, UdpEndpoint[]>();
  private readonly tcpLive = new Set<TcpEndpoint>();
  private nextEphemeral = EPHEMERAL_LOW + Math.floor(Math.random() * (EPHEMERAL_HIGH - EPHEMERAL_LOW));
  private closed = false;

  constructor(opts: StackOptions = {}) {
    this.tcpConfig = { ...DEFAULT_TCP_CONFIG, ...opts.tcp };
    this.reassembler = new Reassembler(opts.reassemblyTimeoutMs ?? 30_000);
    this.reassembler6 = new Reassembler(opts.reassemblyTimeoutMs ?? 60_000);
    this.onError = opts.onError ?? (() => {});
    this.loopback = this.addNic(new LoopbackLink(), { addresses: ['127.0.0.1/8', '::1/128'] });
  }

  // ---------------------------------------------------------------- configuration

  /** Attaches a link with its addresses; adds the connected routes. */
  addNic(link: LinkEndpoint, cfg: NicConfig): Nic {
    const id = cfg.id ?? Math.max(0, ...this.nics.map((n) => n.id)) + 1;
    if (this.nics.some((n) => n.id === id))
      throw new Error(`NIC ${link.name}: interface index ${id} is taken`);
    const nic = new Nic(id, link);
    this.nicById.set(id, nic);
    if (link.ethernet && cfg.linkLocal !== false) this.addAddress6(nic, linkLocalFromMac(link.mac), 64);
    for (const text of cfg.addresses) {
      const m6 = /^([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\/(\d{1,3})$/.exec(text);
      if (m6) {
        if (Number(m6[2]) > 128)
          throw new Error(`NIC ${link.name}: address ${JSON.stringify(text)}: prefix length above 128`);
        this.addAddress6(nic, ipv6(m6[1]), Number(m6[2]));
        continue;
      }
      const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
      if (!m || Number(m[2]) > 32)
        throw new Error(`NIC ${link.name}: address ${JSON.stringify(text)} is not a.b.c.d/len`);
      const addr = ipv4(m[1]);
      const prefixLen = Number(m[2]);
      nic.addresses.push({ addr, prefixLen });
      this.routes.push({ dest: (addr & prefixMask(prefixLen)) >>> 0, prefixLen, gateway: 0, nic });
    }
    this.routes.sort((a, b) => b.prefixLen - a.prefixLen);
    this.nics.push(nic);
    link.attach(
      (frame) => this.onFrame(nic, frame),
      () => this.endBatch(),
    );
    return nic;
  }

  /** Adds an IPv6 address and its connected route to a NIC. */
  addAddress6(nic: Nic, addr: string, prefixLen: number): void {
    if (nic.hasAddress6(addr)) return;
    nic.addresses6.push({ addr, prefixLen });
    if (nic !== this.loopback) this.addRoute(prefix6(addr, prefixLen), prefixLen, nic);
  }

  /**
   * Adds a route (e.g. the default: dest "0.0.0.0", prefixLen 0, gateway). IPv6 text
   * ("::", "fd61::") adds an IPv6 route.
   */
  addRoute(dest: string, prefixLen: number, nic: Nic, gateway?: string, metric?: number): void {
    if (dest.includes(':')) {
      const d = prefix6(ipv6(dest), prefixLen);
      const g = gateway ? ipv6(gateway) : '';
      if (
        this.routes6.some(
          (r) => r.dest === d && r.prefixLen === prefixLen && r.nic === nic && r.gateway === g,
        )
      )
        return;
      this.routes6.push({ dest: d, prefixLen, gateway: g, nic, metric: metric ?? (g ? 1024 : 256) });
      this.routes6.sort((a, b) => b.prefixLen - a.prefixLen);
      return;
    }
    this.routes.push({ dest: ipv4(dest), prefixLen, gateway: gateway ? ipv4(gateway) : 0, nic });
    this.routes.sort((a, b) => b.prefixLen - a.prefixLen);
  }

  /**
   * Delivers the loopback's queued packets now (see LoopbackLink.flush). Only from outside
   * the stack: the socket layer calls it when a syscall that may have sent has finished.
   */
  flushLoopback(): void {
    (this.loopback.link as LoopbackLink).flush();
  }

  /** A new, unbound TCP endpoint. */
  tcp(): TcpEndpoint {
    return new TcpEndpoint(this, this.tcpConfig);
  }

  /** A new, unbound UDP endpoint. */
  udp(): UdpEndpoint {
    return new UdpEndpoint(this);
  }

  /** Closes every link and endpoint. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ep of [...this.tcpLive]) ep.destroy();
    for (const list of [...this.udpPorts.values()]) for (const u of [...list]) u.close();
    for (const nic of this.nics) {
      for (const p of nic.pending.values()) p.timer.dispose();
      nic.pending.clear();
      for (const p of nic.pending6.values()) p.timer.dispose();
      nic.pending6.clear();
      nic.link.close();
    }
    this.reassembler.clear();
    this.reassembler6.clear();
  }

  /**
   * What the stack holds right now (for /proc/net/sockstat): each value is back at its
   * baseline once every socket is closed and its TIME_WAIT has expired.
   */
  gauges(): StackGauges {
    let timeWait = 0;
    for (const ep of this.tcpLive) if (ep.state === TcpState.TIME_WAIT) timeWait++;
    let listeners = 0;
    for (const l of this.tcpListeners.values()) listeners += l.length;
    let arpPending = 0;
    for (const nic of this.nics) arpPending += nic.pending.size;
    return {
      ...this.counters,
      tcpTimeWait: timeWait,
      tcpConnections: this.tcpConns.size,
      tcpListeners: listeners,
      tcpPorts: this.tcpPorts.size,
      arpPending,
      reassemblyDatagrams: this.reassembler.pending,
      reassemblyBytes: this.reassembler.heldBytes,
    };
  }

  /** Every TCP endpoint in the tables (for /proc/net/tcp). */
  tcpEndpointList(): TcpEndpoint[] {
    return [...this.tcpLive];
  }

  /** Every bound UDP endpoint (for /proc/net/udp). */
  udpEndpointList(): UdpEndpoint[] {
    return [...this.udpPorts.values()].flat();
  }

  /** The route table, longest prefix first (for /proc/net/route and rtnetlink). */
  routeList(): readonly RouteEntry[] {
    return this.routes;
  }

  /** The IPv6 route table, longest prefix first (for /proc/net/ipv6_route and rtnetlink). */
  route6List(): readonly Route6Entry[] {
    return this.routes6;
  }

  /** Live TCP endpoints by state name (for leak checks and /proc/net/tcp later). */
  tcpStates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const ep of this.tcpLive) out[TcpState[ep.state]] = (out[TcpState[ep.state]] ?? 0) + 1;
    return out;
  }

  isLocal(a: IpAddr): boolean {
    if (typeof a === 'string') return this.nics.some((n) => n.hasAddress6(a));
    return isLoopback(a) || this.nics.some((n) => n.hasAddress(a));
  }

  // ---------------------------------------------------------------- routing

  route(dst: IpAddr, src: IpAddr = 0): Route | number {
    if (typeof dst === 'string') return this.route6(dst, src);
    if (typeof src === 'string') return -EADDRNOTAVAIL;
    if (src && !this.isLocal(src)) return -EADDRNOTAVAIL;
    if (this.isLocal(dst)) {
      const mtu = this.loopback.link.mtu;
      return { nicId: this.loopback.id, src: src || dst, dst, nextHop: dst, mtu, offload: true };
    }
    for (const r of this.routes) {
      if (r.nic === this.loopback) continue;
      if (!sameSubnet(dst, r.dest, r.prefixLen)) continue;
      const a = r.nic.addresses[0];
      if (!a) continue;
      const from = src || a.addr;
      const offload = r.nic.link.checksumOffload === true;
      const mtu = this.pathMtu4(dst, r.nic.link.mtu);
      return { nicId: r.nic.id, src: from, dst, nextHop: r.gateway || dst, mtu, offload };
    }
    this.mib.ipOutNoRoutes++;
    return -ENETUNREACH;
  }

  /**
   * An IPv6 route: to our own addresses through loopback; else the longest matching prefix
   * (link-local destinations through the NIC whose link-local prefix matches). The source
   * is `src` if given, else an address of the outgoing NIC (link-local for link-local
   * destinations, else a global one; RFC 6724's rules reduced to that scope rule).
   */
  private route6(dst: string, src: IpAddr): Route | number {
    if (typeof src === 'number' && src !== 0) return -EADDRNOTAVAIL;
    const from = src === 0 ? '' : (src as string);
    if (from && !this.isLocal(from)) return -EADDRNOTAVAIL;
    if (isMulticast6(dst)) return -ENETUNREACH;
    if (this.isLocal(dst)) {
      const mtu = this.loopback.link.mtu;
      return { nicId: this.loopback.id, src: from || dst, dst, nextHop: dst, mtu, offload: true };
    }
    for (const r of this.routes6) {
      if (r.nic === this.loopback) continue;
      if (!samePrefix6(dst, r.dest, r.prefixLen)) continue;
      const ll = isLinkLocal6(dst);
      const a =
        r.nic.addresses6.find((x) => isLinkLocal6(x.addr) === ll) ?? (ll ? undefined : r.nic.addresses6[0]);
      if (!a && !from) continue;
      const offload = r.nic.link.checksumOffload === true;
      return {
        nicId: r.nic.id,
        src: from || a!.addr,
        dst,
        nextHop: r.gateway || dst,
        mtu: r.nic.link.mtu,
        offload,
      };
    }
    this.mib.ip6OutNoRoutes++;
    return -ENETUNREACH;
  }

  /**
   * The interface index a link-local address belongs to (sockaddr_in6's sin6_scope_id):
   * the NIC holding it, else the NIC a route to it leaves by; 0 for other addresses.
   */
  scopeOf(a: IpAddr): number {
    if (typeof a !== 'string' || !isLinkLocal6(a)) return 0;
    const own = this.nics.find((n) => n !== this.loopback && n.hasAddress6(a));
    if (own) return own.id;
    const r = this.route6(a, 0);
    return typeof r === 'number' ? 0 : r.nicId;
  }

  sourceFor(dst: IpAddr): IpAddr {
    const r = this.route(dst);
    return typeof r === 'number' ? r : r.src;
  }

  // ---------------------------------------------------------------- input

  private drop(reason: string): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
  }

  /**
   * TCP endpoints that received segments in the current link batch: their ACK, output and
   * readiness event wait for the end of the batch.
   */
  private readonly deferred = new Set<TcpEndpoint>();
  private batching = false;

  deferInput(ep: TcpEndpoint): boolean {
    if (!this.batching) return false;
    this.deferred.add(ep);
    return true;
  }

  private endBatch(): void {
    this.batching = false;
    if (this.deferred.size === 0) return;
    const eps = [...this.deferred];
    this.deferred.clear();
    for (const ep of eps) {
      try {
        ep.finishInput();
      } catch (e) {
        this.reportError('netstack: finishing a batch', e);
      }
    }
  }

  private onFrame(nic: Nic, frame: Uint8Array): void {
    if (this.closed) return;
    if (nic.link.batches) this.batching = true;
    this.stats.rxFrames++;
    try {
      if (!nic.link.ethernet) {
        if (frame.length > 0 && frame[0] >> 4 === 6) this.ip6Input(nic, frame, undefined);
        else this.ipInput(nic, frame);
        return;
      }
      const type = etherType(frame);
      if (type < 0) return this.drop('eth-short');
      const toUs =
        macEqual(frame, 0, nic.link.mac) ||
        macEqual(frame, 0, BROADCAST_MAC) ||
        (type === ETHERTYPE_IPV6 && frame[0] === 0x33 && frame[1] === 0x33);
      if (!toUs) return this.drop('eth-otherhost');
      if (type === ETHERTYPE_ARP) this.arpInput(nic, frame.subarray(ETH_HLEN));
      else if (type === ETHERTYPE_IPV4) this.ipInput(nic, frame.subarray(ETH_HLEN));
      else if (type === ETHERTYPE_IPV6) this.ip6Input(nic, frame.subarray(ETH_HLEN), frame);
      else this.drop('eth-type');
    } catch (e) {
      this.drop('internal');
      this.onError('netstack: error while handling a frame', e);
    }
  }

  private arpInput(nic: Nic, buf: Uint8Array): void {
    const p = parseArp(buf);
    if (!p) return this.drop('arp-malformed');
    const forUs = nic.hasAddress(p.targetIp);
    // Learn (or refresh) the sender when the packet is for us or we already know it.
    if (p.senderIp !== 0 && (forUs || nic.arp.has(p.senderIp))) this.learn(nic, p.senderIp, p.senderMac);
    if (p.op === ARP_REQUEST && forUs) {
      nic.link.send(
        buildArpFrame(p.senderMac, {
          op: ARP_REPLY,
          senderMac: nic.link.mac,
          senderIp: p.targetIp,
          targetMac: p.senderMac,
          targetIp: p.senderIp,
        }),
      );
      this.stats.txFrames++;
    }
  }

  private learn(nic: Nic, ip: number, mac: Uint8Array): void {
    if (mac[0] & 1) return; // never a multicast/broadcast MAC
    nic.arp.set(ip, { mac: mac.slice(), expires: performance.now() + ARP_TIMEOUT_MS });
    const pend = nic.pending.get(ip);
    if (pend) {
      nic.pending.delete(ip);
      pend.timer.dispose();
      for (const f of pend.packets) this.sendFrame(nic, f, mac);
    }
  }

  private ipInput(nic: Nic, buf: Uint8Array): void {
    this.mib.ipInReceives++;
    const h = parseIpv4Header(buf);
    if (typeof h === 'string') {
      this.mib.ipInHdrErrors++;
      return this.drop(`ip-${h}`);
    }
    this.stats.ipIn++;
    const local =
      nic.hasAddress(h.dst) || (nic === this.loopback && this.isLocal(h.dst)) || nic.isBroadcast(h.dst);
    if (!local) {
      this.mib.ipInAddrErrors++;
      return this.drop('ip-not-ours'); // we do not forward
    }
    if (h.src === 0xffffffff || h.src >>> 28 === 14) return this.drop('ip-bad-source');
    let payload = buf.subarray(h.hlen, h.totalLen);
    if (h.mf || h.fragOff > 0) {
      this.mib.ipReasmReqds++;
      const whole = this.reassembler.add(h, payload, performance.now());
      if (!whole) return;
      this.mib.ipReasmOKs++;
      payload = whole;
    }
    switch (h.proto) {
      case PROTO_ICMP:
        this.mib.ipInDelivers++;
        return this.icmpInput(h, payload);
      case PROTO_UDP:
        this.mib.ipInDelivers++;
        return this.udpInput(nic, h, buf, payload);
      case PROTO_TCP:
        this.mib.ipInDelivers++;
        return this.tcpInput(nic, h, payload);
      default:
        this.mib.ipInUnknownProtos++;
        this.drop('ip-proto');
        if (!nic.isBroadcast(h.dst)) this.sendIcmpError(h, buf, UNREACH_PROTOCOL);
    }
  }

  private icmpInput(h: Ipv4Header, buf: Uint8Array): void {
    this.mib.icmpInMsgs++;
    const m = parseIcmp(buf);
    if (!m) {
      if (buf.length >= 8) this.mib.icmpInCsumErrors++;
      this.mib.icmpInErrors++;
      return this.drop('icmp-malformed');
    }
    this.mib.icmpInType[m.type]++;
    if (m.type === ICMP_ECHO_REQUEST && m.code === 0) {
      if (h.dst === 0xffffffff) return; // no broadcast pings (icmp_echo_ignore_broadcasts)
      const route = this.route(h.src, h.dst);
      if (typeof route === 'number') return this.drop('icmp-noroute');
      const out = new Uint8Array(HEADROOM + 8 + m.body.length);
      const len = writeIcmp(out, HEADROOM, ICMP_ECHO_REPLY, 0, m.rest, m.body);
      this.stats.icmpEchoReplies++;
      this.mib.icmpOutMsgs++;
      this.mib.icmpOutType[ICMP_ECHO_REPLY]++;
      this.ipOutput(route, out, len, PROTO_ICMP, DEFAULT_TTL, 0, false);
      return;
    }
    if (m.type === ICMP_DEST_UNREACH && m.code === UNREACH_FRAG_NEEDED && m.body.length >= IPV4_HLEN + 8) {
      return this.fragNeededInput(m.rest & 0xffff, m.body);
    }
    if (m.type === ICMP_DEST_UNREACH && m.code === UNREACH_PORT && m.body.length >= IPV4_HLEN + 8) {
      // Our datagram bounced: tell a connected UDP endpoint (ECONNREFUSED).
      const inner = m.body;
      const ihl = (inner[0] & 15) * 4;
      if (inner[9] !== PROTO_UDP || inner.length < ihl + 8) return;
      const dst = readIpv4(inner, 16);
      const sport = (inner[ihl] << 8) | inner[ihl + 1];
      const dport = (inner[ihl + 2] << 8) | inner[ihl + 3];
      for (const ep of this.udpPorts.get(sport) ?? []) ep.deliverUnreachable(dst, dport);
    }
  }

  /**
   * ICMP fragmentation needed (RFC 1191) for a TCP segment we sent with DF: the path to its
   * destination takes at most `mtu` bytes (never taken below 552, Linux's min_pmtu). As
   * Linux, the quote is believed only when it names a connection of ours and a sequence
   * number in flight (a blind attacker cannot guess them); then the path MTU is remembered
   * for 10 minutes (mtu_expires) for every socket to that destination and the connection
   * cuts its segments at once. Other protocols' quotes are ignored (only TCP sets DF).
   */
  private fragNeededInput(nextHopMtu: number, inner: Uint8Array): void {
    const ihl = (inner[0] & 15) * 4;
    if (inner[0] >> 4 !== 4 || ihl < IPV4_HLEN || inner.length < ihl + 8) return this.drop('icmp-malformed');
    if (inner[9] !== PROTO_TCP || nextHopMtu < 68) return;
    const src = readIpv4(inner, 12);
    const dst = readIpv4(inner, 16);
    const sport = (inner[ihl] << 8) | inner[ihl + 1];
    const dport = (inner[ihl + 2] << 8) | inner[ihl + 3];
    const seq =
      ((inner[ihl + 4] << 24) | (inner[ihl + 5] << 16) | (inner[ihl + 6] << 8) | inner[ihl + 7]) >>> 0;
    const ep = this.tcpConns.get(connKey(src, sport, dst, dport));
    const mtu = Math.max(MIN_PMTU4, nextHopMtu);
    if (!ep?.mtuReduced(mtu, seq)) return;
    this.stats.pmtuUpdates++;
    this.pmtu4.set(dst, { mtu, expires: performance.now() + PMTU_EXPIRES_MS });
  }

  /** Path MTUs learned from ICMP fragmentation needed, by destination. */
  private readonly pmtu4 = new Map<number, { mtu: number; expires: number }>();

  /** The path MTU to an IPv4 destination through a link of MTU `linkMtu`. */
  private pathMtu4(dst: number, linkMtu: number): number {
    const p = this.pmtu4.get(dst);
    if (!p) return linkMtu;
    if (p.expires > performance.now()) return Math.min(linkMtu, p.mtu);
    this.pmtu4.delete(dst);
    return linkMtu;
  }

  private udpInput(nic: Nic, h: Ipv4Header, ipPacket: Uint8Array, buf: Uint8Array): void {
    const u = parseUdp(buf, h.src, h.dst, !nic.link.checksumOffload);
    if (!u) {
      // Lengths that hold together: then it was the checksum.
      const len = buf.length >= UDP_HLEN ? (buf[4] << 8) | buf[5] : 0;
      if (len >= UDP_HLEN && len <= buf.length) this.mib.udpInCsumErrors++;
      this.mib.udpInErrors++;
      return this.drop('udp-malformed');
    }
    const d = this.udpDeliver(h.src, h.dst, u.srcPort, u.dstPort, u.payload);
    if (d === 1) return;
    if (d === 2) {
      this.mib.udpRcvbufErrors++;
      this.mib.udpInErrors++;
      return;
    }
    this.mib.udpNoPorts++;
    this.drop('udp-noport');
    if (h.dst !== 0xffffffff && !nic.isBroadcast(h.dst) && !(h.mf || h.fragOff))
      this.sendIcmpError(h, ipPacket, UNREACH_PORT);
  }

  /**
   * Hands a datagram to the best-matching endpoint: 1 delivered, 2 dropped by a full receive
   * buffer, 0 no endpoint takes it.
   */
  private udpDeliver(src: IpAddr, dst: IpAddr, sport: number, dport: number, payload: Uint8Array): 0 | 1 | 2 {
    const eps = this.udpPorts.get(dport);
    let target: UdpEndpoint | undefined;
    if (eps) {
      const ver = typeof dst === 'string' ? 6 : 4;
      for (const ep of eps) {
        if (ep.laddr !== 0 && ep.laddr !== dst) continue;
        if (ep.laddr === 0 && !acceptsVersion(ep.ipVersions, ver)) continue;
        if (ep.raddr !== 0 && (ep.raddr !== src || ep.rport !== sport)) continue;
        if (!target || (ep.raddr !== 0 && target.raddr === 0) || (ep.laddr !== 0 && target.laddr === 0))
          target = ep;
      }
    }
    if (!target) return 0;
    return target.deliver(payload, src, sport) ? 1 : 2;
  }

  private tcpInput(nic: Nic, h: Ipv4Header, buf: Uint8Array): void {
    if (nic.isBroadcast(h.dst)) return this.drop('tcp-broadcast');
    this.mib.tcpInSegs++;
    const seg = parseTcp(buf, h.src, h.dst, !nic.link.checksumOffload);
    if (!seg) return this.tcpInError(buf);
    seg.stable = nic.link.stableFrames === true;
    this.tcpDemux(seg, h.src, h.dst);
  }

  /** A segment parseTcp refused: a checksum error when its header length holds together. */
  private tcpInError(buf: Uint8Array): void {
    const doff = buf.length >= TCP_HLEN ? (buf[12] >> 4) * 4 : 0;
    if (doff >= TCP_HLEN && doff <= buf.length) this.mib.tcpInCsumErrors++;
    this.mib.tcpInErrs++;
    this.drop('tcp-malformed');
  }

  private tcpDemux(seg: TcpSegment, src: IpAddr, dst: IpAddr): void {
    const ep = this.tcpConns.get(connKey(dst, seg.dstPort, src, seg.srcPort));
    if (ep) {
      ep.input(seg);
      return;
    }
    const l = this.findListener(dst, seg.dstPort);
    if (l) {
      l.inputListen(seg, src, dst);
      return;
    }
    this.drop('tcp-noport');
    this.sendReset(seg, src, dst);
  }

  private findListener(addr: IpAddr, port: number): TcpEndpoint | undefined {
    const list = this.tcpListeners.get(port);
    if (!list) return undefined;
    const ver = typeof addr === 'string' ? 6 : 4;
    let any: TcpEndpoint | undefined;
    for (const l of list) {
      if (l.laddr === addr) return l;
      if (l.laddr === 0 && acceptsVersion(l.ipVersions, ver)) any = l;
    }
    return any;
  }

  // ---------------------------------------------------------------- output

  /**
   * Sends a transport payload written at buf[HEADROOM, HEADROOM+len) to route.dst,
   * fragmenting it when it exceeds the MTU and DF is not set.
   */
  ipOutput(
    route: Route,
    buf: Uint8Array,
    len: number,
    proto: number,
    ttl: number,
    tos: number,
    df: boolean,
  ): number {
    const nic = this.nicById.get(route.nicId)!;
    const src = route.src as number;
    const dst = route.dst as number;
    const nextHop = route.nextHop as number;
    this.ipId = (this.ipId + 1) & 0xffff;
    const id = this.ipId;
    if (IPV4_HLEN + len > 65535) return -EMSGSIZE;
    this.mib.ipOutRequests++;
    if (IPV4_HLEN + len <= route.mtu) {
      writeIpv4Header(buf, ETH_HLEN, {
        src,
        dst,
        proto,
        ttl,
        tos,
        id,
        df,
        payloadLen: len,
      });
      this.stats.ipOut++;
      this.mib.ipOutTransmits++;
      this.linkOutput(nic, nextHop, buf.subarray(0, HEADROOM + len));
      return len;
    }
    if (df) {
      this.mib.ipFragFails++;
      return -EMSGSIZE;
    }
    this.mib.ipFragOKs++;
    for (const [off, flen, more] of fragmentPlan(len, route.mtu)) {
      const f = new Uint8Array(HEADROOM + flen);
      f.set(buf.subarray(HEADROOM + off, HEADROOM + off + flen), HEADROOM);
      writeIpv4Header(f, ETH_HLEN, {
        src,
        dst,
        proto,
        ttl,
        tos,
        id,
        mf: more,
        fragOff: off,
        payloadLen: flen,
      });
      this.stats.ipOut++;
      this.stats.fragmentsOut++;
      this.mib.ipFragCreates++;
      this.mib.ipOutTransmits++;
      this.linkOutput(nic, nextHop, f);
    }
    return len;
  }

  /** buf holds [14 bytes of room][IPv4 packet]. */
  private linkOutput(nic: Nic, nextHop: number, buf: Uint8Array): void {
    if (!nic.link.ethernet) {
      this.stats.txFrames++;
      nic.link.send(buf.subarray(ETH_HLEN));
      return;
    }
    const dstIp = readIpv4(buf, ETH_HLEN + 16);
    if (nic.isBroadcast(dstIp)) return this.sendFrame(nic, buf, BROADCAST_MAC);
    const e = nic.arp.get(nextHop);
    if (e && e.expires > performance.now()) return this.sendFrame(nic, buf, e.mac);
    // Resolve first; queue the packet meanwhile.
    this.queueUnresolved(nic.pending, nextHop, buf, 'arp', () => this.arpRequest(nic, nextHop));
  }

  /**
   * Queues a packet for a next hop whose link address is being resolved (ARP or NDP): the
   * first one starts the resolution (`request`, which arms the retry timer); at most
   * ARP_QUEUE_MAX packets wait (Linux's unres_qlen), later ones are dropped.
   */
  private queueUnresolved<K>(
    pending: Map<K, ArpPending>,
    key: K,
    buf: Uint8Array,
    proto: 'arp' | 'ndp',
    request: () => void,
  ): void {
    let p = pending.get(key);
    if (!p) {
      const pend: ArpPending = { packets: [], tries: 0, timer: undefined as unknown as Timer };
      // Each expiry asks again, until ARP_RETRIES requests went unanswered: then the waiting
      // packets are dropped (counted as `arp-unresolved` / `ndp-unresolved`).
      pend.timer = new Timer(this.counters, () => {
        try {
          if (pending.get(key) !== pend) return;
          if (pend.tries < ARP_RETRIES) return request();
          pending.delete(key);
          pend.timer.dispose();
          const reason = `${proto}-unresolved`;
          this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + pend.packets.length;
        } catch (err) {
          this.reportError(
            proto === 'arp' ? 'netstack: ARP retry' : 'netstack: neighbour solicitation retry',
            err,
          );
        }
      });
      pending.set(key, pend);
      p = pend;
      request();
    }
    if (p.packets.length < ARP_QUEUE_MAX) p.packets.push(buf);
    else this.drop(`${proto}-queue-full`);
  }

  private arpRequest(nic: Nic, ip: number): void {
    const p = nic.pending.get(ip);
    if (!p) return;
    p.tries++;
    p.timer.arm(ARP_RETRY_MS);
    const a = nic.addresses.find((x) => sameSubnet(ip, x.addr, x.prefixLen)) ?? nic.addresses[0];
    nic.link.send(
      buildArpFrame(BROADCAST_MAC, {
        op: ARP_REQUEST,
        senderMac: nic.link.mac,
        senderIp: a ? a.addr : 0,
        targetMac: new Uint8Array(6),
        targetIp: ip,
      }),
    );
    this.stats.txFrames++;
  }

  private sendFrame(nic: Nic, buf: Uint8Array, dstMac: Uint8Array): void {
    writeEthernet(buf, dstMac, nic.link.mac, ETHERTYPE_IPV4);
    this.stats.txFrames++;
    nic.link.send(buf);
  }

  /** ICMP destination unreachable quoting the offending packet's header + 8 bytes. */
  private sendIcmpError(h: Ipv4Header, ipPacket: Uint8Array, code: number): void {
    const route = this.route(h.src, h.dst);
    if (typeof route === 'number') return;
    const quote = ipPacket.subarray(0, Math.min(ipPacket.length, h.hlen + 8));
    const out = new Uint8Array(HEADROOM + 8 + quote.length);
    const len = writeIcmp(out, HEADROOM, ICMP_DEST_UNREACH, code, 0, quote);
    this.stats.icmpUnreachSent++;
    this.mib.icmpOutMsgs++;
    this.mib.icmpOutType[ICMP_DEST_UNREACH]++;
    this.ipOutput(route, out, len, PROTO_ICMP, DEFAULT_TTL, 0, false);
  }

  // ---------------------------------------------------------------- IPv6

  /** Path MTUs learned from ICMPv6 packet too big, by destination (never below 1280). */
  private readonly pmtu6 = new Map<string, { mtu: number; expires: number }>();

  /** An IPv6 packet at buf (an Ethernet frame's payload when `frame` is given). */
  private ip6Input(nic: Nic, buf: Uint8Array, frame: Uint8Array | undefined): void {
    const mib = this.mib;
    mib.ip6InReceives++;
    mib.ip6InOctets += buf.length;
    const h = parseIpv6Header(buf);
    if (typeof h === 'string') {
      mib.ip6InHdrErrors++;
      return this.drop(`ip6-${h}`);
    }
    this.stats.ip6In++;
    mib.ip6InEcn[h.tclass & 3]++;
    const mcast = isMulticast6(h.dst);
    if (mcast) {
      mib.ip6InMcastPkts++;
      mib.ip6InMcastOctets += buf.length;
    }
    const local = mcast
      ? nic.inGroup6(h.dst)
      : nic.hasAddress6(h.dst) || (nic === this.loopback && this.isLocal(h.dst));
    if (!local) {
      if (!mcast) mib.ip6InAddrErrors++;
      return this.drop('ip6-not-ours'); // we do not forward
    }
    if (isMulticast6(h.src)) return this.drop('ip6-bad-source');
    const end = IPV6_HLEN + h.payloadLen;
    const packet = buf.subarray(0, end);
    const w = walkExtensions(buf, h.next, IPV6_HLEN, end, true);
    if (typeof w === 'string') return this.drop(`ip6-${w}`);
    let proto = w.proto;
    let payload = buf.subarray(w.off, end);
    if (w.frag) {
      if (w.frag.offset !== 0 || w.frag.more) {
        // The IPv4 reassembler's bookkeeping fits: key (src, dst, next header, id), offset, more.
        const key = { src: h.src, dst: h.dst, proto, id: w.frag.id, fragOff: w.frag.offset, mf: w.frag.more };
        mib.ip6ReasmReqds++;
        const whole = this.reassembler6.add(key as unknown as Ipv4Header, payload, performance.now());
        if (!whole) return;
        mib.ip6ReasmOKs++;
        payload = whole;
      }
      const rest = walkExtensions(payload, proto, 0, payload.length, false);
      if (typeof rest === 'string') return this.drop(`ip6-${rest}`);
      if (rest.frag) return this.drop('ip6-nested-fragment');
      proto = rest.proto;
      payload = payload.subarray(rest.off);
    }
    switch (proto) {
      case NH_ICMPV6:
        mib.ip6InDelivers++;
        return this.icmp6Input(nic, h, payload, packet, frame);
      case NH_UDP: {
        mib.ip6InDelivers++;
        if (!nic.link.checksumOffload && payload.length >= 8 && payload[6] === 0 && payload[7] === 0) {
          mib.udp6InCsumErrors++;
          mib.udp6InErrors++;
          return this.drop('udp6-no-checksum'); // mandatory over IPv6 (RFC 8200 §8.1)
        }
        const u = parseUdp(payload, h.src, h.dst, !nic.link.checksumOffload);
        if (!u) {
          const ulen = payload.length >= UDP_HLEN ? (payload[4] << 8) | payload[5] : 0;
          if (ulen >= UDP_HLEN && ulen <= payload.length) mib.udp6InCsumErrors++;
          mib.udp6InErrors++;
          return this.drop('udp-malformed');
        }
        const d = this.udpDeliver(h.src, h.dst, u.srcPort, u.dstPort, u.payload);
        if (d === 1) return;
        if (d === 2) {
          mib.udp6RcvbufErrors++;
          mib.udp6InErrors++;
          return;
        }
        mib.udp6NoPorts++;
        this.drop('udp-noport');
        if (!mcast) this.sendIcmp6Error(h, packet, ICMP6_DEST_UNREACH, UNREACH6_PORT, 0);
        return;
      }
      case NH_TCP: {
        mib.ip6InDelivers++;
        if (mcast) return this.drop('tcp-multicast');
        this.mib.tcpInSegs++;
        const seg = parseTcp(payload, h.src, h.dst, !nic.link.checksumOffload);
        if (!seg) return this.tcpInError(payload);
        seg.stable = nic.link.stableFrames === true || w.frag !== undefined;
        return this.tcpDemux(seg, h.src, h.dst);
      }
      case NH_NONE:
        mib.ip6InDelivers++;
        return;
      default:
        mib.ip6InUnknownProtos++;
        this.drop('ip6-proto');
        // The pointer names the next-header field; only computed for a packet without extensions.
        if (!mcast && w.off === IPV6_HLEN && !w.frag)
          this.sendIcmp6Error(h, packet, ICMP6_PARAM_PROBLEM, PARAM_NEXT_HEADER, 6);
    }
  }

  private icmp6Input(
    nic: Nic,
    h: Ipv6Header,
    buf: Uint8Array,
    packet: Uint8Array,
    frame: Uint8Array | undefined,
  ): void {
    this.mib.icmp6InMsgs++;
    const m = parseIcmp6(buf, h.src, h.dst, !nic.link.checksumOffload);
    if (!m) {
      if (buf.length >= 4) this.mib.icmp6InCsumErrors++;
      this.mib.icmp6InErrors++;
      return this.drop('icmp6-malformed');
    }
    this.mib.icmp6InType[m.type]++;
    switch (m.type) {
      case ICMP6_ECHO_REQUEST: {
        if (m.code !== 0) return this.drop('icmp6-malformed');
        // A multicast echo is answered from a unicast address of the NIC (Linux's default).
        const from = isMulticast6(h.dst) ? 0 : h.dst;
        const route = this.route(h.src, from);
        if (typeof route === 'number') return this.drop('icmp6-noroute');
        const out = new Uint8Array(HEADROOM6 + 8 + m.body.length);
        const len = writeIcmp6(
          out,
          HEADROOM6,
          route.src as string,
          h.src,
          ICMP6_ECHO_REPLY,
          0,
          m.rest,
          m.body,
        );
        this.stats.icmp6EchoReplies++;
        this.mib.icmp6OutMsgs++;
        this.mib.icmp6OutType[ICMP6_ECHO_REPLY]++;
        this.ip6Output(route, out, len, NH_ICMPV6, DEFAULT_HOP_LIMIT, 0);
        return;
      }
      case ICMP6_DEST_UNREACH: {
        // Our datagram bounced: tell a connected UDP endpoint (ECONNREFUSED).
        const inner = m.body;
        if (m.code !== UNREACH6_PORT || inner.length < IPV6_HLEN + 8 || inner[6] !== NH_UDP) return;
        const dst = readIpv6(inner, 24);
        const sport = (inner[IPV6_HLEN] << 8) | inner[IPV6_HLEN + 1];
        const dport = (inner[IPV6_HLEN + 2] << 8) | inner[IPV6_HLEN + 3];
        for (const ep of this.udpPorts.get(sport) ?? []) ep.deliverUnreachable(dst, dport);
        return;
      }
      case ICMP6_PACKET_TOO_BIG: {
        if (m.body.length < IPV6_HLEN) return this.drop('icmp6-malformed');
        const dst = readIpv6(m.body, 24);
        const mtu = Math.max(IPV6_MIN_MTU, m.rest);
        this.pmtu6.set(dst, { mtu, expires: performance.now() + 600_000 });
        return;
      }
      case ND_NEIGHBOR_SOLICIT:
        return this.ndpSolicitInput(nic, h, m.body, m.code, frame);
      case ND_NEIGHBOR_ADVERT:
        return this.ndpAdvertInput(nic, h, m.body, m.code, frame);
      default:
        return; // echo replies, router messages (no autoconfiguration), other errors
    }
  }

  private ndpSolicitInput(
    nic: Nic,
    h: Ipv6Header,
    body: Uint8Array,
    code: number,
    frame: Uint8Array | undefined,
  ): void {
    if (!frame || h.hopLimit !== ND_HOP_LIMIT || code !== 0) return this.drop('ndp-invalid');
    const ns = parseNd(body, OPT_SOURCE_LLADDR);
    if (!ns) return this.drop('ndp-invalid');
    const dad = h.src === '::';
    if (dad && (ns.lladdr || !isMulticast6(h.dst))) return this.drop('ndp-invalid');
    if (!nic.hasAddress6(ns.target)) return; // not ours: we proxy nothing
    const senderMac = ns.lladdr ?? frame.subarray(6, 12);
    if (!dad && ns.lladdr) this.learn6(nic, h.src, ns.lladdr);
    // Answer: solicited (unless a DAD probe: then to all nodes), override, our MAC.
    const dst = dad ? 'ff02::1' : h.src;
    const flags = (dad ? 0 : NA_SOLICITED) + NA_OVERRIDE;
    const nb = ndBody(ns.target, OPT_TARGET_LLADDR, nic.link.mac);
    const out = new Uint8Array(HEADROOM6 + 8 + nb.length);
    const len = writeIcmp6(out, HEADROOM6, ns.target, dst, ND_NEIGHBOR_ADVERT, 0, flags, nb);
    writeIpv6Header(out, ETH_HLEN, {
      src: ns.target,
      dst,
      next: NH_ICMPV6,
      hopLimit: ND_HOP_LIMIT,
      payloadLen: len,
    });
    this.stats.ndpAdvertsSent++;
    this.stats.ip6Out++;
    this.mib.icmp6OutMsgs++;
    this.mib.icmp6OutType[ND_NEIGHBOR_ADVERT]++;
    this.mib.ip6OutRequests++;
    this.ip6Transmitted(dst, IPV6_HLEN + len);
    this.sendFrame6(nic, out.subarray(0, HEADROOM6 + len), dad ? multicastMac6(dst) : senderMac);
  }

  private ndpAdvertInput(
    nic: Nic,
    h: Ipv6Header,
    body: Uint8Array,
    code: number,
    frame: Uint8Array | undefined,
  ): void {
    if (!frame || h.hopLimit !== ND_HOP_LIMIT || code !== 0) return this.drop('ndp-invalid');
    const na = parseNd(body, OPT_TARGET_LLADDR);
    if (!na) return this.drop('ndp-invalid');
    // Only entries we asked for or already hold are created/updated (RFC 4861 §7.2.5).
    if (!nic.pending6.has(na.target) && !nic.neighbors.has(na.target)) return;
    this.learn6(nic, na.target, na.lladdr ?? frame.subarray(6, 12));
  }

  /** Records ip's MAC (an NS's source option creates the entry, as on Linux) and sends what waited. */
  private learn6(nic: Nic, ip: string, mac: Uint8Array): void {
    if (mac[0] & 1) return; // never a multicast MAC
    if (!nic.neighbors.has(ip) && nic.neighbors.size >= NEIGHBOR_MAX) {
      // Bounded as Linux's gc_thresh3: expired entries go first; a full table learns nothing
      // new (solicitations from a flood of spoofed sources are still answered).
      const now = performance.now();
      for (const [k, e] of nic.neighbors) if (e.expires <= now) nic.neighbors.delete(k);
      if (nic.neighbors.size >= NEIGHBOR_MAX && !nic.pending6.has(ip)) {
        this.drop('ndp-table-full');
        return;
      }
    }
    nic.neighbors.set(ip, { mac: mac.slice(0, 6), expires: performance.now() + ARP_TIMEOUT_MS });
    const pend = nic.pending6.get(ip);
    if (pend) {
      nic.pending6.delete(ip);
      pend.timer.dispose();
      for (const f of pend.packets) this.sendFrame6(nic, f, mac);
    }
  }

  /**
   * Sends an IPv6 payload written at buf[HEADROOM6, HEADROOM6+len) along route, in
   * fragments when it exceeds the path MTU (only UDP and ICMPv6 get that big: TCP segments
   * fit the MSS).
   */
  ip6Output(
    route: Route,
    buf: Uint8Array,
    len: number,
    next: number,
    hopLimit: number,
    tclass: number,
  ): number {
    const nic = this.nicById.get(route.nicId)!;
    const src = route.src as string;
    const dst = route.dst as string;
    if (len > 65535) return -EMSGSIZE;
    let mtu = route.mtu;
    const p = this.pmtu6.get(dst);
    if (p) {
      if (p.expires > performance.now()) mtu = Math.min(mtu, p.mtu);
      else this.pmtu6.delete(dst);
    }
    this.mib.ip6OutRequests++;
    if (IPV6_HLEN + len <= mtu) {
      writeIpv6Header(buf, ETH_HLEN, { src, dst, next, hopLimit, tclass, payloadLen: len });
      this.stats.ip6Out++;
      this.ip6Transmitted(dst, IPV6_HLEN + len);
      this.link6Output(nic, route.nextHop as string, dst, buf.subarray(0, HEADROOM6 + len));
      return len;
    }
    this.ip6Id = (this.ip6Id + 1) % 0x100000000;
    this.mib.ip6FragOKs++;
    for (const [off, flen, more] of fragmentPlan6(len, mtu)) {
      const f = new Uint8Array(HEADROOM6 + FRAG_HLEN + flen);
      writeIpv6Header(f, ETH_HLEN, {
        src,
        dst,
        next: NH_FRAGMENT,
        hopLimit,
        tclass,
        payloadLen: FRAG_HLEN + flen,
      });
      writeFragHeader(f, HEADROOM6, next, off, more, this.ip6Id);
      f.set(buf.subarray(HEADROOM6 + off, HEADROOM6 + off + flen), HEADROOM6 + FRAG_HLEN);
      this.stats.ip6Out++;
      this.stats.fragmentsOut++;
      this.mib.ip6FragCreates++;
      this.ip6Transmitted(dst, IPV6_HLEN + FRAG_HLEN + flen);
      this.link6Output(nic, route.nextHop as string, dst, f);
    }
    return len;
  }

  /** Counts an IPv6 packet of `bytes` (header included) handed to a link (Linux's ip6_finish_output2). */
  private ip6Transmitted(dst: string, bytes: number): void {
    const m = this.mib;
    m.ip6OutTransmits++;
    m.ip6OutOctets += bytes;
    if (isMulticast6(dst)) {
      m.ip6OutMcastPkts++;
      m.ip6OutMcastOctets += bytes;
    }
  }

  /** buf holds [14 bytes of room][IPv6 packet]. */
  private link6Output(nic: Nic, nextHop: string, dst: string, buf: Uint8Array): void {
    if (!nic.link.ethernet) {
      this.stats.txFrames++;
      nic.link.send(buf.subarray(ETH_HLEN));
      return;
    }
    if (isMulticast6(dst)) return this.sendFrame6(nic, buf, multicastMac6(dst));
    const e = nic.neighbors.get(nextHop);
    if (e && e.expires > performance.now()) return this.sendFrame6(nic, buf, e.mac);
    this.queueUnresolved(nic.pending6, nextHop, buf, 'ndp', () => this.ndpSolicit(nic, nextHop));
  }

  /** A neighbour solicitation for `target` to its solicited-node group (RFC 4861 §7.2.2). */
  private ndpSolicit(nic: Nic, target: string): void {
    const p = nic.pending6.get(target);
    if (!p) return;
    p.tries++;
    p.timer.arm(ARP_RETRY_MS);
    const ll = isLinkLocal6(target);
    const a =
      nic.addresses6.find((x) => !ll && samePrefix6(target, x.addr, x.prefixLen)) ??
      nic.addresses6.find((x) => isLinkLocal6(x.addr)) ??
      nic.addresses6[0];
    if (!a) return;
    const dst = solicitedNode(target);
    const nb = ndBody(target, OPT_SOURCE_LLADDR, nic.link.mac);
    const out = new Uint8Array(HEADROOM6 + 8 + nb.length);
    const len = writeIcmp6(out, HEADROOM6, a.addr, dst, ND_NEIGHBOR_SOLICIT, 0, 0, nb);
    writeIpv6Header(out, ETH_HLEN, {
      src: a.addr,
      dst,
      next: NH_ICMPV6,
      hopLimit: ND_HOP_LIMIT,
      payloadLen: len,
    });
    this.stats.ndpSolicitsSent++;
    this.stats.ip6Out++;
    this.mib.icmp6OutMsgs++;
    this.mib.icmp6OutType[ND_NEIGHBOR_SOLICIT]++;
    this.mib.ip6OutRequests++;
    this.ip6Transmitted(dst, IPV6_HLEN + len);
    this.sendFrame6(nic, out, multicastMac6(dst));
  }

  private sendFrame6(nic: Nic, buf: Uint8Array, dstMac: Uint8Array): void {
    writeEthernet(buf, dstMac, nic.link.mac, ETHERTYPE_IPV6);
    this.stats.txFrames++;
    nic.link.send(buf);
  }

  /**
   * An ICMPv6 error about `packet` (RFC 4443 §2.4): never about an ICMPv6 error, nor to an
   * unspecified or multicast source; quotes as much as fits in 1280 bytes.
   */
  private sendIcmp6Error(h: Ipv6Header, packet: Uint8Array, type: number, code: number, rest: number): void {
    if (h.src === '::' || isMulticast6(h.src)) return;
    if (h.next === NH_ICMPV6 && packet.length > IPV6_HLEN && isIcmp6Error(packet[IPV6_HLEN])) return;
    const route = this.route(h.src, isMulticast6(h.dst) ? 0 : h.dst);
    if (typeof route === 'number') return;
    const quote = packet.subarray(0, Math.min(packet.length, ICMP6_QUOTE_MAX));
    const out = new Uint8Array(HEADROOM6 + 8 + quote.length);
    const len = writeIcmp6(out, HEADROOM6, route.src as string, h.src, type, code, rest, quote);
    this.stats.icmp6ErrorsSent++;
    this.mib.icmp6OutMsgs++;
    this.mib.icmp6OutType[type]++;
    this.ip6Output(route, out, len, NH_ICMPV6, DEFAULT_HOP_LIMIT, 0);
  }

  // ---------------------------------------------------------------- UdpHost

  bindUdp(ep: UdpEndpoint, addr: IpAddr, port: number): number {
    if (addr !== 0 && !this.isLocal(addr)) return -EADDRNOTAVAIL;
    let p = port;
    if (p === 0) {
      p = this.pickEphemeral((c) => !this.udpPorts.has(c));
      if (p < 0) return p;
    } else {
      const list = this.udpPorts.get(p) ?? [];
      if (list.some((o) => bindsOverlap(o.laddr, o.ipVersions, addr, ep.ipVersions))) return -EADDRINUSE;
    }
    const list = this.udpPorts.get(p) ?? [];
    list.push(ep);
    this.udpPorts.set(p, list);
    this.counters.udpEndpoints++;
    return p;
  }

  releaseUdp(ep: UdpEndpoint): void {
    const list = this.udpPorts.get(ep.lport);
    if (!list) return;
    const i = list.indexOf(ep);
    if (i < 0) return;
    list.splice(i, 1);
    if (!list.length) this.udpPorts.delete(ep.lport);
    this.counters.udpEndpoints--;
  }

  outputUdp(ep: UdpEndpoint, data: Uint8Array, dst: IpAddr, dport: number): number {
    const route = this.route(dst, ep.laddr);
    if (typeof route === 'number') return route;
    if (typeof dst === 'string') {
      const b6 = new Uint8Array(HEADROOM6 + UDP_HLEN + data.length);
      const l6 = writeUdp(b6, HEADROOM6, route.src, dst, ep.lport, dport, data);
      const r6 = this.ip6Output(route, b6, l6, NH_UDP, ep.ttl, ep.tos);
      if (r6 < 0) return r6;
      this.mib.udp6OutDatagrams++;
      return data.length;
    }
    const buf = new Uint8Array(HEADROOM + UDP_HLEN + data.length);
    const len = writeUdp(buf, HEADROOM, route.src, dst, ep.lport, dport, data);
    const r = this.ipOutput(route, buf, len, PROTO_UDP, ep.ttl, 0, false);
    if (r < 0) return r;
    this.mib.udpOutDatagrams++;
    return data.length;
  }

  // ---------------------------------------------------------------- TcpHost

  private pickEphemeral(free: (port: number) => boolean): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let i = 0; i < span; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
      if (free(p)) return p;
    }
    return -EAGAIN; // Linux: EADDRNOTAVAIL for connect, EADDRINUSE for bind; the caller maps
  }

  bindTcp(ep: TcpEndpoint, addr: IpAddr, port: number): number {
    if (addr !== 0 && !this.isLocal(addr)) return -EADDRNOTAVAIL;
    let p = port;
    if (p === 0) {
      p = this.pickEphemeral((c) => !this.tcpPorts.has(c));
      if (p < 0) return -EADDRINUSE;
    } else {
      const users = this.tcpPorts.get(p);
      if (users) {
        for (const o of users) {
          if (!bindsOverlap(o.laddr, o.ipVersions, addr, ep.ipVersions)) continue;
          // SO_REUSEADDR on both lets a bind succeed unless the other is listening.
          if (ep.reuseAddr && o.reuseAddr && o.state !== TcpState.LISTEN) continue;
          return -EADDRINUSE;
        }
      }
    }
    this.addPortUser(p, ep);
    return p;
  }

  private addPortUser(port: number, ep: TcpEndpoint): void {
    let users = this.tcpPorts.get(port);
    if (!users) {
      users = new Set();
      this.tcpPorts.set(port, users);
    }
    users.add(ep);
    if (!this.tcpLive.has(ep)) {
      this.tcpLive.add(ep);
      this.counters.tcpEndpoints++;
    }
  }

  connectTcp(ep: TcpEndpoint, src: IpAddr, lport: number, dst: IpAddr, dport: number): number {
    let p = lport;
    if (p === 0) {
      p = this.pickEphemeral((c) => !this.tcpPorts.has(c) && !this.tcpConns.has(connKey(src, c, dst, dport)));
      if (p < 0) return -EADDRNOTAVAIL;
      this.addPortUser(p, ep);
    } else if (this.tcpConns.has(connKey(src, p, dst, dport))) {
      return -EADDRNOTAVAIL;
    }
    this.tcpConns.set(connKey(src, p, dst, dport), ep);
    return p;
  }

  addListener(ep: TcpEndpoint): void {
    const list = this.tcpListeners.get(ep.lport) ?? [];
    list.push(ep);
    this.tcpListeners.set(ep.lport, list);
  }

  removeListener(ep: TcpEndpoint): void {
    const list = this.tcpListeners.get(ep.lport);
    if (!list) return;
    const i = list.indexOf(ep);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.tcpListeners.delete(ep.lport);
  }

  addConnection(ep: TcpEndpoint): boolean {
    const k = connKey(ep.laddr, ep.lport, ep.raddr, ep.rport);
    if (this.tcpConns.has(k)) return false;
    this.tcpConns.set(k, ep);
    this.tcpLive.add(ep);
    this.counters.tcpEndpoints++;
    return true;
  }

  release(ep: TcpEndpoint): void {
    const k = connKey(ep.laddr, ep.lport, ep.raddr, ep.rport);
    if (this.tcpConns.get(k) === ep) this.tcpConns.delete(k);
    this.removeListener(ep);
    const users = this.tcpPorts.get(ep.lport);
    if (users && users.delete(ep) && users.size === 0) this.tcpPorts.delete(ep.lport);
    if (this.tcpLive.delete(ep)) this.counters.tcpEndpoints--;
  }

  abortChildren(listener: TcpEndpoint): void {
    for (const ep of [...this.tcpLive]) if (ep.isChildOf(listener)) ep.abort();
  }

  sendReset(seg: TcpSegment, remote: IpAddr, local: IpAddr): void {
    if (seg.flags & RST) return;
    const route = this.route(remote, local);
    if (typeof route === 'number') return;
    let segLen = seg.payload.length;
    if (seg.flags & SYN) segLen++;
    if (seg.flags & FIN) segLen++;
    const v6 = typeof remote === 'string';
    const room = v6 ? HEADROOM6 : HEADROOM;
    const buf = new Uint8Array(room + TCP_HLEN);
    const out =
      seg.flags & ACK
        ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: RST, window: 0 }
        : {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: 0,
            ack: seqAdd(seg.seq, segLen),
            flags: RST | ACK,
            window: 0,
          };
    const len = writeTcp(buf, room, out, 0, local, remote, !route.offload);
    this.stats.tcpResetsSent++;
    this.mib.tcpOutSegs++;
    this.mib.tcpOutRsts++;
    if (v6) this.ip6Output(route, buf, len, NH_TCP, DEFAULT_HOP_LIMIT, 0);
    else this.ipOutput(route, buf, len, PROTO_TCP, DEFAULT_TTL, 0, true);
  }

  reportError(msg: string, err: unknown): void {
    this.drop('internal');
    this.onError(msg, err);
  }

  outputTcp(
    route: Route,
    buf: Uint8Array,
    len: number,
    _src: IpAddr,
    dst: IpAddr,
    ttl: number,
    tos: number,
  ): void {
    this.mib.tcpOutSegs++;
    if (buf[HEADROOM6 + 13] & RST) this.mib.tcpOutRsts++;
    // The endpoint left HEADROOM6 bytes; IPv4 uses the last HEADROOM of them.
    if (typeof dst === 'string') this.ip6Output(route, buf, len, NH_TCP, ttl, tos);
    else this.ipOutput(route, buf.subarray(HEADROOM6 - HEADROOM), len, PROTO_TCP, ttl, tos, true);
  }

  /** Human-readable summary of the tables (for debugging). */
  describe(): string {
    const f = (a: IpAddr): string => (typeof a === 'string' ? `[${a}]` : formatIpv4(a));
    return [...this.tcpLive]
      .map((e) => `${TcpState[e.state]} ${f(e.laddr)}:${e.lport} ${f(e.raddr)}:${e.rport}`)
      .join('\n');
  }
}

function connKey(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): string {
  return `${laddr}|${lport}|${raddr}|${rport}`;
}

/** Whether a wildcard bind for `versions` (4, 6 or 46: dual stack) takes IP version `ver`. */
function acceptsVersion(versions: number, ver: 4 | 6): boolean {
  return versions === 46 || versions === ver;
}

/**
 * Whether two binds cover a common address: equal addresses; a wildcard and an address of
 * a version it accepts; two wildcards with a version in common (so 0.0.0.0 and a V6ONLY ::
 * coexist on one port, and a dual-stack :: conflicts with both, as on Linux).
 */
function bindsOverlap(a: IpAddr, aVers: number, b: IpAddr, bVers: number): boolean {
  if (a !== 0 && b !== 0) return a === b;
  if (a === 0 && b === 0) return aVers === 46 || bVers === 46 || aVers === bVers;
  const [wildVers, addr] = a === 0 ? [aVers, b] : [bVers, a];
  return acceptsVersion(wildVers, typeof addr === 'string' ? 6 : 4);
}
