/**
 * The sandbox's AF_INET sockets served by the user-space stack: a SocketFile (the core's
 * socket operations) around a TcpEndpoint or UdpEndpoint.
 *
 * Endpoints never block; they return a value or -errno and call `onEvent` when readiness
 * may have changed. Blocking is done here, as net-host does it: an operation that finds
 * the endpoint not ready waits on the socket's WaitQueue with sockWait (registered in the
 * same synchronous run as the failed attempt) and retries when woken.
 *
 * Wake-ups follow Linux's: the queue is notified of readiness bits that became set since
 * the socket last looked (an edge), and of POLLIN again whenever more data (or another
 * connection to accept) arrived, as sk_data_ready does; an ACK that changes nothing the
 * app can see wakes nobody, so edge-triggered epoll reports what Linux reports.
 */
import {
  EACCES,
  EAFNOSUPPORT,
  EAGAIN,
  EALREADY,
  ECONNREFUSED,
  EINPROGRESS,
  EINVAL,
  EISCONN,
  ENETUNREACH,
  ENODEV,
  ENOPROTOOPT,
  ENOTCONN,
  EOPNOTSUPP,
  EPIPE,
} from '../../../../core/abi/errno';
import type { TaskApi } from '../../../../core/kernel/api';
import { CAP_NET_BIND_SERVICE, capable } from '../../../../core/kernel/caps';
import { releaseControl } from '../../../../core/net/cmsg';
import {
  deadlineFor,
  int32,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  RecvResult,
  SendControl,
  SIOCINQ,
  SIOCOUTQ,
  SO_ACCEPTCONN,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_PEEK_OFF,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_DGRAM,
  SOCK_STREAM,
  SocketFile,
  sockWait,
  SOL_SOCKET,
} from '../../../../core/net/socket';
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRNORM,
} from '../../../../core/util/waiter';
import { O_NONBLOCK, O_RDWR, SIGPIPE } from '../../../../core/vfs/abi';
import { copyToSegs, gatherSegs, IoDst, IoSrc, ioLength } from '../../../../core/vfs/file';
import type { FileTask } from '../../../../core/vfs/task';
import { isLinkLocal6, v4Mapped, type IpAddr } from '../addr';
import type { Stack } from '../stack';
import { TcpState, type TcpEndpoint } from '../tcp/endpoint';
import type { UdpEndpoint } from '../udp-endpoint';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  formatSockaddrIn,
  formatSockaddrIn6,
  parseSockaddrIn,
  parseSockaddrIn6,
  sockaddrFamily,
} from './sockaddr';

/** An address and port as the stack takes them (IPv4 number or IPv6 text; 0 = any). */
interface InetAddr {
  addr: IpAddr;
  port: number;
}

export const IPPROTO_IP = 0,
  IPPROTO_TCP = 6,
  IPPROTO_UDP = 17,
  IPPROTO_IPV6 = 41;
const IPV6_UNICAST_HOPS = 16,
  IPV6_V6ONLY = 26,
  IPV6_TCLASS = 67;
const IP_TOS = 1,
  IP_TTL = 2,
  IP_RECVERR = 11;
/** recvmsg: read the socket's error queue (never holds anything here: IP_RECVERR below). */
const MSG_ERRQUEUE = 0x2000;
const TCP_NODELAY = 1,
  TCP_MAXSEG = 2,
  TCP_CORK = 3,
  TCP_KEEPIDLE = 4,
  TCP_KEEPINTVL = 5,
  TCP_KEEPCNT = 6,
  TCP_DEFER_ACCEPT = 9,
  TCP_INFO = 11,
  TCP_QUICKACK = 12,
  TCP_USER_TIMEOUT = 18;
/** Options accepted and echoed that change nothing in this stack (listed in docs/netstack.md). */
const TCP_ECHOED = new Set([TCP_CORK, TCP_DEFER_ACCEPT, TCP_QUICKACK, TCP_USER_TIMEOUT]);
const SIOCOUTQNSD = 0x894b;
const READ_EVENTS = POLLIN | POLLRDNORM;
const WRITE_EVENTS = POLLOUT | POLLWRNORM;

/** What a socket needs from the NetworkStack that made it. */
export interface NetstackOwner {
  readonly stack: Stack;
  /** net.ipv4.ip_unprivileged_port_start (1024). */
  readonly unprivilegedPortStart: number;
  /** Interface ioctls (SIOCGIF*), answered from the stack's NICs; -ENOTTY for others. */
  deviceIoctl(t: TaskApi, cmd: number, arg: number): number;
  opened(s: InetSocket): void;
  closed(s: InetSocket): void;
}

