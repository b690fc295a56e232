/**
 * Sockets as the syscall layer sees them (Linux's struct socket + proto_ops; gVisor's
 * socket.Socket). Every address family — AF_UNIX here in the core, AF_INET/AF_INET6 from
 * a network plugin later — hands back a SocketFile: a FileDescription (read/write,
 * readiness, wait queue, ioctl) plus the socket operations. The syscall handlers
 * (core/syscalls/linux/socket.ts) decode arguments and call these; a family overrides
 * what it supports, and the defaults here give Linux's answers for a socket that lacks
 * an operation (sock_no_*: EOPNOTSUPP).
 *
 * Addresses cross this interface as raw sockaddr bytes (the family parses its own);
 * control messages are parsed by core/net/cmsg.ts before they reach the family.
 *
 * Blocking: a socket operation that would block registers its wait with `t.block` in the
 * same synchronous run as the check that found nothing (see sockWait below), and returns
 * the Promise; never an await between the check and the subscription.
 */
import {
  EAGAIN,
  EDOM,
  EINTR,
  EINVAL,
  ENOPROTOOPT,
  EOPNOTSUPP,
  ERESTARTSYS,
  ETIMEDOUT,
  SysError,
} from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import type { UserMemory } from '../mm/api';
import type { WaitQueue } from '../util/waiter';
import { S_IFSOCK } from '../vfs/abi';
import { FileDescription, IoDst, IoSrc, ioLength } from '../vfs/file';
import { allocAnonDev, blankStat, Stat } from '../vfs/inode';
import type { FileTask } from '../vfs/task';

// ---------------------------------------------------------------- ABI constants

export const AF_UNSPEC = 0,
  AF_UNIX = 1,
  AF_INET = 2,
  AF_INET6 = 10,
  AF_NETLINK = 16,
  AF_PACKET = 17,
  AF_MAX = 46;

export const SOCK_STREAM = 1,
  SOCK_DGRAM = 2,
  SOCK_RAW = 3,
  SOCK_RDM = 4,
  SOCK_SEQPACKET = 5,
  SOCK_PACKET = 10,
  SOCK_MAX = 11,
  SOCK_TYPE_MASK = 0xf,
  SOCK_NONBLOCK = 0o4000,
  SOCK_CLOEXEC = 0o2000000;

export const MSG_OOB = 0x1,
  MSG_PEEK = 0x2,
  MSG_DONTROUTE = 0x4,
  MSG_CTRUNC = 0x8,
  MSG_TRUNC = 0x20,
  MSG_DONTWAIT = 0x40,
  MSG_EOR = 0x80,
  MSG_WAITALL = 0x100,
  MSG_NOSIGNAL = 0x4000,
  MSG_MORE = 0x8000,
  MSG_WAITFORONE = 0x10000,
  MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0,
  SHUT_WR = 1,
  SHUT_RDWR = 2;

export const SOL_SOCKET = 1;
export const SO_DEBUG = 1,
  SO_REUSEADDR = 2,
  SO_TYPE = 3,
  SO_ERROR = 4,
  SO_DONTROUTE = 5,
  SO_BROADCAST = 6,
  SO_SNDBUF = 7,
  SO_RCVBUF = 8,
  SO_KEEPALIVE = 9,
  SO_OOBINLINE = 10,
  SO_NO_CHECK = 11,
  SO_PRIORITY = 12,
  SO_LINGER = 13,
  SO_REUSEPORT = 15,
  SO_PASSCRED = 16,
  SO_PEERCRED = 17,
  SO_RCVLOWAT = 18,
  SO_SNDLOWAT = 19,
  SO_RCVTIMEO_OLD = 20,
  SO_SNDTIMEO_OLD = 21,
  SO_ACCEPTCONN = 30,
  SO_SNDBUFFORCE = 32,
  SO_RCVBUFFORCE = 33,
  SO_PASSSEC = 34,
  SO_PROTOCOL = 38,
  SO_DOMAIN = 39,
  SO_PEEK_OFF = 42,
  SO_RCVTIMEO_NEW = 66,
  SO_SNDTIMEO_NEW = 67;

export const SCM_RIGHTS = 1,
  SCM_CREDENTIALS = 2;

/** FIONREAD / SIOCINQ and SIOCOUTQ. */
export const SIOCINQ = 0x541b,
  SIOCOUTQ = 0x5411;

/** sizeof(struct sockaddr_storage): the largest address a syscall copies in. */
export const SOCKADDR_STORAGE = 128;

