/**
 * Socket syscalls: socket, socketpair, bind, listen, accept, accept4, connect,
 * getsockname, getpeername, sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg,
 * shutdown, getsockopt, setsockopt.
 *
 * Handlers decode arguments (sockaddr bytes, msghdr, iovecs, control messages) and call
 * the socket (core/net/socket.ts's SocketFile); the family behind it comes from the
 * registry in core/net/families.ts — AF_UNIX from the core, other families when a network
 * plugin registers them (EAFNOSUPPORT until then; see docs/net.md). read/write/poll/ioctl on sockets go
 * through the ordinary file paths.
 */
import { EAFNOSUPPORT, EBADF, EINVAL, EMSGSIZE, ENOBUFS, ENOTSOCK, SysError } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { parseSendControl } from '../../net/cmsg';
import { socketFamily } from '../../net/families';
import {
  AF_MAX,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_WAITFORONE,
  readSockaddr,
  RecvResult,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_TYPE_MASK,
  SocketFile,
} from '../../net/socket';
import '../../net/unix';
import { O_NONBLOCK } from '../../vfs/abi';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { iovecViews, MAX_RW_COUNT } from './file';

type T = FileTask;
type A = SyscallArgs;

/** net.core.somaxconn. */
const SOMAXCONN = 4096;
/** UIO_MAXIOV: most iovecs per message and most messages per sendmmsg/recvmmsg. */
const UIO_MAXIOV = 1024;
/** net.core.optmem_max: most control bytes one sendmsg may pass. */
const OPTMEM_MAX = 20480;
/** sizeof(struct msghdr) and sizeof(struct mmsghdr). */
const MSGHDR = 56,
  MMSGHDR = 64;

// ---------------------------------------------------------------- helpers

/** The socket at fd: EBADF, ENOTSOCK. */
function sockArg(t: T, fd: number): SocketFile {
  const f = t.files.get(fd);
  if (!f || f.isPath) throw new SysError(EBADF);
  if (!(f instanceof SocketFile)) throw new SysError(ENOTSOCK);
  return f;
}

/**
 * move_addr_to_user: copy at most *lenp bytes of `addr` to `ptr` and store the full
 * length in *lenp. EINVAL for a negative *lenp.
 */
function addrOut(t: T, ptr: number, lenp: number, addr: Uint8Array | null): void {
  const len = t.mem.readI32(lenp);
  if (len < 0) throw new SysError(EINVAL);
  const full = addr ? addr.length : 0;
  const n = Math.min(len, full);
  if (n > 0) t.mem.copyOut(ptr, addr!.subarray(0, n));
  t.mem.writeI32(lenp, full);
}

/** Run `then` on a result that may be a Promise. */
function after<R, S>(r: R | Promise<R>, then: (v: R) => S): S | Promise<S> {
  return r instanceof Promise ? r.then(then) : then(r);
}