function withNorm(ev: number): number {
  if (ev & POLLIN) ev |= POLLRDNORM;
  if (ev & POLLOUT) ev |= POLLWRNORM;
  return ev;
}

/** Shared by the TCP and UDP sockets: edge tracking, ioctls, the privileged-port rule. */
export abstract class InetSocket extends SocketFile {
  /** The readiness bits the socket last saw (from an event, an operation or a poll). */
  private seen = 0;
  /** Queued bytes (or connections) when last seen: more of them is a new POLLIN edge. */
  private seenQueued = 0;

  /** An AF_INET6 socket: dual-stack (v4-mapped addresses) unless IPV6_V6ONLY. */
  readonly v6: boolean;
  protected v6only = false;
  /** IPV6_UNICAST_HOPS as set (-1: the default, 64). */
  private hops = -1;

  constructor(
    protected readonly owner: NetstackOwner,
    type: number,
    protocol: number,
    flags: number,
    family = AF_INET,
  ) {
    super(family, type, protocol, O_RDWR | (flags & O_NONBLOCK));
    this.v6 = family === AF_INET6;
    owner.opened(this);
  }

  /** The IP versions a wildcard bind of this socket takes (the endpoint's ipVersions). */
  protected get ipVersions(): 4 | 6 | 46 {
    return !this.v6 ? 4 : this.v6only ? 6 : 46;
  }

  /** Pushes ipVersions (and the traffic class) to the endpoint. */
  protected abstract applyVersions(): void;
  /** The bound local port (0 when unbound): IPV6_V6ONLY is fixed from then on. */
  protected abstract get boundPort(): number;

  /**
   * A sockaddr_in6 from the app, for bind, connect or sendto on an AF_INET6 socket, as
   * Linux's inet6_bind / tcp_v6_connect / udpv6_sendmsg take it: a v4-mapped address is the
   * IPv4 address (EINVAL for bind, ENETUNREACH otherwise on a V6ONLY socket); :: is any for
   * bind and ::1 as a destination; a link-local bind or connect needs its scope id.
   */
  protected addr6(raw: Uint8Array, use: 'bind' | 'connect' | 'sendto'): InetAddr | number {
    const a = parseSockaddrIn6(raw);
    if (typeof a === 'number') return a;
    const m = v4Mapped(a.addr);
    if (m !== undefined) {
      if (this.v6only) return use === 'bind' ? -EINVAL : -ENETUNREACH;
      return { addr: use !== 'bind' && m === 0 ? 0x7f000001 : m, port: a.port };
    }
    if (a.addr === '::') return { addr: use === 'bind' ? 0 : '::1', port: a.port };
    if (isLinkLocal6(a.addr)) {
      // A link-local address needs its interface: bind and connect say EINVAL without one
      // (sendto routes it); an interface that does not exist is ENODEV for bind and
      // ENETUNREACH otherwise. The route then leaves by the NIC holding the link-local prefix.
      if (a.scopeId === 0 && use !== 'sendto') return -EINVAL;
      if (a.scopeId !== 0 && !this.owner.stack.nics.some((n) => n.id === a.scopeId))
        return use === 'bind' ? -ENODEV : -ENETUNREACH;
    }
    return { addr: a.addr, port: a.port };
  }

  /** A sockaddr of the socket's family for an address the stack keeps (link-local ones with their scope id). */
  protected sockaddr(addr: IpAddr, port: number): Uint8Array {
    if (this.v6) return formatSockaddrIn6(addr, port, this.owner.stack.scopeOf(addr));
    return formatSockaddrIn(typeof addr === 'number' ? addr : 0, port);
  }

  protected abstract pollMask(): number;
  /** Bytes (or connections) waiting to be read. */
  protected abstract queued(): number;

  protected nonblocking(flags: number): boolean {
    return (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
  }

  /** After an event or an operation: wake waiters for what is new. */
  protected update(): void {
    const m = this.pollMask();
    const q = this.queued();
    let ev = m & ~this.seen;
    if (q > this.seenQueued && m & POLLIN) ev |= POLLIN;
    this.seen = m;
    this.seenQueued = q;
    if (ev) this.waitQueue().notify(withNorm(ev));
  }

  /**
   * At the end of an operation (never from inside the stack): deliver what it sent over
   * the loopback now, as Linux's loopback does within the syscall, then wake waiters.
   */
  protected settle(): void {
    this.owner.stack.flushLoopback();
    this.update();
  }

  override readiness(mask: number): number {
    const m = this.pollMask();
    this.seen = m;
    this.seenQueued = this.queued();
    return withNorm(m) & (mask | POLLERR | POLLHUP);
  }

  protected wait<R>(
    t: TaskApi,
    mask: number,
    deadline: number,
    retry: () => R | Promise<R>,
  ): Promise<R | number> {
    return sockWait(t, this.waitQueue(), mask, deadline, retry);
  }

  /** Linux's inet_bind checks before the stack's: length, family, privileged ports. */
  protected bindAddr(t: FileTask, raw: Uint8Array): InetAddr | number {
    const a = this.v6 ? this.addr6(raw, 'bind') : parseSockaddrIn(raw, true);
    if (typeof a === 'number') return a;
    if (a.port && a.port < this.owner.unprivilegedPortStart && !capable(t, CAP_NET_BIND_SERVICE))
      return -EACCES;
    return a;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === SIOCINQ || cmd === SIOCOUTQ || cmd === SIOCOUTQNSD) {
      const v = this.queueIoctl(cmd);
      if (v < 0) return v;
      t.mem.writeI32(arg, v);
      return 0;
    }
    return this.owner.deviceIoctl(t, cmd, arg);
  }

