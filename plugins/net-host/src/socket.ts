/**
 * A socket of the sandbox backed by a host socket the sentry owns (gVisor's hostinet).
 *
 * The host fd is always non-blocking; blocking is done in the sentry: an operation that
 * finds the host fd not ready (EAGAIN) waits on the socket's WaitQueue with sockWait
 * (registered in the same synchronous run), then retries. The stack registers every host
 * fd edge-triggered in one host epoll set watched from the event loop (nethost.cc's
 * Notifier), and each readiness change of the host fd notifies the WaitQueue — so
 * blocked tasks and poll/select/epoll (level- or edge-triggered) waiters wake as they
 * would on Linux. readiness() asks the host with poll(fd, 0).
 *
 * Addresses, data and option values pass to the host as the app gave them; the host
 * validates them, so the app sees Linux's own errnos. Options are filtered by
 * core/net/inet/options.ts; SO_RCVTIMEO/SO_SNDTIMEO are kept by the sentry.
 *
 * AF_NETLINK sockets (NETLINK_ROUTE only) are host sockets too, in the stack's network
 * namespace; only requests that read (RTM_GET*) may be sent, to the kernel (port 0).
 */
import {
  EACCES,
  EAGAIN,
  EALREADY,
  EINPROGRESS,
  EINVAL,
  EISCONN,
  ENOPROTOOPT,
  ENOTTY,
  EPERM,
  EPIPE,
} from '../../../core/abi/errno';
import type { TaskApi } from '../../../core/kernel/api';
import { hostOptionAllowed } from '../../../core/net/inet/options';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  deadlineFor,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_WAITALL,
  RecvResult,
  SendControl,
  SIOCINQ,
  SIOCOUTQ,
  SO_RCVTIMEO_NEW,
  SO_RCVTIMEO_OLD,
  SO_SNDTIMEO_NEW,
  SO_SNDTIMEO_OLD,
  SOCK_DGRAM,
  SOCK_STREAM,
  SocketFile,
  sockWait,
  SOL_SOCKET,
} from '../../../core/net/socket';
import { releaseControl } from '../../../core/net/cmsg';
import { CAP_NET_BIND_SERVICE, capable } from '../../../core/kernel/caps';
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLPRI,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRNORM,
} from '../../../core/util/waiter';
import { O_NONBLOCK, O_RDWR, SIGPIPE } from '../../../core/vfs/abi';
import { IoDst, IoSrc, ioLength } from '../../../core/vfs/file';
import type { FileTask } from '../../../core/vfs/task';
import type { NetHostNative } from './native';

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

/** An ICMP echo ("ping") socket: SOCK_DGRAM with IPPROTO_ICMP, or IPPROTO_ICMPV6 for AF_INET6. */
export function isPing(family: number, protocol: number): boolean {
  return (
    (family === AF_INET && protocol === IPPROTO_ICMP) || (family === AF_INET6 && protocol === IPPROTO_ICMPV6)
  );
}

/** Flags of send/recv the host may see (the rest are the sentry's business). */
const SEND_PASS =
  0x1 /* OOB */ | 0x4 /* DONTROUTE */ | 0x80 /* EOR */ | 0x800 /* CONFIRM */ | 0x8000; /* MORE */
const RECV_PASS = 0x1 /* OOB */ | MSG_PEEK | 0x20 /* TRUNC */ | 0x2000; /* ERRQUEUE */

const SIOCOUTQNSD = 0x894b;
/** struct ifreq requests that only read (passed to the host). */
const IFREQ_GET = new Set([
  0x8910 /* SIOCGIFNAME */, 0x8913 /* FLAGS */, 0x8915 /* ADDR */, 0x8917 /* DSTADDR */, 0x8919 /* BRDADDR */,
  0x891b /* NETMASK */, 0x891d /* METRIC */, 0x8921 /* MTU */, 0x8927 /* HWADDR */, 0x8933 /* INDEX */,
  0x8942 /* TXQLEN */,
]);
const SIOCGIFCONF = 0x8912;
/** Requests that change interfaces or routes: the app has no CAP_NET_ADMIN over the host's. */
const NET_ADMIN_IOCTLS = new Set([
  0x890b /* SIOCADDRT */, 0x890c /* SIOCDELRT */, 0x8914 /* SIOCSIFFLAGS */, 0x8916 /* SIOCSIFADDR */,
  0x8918 /* SIOCSIFDSTADDR */, 0x891a /* SIOCSIFBRDADDR */, 0x891c /* SIOCSIFNETMASK */,
  0x891e /* SIOCSIFMETRIC */, 0x8922 /* SIOCSIFMTU */, 0x8923 /* SIOCSIFNAME */, 0x8924 /* SIOCSIFHWADDR */,
  0x8931 /* SIOCADDMULTI */, 0x8932 /* SIOCDELMULTI */, 0x8936 /* SIOCDIFADDR */, 0x8943 /* SIOCSIFTXQLEN */,
]);
const IFREQ_SIZE = 40;
/** Most iovecs one host call takes (UIO_MAXIOV). */
const MAX_SEGS = 1024;
/** Room for a source address (sockaddr_storage). */
const NAME_ROOM = 128;
/** Most control bytes taken from the host per recvmsg. */
const CTL_MAX = 65536;