/** net.core.{w,r}mem_default / _max and the floors sock_setsockopt applies (Linux defaults). */
export const WMEM_DEFAULT = 212992,
  RMEM_DEFAULT = 212992,
  WMEM_MAX = 212992,
  RMEM_MAX = 212992,
  SOCK_MIN_SNDBUF = 4608,
  SOCK_MIN_RCVBUF = 2304;

/** struct ucred. */
export interface Ucred {
  pid: number;
  uid: number;
  gid: number;
}

/** Control data a sender attached (already validated, file references held). */
export interface SendControl {
  rights: FileDescription[] | null;
  cred: Ucred | null;
  /** The whole control buffer as the app gave it (families with other levels' messages read it). */
  raw?: Uint8Array;
}

/** What recvmsg reports besides the byte count. */
export interface RecvResult {
  /** Source address bytes (null/empty: none, msg_namelen 0). */
  name: Uint8Array | null;
  /** msg_flags bits (MSG_TRUNC, MSG_CTRUNC...). */
  flags: number;
  /** Control bytes to copy to msg_control (already fit to the caller's msg_controllen). */
  control: Uint8Array | null;
}

/** sockfs: st_dev and inode numbers of sockets (fstat shows S_IFSOCK, /proc/fd "socket:[ino]"). */
const sockDev = allocAnonDev();
let nextSockIno = 1000;

/**
 * A socket: FileDescription plus the socket operations. Defaults are sock_no_*
 * (EOPNOTSUPP); a family overrides what it implements. Results are numbers or -errno,
 * or a Promise when the call blocks; throwing SysError is also fine.
 */
export abstract class SocketFile extends FileDescription {
  readonly ino = nextSockIno++;
  /** SO_RCVTIMEO / SO_SNDTIMEO in ns (0 = wait forever). */
  rcvTimeoNs = 0;
  sndTimeoNs = 0;
  sndbuf = WMEM_DEFAULT;
  rcvbuf = RMEM_DEFAULT;
  /** Boolean/int SOL_SOCKET options stored and echoed (SO_REUSEADDR, SO_KEEPALIVE...). */
  protected readonly plainOpts = new Map<number, number>();
  /** SO_LINGER (l_onoff, l_linger). */
  linger: [number, number] = [0, 0];
  /** Pending SO_ERROR, cleared when read. */
  soError = 0;

  constructor(
    readonly family: number,
    readonly type: number,
    readonly protocol: number,
    flags: number,
  ) {
    super(flags);
    this.stream = true;
  }

  bind(_t: FileTask, _addr: Uint8Array): number {
    return -EOPNOTSUPP;
  }
  listen(_t: FileTask, _backlog: number): number {
    return -EOPNOTSUPP;
  }
  /** A connected socket (refcount 1) and the peer's address, or -errno. */
  accept(_t: FileTask, _flags: number): SocketFile | number | Promise<SocketFile | number> {
    return -EOPNOTSUPP;
  }
  connect(_t: FileTask, _addr: Uint8Array): number | Promise<number> {
    return -EOPNOTSUPP;
  }
  shutdown(_t: FileTask, _how: number): number {
    return -EOPNOTSUPP;
  }
  /** getsockname(2) bytes. */
  sockName(): Uint8Array | number {
    return -EOPNOTSUPP;
  }
  /** getpeername(2) bytes or -ENOTCONN. */
  peerName(): Uint8Array | number {
    return -EOPNOTSUPP;
  }
  /**
   * The address accept(2) reports for this new connection. Linux gives it even when the
   * connection was reset while it waited in the queue (inet_getname with peer=2), where
   * getpeername says ENOTCONN.
   */
  acceptedPeerName(): Uint8Array | number {
    return this.peerName();
  }
  sendmsg(
    _t: FileTask,
    _src: IoSrc,
    _total: number,
    _flags: number,
    _addr: Uint8Array | null,
    _ctl: SendControl | null,
  ): number | Promise<number> {
    return -EOPNOTSUPP;
  }
  /** `ctlLen`: room in msg_control (0 = none). `out` receives name, flags and control bytes. */
  recvmsg(
    _t: FileTask,
    _dst: IoDst,
    _flags: number,
    _ctlLen: number,
    _out: RecvResult,
  ): number | Promise<number> {
    return -EOPNOTSUPP;
  }
  /** write(2) on a socket: sendmsg with no flags, address or control. */
  override write(t: TaskApi, src: IoSrc, _off: number): number | Promise<number> {
    return noRetry(this.sendmsg(t as FileTask, src, ioLength(src), 0, null, null));
  }
  /** read(2) on a socket: recvmsg with no flags and no room for control data. */
  override read(t: TaskApi, dst: IoDst, _off: number): number | Promise<number> {
    return noRetry(this.recvmsg(t as FileTask, dst, 0, 0, { name: null, flags: 0, control: null }));
  }
  /** Options of other levels than SOL_SOCKET, or SOL_SOCKET options the family answers itself. */
  getsockoptFamily(_t: FileTask, level: number, _name: number): Uint8Array | number | null {
    return level === SOL_SOCKET ? null : -EOPNOTSUPP;
  }
  setsockoptFamily(_t: FileTask, level: number, _name: number, _val: Uint8Array): number | null {
    return level === SOL_SOCKET ? null : -EOPNOTSUPP;
  }