  protected abstract queueIoctl(cmd: number): number;

  protected ipOption(level: number, name: number, val: Uint8Array | null): Uint8Array | number {
    if (this.v6 && level === IPPROTO_IPV6) return this.ipv6Option(name, val);
    // ipv6_getsockopt: any other level but SOL_IP is ENOPROTOOPT on an AF_INET6 socket.
    if (level !== IPPROTO_IP) return val || this.v6 ? -ENOPROTOOPT : -EOPNOTSUPP;
    if (name !== IP_TTL && name !== IP_TOS && name !== IP_RECVERR) return -ENOPROTOOPT;
    if (!val) return int32(name === IP_TTL ? this.ttl : name === IP_TOS ? this.tos : Number(this.recvErr));
    if (val.length < 1) return -EINVAL;
    const v = val.length >= 4 ? new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true) : val[0];
    // IP_RECVERR (glibc's resolver sets it and gives up if it fails) is stored and echoed:
    // errors still come back as errnos on connected sockets; the error queue stays empty.
    if (name === IP_RECVERR) this.recvErr = v !== 0;
    else if (name === IP_TTL) {
      if (v === -1) this.ttl = 64;
      else if (v < 1 || v > 255) return -EINVAL;
      else this.ttl = v;
    } else this.tos = v & 0xfc;
    return int32(0);
  }

  /** IPPROTO_IPV6 options (do_ipv6_setsockopt / do_ipv6_getsockopt): the common ones. */
  private ipv6Option(name: number, val: Uint8Array | null): Uint8Array | number {
    if (name !== IPV6_V6ONLY && name !== IPV6_UNICAST_HOPS && name !== IPV6_TCLASS) return -ENOPROTOOPT;
    if (!val) {
      if (name === IPV6_V6ONLY) return int32(this.v6only ? 1 : 0);
      if (name === IPV6_UNICAST_HOPS) return int32(this.hops < 0 ? 64 : this.hops);
      return int32(this.tclass);
    }
    if (val.length < 4) return -EINVAL;
    const v = new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true);
    switch (name) {
      case IPV6_V6ONLY:
        if (this.boundPort !== 0) return -EINVAL;
        this.v6only = v !== 0;
        break;
      case IPV6_UNICAST_HOPS:
        if (v < -1 || v > 255) return -EINVAL;
        this.hops = v;
        this.ttl = v < 0 ? 64 : v;
        break;
      default:
        if (v < -1 || v > 255) return -EINVAL;
        this.tclass = v < 0 ? 0 : v;
    }
    this.applyVersions();
    return int32(0);
  }

  protected abstract get ttl(): number;
  protected abstract set ttl(v: number);
  protected tos = 0;
  protected recvErr = false;
  /** IPV6_TCLASS: the traffic class of the socket's IPv6 packets. */
  protected tclass = 0;

  protected override release(): void {
    this.owner.closed(this);
    this.waitQueue().notify(POLLIN | POLLOUT | POLLERR | POLLHUP);
  }
}

// ================================================================ TCP

export class TcpSocket extends InetSocket {
  private ep: TcpEndpoint;
  /** A connect failed: the endpoint is spent and the next connect starts a fresh one. */
  private spent = false;
  private peekOff = -1;
  private readonly echoed = new Map<number, number>();

  constructor(owner: NetstackOwner, flags: number, ep?: TcpEndpoint, family = AF_INET, v6only = false) {
    super(owner, SOCK_STREAM, IPPROTO_TCP, flags, family);
    this.ep = ep ?? owner.stack.tcp();
    this.v6only = v6only;
    this.applyVersions();
    this.hook();
  }

  protected applyVersions(): void {
    this.ep.ipVersions = this.ipVersions;
    if (this.v6) this.ep.tos = this.tclass;
  }
  protected get boundPort(): number {
    return this.ep.lport;
  }