const NAME_SCRATCH = new Uint8Array(NAME_ROOM);
const RES_SCRATCH = new Int32Array(3);

const READ_EVENTS = POLLIN | POLLRDNORM;
const WRITE_EVENTS = POLLOUT | POLLWRNORM;
const POLL_BITS = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLRDHUP | POLLPRI;

/** What a socket needs from the stack that made it. */
export interface HostSocketOwner {
  readonly native: NetHostNative;
  /** Forget a socket that was closed. */
  forget(s: HostSocket): void;
  /** Make a HostSocket for an accepted fd (`uid`: the accepting task's fsuid). */
  adopt(fd: number, family: number, type: number, protocol: number, flags: number, uid: number): HostSocket;
  /** net.ipv4.ip_unprivileged_port_start of the stack's namespace. */
  readonly unprivilegedPortStart: number;
  /** Deliver readiness changes of `fd` to `s.fired()`. */
  watch(fd: number, s: HostSocket): void;
  /** Stop that (before the fd is closed). */
  unwatch(fd: number): void;
}

export class HostSocket extends SocketFile {
  private fd: number;

  constructor(
    private readonly owner: HostSocketOwner,
    fd: number,
    family: number,
    type: number,
    protocol: number,
    flags: number,
  ) {
    super(family, type, protocol, O_RDWR | (flags & O_NONBLOCK));
    this.fd = fd;
    owner.watch(fd, this);
  }

  /** The host fd (-1 once closed). */
  get hostFd(): number {
    return this.fd;
  }

  private get n(): NetHostNative {
    return this.owner.native;
  }

