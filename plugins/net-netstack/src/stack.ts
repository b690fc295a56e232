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
  isLoopback,
  macEqual,
  prefixMask,
  readIpv4,
  sameSubnet,
} from './addr';
import { ARP_REPLY, ARP_REQUEST, buildArpFrame, parseArp } from './arp';
import { EADDRINUSE, EADDRNOTAVAIL, EAGAIN, EMSGSIZE, ENETUNREACH } from './errno';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, etherType, writeEthernet } from './ethernet';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
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

export const HEADROOM = ETH_HLEN + IPV4_HLEN;
const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;
const ARP_TIMEOUT_MS = 60_000;
const ARP_RETRY_MS = 1000;
const ARP_RETRIES = 3;
const ARP_QUEUE_MAX = 64;

export interface AddressConfig {
  /** "10.0.0.2/24" or a number with prefixLen. */
  addr: number;
  prefixLen: number;
}

export interface NicConfig {
  /** Addresses as "a.b.c.d/len" strings. */
  addresses: string[];
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

export class Nic {
  readonly addresses: AddressConfig[] = [];
  readonly arp = new Map<number, ArpEntry>();
  readonly pending = new Map<number, ArpPending>();

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
  tcpResetsSent: number;
  listenDrops: number;
  timeWaits: number;
  fragmentsOut: number;
  drops: Record<string, number>;
}

export class Stack implements TcpHost, UdpHost {
  readonly headroom = HEADROOM;
  readonly counters: StackCounters = { timers: 0, tcpEndpoints: 0, udpEndpoints: 0 };
  readonly stats: StackStats = {
    rxFrames: 0,
    txFrames: 0,
    ipIn: 0,
    ipOut: 0,
    icmpEchoReplies: 0,
    icmpUnreachSent: 0,
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
  private readonly reassembler: Reassembler;
  private ipId = Math.floor(Math.random() * 65536);
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
    this.onError = opts.onError ?? (() => {});
    this.loopback = this.addNic(new LoopbackLink(), { addresses: ['127.0.0.1/8'] });
  }

  // ---------------------------------------------------------------- configuration

  /** Attaches a link with its addresses; adds the connected routes. */
  addNic(link: LinkEndpoint, cfg: NicConfig): Nic {
    const id = cfg.id ?? Math.max(0, ...this.nics.map((n) => n.id)) + 1;
    if (this.nics.some((n) => n.id === id))
      throw new Error(`NIC ${link.name}: interface index ${id} is taken`);
    const nic = new Nic(id, link);
    this.nicById.set(id, nic);
    for (const text of cfg.addresses) {
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

  /** Adds a route (e.g. the default: dest "0.0.0.0", prefixLen 0, gateway). */
  addRoute(dest: string, prefixLen: number, nic: Nic, gateway?: string): void {
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
      nic.link.close();
    }
    this.reassembler.clear();
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

  /** Live TCP endpoints by state name (for leak checks and /proc/net/tcp later). */
  tcpStates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const ep of this.tcpLive) out[TcpState[ep.state]] = (out[TcpState[ep.state]] ?? 0) + 1;
    return out;
  }

  isLocal(a: number): boolean {
    return isLoopback(a) || this.nics.some((n) => n.hasAddress(a));
  }

  // ---------------------------------------------------------------- routing

  route(dst: number, src = 0): Route | number {
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
      return { nicId: r.nic.id, src: from, dst, nextHop: r.gateway || dst, mtu: r.nic.link.mtu, offload };
    }
    return -ENETUNREACH;
  }