  private hook(): void {
    this.ep.onEvent = () => this.update();
  }

  /** The endpoint (tests and /proc/net). */
  get endpoint(): TcpEndpoint {
    return this.ep;
  }

  protected pollMask(): number {
    return this.ep.poll();
  }
  protected queued(): number {
    return this.ep.state === TcpState.LISTEN ? this.ep.acceptQueueLength : this.ep.readable;
  }
  protected get ttl(): number {
    return this.ep.ttl;
  }
  protected set ttl(v: number) {
    this.ep.ttl = v;
  }

  /** A fresh endpoint in place of a spent one, keeping the options. */
  private renew(): void {
    const old = this.ep;
    const ep = this.owner.stack.tcp();
    ep.nodelay = old.nodelay;
    ep.keepalive = old.keepalive;
    ep.keepaliveIdleMs = old.keepaliveIdleMs;
    ep.keepaliveIntervalMs = old.keepaliveIntervalMs;
    ep.keepaliveProbes = old.keepaliveProbes;
    ep.reuseAddr = old.reuseAddr;
    ep.ttl = old.ttl;
    ep.sndBufSize = old.sndBufSize;
    ep.rcvBufSize = old.rcvBufSize;
    old.close();
    this.ep = ep;
    this.spent = false;
    this.applyVersions();
    this.hook();
  }

  // ---------------------------------------------------------------- names and connections

  override bind(t: FileTask, raw: Uint8Array): number {
    const a = this.bindAddr(t, raw);
    if (typeof a === 'number') return a;
    return this.ep.bind(a.addr, a.port);
  }

  override listen(_t: FileTask, backlog: number): number {
    if (this.spent) return -EINVAL;
    // Linux: (unsigned) backlog above somaxconn (4096) is somaxconn.
    const b = backlog < 0 || backlog > 4096 ? 4096 : backlog;
    const r = this.ep.listen(b);
    this.settle();
    return r;
  }

  override accept(t: FileTask, flags: number): SocketFile | number | Promise<SocketFile | number> {
    const deadline = deadlineFor(this.rcvTimeoNs);
    const attempt = (): SocketFile | number | Promise<SocketFile | number> => {
      const r = this.ep.accept();
      if (typeof r !== 'number') {
        this.settle();
        return new TcpSocket(this.owner, flags & O_NONBLOCK, r, this.v6 ? AF_INET6 : AF_INET, this.v6only);
      }
      if (r === -EAGAIN && !this.nonblocking(0)) return this.wait(t, READ_EVENTS, deadline, attempt);
      return r;
    };
    return attempt();
  }

  override connect(t: FileTask, raw: Uint8Array): number | Promise<number> {
    if (raw.length < 2) return -EINVAL;
    if (sockaddrFamily(raw) === AF_UNSPEC) return this.disconnect();
    switch (this.ep.state) {
      case TcpState.SYN_SENT:
        return -EALREADY;
      case TcpState.CLOSED:
        break;
      default:
        return -EISCONN;
    }
    const a = this.v6 ? this.addr6(raw, 'connect') : parseSockaddrIn(raw);
    if (typeof a === 'number') return a;
    if (this.spent) this.renew();
    const r = this.ep.connect(a.addr, a.port);
    this.settle();
    if (r !== -EINPROGRESS) {
      if (r === -ECONNREFUSED) this.spent = true;
      return r;
    }
    if (this.nonblocking(0)) return r;
    const deadline = deadlineFor(this.sndTimeoNs);
    const attempt = (): number | Promise<number> => {
      if (this.ep.state === TcpState.SYN_SENT || this.ep.state === TcpState.SYN_RECEIVED)
        return this.wait(t, WRITE_EVENTS, deadline, attempt);
      const e = this.ep.takeError();
      this.settle();
      if (e) {
        this.spent = true;
        return -e;
      }
      return this.ep.state === TcpState.CLOSED ? -ECONNREFUSED : 0;
    };
    const w = attempt();
    // A timeout leaves the connection in progress (EINPROGRESS), as Linux.
    return typeof w === 'number' ? w : w.then((v) => (v === -EAGAIN ? -EINPROGRESS : v));
  }

  /** connect(AF_UNSPEC): tcp_disconnect — the connection is reset, the socket reusable. */
  private disconnect(): number {
    if (this.ep.state === TcpState.LISTEN) {
      this.ep.close();
      this.spent = true;
      this.renew();
      this.settle();
      return 0;
    }
    if (this.ep.state !== TcpState.CLOSED) {
      this.ep.abort();
      this.renew();
      this.settle();
    }
    return 0;
  }