  private nonblocking(flags: number): boolean {
    return (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
  }

  /**
   * Whether a host "writable" edge is news to the app: true from creation, an in-progress
   * connect, a send the host could not take whole, or a readiness check that found the
   * socket not writable, until the app has seen it writable (readiness()) or been told
   * (fired()). Host edges arrive a little late, through
   * the event loop; one for a state the app already saw (a blocking connect that completed)
   * would give edge-triggered epoll a second EPOLLOUT that Linux does not give.
   */
  private outArmed = true;

  /** The host fd's readiness changed (`ev`: poll(2) bits from the host epoll set). */
  fired(ev: number): void {
    if (this.fd < 0) return;
    if (ev & POLLOUT) {
      if (this.outArmed) this.outArmed = false;
      else ev &= ~(POLLOUT | POLLWRNORM);
    }
    if (!ev) return;
    if (ev & POLLIN) ev |= POLLRDNORM;
    if (ev & POLLOUT) ev |= POLLWRNORM;
    this.waitQueue().notify(ev);
  }

  /** Notify waiters of the host fd's current state (after a change made here). */
  private refresh(): void {
    const now = this.n.poll(this.fd, POLL_BITS);
    if (now > 0) this.fired(now);
  }

  /** Wait for `mask` on the host fd, then run `retry`. */
  private wait<R>(
    t: TaskApi,
    mask: number,
    deadline: number,
    retry: () => R | Promise<R>,
  ): Promise<R | number> {
    return sockWait(t, this.waitQueue(), mask, deadline, retry);
  }

  // ---------------------------------------------------------------- readiness

  override readiness(mask: number): number {
    if (this.fd < 0) return POLLERR & mask;
    const r = this.n.poll(this.fd, mask & POLL_BITS);
    if (r < 0) return POLLERR;
    // Seen writable: a later host edge is old news. Seen not writable: the next one is new.
    if (r & POLLOUT) this.outArmed = false;
    else if (mask & POLLOUT) this.outArmed = true;
    return r & (mask | POLLERR | POLLHUP);
  }

  // ---------------------------------------------------------------- names and connections

  override bind(t: FileTask, addr: Uint8Array): number {
    if (this.family === AF_NETLINK && !netlinkKernelOrSelf(addr)) return -EPERM;
    // The host checks the sentry's privileges; a privileged port needs the app's own
    // (CAP_NET_BIND_SERVICE in the sandbox), as Linux's inet_bind.
    // (Shorter addresses and other families get the host's own EINVAL/EAFNOSUPPORT.)
    // (Not for ping sockets: their "port" is the ICMP echo id, which any user may choose.)
    if (
      this.family !== AF_NETLINK &&
      !(this.type === SOCK_DGRAM && isPing(this.family, this.protocol)) &&
      addr.length >= minSockaddr(this.family) &&
      (addr[0] | (addr[1] << 8)) === this.family &&
      !capable(t, CAP_NET_BIND_SERVICE)
    ) {
      const port = (addr[2] << 8) | addr[3];
      if (port && port < this.owner.unprivilegedPortStart) return -EACCES;
    }
    return this.n.bind(this.fd, addr);
  }

  override listen(_t: FileTask, backlog: number): number {
    return this.n.listen(this.fd, backlog);
  }

  override accept(t: FileTask, flags: number): SocketFile | number | Promise<SocketFile | number> {
    const deadline = deadlineFor(this.rcvTimeoNs);
    const attempt = (): SocketFile | number | Promise<SocketFile | number> => {
      const r = this.n.accept(this.fd);
      if (r >= 0)
        return this.owner.adopt(r, this.family, this.type, this.protocol, flags & O_NONBLOCK, t.creds.fsuid);
      if (r === -EAGAIN && !this.nonblocking(0)) return this.wait(t, READ_EVENTS, deadline, attempt);
      return r;
    };
    return attempt();
  }

  override connect(t: FileTask, addr: Uint8Array): number | Promise<number> {
    if (this.family === AF_NETLINK && !netlinkKernelOrSelf(addr)) return -EPERM;
    const r = this.n.connect(this.fd, addr);
    if (r !== -EINPROGRESS && r !== -EALREADY) return r;
    this.outArmed = true;
    if (this.nonblocking(0) || this.type !== SOCK_STREAM) return r;
    // Blocking connect: wait until the handshake ends, then its result is SO_ERROR.
    const deadline = deadlineFor(this.sndTimeoNs);
    const attempt = (): number | Promise<number> => {
      const ev = this.n.poll(this.fd, POLLOUT);
      if (ev & (POLLOUT | POLLERR | POLLHUP)) {
        const e = this.hostSoError();
        if (e) return -e;
        // Settle the host socket's state (its next connect would say 0, not EISCONN).
        const again = this.n.connect(this.fd, addr);
        return again === -EISCONN ? 0 : again;
      }
      return this.wait(t, WRITE_EVENTS, deadline, attempt);
    };
    const w = attempt();
    // A timeout leaves the connection in progress: Linux answers what the host said at
    // first (EINPROGRESS, or EALREADY for a connect repeated while one is in progress).
    return typeof w === 'number' ? w : w.then((v) => (v === -EAGAIN ? r : v));
  }

  private hostSoError(): number {
    const b = this.n.getsockopt(this.fd, SOL_SOCKET, 4 /* SO_ERROR */, 4);
    if (typeof b === 'number') return -b;
    return b.length >= 4 ? b.readInt32LE(0) : 0;
  }

  override shutdown(_t: FileTask, how: number): number {
    const r = this.n.shutdown(this.fd, how);
    // Waiters see the new state (EOF, EPIPE) at once.
    if (r === 0) this.refresh();
    return r;
  }

  override sockName(): Uint8Array | number {
    return this.n.getsockname(this.fd);
  }

  override peerName(): Uint8Array | number {
    return this.n.getpeername(this.fd);
  }

  // ---------------------------------------------------------------- data

  override sendmsg(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number | Promise<number> {
    let hostCtl: Uint8Array | null = null;
    if (ctl) {
      // SCM_RIGHTS / SCM_CREDENTIALS mean nothing to an inet socket (Linux: EINVAL).
      const bad = (ctl.rights && ctl.rights.length) || ctl.cred;
      releaseControl(ctl);
      if (bad) return -EINVAL;
      hostCtl = ctl.raw ? protocolControl(ctl.raw) : null;
    }
    if (this.family === AF_NETLINK) {
      if (addr && !netlinkKernelOrSelf(addr)) return -EPERM;
      const e = checkNetlinkRequest(src, total);
      if (e) return e;
    }
    const hflags = (flags & SEND_PASS) | MSG_DONTWAIT | MSG_NOSIGNAL;
    const stream = this.type === SOCK_STREAM;
    const deadline = deadlineFor(this.sndTimeoNs);
    let done = 0;
    const attempt = (): number | Promise<number> => {
      const r = this.n.sendmsg(this.fd, clip(src, done), hflags, addr, done ? null : hostCtl);
      if (r === -EAGAIN || (r >= 0 && done + r < total)) this.outArmed = true;
      if (r >= 0) {
        done += r;
        if (stream && done < total && !this.nonblocking(flags))
          return this.wait(t, WRITE_EVENTS, deadline, attempt).then(partial);
        return done;
      }
      if (r === -EAGAIN && !this.nonblocking(flags))
        return this.wait(t, WRITE_EVENTS, deadline, attempt).then(partial);
      if (done) return done;
      if (r === -EPIPE && !(flags & MSG_NOSIGNAL)) t.sendSignal(SIGPIPE);
      return r;
    };
    // An interrupted or timed-out wait after some bytes went out reports those bytes.
    const partial = (v: number): number => (v < 0 && done > 0 ? done : v);
    return attempt();
  }

  override recvmsg(
    t: FileTask,
    dst: IoDst,
    flags: number,
    ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    const hflags = (flags & RECV_PASS) | MSG_DONTWAIT;
    // Scratch buffers are shared: every use copies out before anything else can run.
    const name = NAME_SCRATCH;
    const ctl = ctlLen ? new Uint8Array(Math.min(ctlLen, CTL_MAX)) : null;
    const res = RES_SCRATCH;
    const waitall = (flags & MSG_WAITALL) !== 0 && !(flags & MSG_PEEK) && this.type === SOCK_STREAM;
    const total = waitall ? ioLength(dst) : 0;
    const deadline = deadlineFor(this.rcvTimeoNs);
    let done = 0;
    // MSG_PEEK|MSG_WAITALL on a stream waits until the whole length is queued (or EOF).
    const peekAll =
      (flags & (MSG_PEEK | MSG_WAITALL)) === (MSG_PEEK | MSG_WAITALL) && this.type === SOCK_STREAM;
    const want = peekAll ? ioLength(dst) : 0;
    const attempt = (): number | Promise<number> => {
      if (peekAll && !this.nonblocking(flags)) {
        const queued = this.n.ioctlInt(this.fd, SIOCINQ);
        const ev = this.n.poll(this.fd, POLLIN | POLLRDHUP);
        if (queued >= 0 && queued < want && !(ev & (POLLRDHUP | POLLHUP | POLLERR)))
          return this.wait(t, READ_EVENTS, deadline, attempt);
      }
      const r = this.n.recvmsg(this.fd, clip(dst, done), hflags, name, ctl, res);
      if (r >= 0) {
        if (done === 0) {
          out.name = res[0] > 0 ? name.slice(0, Math.min(res[0], NAME_ROOM)) : null;
          out.flags = res[2];
          out.control = ctl && res[1] > 0 ? ctl.slice(0, res[1]) : null;
        }
        done += r;
        if (waitall && r > 0 && done < total && !this.nonblocking(flags))
          return this.wait(t, READ_EVENTS, deadline, attempt).then(partial);
        return done;
      }
      if (r === -EAGAIN && !this.nonblocking(flags))
        return this.wait(t, READ_EVENTS, deadline, attempt).then(partial);
      return done ? done : r;
    };
    const partial = (v: number): number => (v < 0 && done > 0 ? done : v);
    return attempt();
  }

  // ---------------------------------------------------------------- options and ioctls

  override getsockopt(t: FileTask, level: number, name: number, len = 4): Uint8Array | number {
    if (level === SOL_SOCKET && isTimeo(name)) return super.getsockopt(t, level, name, len);
    if (!hostOptionAllowed(this.family === AF_NETLINK, level, name, false)) return -ENOPROTOOPT;
    return this.n.getsockopt(this.fd, level, name, Math.max(0, Math.min(len, 4096)));
  }

  override setsockopt(t: FileTask, level: number, name: number, val: Uint8Array): number {
    if (level === SOL_SOCKET && isTimeo(name)) return super.setsockopt(t, level, name, val);
    if (!hostOptionAllowed(this.family === AF_NETLINK, level, name, true)) return -ENOPROTOOPT;
    const r = this.n.setsockopt(this.fd, level, name, val);
    // A bigger send buffer or a lower watermark may make room now.
    if (r === 0) this.refresh();
    return r;
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === SIOCINQ || cmd === SIOCOUTQ || cmd === SIOCOUTQNSD) {
      const v = this.n.ioctlInt(this.fd, cmd);
      if (v < 0) return v;
      t.mem.writeI32(arg, v);
      return 0;
    }
    if (IFREQ_GET.has(cmd)) {
      const req = t.mem.copyIn(arg, IFREQ_SIZE).slice();
      const r = this.n.ioctlIfreq(this.fd, cmd, req);
      if (r < 0) return r;
      t.mem.copyOut(arg, req);
      return 0;
    }
    if (cmd === SIOCGIFCONF) {
      const raw = t.mem.copyIn(arg, 16);
      const dv = new DataView(raw.buffer, raw.byteOffset, 16);
      const len = dv.getInt32(0, true);
      const buf = Number(dv.getBigUint64(8, true));
      if (len < 0) return -EINVAL;
      const r = this.n.ifconf(this.fd, buf ? Math.min(len, 1 << 20) : 0);
      if (typeof r === 'number') return r;
      if (buf && r.length) t.mem.copyOut(buf, r);
      t.mem.writeI32(arg, r.length);
      return 0;
    }
    if (NET_ADMIN_IOCTLS.has(cmd)) return -EPERM;
    return -ENOTTY;
  }

  // ---------------------------------------------------------------- end

  /** Close the host fd now (the stack's shutdown, or the last reference). */
  closeHost(): void {
    if (this.fd < 0) return;
    this.owner.unwatch(this.fd);
    this.n.close(this.fd);
    this.fd = -1;
    this.owner.forget(this);
  }

  protected override release(): void {
    this.closeHost();
    this.waitQueue().notify(POLLIN | POLLOUT | POLLERR | POLLHUP);
  }
}

/**
 * The control messages of protocol levels (IP_TOS, IP_PKTINFO, IPV6_HOPLIMIT, UDP_SEGMENT...)
 * for the host, which validates them; SOL_SOCKET ones were handled by the core's parser.
 * Null when there are none.
 */
function protocolControl(raw: Uint8Array): Uint8Array | null {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const keep: Uint8Array[] = [];
  let off = 0;
  while (off + 16 <= raw.length) {
    const len = Number(dv.getBigUint64(off, true));
    if (len < 16 || len > raw.length - off) break;
    const level = dv.getInt32(off + 8, true);
    const space = Math.min(Math.ceil(len / 8) * 8, raw.length - off);
    if (level !== SOL_SOCKET) keep.push(raw.subarray(off, off + space));
    off += Math.ceil(len / 8) * 8;
  }
  if (!keep.length) return null;
  const out = new Uint8Array(keep.reduce((n, k) => n + k.length, 0));
  let o = 0;
  for (const k of keep) {
    out.set(k, o);
    o += k.length;
  }
  return out;
}

/** sizeof(struct sockaddr_in) / sizeof(struct sockaddr_in6). */
function minSockaddr(family: number): number {
  return family === 10 ? 24 : 16;
}

function isTimeo(name: number): boolean {
  return (
    name === SO_RCVTIMEO_OLD ||
    name === SO_RCVTIMEO_NEW ||
    name === SO_SNDTIMEO_OLD ||
    name === SO_SNDTIMEO_NEW
  );
}

/** Segments after the first `skip` bytes, at most MAX_SEGS of them. */
function clip(segs: readonly Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of segs) {
    if (out.length === MAX_SEGS) break;
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    out.push(skip ? s.subarray(skip) : s);
    skip = 0;
  }
  return out;
}