  sourceFor(dst: number): number {
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
        this.ipInput(nic, frame);
        return;
      }
      const type = etherType(frame);
      if (type < 0) return this.drop('eth-short');
      const toUs = macEqual(frame, 0, nic.link.mac) || macEqual(frame, 0, BROADCAST_MAC);
      if (!toUs) return this.drop('eth-otherhost');
      if (type === ETHERTYPE_ARP) this.arpInput(nic, frame.subarray(ETH_HLEN));
      else if (type === ETHERTYPE_IPV4) this.ipInput(nic, frame.subarray(ETH_HLEN));
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
    const h = parseIpv4Header(buf);
    if (typeof h === 'string') return this.drop(`ip-${h}`);
    this.stats.ipIn++;
    const local =
      nic.hasAddress(h.dst) || (nic === this.loopback && this.isLocal(h.dst)) || nic.isBroadcast(h.dst);
    if (!local) return this.drop('ip-not-ours'); // we do not forward
    if (h.src === 0xffffffff || h.src >>> 28 === 14) return this.drop('ip-bad-source');
    let payload = buf.subarray(h.hlen, h.totalLen);
    if (h.mf || h.fragOff > 0) {
      const whole = this.reassembler.add(h, payload, performance.now());
      if (!whole) return;
      payload = whole;
    }
    switch (h.proto) {
      case PROTO_ICMP:
        return this.icmpInput(h, payload);
      case PROTO_UDP:
        return this.udpInput(nic, h, buf, payload);
      case PROTO_TCP:
        return this.tcpInput(nic, h, payload);
      default:
        this.drop('ip-proto');
        if (!nic.isBroadcast(h.dst)) this.sendIcmpError(h, buf, UNREACH_PROTOCOL);
    }
  }

  private icmpInput(h: Ipv4Header, buf: Uint8Array): void {
    const m = parseIcmp(buf);
    if (!m) return this.drop('icmp-malformed');
    if (m.type === ICMP_ECHO_REQUEST && m.code === 0) {
      if (h.dst === 0xffffffff) return; // no broadcast pings (icmp_echo_ignore_broadcasts)
      const route = this.route(h.src, h.dst);
      if (typeof route === 'number') return this.drop('icmp-noroute');
      const out = new Uint8Array(HEADROOM + 8 + m.body.length);
      const len = writeIcmp(out, HEADROOM, ICMP_ECHO_REPLY, 0, m.rest, m.body);
      this.stats.icmpEchoReplies++;
      this.ipOutput(route, out, len, PROTO_ICMP, DEFAULT_TTL, 0, false);
      return;
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

  private udpInput(nic: Nic, h: Ipv4Header, ipPacket: Uint8Array, buf: Uint8Array): void {
    const u = parseUdp(buf, h.src, h.dst, !nic.link.checksumOffload);
    if (!u) return this.drop('udp-malformed');
    const eps = this.udpPorts.get(u.dstPort);
    let target: UdpEndpoint | undefined;
    if (eps) {
      for (const ep of eps) {
        if (ep.laddr !== 0 && ep.laddr !== h.dst) continue;
        if (ep.raddr !== 0 && (ep.raddr !== h.src || ep.rport !== u.srcPort)) continue;
        if (!target || (ep.raddr !== 0 && target.raddr === 0) || (ep.laddr !== 0 && target.laddr === 0))
          target = ep;
      }
    }
    if (target) {
      target.deliver(u.payload, h.src, u.srcPort);
      return;
    }
    this.drop('udp-noport');
    if (h.dst !== 0xffffffff && !nic.isBroadcast(h.dst) && !(h.mf || h.fragOff))
      this.sendIcmpError(h, ipPacket, UNREACH_PORT);
  }

  private tcpInput(nic: Nic, h: Ipv4Header, buf: Uint8Array): void {
    if (nic.isBroadcast(h.dst)) return this.drop('tcp-broadcast');
    const seg = parseTcp(buf, h.src, h.dst, !nic.link.checksumOffload);
    if (!seg) return this.drop('tcp-malformed');
    seg.stable = nic.link.stableFrames === true;
    const ep = this.tcpConns.get(connKey(h.dst, seg.dstPort, h.src, seg.srcPort));
    if (ep) {
      ep.input(seg);
      return;
    }
    const l = this.findListener(h.dst, seg.dstPort);
    if (l) {
      l.inputListen(seg, h.src, h.dst);
      return;
    }
    this.drop('tcp-noport');
    this.sendReset(seg, h.src, h.dst);
  }

  private findListener(addr: number, port: number): TcpEndpoint | undefined {
    const list = this.tcpListeners.get(port);
    if (!list) return undefined;
    let any: TcpEndpoint | undefined;
    for (const l of list) {
      if (l.laddr === addr) return l;
      if (l.laddr === 0) any = l;
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
    this.ipId = (this.ipId + 1) & 0xffff;
    const id = this.ipId;
    if (IPV4_HLEN + len > 65535) return -EMSGSIZE;
    if (IPV4_HLEN + len <= route.mtu) {
      writeIpv4Header(buf, ETH_HLEN, {
        src: route.src,
        dst: route.dst,
        proto,
        ttl,
        tos,
        id,
        df,
        payloadLen: len,
      });
      this.stats.ipOut++;
      this.linkOutput(nic, route.nextHop, buf.subarray(0, HEADROOM + len));
      return len;
    }
    if (df) return -EMSGSIZE;
    for (const [off, flen, more] of fragmentPlan(len, route.mtu)) {
      const f = new Uint8Array(HEADROOM + flen);
      f.set(buf.subarray(HEADROOM + off, HEADROOM + off + flen), HEADROOM);
      writeIpv4Header(f, ETH_HLEN, {
        src: route.src,
        dst: route.dst,
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
      this.linkOutput(nic, route.nextHop, f);
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
    let p = nic.pending.get(nextHop);
    if (!p) {
      const pend: ArpPending = { packets: [], tries: 0, timer: undefined as unknown as Timer };
      pend.timer = new Timer(this.counters, () => {
        try {
          this.arpRetry(nic, nextHop);
        } catch (e) {
          this.reportError('netstack: ARP retry', e);
        }
      });
      nic.pending.set(nextHop, pend);
      p = pend;
      this.arpRequest(nic, nextHop);
    }
    if (p.packets.length < ARP_QUEUE_MAX) p.packets.push(buf);
    else this.drop('arp-queue-full');
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

  private arpRetry(nic: Nic, ip: number): void {
    const p = nic.pending.get(ip);
    if (!p) return;
    if (p.tries >= ARP_RETRIES) {
      nic.pending.delete(ip);
      p.timer.dispose();
      this.stats.drops['arp-unresolved'] = (this.stats.drops['arp-unresolved'] ?? 0) + p.packets.length;
      return;
    }
    this.arpRequest(nic, ip);
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
    this.ipOutput(route, out, len, PROTO_ICMP, DEFAULT_TTL, 0, false);
  }

  // ---------------------------------------------------------------- UdpHost

  bindUdp(ep: UdpEndpoint, addr: number, port: number): number {
    if (addr !== 0 && !this.isLocal(addr)) return -EADDRNOTAVAIL;
    let p = port;
    if (p === 0) {
      p = this.pickEphemeral((c) => !this.udpPorts.has(c));
      if (p < 0) return p;
    } else {
      const list = this.udpPorts.get(p) ?? [];
      if (list.some((o) => o.laddr === 0 || addr === 0 || o.laddr === addr)) return -EADDRINUSE;
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

  outputUdp(ep: UdpEndpoint, data: Uint8Array, dst: number, dport: number): number {
    const route = this.route(dst, ep.laddr);
    if (typeof route === 'number') return route;
    const buf = new Uint8Array(HEADROOM + UDP_HLEN + data.length);
    const len = writeUdp(buf, HEADROOM, route.src, dst, ep.lport, dport, data);
    const r = this.ipOutput(route, buf, len, PROTO_UDP, ep.ttl, 0, false);
    return r < 0 ? r : data.length;
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

  bindTcp(ep: TcpEndpoint, addr: number, port: number): number {
    if (addr !== 0 && !this.isLocal(addr)) return -EADDRNOTAVAIL;
    let p = port;
    if (p === 0) {
      p = this.pickEphemeral((c) => !this.tcpPorts.has(c));
      if (p < 0) return -EADDRINUSE;
    } else {
      const users = this.tcpPorts.get(p);
      if (users) {
        for (const o of users) {
          if (o.laddr !== 0 && addr !== 0 && o.laddr !== addr) continue;
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

  connectTcp(ep: TcpEndpoint, src: number, lport: number, dst: number, dport: number): number {
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

  sendReset(seg: TcpSegment, remote: number, local: number): void {
    if (seg.flags & RST) return;
    const route = this.route(remote, local);
    if (typeof route === 'number') return;
    let segLen = seg.payload.length;
    if (seg.flags & SYN) segLen++;
    if (seg.flags & FIN) segLen++;
    const buf = new Uint8Array(HEADROOM + TCP_HLEN);
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
    const len = writeTcp(buf, HEADROOM, out, 0, local, remote, !route.offload);
    this.stats.tcpResetsSent++;
    this.ipOutput(route, buf, len, PROTO_TCP, DEFAULT_TTL, 0, true);
  }

  reportError(msg: string, err: unknown): void {
    this.drop('internal');
    this.onError(msg, err);
  }

  outputTcp(
    route: Route,
    buf: Uint8Array,
    len: number,
    _src: number,
    _dst: number,
    ttl: number,
    tos: number,
  ): void {
    this.ipOutput(route, buf, len, PROTO_TCP, ttl, tos, true);
  }

  /** Human-readable summary of the tables (for debugging). */
  describe(): string {
    return [...this.tcpLive]
      .map((e) => `${TcpState[e.state]} ${formatIpv4(e.laddr)}:${e.lport} ${formatIpv4(e.raddr)}:${e.rport}`)
      .join('\n');
  }
}

function connKey(laddr: number, lport: number, raddr: number, rport: number): string {
  return `${laddr}:${lport}:${raddr}:${rport}`;
}
