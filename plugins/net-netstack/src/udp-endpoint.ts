/**
 * A UDP endpoint: bind/connect/sendTo/recvFrom, non-blocking, with readiness callbacks.
 * Datagrams beyond the receive buffer are dropped (counted), as Linux does.
 */
import { EAGAIN, ECONNREFUSED, EDESTADDRREQ, EINVAL, EMSGSIZE, POLLERR, POLLIN, POLLOUT } from './errno';
import { validAddr, validPort, type IpAddr } from './addr';
import type { Mib } from '../../../core/net/mib';

export interface UdpDatagram {
  data: Uint8Array;
  addr: IpAddr;
  port: number;
}

export interface UdpHost {
  /** The stack's MIB counters (Udp InDatagrams is counted when the app reads, as Linux). */
  readonly mib: Mib;
  bindUdp(ep: UdpEndpoint, addr: IpAddr, port: number): number;
  releaseUdp(ep: UdpEndpoint): void;
  /** Sends one datagram; returns bytes sent or -errno. */
  outputUdp(ep: UdpEndpoint, data: Uint8Array, dst: IpAddr, dport: number): number;
  /** Our source address towards dst (route lookup), or -errno. */
  sourceFor(dst: IpAddr): IpAddr;
}

let nextId = 1;

export class UdpEndpoint {
  readonly id = nextId++;
  laddr: IpAddr = 0;
  lport = 0;
  raddr: IpAddr = 0;
  rport = 0;
  ttl = 64;
  /** IP_TOS / IPV6_TCLASS. */
  tos = 0;
  /** IP versions a wildcard bind takes: 4, 6 (IPV6_V6ONLY) or 46 (a dual-stack AF_INET6 socket). */
  ipVersions: 4 | 6 | 46 = 4;
  rcvBufSize = 212_992;
  onEvent: ((ep: UdpEndpoint) => void) | undefined;
  readonly stats = { datagramsIn: 0, datagramsOut: 0, drops: 0 };
  private queue: UdpDatagram[] = [];
  private queued = 0;
  private err = 0;
  private bound = false;
  private closed = false;

  constructor(private readonly host: UdpHost) {}

  bind(addr: IpAddr, port: number): number {
    if (this.bound || !validAddr(addr) || !validPort(port)) return -EINVAL;
    const r = this.host.bindUdp(this, addr, port);
    if (r < 0) return r;
    this.laddr = addr;
    this.lport = r;
    this.bound = true;
    return 0;
  }

  /** connect(2): fixes the default destination and filters incoming datagrams. */
  connect(addr: IpAddr, port: number): number {
    if (!validAddr(addr) || !validPort(port) || port === 0) return -EINVAL;
    if (!this.bound) {
      const r = this.bind(0, 0);
      if (r < 0) return r;
    }
    this.raddr = addr;
    this.rport = port;
    return 0;
  }

  /** sendto(2). Without addr/port the connected peer is used. */
  sendTo(data: Uint8Array, addr?: IpAddr, port?: number): number {
    if (this.err) return -this.takeError();
    const dst = addr ?? this.raddr;
    const dport = port ?? this.rport;
    if (!dport) return -EDESTADDRREQ;
    if (!validAddr(dst) || !validPort(dport)) return -EINVAL;
    if (data.length > 65507) return -EMSGSIZE;
    if (!this.bound) {
      const r = this.bind(0, 0);
      if (r < 0) return r;
    }
    const n = this.host.outputUdp(this, data, dst, dport);
    if (n >= 0) this.stats.datagramsOut++;
    return n;
  }

  /** recvfrom(2): the next datagram, or -EAGAIN / a pending error (-ECONNREFUSED). */
  recvFrom(peek = false): UdpDatagram | number {
    const d = this.queue[0];
    if (!d) return this.err ? -this.takeError() : -EAGAIN;
    if (!peek) {
      this.queue.shift();
      this.queued -= d.data.length;
      if (typeof d.addr === 'number') this.host.mib.udpInDatagrams++;
      else this.host.mib.udp6InDatagrams++;
    }
    return d;
  }

  poll(): number {
    let m = POLLOUT;
    if (this.queue.length) m |= POLLIN;
    if (this.err) m |= POLLERR;
    return m;
  }

  takeError(): number {
    const e = this.err;
    this.err = 0;
    return e;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onEvent = undefined;
    this.queue = [];
    if (this.bound) this.host.releaseUdp(this);
  }

  /** Called by the stack with a datagram for this endpoint; false if the receive buffer is full. */
  deliver(data: Uint8Array, addr: IpAddr, port: number): boolean {
    if (this.raddr && (addr !== this.raddr || port !== this.rport)) return true;
    if (this.queued + data.length > this.rcvBufSize) {
      this.stats.drops++;
      return false;
    }
    this.stats.datagramsIn++;
    this.queue.push({ data: data.slice(), addr, port });
    this.queued += data.length;
    this.notify();
    return true;
  }

  /** An ICMP port unreachable for a datagram we sent to (addr, port). */
  deliverUnreachable(addr: IpAddr, port: number): void {
    if (!this.raddr || addr !== this.raddr || port !== this.rport) return; // Linux reports only when connected
    this.err = ECONNREFUSED;
    this.notify();
  }

  private notify(): void {
    const cb = this.onEvent;
    if (!cb) return;
    try {
      cb(this);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}