  override shutdown(_t: FileTask, how: number): number {
    const r = this.ep.shutdown(how);
    this.settle();
    return r;
  }

  override sockName(): Uint8Array | number {
    return this.sockaddr(this.ep.laddr, this.ep.lport);
  }

  override peerName(): Uint8Array | number {
    const s = this.ep.state;
    if (s === TcpState.CLOSED || s === TcpState.LISTEN || s === TcpState.SYN_SENT) return -ENOTCONN;
    return this.sockaddr(this.ep.raddr, this.ep.rport);
  }

  override acceptedPeerName(): Uint8Array | number {
    // Also for a connection reset before accept took it: accept succeeds, the next read
    // says ECONNRESET (Linux).
    return this.ep.rport ? this.sockaddr(this.ep.raddr, this.ep.rport) : this.peerName();
  }

  // ---------------------------------------------------------------- data

  override sendmsg(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    _addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number | Promise<number> {
    if (ctl) {
      const bad = (ctl.rights && ctl.rights.length) || ctl.cred;
      releaseControl(ctl);
      if (bad) return -EINVAL;
    }
    // A destination on a connected stream socket is ignored (Linux; EISCONN only for TFO).
    const deadline = deadlineFor(this.sndTimeoNs);
    let done = 0;
    const attempt = (): number | Promise<number> => {
      let r = total === 0 ? this.ep.send(new Uint8Array(0), flags & 1) : 0;
      // Hand the endpoint each segment after what is already sent, until it takes less.
      let skip = done;
      for (const seg of src) {
        if (skip >= seg.length) {
          skip -= seg.length;
          continue;
        }
        const part = skip ? seg.subarray(skip) : seg;
        skip = 0;
        r = this.ep.send(part, flags & 1 /* MSG_OOB */);
        if (r < 0) break;
        done += r;
        if (r < part.length) {
          r = -EAGAIN;
          break;
        }
      }
      if (r === -EAGAIN && done < total && !this.nonblocking(flags)) {
        // No loopback flush before waiting: what it delivered could be the wake-up.
        this.update();
        return this.wait(t, WRITE_EVENTS, deadline, attempt).then(partial);
      }
      this.settle();
      if (done >= total && total > 0) return done;
      if (total === 0 && r >= 0) return 0;
      if (done) return done;
      if (r === -EPIPE && !(flags & MSG_NOSIGNAL)) t.sendSignal(SIGPIPE);
      return r;
    };
    const partial = (v: number): number => (v < 0 && done > 0 ? done : v);
    return attempt();
  }

  override recvmsg(
    t: FileTask,
    dst: IoDst,
    flags: number,
    _ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    if (flags & 1 /* MSG_OOB */) return -EINVAL; // no urgent data is ever queued
    out.name = null;
    out.flags = 0;
    out.control = null;
    const total = ioLength(dst);
    const peek = (flags & MSG_PEEK) !== 0;
    const waitall = (flags & MSG_WAITALL) !== 0 && !peek;
    const peekAll = peek && (flags & MSG_WAITALL) !== 0;
    const deadline = deadlineFor(this.rcvTimeoNs);
    let done = 0;
    const attempt = (): number | Promise<number> => {
      const ep = this.ep;
      if (ep.state === TcpState.LISTEN) return -ENOTCONN;
      if (
        peekAll &&
        !this.nonblocking(flags) &&
        ep.readable < total &&
        !(ep.poll() & (POLLRDHUP | POLLHUP | POLLERR))
      )
        return this.wait(t, READ_EVENTS, deadline, attempt);
      const r = this.take(dst, done, total - done, peek);
      if (r > 0) done += r;
      if ((r === -EAGAIN || (r > 0 && waitall && done < total)) && !this.nonblocking(flags)) {
        // No loopback flush before waiting: what it delivered could be the wake-up.
        this.update();
        return this.wait(t, READ_EVENTS, deadline, attempt).then(partial);
      }
      this.settle();
      if (r > 0 || r === 0 || total === 0) return done;
      return done ? done : r;
    };
    const partial = (v: number): number => (v < 0 && done > 0 ? done : v);
    return attempt();
  }

  /** Up to `len` bytes into dst after `skip` bytes: bytes, 0 at EOF, or -errno. */
  private take(dst: IoDst, skip: number, len: number, peek: boolean): number {
    const ep = this.ep;
    if (len === 0) return 0;
    const off = peek && this.peekOff > 0 ? this.peekOff : 0;
    const avail = ep.readable - off;
    if (avail <= 0) {
      if (ep.readable > 0) return -EAGAIN; // peeking past the queued bytes
      // Nothing queued: the endpoint says EOF (0), -EAGAIN or its error.
      return ep.recv(new Uint8Array(1));
    }
    const n = Math.min(len, avail);
    if (!peek) {
      // Straight into the destination segments (no staging copy).
      let left = n;
      let sk = skip;
      for (const seg of dst) {
        if (left === 0) break;
        if (sk >= seg.length) {
          sk -= seg.length;
          continue;
        }
        const got = ep.recv(seg.subarray(sk, sk + Math.min(left, seg.length - sk)));
        sk = 0;
        if (got <= 0) break;
        left -= got;
      }
      if (this.peekOff >= 0) this.peekOff = Math.max(0, this.peekOff - (n - left));
      return n - left;
    }
    let tmp: Uint8Array;
    if (off) {
      tmp = new Uint8Array(off + n);
      ep.recv(tmp, true);
      tmp = tmp.subarray(off);
    } else {
      tmp = new Uint8Array(n);
      ep.recv(tmp, peek);
    }
    copyToSegs(dst, tmp, skip);
    if (this.peekOff >= 0) this.peekOff = peek ? this.peekOff + n : Math.max(0, this.peekOff - n);
    return n;
  }

  // ---------------------------------------------------------------- options

  override getsockoptFamily(_t: FileTask, level: number, name: number): Uint8Array | number | null {
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_ERROR:
          return int32(this.ep.takeError() || this.takeSoError());
        case SO_ACCEPTCONN:
          return int32(this.ep.state === TcpState.LISTEN ? 1 : 0);
        case SO_PEEK_OFF:
          return int32(this.peekOff);
        default:
          return null;
      }
    }
    if (level !== IPPROTO_TCP) return this.ipOption(level, name, null);
    switch (name) {
      case TCP_NODELAY:
        return int32(this.ep.nodelay ? 1 : 0);
      case TCP_MAXSEG:
        return int32(this.ep.mss);
      case TCP_KEEPIDLE:
        return int32(Math.round(this.ep.keepaliveIdleMs / 1000));
      case TCP_KEEPINTVL:
        return int32(Math.round(this.ep.keepaliveIntervalMs / 1000));
      case TCP_KEEPCNT:
        return int32(this.ep.keepaliveProbes);
      case TCP_INFO:
        return this.tcpInfo();
      default:
        if (TCP_ECHOED.has(name)) return int32(this.echoed.get(name) ?? 0);
        return -ENOPROTOOPT;
    }
  }

  private takeSoError(): number {
    const e = this.soError;
    this.soError = 0;
    return e;
  }

  override setsockopt(t: FileTask, level: number, name: number, val: Uint8Array): number {
    const r = super.setsockopt(t, level, name, val);
    if (r !== 0 || level !== SOL_SOCKET) return r;
    const on = (this.plainOpts.get(name) ?? 0) !== 0;
    switch (name) {
      case SO_REUSEADDR:
        this.ep.reuseAddr = on;
        break;
      case SO_KEEPALIVE:
        this.ep.setKeepalive(on);
        break;
      case SO_SNDBUF:
      case SO_SNDBUFFORCE:
        this.ep.sndBufSize = this.sndbuf;
        this.settle();
        break;
      case SO_RCVBUF:
      case SO_RCVBUFFORCE:
        this.ep.rcvBufSize = this.rcvbuf;
        break;
    }
    return 0;
  }

  override setsockoptFamily(_t: FileTask, level: number, name: number, val: Uint8Array): number | null {
    if (level === SOL_SOCKET) {
      if (name !== SO_PEEK_OFF) return null;
      if (val.length < 4) return -EINVAL;
      this.peekOff = new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true);
      return 0;
    }
    if (level !== IPPROTO_TCP) {
      const r = this.ipOption(level, name, val);
      return typeof r === 'number' ? r : 0;
    }
    if (val.length < 4) return -EINVAL;
    const v = new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true);
    switch (name) {
      case TCP_NODELAY:
        this.ep.setNodelay(v !== 0);
        this.settle();
        return 0;
      case TCP_MAXSEG:
        // Linux: 88 (TCP_MIN_MSS) .. 65535 (MAX_TCP_WINDOW); 0 resets. It clamps our MSS.
        if (v !== 0 && (v < 88 || v > 65535)) return -EINVAL;
        if (v && this.ep.state === TcpState.CLOSED) this.ep.mss = Math.min(this.ep.mss, v);
        return 0;
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
        if (v < 1 || v > 32767) return -EINVAL;
        if (name === TCP_KEEPIDLE) this.ep.keepaliveIdleMs = v * 1000;
        else this.ep.keepaliveIntervalMs = v * 1000;
        if (this.ep.keepalive) this.ep.setKeepalive(true);
        return 0;
      case TCP_KEEPCNT:
        if (v < 1 || v > 127) return -EINVAL;
        this.ep.keepaliveProbes = v;
        return 0;
      default:
        if (TCP_ECHOED.has(name)) {
          this.echoed.set(name, v);
          return 0;
        }
        return -ENOPROTOOPT;
    }
  }

  /** struct tcp_info (the fields this stack knows; the rest 0). */
  private tcpInfo(): Uint8Array {
    const i = this.ep.info();
    const b = new Uint8Array(104);
    const dv = new DataView(b.buffer);
    b[0] = tcpiState(i.state);
    b[5] = (i.timestamps ? 1 : 0) | (i.sack ? 2 : 0) | (i.sndWscale || i.rcvWscale ? 4 : 0);
    b[6] = (i.sndWscale & 15) | ((i.rcvWscale & 15) << 4);
    dv.setUint32(8, Math.round(i.rtoMs * 1000), true); // tcpi_rto (µs)
    dv.setUint32(16, i.mss, true); // tcpi_snd_mss
    dv.setUint32(20, i.mss, true); // tcpi_rcv_mss
    dv.setUint32(68, Math.round(i.srttMs * 1000), true); // tcpi_rtt
    dv.setUint32(72, Math.round(i.rttvarMs * 1000), true); // tcpi_rttvar
    dv.setUint32(76, Math.min(i.ssthresh, 0x7fffffff), true); // tcpi_snd_ssthresh
    dv.setUint32(80, Math.floor(i.cwnd / Math.max(1, i.mss)), true); // tcpi_snd_cwnd (segments)
    return b;
  }

  protected queueIoctl(cmd: number): number {
    if (this.ep.state === TcpState.LISTEN) return -EINVAL;
    return cmd === SIOCINQ ? this.ep.readable : this.ep.unacked;
  }

  protected override release(): void {
    this.ep.close(this.linger[0] !== 0 && this.linger[1] === 0);
    this.owner.stack.flushLoopback();
    super.release();
  }
}