  /**
   * getsockopt(2): family first, then the generic SOL_SOCKET options. `_len` is the
   * caller's optlen (a family passing options to a host socket needs it).
   */
  getsockopt(t: FileTask, level: number, name: number, _len = 4): Uint8Array | number {
    const r = this.getsockoptFamily(t, level, name);
    if (r !== null) return r;
    switch (name) {
      case SO_TYPE:
        return int32(this.type);
      case SO_DOMAIN:
        return int32(this.family);
      case SO_PROTOCOL:
        return int32(this.protocol);
      case SO_ERROR: {
        const e = this.soError;
        this.soError = 0;
        return int32(e);
      }
      case SO_SNDBUF:
        return int32(this.sndbuf);
      case SO_RCVBUF:
        return int32(this.rcvbuf);
      case SO_LINGER: {
        const b = new Uint8Array(8);
        const dv = new DataView(b.buffer);
        dv.setInt32(0, this.linger[0], true);
        dv.setInt32(4, this.linger[1], true);
        return b;
      }
      case SO_RCVTIMEO_OLD:
      case SO_RCVTIMEO_NEW:
        return timeval(this.rcvTimeoNs);
      case SO_SNDTIMEO_OLD:
      case SO_SNDTIMEO_NEW:
        return timeval(this.sndTimeoNs);
      case SO_RCVLOWAT:
        return int32(this.plainOpts.get(SO_RCVLOWAT) ?? 1);
      case SO_SNDLOWAT:
        return int32(1);
      case SO_DEBUG:
      case SO_REUSEADDR:
      case SO_DONTROUTE:
      case SO_BROADCAST:
      case SO_KEEPALIVE:
      case SO_OOBINLINE:
      case SO_NO_CHECK:
      case SO_PRIORITY:
      case SO_REUSEPORT:
      case SO_PASSSEC:
        return int32(this.plainOpts.get(name) ?? 0);
      default:
        return -ENOPROTOOPT;
    }
  }

  /** setsockopt(2): family first, then the generic SOL_SOCKET options. */
  setsockopt(t: FileTask, level: number, name: number, val: Uint8Array): number {
    const r = this.setsockoptFamily(t, level, name, val);
    if (r !== null) return r;
    const dv = new DataView(val.buffer, val.byteOffset, val.byteLength);
    const needInt = (): number | null => (val.length < 4 ? null : dv.getInt32(0, true));
    switch (name) {
      case SO_SNDBUF:
      case SO_SNDBUFFORCE: {
        const v = needInt();
        if (v === null) return -EINVAL;
        const cap = name === SO_SNDBUF ? Math.min(v >>> 0, WMEM_MAX) : Math.max(v, 0);
        this.sndbuf = Math.max(Math.min(cap, 0x3fffffff) * 2, SOCK_MIN_SNDBUF);
        this.onBufChange();
        return 0;
      }
      case SO_RCVBUF:
      case SO_RCVBUFFORCE: {
        const v = needInt();
        if (v === null) return -EINVAL;
        const cap = name === SO_RCVBUF ? Math.min(v >>> 0, RMEM_MAX) : Math.max(v, 0);
        this.rcvbuf = Math.max(Math.min(cap, 0x3fffffff) * 2, SOCK_MIN_RCVBUF);
        return 0;
      }
      case SO_LINGER: {
        if (val.length < 8) return -EINVAL;
        this.linger = [dv.getInt32(0, true) ? 1 : 0, dv.getInt32(4, true)];
        return 0;
      }
      case SO_RCVTIMEO_OLD:
      case SO_RCVTIMEO_NEW:
      case SO_SNDTIMEO_OLD:
      case SO_SNDTIMEO_NEW: {
        const ns = parseTimeval(val);
        if (ns < 0) return ns;
        if (name === SO_RCVTIMEO_OLD || name === SO_RCVTIMEO_NEW) this.rcvTimeoNs = ns;
        else this.sndTimeoNs = ns;
        return 0;
      }
      case SO_RCVLOWAT: {
        const v = needInt();
        if (v === null) return -EINVAL;
        this.plainOpts.set(name, Math.max(v, 1));
        return 0;
      }
      case SO_DEBUG:
      case SO_REUSEADDR:
      case SO_DONTROUTE:
      case SO_BROADCAST:
      case SO_KEEPALIVE:
      case SO_OOBINLINE:
      case SO_NO_CHECK:
      case SO_REUSEPORT:
      case SO_PASSSEC: {
        const v = needInt();
        if (v === null) return -EINVAL;
        this.plainOpts.set(name, v ? 1 : 0);
        return 0;
      }
      case SO_PRIORITY: {
        const v = needInt();
        if (v === null) return -EINVAL;
        this.plainOpts.set(name, v);
        return 0;
      }
      default:
        return -ENOPROTOOPT;
    }
  }