function newSocketArgs(type: number): { ty: number; flags: number; cloexec: boolean } | number {
  const extra = type & ~SOCK_TYPE_MASK;
  if (extra & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
  return {
    ty: type & SOCK_TYPE_MASK,
    flags: extra & SOCK_NONBLOCK ? O_NONBLOCK : 0,
    cloexec: (extra & SOCK_CLOEXEC) !== 0,
  };
}

// ---------------------------------------------------------------- creation

/** Socket implements Linux syscall socket(2). */
export function Socket(t: T, a: A): number {
  const domain = a.int(0);
  const p = newSocketArgs(a.int(1));
  if (typeof p === 'number') return p;
  if (domain < 0 || domain >= AF_MAX) return -EAFNOSUPPORT;
  const fam = socketFamily(domain);
  if (!fam) return -EAFNOSUPPORT;
  const s = fam.socket(t, p.ty, a.int(2), p.flags);
  if (typeof s === 'number') return s;
  return t.files.install(s, p.cloexec);
}

/** Socketpair implements Linux syscall socketpair(2). */
export function Socketpair(t: T, a: A): number {
  const domain = a.int(0);
  const p = newSocketArgs(a.int(1));
  if (typeof p === 'number') return p;
  if (domain < 0 || domain >= AF_MAX) return -EAFNOSUPPORT;
  const fam = socketFamily(domain);
  if (!fam) return -EAFNOSUPPORT;
  if (!fam.socketpair) return -95; // EOPNOTSUPP
  const sv = a.ptr(3);
  t.mem.writeViews(sv, 8);
  const r = fam.socketpair(t, p.ty, a.int(2), p.flags);
  if (typeof r === 'number') return r;
  let fd0: number;
  try {
    fd0 = t.files.install(r[0], p.cloexec);
  } catch (e) {
    r[1].decRef();
    throw e;
  }
  let fd1: number;
  try {
    fd1 = t.files.install(r[1], p.cloexec);
  } catch (e) {
    t.files.close(fd0);
    throw e;
  }
  t.mem.writeI32(sv, fd0);
  t.mem.writeI32(sv + 4, fd1);
  return 0;
}

// ---------------------------------------------------------------- names and connections

/** Bind implements Linux syscall bind(2). */
export function Bind(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  return s.bind(t, readSockaddr(t.mem, a.ptr(1), a.int(2)));
}

/** Listen implements Linux syscall listen(2). */
export function Listen(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  let backlog = a.int(1);
  if (backlog >>> 0 > SOMAXCONN) backlog = SOMAXCONN;
  return s.listen(t, backlog);
}

function doAccept(t: T, fd: number, addr: number, lenp: number, flags: number): number | Promise<number> {
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  const s = sockArg(t, fd);
  return after(s.accept(t, flags), (r) => {
    if (typeof r === 'number') return r;
    if (addr) {
      try {
        addrOut(t, addr, lenp, asBytes(r.acceptedPeerName()));
      } catch (e) {
        r.decRef();
        throw e;
      }
    }
    return t.files.install(r, (flags & SOCK_CLOEXEC) !== 0);
  });
}

function asBytes(r: Uint8Array | number): Uint8Array {
  if (typeof r === 'number') throw new SysError(-r);
  return r;
}

/** Accept implements Linux syscall accept(2). */
export function Accept(t: T, a: A): number | Promise<number> {
  return doAccept(t, a.int(0), a.ptr(1), a.ptr(2), 0);
}

/** Accept4 implements Linux syscall accept4(2). */
export function Accept4(t: T, a: A): number | Promise<number> {
  return doAccept(t, a.int(0), a.ptr(1), a.ptr(2), a.int(3));
}

/** Connect implements Linux syscall connect(2). */
export function Connect(t: T, a: A): number | Promise<number> {
  const s = sockArg(t, a.int(0));
  return s.connect(t, readSockaddr(t.mem, a.ptr(1), a.int(2)));
}

/** Getsockname implements Linux syscall getsockname(2). */
export function Getsockname(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  addrOut(t, a.ptr(1), a.ptr(2), asBytes(s.sockName()));
  return 0;
}

/** Getpeername implements Linux syscall getpeername(2). */
export function Getpeername(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  const r = s.peerName();
  if (typeof r === 'number') return r;
  addrOut(t, a.ptr(1), a.ptr(2), r);
  return 0;
}

/** Shutdown implements Linux syscall shutdown(2). */
export function Shutdown(t: T, a: A): number {
  return sockArg(t, a.int(0)).shutdown(t, a.int(1));
}

// ---------------------------------------------------------------- data

/** Sendto implements Linux syscall sendto(2). */
export function Sendto(t: T, a: A): number | Promise<number> {
  const s = sockArg(t, a.int(0));
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  const src = len ? t.mem.readViews(a.ptr(1), len) : [];
  const addrp = a.ptr(4);
  const addr = addrp ? readSockaddr(t.mem, addrp, a.int(5)) : null;
  return s.sendmsg(t, src, len, a.int(3), addr, null);
}

/** Recvfrom implements Linux syscall recvfrom(2). */
export function Recvfrom(t: T, a: A): number | Promise<number> {
  const s = sockArg(t, a.int(0));
  let len = a.ptr(2);
  if (len > MAX_RW_COUNT) len = MAX_RW_COUNT;
  const dst = len ? t.mem.writeViews(a.ptr(1), len) : [];
  const addrp = a.ptr(4);
  const lenp = a.ptr(5);
  const out: RecvResult = { name: null, flags: 0, control: null };
  return after(s.recvmsg(t, dst, a.int(3), 0, out), (n) => {
    if (n >= 0 && addrp) addrOut(t, addrp, lenp, out.name);
    return n;
  });
}

interface MsgHdr {
  name: number;
  namelen: number;
  iov: number;
  iovlen: number;
  control: number;
  controllen: number;
}

function readMsgHdr(t: T, addr: number): MsgHdr {
  const raw = t.mem.copyIn(addr, MSGHDR);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const h: MsgHdr = {
    name: Number(dv.getBigUint64(0, true)),
    namelen: dv.getInt32(8, true),
    iov: Number(dv.getBigUint64(16, true)),
    iovlen: Number(dv.getBigUint64(24, true)),
    control: Number(dv.getBigUint64(32, true)),
    controllen: Number(dv.getBigUint64(40, true)),
  };
  if (!h.name) h.namelen = 0;
  if (h.namelen < 0) throw new SysError(EINVAL);
  if (h.namelen > 128) h.namelen = 128;
  if (h.iovlen > UIO_MAXIOV) throw new SysError(EMSGSIZE);
  return h;
}

function sendOne(t: T, s: SocketFile, msgp: number, flags: number): number | Promise<number> {
  const h = readMsgHdr(t, msgp);
  if (h.controllen > 0x7fffffff) return -ENOBUFS;
  const { segs, total } = iovecViews(t, h.iov, h.iovlen, false);
  const addr = h.namelen ? t.mem.copyIn(h.name, h.namelen) : null;
  let ctl = null;
  if (h.controllen) {
    if (h.controllen > OPTMEM_MAX) return -ENOBUFS;
    const raw = t.mem.copyIn(h.control, h.controllen);
    ctl = parseSendControl(t, raw) ?? { rights: null, cred: null };
    ctl.raw = raw;
  }
  return s.sendmsg(t, segs, total, flags, addr, ctl);
}

function recvOne(t: T, s: SocketFile, msgp: number, flags: number): number | Promise<number> {
  const h = readMsgHdr(t, msgp);
  const { segs } = iovecViews(t, h.iov, h.iovlen, true);
  const out: RecvResult = { name: null, flags: 0, control: null };
  const ctlLen = h.control ? Math.min(h.controllen, 0x7fffffff) : 0;
  return after(s.recvmsg(t, segs, flags, ctlLen, out), (n) => {
    if (n < 0) return n;
    if (h.name) {
      const full = out.name ? out.name.length : 0;
      const c = Math.min(h.namelen, full);
      if (c) t.mem.copyOut(h.name, out.name!.subarray(0, c));
      t.mem.writeI32(msgp + 8, full);
    } else t.mem.writeI32(msgp + 8, 0);
    const cb = out.control;
    if (cb) t.mem.copyOut(h.control, cb);
    t.mem.writeU64(msgp + 40, cb ? cb.length : 0);
    t.mem.writeI32(msgp + 48, out.flags | (flags & MSG_CMSG_CLOEXEC));
    return n;
  });
}

/** Sendmsg implements Linux syscall sendmsg(2). */
export function Sendmsg(t: T, a: A): number | Promise<number> {
  return sendOne(t, sockArg(t, a.int(0)), a.ptr(1), a.int(2));
}

/** Recvmsg implements Linux syscall recvmsg(2). */
export function Recvmsg(t: T, a: A): number | Promise<number> {
  return recvOne(t, sockArg(t, a.int(0)), a.ptr(1), a.int(2));
}

/**
 * sendmmsg/recvmmsg: run `one` on each mmsghdr in turn, storing each result in msg_len.
 * An error after the first message ends the call with the count so far, as Linux does;
 * `more(i)` may stop early (recvmmsg's timeout) and is told how many are done.
 */
function eachMessage(
  t: T,
  vec: number,
  vlen: number,
  one: (hdr: number) => number | Promise<number>,
  more: (done: number) => boolean,
): number | Promise<number> {
  let i = 0;
  const step = (): number | Promise<number> => {
    while (i < vlen) {
      let r: number | Promise<number>;
      try {
        r = one(vec + i * MMSGHDR);
      } catch (e) {
        if (i > 0) return i;
        throw e;
      }
      const done = (n: number): number | Promise<number> | null => {
        if (n < 0) return i > 0 ? i : n;
        t.mem.writeU32(vec + i * MMSGHDR + MSGHDR, n);
        i++;
        return more(i) ? null : i;
      };
      if (r instanceof Promise) return r.then((n) => done(n) ?? step());
      const d = done(r);
      if (d !== null) return d;
    }
    return i;
  };
  return step();
}

/** Sendmmsg implements Linux syscall sendmmsg(2). */
export function Sendmmsg(t: T, a: A): number | Promise<number> {
  const s = sockArg(t, a.int(0));
  const flags = a.int(3);
  return eachMessage(
    t,
    a.ptr(1),
    Math.min(a.uint(2), UIO_MAXIOV),
    (hdr) => sendOne(t, s, hdr, flags),
    () => true,
  );
}

/** Recvmmsg implements Linux syscall recvmmsg(2). */
export function Recvmmsg(t: T, a: A): number | Promise<number> {
  const s = sockArg(t, a.int(0));
  let flags = a.int(3);
  const tsp = a.ptr(4);
  let deadline = 0;
  if (tsp) {
    const sec = t.mem.readU64(tsp);
    const nsec = t.mem.readU64(tsp + 8);
    if (nsec >= 1e9 || sec > Number.MAX_SAFE_INTEGER / 2) return -EINVAL;
    deadline = performance.now() + sec * 1e3 + nsec / 1e6;
  }
  return eachMessage(
    t,
    a.ptr(1),
    Math.min(a.uint(2), UIO_MAXIOV),
    (hdr) => recvOne(t, s, hdr, flags),
    () => {
      if (flags & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
      return !(deadline && performance.now() >= deadline);
    },
  );
}

// ---------------------------------------------------------------- options

/** Setsockopt implements Linux syscall setsockopt(2). */
export function Setsockopt(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  const len = a.int(4);
  if (len < 0) return -EINVAL;
  const val = len ? t.mem.copyIn(a.ptr(3), Math.min(len, 4096)) : new Uint8Array(0);
  return s.setsockopt(t, a.int(1), a.int(2), val);
}

/** Getsockopt implements Linux syscall getsockopt(2). */
export function Getsockopt(t: T, a: A): number {
  const s = sockArg(t, a.int(0));
  const lenp = a.ptr(4);
  const len = t.mem.readI32(lenp);
  if (len < 0) return -EINVAL;
  const r = s.getsockopt(t, a.int(1), a.int(2), len);
  if (typeof r === 'number') return r;
  const n = Math.min(len, r.length);
  if (n) t.mem.copyOut(a.ptr(3), r.subarray(0, n));
  t.mem.writeI32(lenp, n);
  return 0;
}

const NOTE_FAMILIES =
  'AF_UNIX in the core; AF_INET, AF_INET6 and AF_NETLINK (NETLINK_ROUTE) from the network plugin (net-host: docs/net.md); EAFNOSUPPORT with network: none';

export const socketSyscalls: SyscallDef<FileTask>[] = [
  {
    nr: 41,
    name: 'socket',
    handler: Socket,
    support: 'partial',
    note: NOTE_FAMILIES,
    args: ['int', 'hex', 'int'],
  },
  { nr: 42, name: 'connect', handler: Connect, support: 'full', args: ['fd', 'ptr', 'int'] },
  { nr: 43, name: 'accept', handler: Accept, support: 'full', args: ['fd', 'ptr', 'ptr'] },
  {
    nr: 44,
    name: 'sendto',
    handler: Sendto,
    support: 'partial',
    note: 'no MSG_OOB',
    args: ['fd', 'buf', 'uint', 'hex', 'ptr', 'int'],
  },
  {
    nr: 45,
    name: 'recvfrom',
    handler: Recvfrom,
    support: 'partial',
    note: 'no MSG_OOB or MSG_ERRQUEUE',
    args: ['fd', 'outbuf', 'uint', 'hex', 'ptr', 'ptr'],
  },
  {
    nr: 46,
    name: 'sendmsg',
    handler: Sendmsg,
    support: 'partial',
    note: 'SCM_RIGHTS and SCM_CREDENTIALS; no MSG_OOB',
    args: ['fd', 'ptr', 'hex'],
  },
  {
    nr: 47,
    name: 'recvmsg',
    handler: Recvmsg,
    support: 'partial',
    note: 'SCM_RIGHTS and SCM_CREDENTIALS; no MSG_OOB, MSG_ERRQUEUE or SO_PEEK_OFF',
    args: ['fd', 'ptr', 'hex'],
  },
  { nr: 48, name: 'shutdown', handler: Shutdown, support: 'full', args: ['fd', 'int'] },
  { nr: 49, name: 'bind', handler: Bind, support: 'full', args: ['fd', 'ptr', 'int'] },
  { nr: 50, name: 'listen', handler: Listen, support: 'full', args: ['fd', 'int'] },
  { nr: 51, name: 'getsockname', handler: Getsockname, support: 'full', args: ['fd', 'ptr', 'ptr'] },
  { nr: 52, name: 'getpeername', handler: Getpeername, support: 'full', args: ['fd', 'ptr', 'ptr'] },
  {
    nr: 53,
    name: 'socketpair',
    handler: Socketpair,
    support: 'partial',
    note: NOTE_FAMILIES,
    args: ['int', 'hex', 'int', 'ptr'],
  },
  {
    nr: 54,
    name: 'setsockopt',
    handler: Setsockopt,
    support: 'partial',
    note: 'AF_UNIX: SOL_SOCKET options (buffer sizes, timeouts, SO_PASSCRED, SO_LINGER and flags stored); net-host: an allow-list of SOL_SOCKET/TCP/IP/IPV6/UDP/NETLINK options passed to the host; no SO_PEEK_OFF, SO_ATTACH_FILTER, SO_BINDTODEVICE',
    args: ['fd', 'int', 'int', 'ptr', 'int'],
  },
  {
    nr: 55,
    name: 'getsockopt',
    handler: Getsockopt,
    support: 'partial',
    note: 'SOL_SOCKET options incl. SO_PEERCRED, SO_ERROR, SO_ACCEPTCONN; net-host: the allow-listed inet options (TCP_INFO...); no SO_PEERSEC, SO_PEERGROUPS, SO_PEERPIDFD',
    args: ['fd', 'int', 'int', 'ptr', 'ptr'],
  },
  { nr: 288, name: 'accept4', handler: Accept4, support: 'full', args: ['fd', 'ptr', 'ptr', 'hex'] },
  {
    nr: 299,
    name: 'recvmmsg',
    handler: Recvmmsg,
    support: 'partial',
    note: 'the timeout is checked between messages (as Linux), not while blocked',
    args: ['fd', 'ptr', 'uint', 'hex', 'ptr'],
  },
  { nr: 307, name: 'sendmmsg', handler: Sendmmsg, support: 'full', args: ['fd', 'ptr', 'uint', 'hex'] },
];