/** Linux's TCP_* state numbers for tcp_info (the same numbering as TcpState). */
function tcpiState(s: TcpState): number {
  return s;
}

// ================================================================ UDP

export class UdpSocket extends InetSocket {
  private readonly ep: UdpEndpoint;
  private rdShut = false;
  private wrShut = false;

  constructor(owner: NetstackOwner, flags: number, family = AF_INET) {
    super(owner, SOCK_DGRAM, IPPROTO_UDP, flags, family);
    this.ep = owner.stack.udp();
    this.applyVersions();
    this.ep.onEvent = () => this.update();
  }

  protected applyVersions(): void {
    this.ep.ipVersions = this.ipVersions;
    if (this.v6) this.ep.tos = this.tclass;
  }
  protected get boundPort(): number {
    return this.ep.lport;
  }

  protected pollMask(): number {
    let m = this.ep.poll();
    if (this.rdShut) m |= POLLIN | POLLRDHUP;
    if (this.rdShut && this.wrShut) m |= POLLHUP;
    return m;
  }
  isFor(ep: UdpEndpoint): boolean {
    return this.ep === ep;
  }

  /** Datagrams ever queued: growth is a new arrival (a POLLIN edge). */
  protected queued(): number {
    return this.ep.stats.datagramsIn;
  }
  protected get ttl(): number {
    return this.ep.ttl;
  }
  protected set ttl(v: number) {
    this.ep.ttl = v;
  }