  /** SO_SNDBUF changed (writers may have room now). */
  protected onBufChange(): void {}

  override stat(): Stat {
    const st = blankStat(sockDev, this.ino, S_IFSOCK | 0o777);
    st.blksize = 4096;
    return st;
  }
  /** /proc/<pid>/fd text. */
  procLinkName(): string {
    return `socket:[${this.ino}]`;
  }
}

// ---------------------------------------------------------------- helpers

export function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** struct timeval from ns (SO_RCVTIMEO: 0 = forever). */
function timeval(ns: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  const us = Math.round(ns / 1000);
  dv.setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
  dv.setBigInt64(8, BigInt(us % 1e6), true);
  return b;
}

/** sock_set_timeout: ns (0 = forever) or -errno. */
function parseTimeval(val: Uint8Array): number {
  if (val.length < 16) return -EINVAL;
  const dv = new DataView(val.buffer, val.byteOffset, val.byteLength);
  const sec = Number(dv.getBigInt64(0, true));
  const usec = Number(dv.getBigInt64(8, true));
  if (usec < 0 || usec >= 1e6) return -EDOM;
  if (sec < 0) return 1; // Linux: a negative timeout means "do not wait" (one jiffy)
  if (sec === 0 && usec === 0) return 0;
  return sec * 1e9 + usec * 1000;
}

/**
 * Wait for `mask` on `q` and then run `retry`; the wait is registered now, synchronously.
 * `deadline` is an absolute time in ms from performance.now() (0 = none). A timeout gives
 * -EAGAIN; a signal gives -ERESTARTSYS, or -EINTR when a timeout is set
 * (Linux's sock_intr_errno).
 */
export function sockWait<R>(
  t: TaskApi,
  q: WaitQueue,
  mask: number,
  deadline: number,
  retry: () => R | Promise<R>,
): Promise<R | number> {
  let timeout: number | undefined;
  if (deadline) {
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve(-EAGAIN);
    timeout = left * 1e6;
  }
  return t.block(q, mask, timeout).then((r) => {
    if (r === -ETIMEDOUT) return -EAGAIN;
    if (r === -ERESTARTSYS) return deadline ? -EINTR : -ERESTARTSYS;
    if (r < 0) return r;
    return retry();
  });
}

/** Absolute deadline (ms) for a socket timeout in ns (0 = none). */
export function deadlineFor(timeoutNs: number): number {
  return timeoutNs ? performance.now() + timeoutNs / 1e6 : 0;
}

/** Copy a sockaddr in (move_addr_to_kernel): EINVAL for a bad length. */
export function readSockaddr(mem: UserMemory, addr: number, len: number): Uint8Array {
  if (len < 0 || len > SOCKADDR_STORAGE) throw new SysError(EINVAL);
  if (len === 0) return new Uint8Array(0);
  return mem.copyIn(addr, len);
}

/**
 * read(2)/write(2) on a socket block inside the socket (to honour SO_RCVTIMEO/SO_SNDTIMEO);
 * an expired timeout must reach the app as EAGAIN rather than make the generic
 * read/write loop wait again, so it is thrown.
 */
function noRetry(r: number | Promise<number>): number | Promise<number> {
  if (typeof r === 'number') return r;
  return r.then((v) => {
    if (v === -EAGAIN) throw new SysError(EAGAIN);
    return v;
  });
}
