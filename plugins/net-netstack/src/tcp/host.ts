/**
 * What a TCP endpoint needs from its stack (implemented by Stack in ../stack.ts): routes,
 * the port and connection tables, RSTs for segments that match no endpoint, and output.
 */
import type { IpAddr } from '../addr';
import type { TimerCounters } from '../timer';
import type { TcpSegment } from './segment';
import type { TcpEndpoint } from './endpoint';
import type { Mib } from '../../../../core/net/mib';

/** A resolved route: the NIC to use, our source address, the next hop and the path MTU. */
export interface Route {
  nicId: number;
  /** Numbers for IPv4, canonical text for IPv6 (both of one version). */
  src: IpAddr;
  dst: IpAddr;
  nextHop: IpAddr;
  mtu: number;
  /** The NIC's link offloads checksums (loopback): skip computing them. */
  offload: boolean;
}

export interface TcpHostStats {
  listenDrops: number;
  timeWaits: number;
}

export interface TcpHost {
  /** Bytes callers leave in front of a transport header for the IP and link headers. */
  readonly headroom: number;
  readonly counters: TimerCounters;
  readonly stats: TcpHostStats;
  /** The stack's MIB counters (opens, resets and retransmissions are counted by endpoints). */
  readonly mib: Mib;
  /** A route to dst (from src if given, else 0); -ENETUNREACH / -EADDRNOTAVAIL if none. */
  route(dst: IpAddr, src: IpAddr): Route | number;
  /** Reserves (addr, port) for a bind; port 0 picks an ephemeral one. Returns the port or -errno. */
  bindTcp(ep: TcpEndpoint, addr: IpAddr, port: number): number;
  /** Registers ep's 4-tuple (picking an ephemeral port when lport is 0). Returns lport or -errno. */
  connectTcp(ep: TcpEndpoint, src: IpAddr, lport: number, dst: IpAddr, dport: number): number;
  addListener(ep: TcpEndpoint): void;
  removeListener(ep: TcpEndpoint): void;
  /** Registers a passive child's 4-tuple; false if taken. */
  addConnection(ep: TcpEndpoint): boolean;
  /** Removes ep from every table (idempotent). */
  release(ep: TcpEndpoint): void;
  /** Aborts the half-open children of a closing listener. */
  abortChildren(listener: TcpEndpoint): void;
  /** Answers `seg` (from remote to local) with a RST per RFC 9293 §3.10.7.1. */
  sendReset(seg: TcpSegment, remote: IpAddr, local: IpAddr): void;
  /**
   * Called after a segment was processed: true if the stack will call ep.finishInput() at
   * the end of the current receive batch (false: the endpoint finishes now).
   */
  deferInput(ep: TcpEndpoint): boolean;
  /** Reports an internal error (a bug), never thrown at the event loop. */
  reportError(msg: string, err: unknown): void;
  /** Sends a TCP segment written at buf[headroom, headroom+len). */
  outputTcp(
    route: Route,
    buf: Uint8Array,
    len: number,
    src: IpAddr,
    dst: IpAddr,
    ttl: number,
    tos: number,
  ): void;
}

/**
 * The MSS a route allows: its MTU less the IP and TCP headers (IPv4: 20 + 20, the datagram
 * at most 65535 bytes; IPv6: 40 + 20, as Linux's 65476 on lo).
 */
export function routeMss(route: Route): number {
  return typeof route.dst === 'string' ? route.mtu - 60 : Math.min(route.mtu, 65535) - 40;
}