  override bind(t: FileTask, raw: Uint8Array): number {
    const a = this.bindAddr(t, raw);
    if (typeof a === 'number') return a;
    return this.ep.bind(a.addr, a.port);
  }

  override connect(_t: FileTask, raw: Uint8Array): number {
    if (raw.length < 2) return -EINVAL;
    if (sockaddrFamily(raw) === AF_UNSPEC) {
      this.ep.raddr = 0;
      this.ep.rport = 0;
      return 0;
    }
    let a: InetAddr | number;
    if (!this.v6) a = parseSockaddrIn(raw);
    else if (sockaddrFamily(raw) === AF_INET) a = this.v6only ? -EAFNOSUPPORT : parseSockaddrIn(raw);
    else a = this.addr6(raw, 'connect');
    if (typeof a === 'number') return a;
    const r = this.ep.connect(a.addr, a.port);
    this.settle();
    return r;
  }

  override shutdown(_t: FileTask, how: number): number {
    if (how < 0 || how > 2) return -EINVAL;
    if (!this.ep.rport) return -ENOTCONN;
    if (how !== 1) this.rdShut = true;
    if (how !== 0) this.wrShut = true;
    this.settle();
    return 0;
  }

  override sockName(): Uint8Array | number {
    let addr = this.ep.laddr;
    if (!addr && this.ep.raddr) {
      const s = this.owner.stack.sourceFor(this.ep.raddr);
      if (typeof s === 'string' || s > 0) addr = s;
    }
    return this.sockaddr(addr, this.ep.lport);
  }