/**
 * A sockaddr_nl naming the kernel (nl_pid 0) or carrying only groups: a sandboxed
 * socket never talks to another host process's netlink port.
 */
function netlinkKernelOrSelf(addr: Uint8Array): boolean {
  if (addr.length < 12) return true; // too short: the host answers EINVAL
  const pid = addr[4] | (addr[5] << 8) | (addr[6] << 16) | (addr[7] << 24);
  return pid === 0;
}

/**
 * Only read requests go to the host's rtnetlink: each nlmsghdr must be RTM_GET* (or a
 * NOOP/DONE). A write (RTM_NEW..., RTM_DEL..., RTM_SET...) gets EPERM, as for an app without
 * CAP_NET_ADMIN over the host's network.
 */
function checkNetlinkRequest(src: IoSrc, total: number): number {
  const buf = new Uint8Array(total);
  let o = 0;
  for (const s of src) {
    buf.set(s.subarray(0, Math.min(s.length, total - o)), o);
    o += s.length;
    if (o >= total) break;
  }
  const dv = new DataView(buf.buffer);
  let off = 0;
  while (off + 16 <= total) {
    const len = dv.getUint32(off, true);
    const type = dv.getUint16(off + 4, true);
    if (len < 16 || len > total - off) break;
    const read =
      type === 1 /* NOOP */ || type === 3 /* DONE */ || (type >= 16 && type < 128 && (type & 3) === 2);
    if (!read) return -EPERM;
    off += Math.ceil(len / 4) * 4;
  }
  return 0;
}