  override peerName(): Uint8Array | number {
    if (!this.ep.rport) return -ENOTCONN;
    return this.sockaddr(this.ep.raddr, this.ep.rport);
  }

  override sendmsg(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    raw: Uint8Array | null,
    ctl: SendControl | null,
  ): number {
    if (ctl) {
      const bad = (ctl.rights && ctl.rights.length) || ctl.cred;
      releaseControl(ctl);
      if (bad) return -EINVAL;
    }
    if (flags & 1 /* MSG_OOB */) return -EOPNOTSUPP;
    let dst: InetAddr | undefined;
    if (raw && raw.length && this.v6) {
      // udpv6_sendmsg: AF_INET goes to the IPv4 path, AF_UNSPEC means no address.
      const fam = sockaddrFamily(raw);
      if (raw.length < 2) return -EINVAL;
      let a: InetAddr | number | undefined;
      if (fam === AF_INET) a = this.v6only ? -ENETUNREACH : parseSockaddrIn(raw);
      else if (fam === AF_INET6) a = this.addr6(raw, 'sendto');
      else if (fam !== AF_UNSPEC) a = -EINVAL;
      if (typeof a === 'number') return a;
      dst = a;
    } else if (raw && raw.length) {
      const a = parseSockaddrIn(raw, true);
      if (typeof a === 'number') return a;
      if (sockaddrFamily(raw) === AF_UNSPEC) return -EAFNOSUPPORT;
      dst = a;
    }
    if (this.wrShut) {
      if (!(flags & MSG_NOSIGNAL)) t.sendSignal(SIGPIPE);
      return -EPIPE;
    }
    const data = gatherSegs(src, total);
    const r = dst ? this.ep.sendTo(data, dst.addr, dst.port) : this.ep.sendTo(data);
    this.settle();
    return r;
  }

  override recvmsg(
    t: FileTask,
    dst: IoDst,
    flags: number,
    _ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    if (flags & 1 /* MSG_OOB */) return -EOPNOTSUPP;
    if (flags & MSG_ERRQUEUE) return -EAGAIN; // no ICMP errors are queued (IP_RECVERR)
    const deadline = deadlineFor(this.rcvTimeoNs);
    const total = ioLength(dst);
    const attempt = (): number | Promise<number> => {
      const d = this.ep.recvFrom((flags & MSG_PEEK) !== 0);
      this.update();
      if (typeof d === 'number') {
        if (d === -EAGAIN && this.rdShut) return 0;
        if (d === -EAGAIN && !this.nonblocking(flags)) return this.wait(t, READ_EVENTS, deadline, attempt);
        return d;
      }
      const n = Math.min(total, d.data.length);
      copyToSegs(dst, n === d.data.length ? d.data : d.data.subarray(0, n));
      out.name = this.sockaddr(d.addr, d.port);
      out.flags = d.data.length > total ? MSG_TRUNC : 0;
      out.control = null;
      return flags & MSG_TRUNC ? d.data.length : n;
    };
    return attempt();
  }

  override getsockoptFamily(_t: FileTask, level: number, name: number): Uint8Array | number | null {
    if (level === SOL_SOCKET) {
      if (name === SO_ERROR) {
        const e = this.ep.takeError() || this.soError;
        this.soError = 0;
        return int32(e);
      }
      if (name === SO_ACCEPTCONN) return int32(0);
      return null;
    }
    if (level === IPPROTO_UDP) return -ENOPROTOOPT;
    return this.ipOption(level, name, null);
  }

  override setsockoptFamily(_t: FileTask, level: number, name: number, val: Uint8Array): number | null {
    if (level === SOL_SOCKET) return null;
    if (level === IPPROTO_UDP) return -ENOPROTOOPT;
    const r = this.ipOption(level, name, val);
    return typeof r === 'number' ? r : 0;
  }

  override setsockopt(t: FileTask, level: number, name: number, val: Uint8Array): number {
    const r = super.setsockopt(t, level, name, val);
    if (r === 0 && level === SOL_SOCKET && (name === SO_RCVBUF || name === SO_RCVBUFFORCE))
      this.ep.rcvBufSize = this.rcvbuf;
    return r;
  }

  protected queueIoctl(cmd: number): number {
    if (cmd !== SIOCINQ) return 0;
    const d = this.ep.recvFrom(true);
    return typeof d === 'number' ? 0 : d.data.length;
  }

  protected override release(): void {
    this.ep.close();
    this.owner.stack.flushLoopback();
    super.release();
  }
}
