/**
 * AF_UNIX sockets (Linux's net/unix/af_unix.c; gVisor's socket/unix): SOCK_STREAM,
 * SOCK_DGRAM (SOCK_RAW is an alias, as Linux) and SOCK_SEQPACKET, all in the sentry.
 *
 * Model, as Linux's: each socket owns a receive queue of messages (an skb each: bytes,
 * passed files, the sender's credentials and address). A writer is charged for the bytes
 * it has queued at its peer (`inflight`, Linux's sk_wmem_alloc) against its SO_SNDBUF;
 * reading them gives the room back and wakes the writer. Stream reads glue messages
 * together (but stop after one carrying files, and never mix credentials when
 * SO_PASSCRED is on); datagram and seqpacket reads return one message, truncated with
 * MSG_TRUNC. Datagram receivers not connected back to the sender also bound their queue
 * to net.unix.max_dgram_qlen (10) messages.
 *
 * Connection: listen() makes a socket accept connections into a queue of at most
 * backlog+1 embryos; connect() creates the server-side socket at once, already paired,
 * so the client may write before accept(). A full queue makes a blocking connect wait
 * and a non-blocking one fail with EAGAIN (Linux, unlike TCP's EINPROGRESS).
 *
 * Closing: a stream/seqpacket peer sees both directions shut (EOF, EPIPE+SIGPIPE on
 * stream writes) and ECONNRESET once if it closed with unread data; a datagram sender
 * connected to a closed socket gets ECONNREFUSED and is disconnected.
 *
 * Blocking follows core/net/socket.ts's sockWait: the wait is registered synchronously
 * after the failed check; SO_RCVTIMEO/SO_SNDTIMEO expire with EAGAIN.
 *
 * Gaps: no garbage collection of in-flight descriptor cycles (a socket sent over itself
 * and closed leaks until the sandbox ends); no MSG_OOB; SO_PEEK_OFF and SO_PASSSEC/
 * SO_PEERSEC are not supported; credentials are those at send time.
 */
import {
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EINVAL,
  EISCONN,
  EMSGSIZE,
  ENOTCONN,
  ENODEV,
  ENOTTY,
  EOPNOTSUPP,
  EPERM,
  EPIPE,
  EPROTOTYPE,
  SysError,
} from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRBAND,
  POLLWRNORM,
} from '../../util/waiter';
import { O_NONBLOCK, O_RDWR, SIGPIPE } from '../../vfs/abi';
import { copyToSegs, FileDescription, IoDst, IoSrc, ioLength } from '../../vfs/file';
import type { FileTask } from '../../vfs/task';
import { ControlWriter, releaseControl } from '../cmsg';
import { networkStack } from '../inet';
import {
  AF_INET,
  AF_UNIX,
  AF_UNSPEC,
  deadlineFor,
  int32,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_OOB,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  RecvResult,
  SendControl,
  SIOCINQ,
  SIOCOUTQ,
  SO_ACCEPTCONN,
  SO_PASSCRED,
  SO_PEERCRED,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SocketFile,
  sockWait,
  SOL_SOCKET,
  Ucred,
} from '../socket';
import {
  abstractFree,
  bindAbstract,
  bindPath,
  findAbstract,
  findPath,
  unbindAbstract,
  unbindPath,
  unbindPathNode,
} from './bind';

/** sizeof(struct sockaddr_un). */
export const SOCKADDR_UN_SIZE = 110;
/** net.unix.max_dgram_qlen. */
export const MAX_DGRAM_QLEN = 10;

const RCV_SHUTDOWN = 1,
  SEND_SHUTDOWN = 2,
  SHUTDOWN_MASK = 3;

/** Internal wake-up bit: a connection was accepted (room in the backlog). */
const EVENT_ACCEPTED = 1 << 29;
const READ_EVENTS = POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLERR;
const WRITE_EVENTS = POLLOUT | POLLWRNORM | POLLERR | POLLHUP;

const enum State {
  Close,
  Listen,
  Established,
}

interface Message {
  data: Uint8Array;
  /** Bytes already consumed (stream). */
  off: number;
  rights: FileDescription[] | null;
  cred: Ucred;
  /** The sender's address when it sent (null: unnamed). */
  from: Uint8Array | null;
  sender: UnixSocket;
}

/** A parsed sockaddr_un. */
type UnixAddr =
  { path: string; abstract: false; bytes: Uint8Array } | { abstract: true; name: string; bytes: Uint8Array };

/** unix_validate_addr + unix_mkname: EINVAL for a bad length or family. */
export function parseUnixAddr(b: Uint8Array): UnixAddr {
  if (b.length <= 2 || b.length > SOCKADDR_UN_SIZE) throw new SysError(EINVAL);
  if ((b[0] | (b[1] << 8)) !== AF_UNIX) throw new SysError(EINVAL);
  if (b[2] === 0) {
    let name = '';
    for (let i = 3; i < b.length; i++) name += String.fromCharCode(b[i]);
    return { abstract: true, name, bytes: b.slice() };
  }
  let end = 2;
  while (end < b.length && b[end] !== 0) end++;
  let path = '';
  for (let i = 2; i < end; i++) path += String.fromCharCode(b[i]);
  const bytes = new Uint8Array(end + 1);
  bytes.set(b.subarray(0, end));
  return { path, abstract: false, bytes };
}

function credOf(t: TaskApi): Ucred {
  return { pid: t.tgid, uid: t.creds.uid, gid: t.creds.gid };
}
function peerCredOf(t: TaskApi): Ucred {
  return { pid: t.tgid, uid: t.creds.euid, gid: t.creds.egid };
}
function sameCred(a: Ucred, b: Ucred): boolean {
  return a.pid === b.pid && a.uid === b.uid && a.gid === b.gid;
}

/** `len` bytes of a segment list starting `skip` bytes in, copied. */
function gatherFrom(src: IoSrc, skip: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  for (let i = 0; i < src.length && done < len; i++) {
    const s = src[i];
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    const n = Math.min(s.length - skip, len - done);
    out.set(s.subarray(skip, skip + n), done);
    done += n;
    skip = 0;
  }
  return out;
}

let autobindNext = (Date.now() * 7) & 0xfffff;

export class UnixSocket extends SocketFile {
  private state = State.Close;
  peer: UnixSocket | null = null;
  private readonly queue: Message[] = [];
  /** Bytes this socket sent that sit in a receive queue. */
  private inflight = 0;
  /** Bound address (sockaddr_un bytes) and what to unbind at release. */
  private addr: Uint8Array | null = null;
  private pathKey: string | null = null;
  private abstractName: string | null = null;
  private backlog = 0;
  private readonly acceptq: UnixSocket[] = [];
  /** Server-side socket still in its listener's queue. */
  private embryo = false;
  private shut = 0;
  passcred = false;
  /** SO_PEERCRED: null until connected. */
  private peerCred: Ucred | null = null;
  /** Credentials recorded by listen() (handed to connecting clients). */
  private listenCred: Ucred | null = null;
  /** Datagram sockets connected to this one (woken when it drains or closes). */
  private readonly connectedFrom = new Set<UnixSocket>();
  private dead = false;

  constructor(type: number, flags: number) {
    super(AF_UNIX, type, 0, O_RDWR | (flags & O_NONBLOCK));
  }

  /** socketpair(2): two connected sockets. */
  static pair(t: TaskApi, type: number, flags: number): [UnixSocket, UnixSocket] {
    const a = new UnixSocket(type, flags);
    const b = new UnixSocket(type, flags);
    a.peer = b;
    b.peer = a;
    a.state = b.state = State.Established;
    a.peerCred = peerCredOf(t);
    b.peerCred = peerCredOf(t);
    return [a, b];
  }

  private get connectionOriented(): boolean {
    return this.type !== SOCK_DGRAM;
  }

  private nonblocking(flags: number): boolean {
    return (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
  }

  // ---------------------------------------------------------------- names

  override bind(t: FileTask, b: Uint8Array): number {
    if (b.length === 2 && (b[0] | (b[1] << 8)) === AF_UNIX) {
      if (this.addr) return -EINVAL;
      this.autobind();
      return 0;
    }
    const a = parseUnixAddr(b);
    if (a.abstract) {
      if (this.addr) return -EINVAL;
      bindAbstract(this.type, a.name, this);
      this.abstractName = a.name;
    } else {
      // As Linux, the node is made first (EADDRINUSE wins over "already bound").
      const key = bindPath(t, a.path, this);
      if (this.addr) {
        unbindPathNode(t, a.path, key, this);
        return -EINVAL;
      }
      this.pathKey = key;
    }
    this.addr = a.bytes;
    return 0;
  }

  /** unix_autobind: an abstract name of five hex digits. */
  private autobind(): void {
    for (let i = 0; i < 0x100000; i++) {
      const name = (autobindNext++ & 0xfffff).toString(16).padStart(5, '0');
      if (!abstractFree(this.type, name)) continue;
      bindAbstract(this.type, name, this);
      this.abstractName = name;
      const bytes = new Uint8Array(3 + name.length);
      bytes[0] = AF_UNIX;
      for (let j = 0; j < name.length; j++) bytes[3 + j] = name.charCodeAt(j);
      this.addr = bytes;
      return;
    }
    throw new SysError(28 /* ENOSPC */);
  }

  override sockName(): Uint8Array {
    return this.addr ?? new Uint8Array([AF_UNIX, 0]);
  }

  override peerName(): Uint8Array | number {
    const p = this.peer;
    if (!p || (this.connectionOriented && this.state !== State.Established)) return -ENOTCONN;
    return p.addr ?? new Uint8Array([AF_UNIX, 0]);
  }

  /** The socket an address names, of our type (EPROTOTYPE otherwise). */
  private lookup(t: FileTask, b: Uint8Array): UnixSocket {
    const a = parseUnixAddr(b);
    const ep = a.abstract ? findAbstract(this.type, a.name) : findPath(t, a.path);
    if (!(ep instanceof UnixSocket) || ep.dead) throw new SysError(ECONNREFUSED);
    if (ep.type !== this.type) throw new SysError(EPROTOTYPE);
    return ep;
  }

  // ---------------------------------------------------------------- connections

  override listen(t: FileTask, backlog: number): number {
    if (!this.connectionOriented) return -EOPNOTSUPP;
    if (!this.addr) return -EINVAL;
    if (this.state !== State.Close && this.state !== State.Listen) return -EINVAL;
    const grew = backlog > this.backlog;
    this.backlog = backlog;
    this.state = State.Listen;
    this.listenCred = peerCredOf(t);
    if (grew) this.waitQueue().notify(EVENT_ACCEPTED);
    return 0;
  }

  override connect(t: FileTask, b: Uint8Array): number | Promise<number> {
    if (!this.connectionOriented) {
      if (b.length >= 2 && (b[0] | (b[1] << 8)) === AF_UNSPEC) {
        this.disconnectDgram();
        return 0;
      }
      const target = this.lookup(t, b);
      if (target.peer && target.peer !== this && target !== this) return -EPERM;
      if (this.passcred && !this.addr) this.autobind();
      this.disconnectDgram();
      this.peer = target;
      this.peerCred = peerCredOf(t);
      if (target !== this) target.connectedFrom.add(this);
      return 0;
    }
    if (this.state === State.Established) return -EISCONN;
    if (this.state !== State.Close) return -EINVAL;
    const target = this.lookup(t, b);
    if (this.passcred && !this.addr) this.autobind();
    const deadline = deadlineFor(this.sndTimeoNs);
    const attempt = (): number | Promise<number> => {
      if (this.state === State.Established) return -EISCONN;
      if (target.dead || target.state !== State.Listen) return -ECONNREFUSED;
      if (target.acceptq.length > target.backlog) {
        if (this.flags & O_NONBLOCK) return -EAGAIN;
        return sockWait(t, target.waitQueue(), EVENT_ACCEPTED, deadline, attempt);
      }
      const server = new UnixSocket(this.type, 0);
      server.state = this.state = State.Established;
      server.peer = this;
      this.peer = server;
      server.addr = target.addr;
      server.embryo = true;
      server.peerCred = peerCredOf(t);
      this.peerCred = target.listenCred;
      target.acceptq.push(server);
      target.waitQueue().notify(POLLIN | POLLRDNORM);
      this.waitQueue().notify(POLLOUT | POLLWRNORM);
      return 0;
    };
    return attempt();
  }

  private disconnectDgram(): void {
    const p = this.peer;
    if (!p) return;
    p.connectedFrom.delete(this);
    this.peer = null;
  }

  override accept(t: FileTask, flags: number): UnixSocket | number | Promise<UnixSocket | number> {
    if (!this.connectionOriented) return -EOPNOTSUPP;
    if (this.state !== State.Listen) return -EINVAL;
    const deadline = deadlineFor(this.rcvTimeoNs);
    const attempt = (): UnixSocket | number | Promise<UnixSocket | number> => {
      if (this.state !== State.Listen) return -EINVAL;
      const s = this.acceptq.shift();
      if (!s) {
        if (this.flags & O_NONBLOCK) return -EAGAIN;
        return sockWait(t, this.waitQueue(), POLLIN, deadline, attempt);
      }
      s.embryo = false;
      s.flags = O_RDWR | (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0);
      s.passcred = this.passcred;
      this.waitQueue().notify(EVENT_ACCEPTED);
      return s;
    };
    return attempt();
  }

  override shutdown(_t: FileTask, how: number): number {
    if (how < 0 || how > 2) return -EINVAL;
    const mode = how + 1;
    this.shut |= mode;
    this.waitQueue().notify(READ_EVENTS | WRITE_EVENTS);
    const p = this.peer;
    if (p && this.connectionOriented) {
      let pm = 0;
      if (mode & RCV_SHUTDOWN) pm |= SEND_SHUTDOWN;
      if (mode & SEND_SHUTDOWN) pm |= RCV_SHUTDOWN;
      p.shut |= pm;
      p.waitQueue().notify(READ_EVENTS | WRITE_EVENTS);
    }
    return 0;
  }

  // ---------------------------------------------------------------- sending

  override sendmsg(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number | Promise<number> {
    let r: number | Promise<number>;
    try {
      r =
        this.connectionOriented && this.type === SOCK_STREAM
          ? this.sendStream(t, src, total, flags, addr, ctl)
          : this.sendDgram(t, src, total, flags, addr, ctl);
    } catch (e) {
      releaseControl(ctl);
      throw e;
    }
    return r;
  }

  private pipeError(t: TaskApi, flags: number): number {
    if (!(flags & MSG_NOSIGNAL)) t.sendSignal(SIGPIPE);
    return -EPIPE;
  }

  private sendStream(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number | Promise<number> {
    if (flags & MSG_OOB) return fail(ctl, -EOPNOTSUPP);
    if (addr && addr.length) return fail(ctl, this.state === State.Established ? -EISCONN : -EOPNOTSUPP);
    const peer = this.peer;
    if (!peer || this.state !== State.Established) return fail(ctl, -ENOTCONN);
    if (this.shut & SEND_SHUTDOWN) return fail(ctl, this.pipeError(t, flags));
    if (total === 0) return fail(ctl, 0);
    const cred = ctl?.cred ?? credOf(t);
    const deadline = deadlineFor(this.sndTimeoNs);
    let done = 0;
    const attempt = (): number | Promise<number> => {
      for (;;) {
        if (this.shut & SEND_SHUTDOWN || peer.shut & RCV_SHUTDOWN || peer.dead) {
          releaseControl(ctl);
          ctl = null;
          return done > 0 ? done : this.pipeError(t, flags);
        }
        const room = this.sndbuf - this.inflight;
        if (room <= 0) {
          if (this.nonblocking(flags)) return done > 0 ? done : fail(ctl, -EAGAIN);
          return sockWait(t, this.waitQueue(), WRITE_EVENTS, deadline, attempt).then((r) => {
            if (r < 0) {
              if (done === 0) releaseControl(ctl);
              return done > 0 ? done : r;
            }
            return r;
          });
        }
        const n = Math.min(room, total - done);
        peer.enqueue({
          data: gatherFrom(src, done, n),
          off: 0,
          rights: ctl?.rights ?? null,
          cred,
          from: this.addr,
          sender: this,
        });
        ctl = null;
        done += n;
        if (done >= total) return done;
      }
    };
    return attempt();
  }

  private sendDgram(
    t: FileTask,
    src: IoSrc,
    total: number,
    flags: number,
    addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number | Promise<number> {
    if (flags & MSG_OOB) return fail(ctl, -EOPNOTSUPP);
    const seqpacket = this.type === SOCK_SEQPACKET;
    if (seqpacket) {
      if (this.state !== State.Established) return fail(ctl, -ENOTCONN);
      addr = null;
    }
    if (total > this.sndbuf - 32) return fail(ctl, -EMSGSIZE);
    let target: UnixSocket;
    if (addr && addr.length) target = this.lookup(t, addr);
    else {
      if (!this.peer) return fail(ctl, -ENOTCONN);
      target = this.peer;
    }
    if (!seqpacket && this.passcred && !this.addr) this.autobind();
    const data = gatherFrom(src, 0, total);
    const cred = ctl?.cred ?? credOf(t);
    const deadline = deadlineFor(this.sndTimeoNs);
    const attempt = (): number | Promise<number> => {
      if (target.dead) {
        if (target === this.peer) {
          if (seqpacket) return fail(ctl, -EPIPE);
          this.disconnectDgram();
        }
        return fail(ctl, -ECONNREFUSED);
      }
      if (!seqpacket && target.peer && target.peer !== this && target !== this) return fail(ctl, -EPERM);
      if (target.shut & RCV_SHUTDOWN || (seqpacket && this.shut & SEND_SHUTDOWN)) return fail(ctl, -EPIPE);
      const qfull = !seqpacket && target.peer !== this && target.queue.length > MAX_DGRAM_QLEN;
      if (qfull || this.inflight >= this.sndbuf) {
        if (this.nonblocking(flags)) return fail(ctl, -EAGAIN);
        const q = qfull ? target.waitQueue() : this.waitQueue();
        return sockWait(t, q, WRITE_EVENTS, deadline, attempt).then((r) => (r < 0 ? fail(ctl, r) : r));
      }
      target.enqueue({ data, off: 0, rights: ctl?.rights ?? null, cred, from: this.addr, sender: this });
      return total;
    };
    return attempt();
  }

  private enqueue(m: Message): void {
    this.queue.push(m);
    m.sender.inflight += m.data.length;
    this.waitQueue().notify(POLLIN | POLLRDNORM);
  }

  /** `n` bytes of `m` were consumed: the sender gets the room back. */
  private consumed(m: Message, n: number): void {
    const s = m.sender;
    s.inflight -= n;
    s.waitQueue().notify(POLLOUT | POLLWRNORM | POLLWRBAND);
    if (this.type === SOCK_DGRAM) this.waitQueue().notify(POLLOUT | POLLWRNORM);
  }

  // ---------------------------------------------------------------- receiving

  override recvmsg(
    t: FileTask,
    dst: IoDst,
    flags: number,
    ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    if (this.type === SOCK_STREAM) return this.recvStream(t, dst, flags, ctlLen, out);
    if (this.type === SOCK_SEQPACKET && this.state !== State.Established) return -ENOTCONN;
    return this.recvDgram(t, dst, flags, ctlLen, out);
  }

  /** Common "nothing to read" handling: EOF, a pending error, EAGAIN, or wait. */
  private empty(
    t: FileTask,
    flags: number,
    deadline: number,
    retry: () => number | Promise<number>,
  ): number | Promise<number> {
    if (this.soError) {
      const e = this.soError;
      this.soError = 0;
      return -e;
    }
    if (this.shut & RCV_SHUTDOWN) return 0;
    if (this.nonblocking(flags)) return -EAGAIN;
    return sockWait(t, this.waitQueue(), READ_EVENTS, deadline, retry);
  }

  private recvDgram(
    t: FileTask,
    dst: IoDst,
    flags: number,
    ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    const deadline = deadlineFor(this.rcvTimeoNs);
    const attempt = (): number | Promise<number> => {
      const m = this.queue[0];
      if (!m) return this.empty(t, flags, deadline, attempt);
      const n = copyToSegs(dst, m.data);
      const peek = (flags & MSG_PEEK) !== 0;
      if (!peek) {
        this.queue.shift();
        this.consumed(m, m.data.length);
      }
      out.name = m.from;
      out.flags = 0;
      if (m.data.length > n) out.flags |= MSG_TRUNC;
      this.control(t, m.cred, m.rights, ctlLen, flags, out);
      if (!peek) dropRights(m);
      return flags & MSG_TRUNC ? m.data.length : n;
    };
    return attempt();
  }

  private recvStream(
    t: FileTask,
    dst: IoDst,
    flags: number,
    ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    if (this.state !== State.Established) return -EINVAL;
    const total = ioLength(dst);
    const target = flags & MSG_WAITALL ? Math.max(total, 1) : 1;
    const peek = (flags & MSG_PEEK) !== 0;
    const deadline = deadlineFor(this.rcvTimeoNs);
    let copied = 0;
    let cred: Ucred | null = null;
    let rights: FileDescription[] | null = null;
    let from: Uint8Array | null = null;
    let rightsOwned = false;
    const finish = (): number => {
      out.name = from;
      out.flags = 0;
      if (cred || rights) this.control(t, cred, rights, ctlLen, flags, out);
      else if (ctlLen >= 0 && this.passcred) this.control(t, null, null, ctlLen, flags, out);
      if (rights && rightsOwned) for (const f of rights) f.decRef();
      return copied;
    };
    const attempt = (): number | Promise<number> => {
      let idx = 0;
      let skip = 0;
      if (peek) {
        // A peek starts again from the head each time (nothing was consumed).
        copied = 0;
        cred = null;
        rights = null;
      }
      while (copied < total || total === 0) {
        const m = this.queue[idx];
        if (!m) {
          if (copied >= target) break;
          const r = this.empty(t, flags, deadline, attempt);
          if (typeof r === 'number') {
            if (copied > 0) return finish();
            if (r === 0) return finish();
            return r;
          }
          return r.then((v) => (v < 0 && copied > 0 ? finish() : v));
        }
        if (this.passcred) {
          if (cred && copied > 0 && !sameCred(cred, m.cred)) break;
          cred ??= m.cred;
        }
        if (copied === 0) from = m.from;
        const start = m.off + skip;
        const c = copyToSegs(advance(dst, copied), m.data.subarray(start));
        copied += c;
        if (!peek) {
          m.off += c;
          this.consumed(m, c);
          if (m.rights) {
            rights = m.rights;
            rightsOwned = true;
            m.rights = null;
          }
          if (m.off < m.data.length) break;
          this.queue.shift();
          if (rights) break;
        } else {
          if (m.rights) {
            rights = m.rights;
            break;
          }
          if (start + c < m.data.length) break;
          idx++;
          skip = 0;
        }
        if (total === 0) break;
      }
      return finish();
    };
    return attempt();
  }

  /** Fill out.control (credentials when SO_PASSCRED, then files). */
  private control(
    t: FileTask,
    cred: Ucred | null,
    rights: FileDescription[] | null,
    ctlLen: number,
    flags: number,
    out: RecvResult,
  ): void {
    if (!this.passcred && !rights) return;
    const w = new ControlWriter(ctlLen);
    if (this.passcred) w.credentials(cred ?? { pid: 0, uid: 65534, gid: 65534 });
    if (rights) w.rights(t, rights, (flags & MSG_CMSG_CLOEXEC) !== 0);
    out.flags |= w.flags;
    out.control = w.bytes();
  }

  // ---------------------------------------------------------------- state

  override readiness(mask: number): number {
    let r = 0;
    if (this.soError) r |= POLLERR;
    if (this.shut === SHUTDOWN_MASK) r |= POLLHUP;
    if (this.shut & RCV_SHUTDOWN) r |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (this.state === State.Listen) {
      if (this.acceptq.length) r |= POLLIN | POLLRDNORM;
      return r & (mask | POLLERR | POLLHUP);
    }
    if (this.queue.length) r |= POLLIN | POLLRDNORM;
    if (this.connectionOriented && this.state === State.Close) r |= POLLHUP;
    let writable = this.inflight * 4 <= this.sndbuf;
    if (this.type === SOCK_SEQPACKET && this.state === State.Close) writable = true;
    const p = this.peer;
    if (writable && this.type === SOCK_DGRAM && p && p.peer !== this && p.queue.length > MAX_DGRAM_QLEN)
      writable = false;
    if (writable) r |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return r & (mask | POLLERR | POLLHUP);
  }

  override ioctl(t: TaskApi, cmd: number, arg: number): number {
    if (cmd === SIOCINQ) {
      if (this.state === State.Listen) return -EINVAL;
      let n = 0;
      if (this.type === SOCK_DGRAM) n = this.queue.length ? this.queue[0].data.length : 0;
      else for (const m of this.queue) n += m.data.length - m.off;
      t.mem.writeI32(arg, n);
      return 0;
    }
    if (cmd === SIOCOUTQ) {
      if (this.state === State.Listen) return -EINVAL;
      t.mem.writeI32(arg, this.inflight);
      return 0;
    }
    if (cmd >= SIOC_DEV_FIRST && cmd <= SIOC_DEV_LAST) return deviceIoctl(t, cmd, arg);
    return -ENOTTY;
  }

  override getsockoptFamily(_t: FileTask, level: number, name: number): Uint8Array | number | null {
    if (level !== SOL_SOCKET) return -EOPNOTSUPP;
    switch (name) {
      case SO_PASSCRED:
        return int32(this.passcred ? 1 : 0);
      case SO_ACCEPTCONN:
        return int32(this.state === State.Listen ? 1 : 0);
      case SO_PEERCRED: {
        const c = this.peerCred;
        const b = new Uint8Array(12);
        const dv = new DataView(b.buffer);
        dv.setInt32(0, c ? c.pid : 0, true);
        dv.setInt32(4, c ? c.uid : -1, true);
        dv.setInt32(8, c ? c.gid : -1, true);
        return b;
      }
    }
    return null;
  }

  override setsockoptFamily(_t: FileTask, level: number, name: number, val: Uint8Array): number | null {
    if (level !== SOL_SOCKET) return -EOPNOTSUPP;
    if (name === SO_PASSCRED) {
      if (val.length < 4) return -EINVAL;
      this.passcred = new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true) !== 0;
      return 0;
    }
    return null;
  }

  protected override onBufChange(): void {
    this.waitQueue().notify(POLLOUT | POLLWRNORM);
  }

  protected override release(): void {
    this.dead = true;
    this.shut = SHUTDOWN_MASK;
    if (this.pathKey) unbindPath(this.pathKey, this);
    if (this.abstractName !== null) unbindAbstract(this.type, this.abstractName, this);
    for (const s of this.acceptq.splice(0)) s.decRef();
    const p = this.peer;
    if (p) {
      if (this.connectionOriented) {
        p.shut = SHUTDOWN_MASK;
        if (this.queue.length || this.embryo) p.soError = ECONNRESET;
        p.waitQueue().notify(READ_EVENTS | WRITE_EVENTS);
      } else {
        p.connectedFrom.delete(this);
      }
    }
    for (const s of this.connectedFrom) s.waitQueue().notify(WRITE_EVENTS | READ_EVENTS);
    this.connectedFrom.clear();
    for (const m of this.queue.splice(0)) {
      this.consumed(m, m.data.length - m.off);
      dropRights(m);
    }
    this.waitQueue().notify(READ_EVENTS | WRITE_EVENTS | EVENT_ACCEPTED);
  }
}

/** Release a control that was not sent and pass `r` through. */
function fail(ctl: SendControl | null, r: number): number {
  releaseControl(ctl);
  return r;
}

function dropRights(m: Message): void {
  if (m.rights) for (const f of m.rights) f.decRef();
  m.rights = null;
}

/** Skip `n` bytes of a destination segment list. */
function advance(dst: IoDst, n: number): IoDst {
  if (n === 0) return dst;
  const out: Uint8Array[] = [];
  for (const s of dst) {
    if (n >= s.length) {
      n -= s.length;
      continue;
    }
    out.push(n ? s.subarray(n) : s);
    n = 0;
  }
  return out;
}

/** The network-device requests (SIOCGIFNAME 0x8910 .. SIOCSIFHWBROADCAST 0x8937 and kin). */
const SIOC_DEV_FIRST = 0x8910,
  SIOC_DEV_LAST = 0x8970;

/**
 * Linux answers interface requests (SIOCGIFINDEX, SIOCGIFCONF...) on a socket of any family
 * (sock_ioctl → dev_ioctl); glibc's if_nametoindex asks an AF_UNIX socket. The interfaces
 * are the network stack's, so an AF_INET socket of the stack answers; without a stack
 * there are no interfaces to name (ENODEV).
 */
function deviceIoctl(t: TaskApi, cmd: number, arg: number): number {
  const stack = networkStack();
  if (!stack || !stack.families.includes(AF_INET)) return -ENODEV;
  const s = stack.socket(t as FileTask, AF_INET, SOCK_DGRAM, 0, 0);
  if (typeof s === 'number') return s;
  try {
    return s.ioctl(t, cmd, arg) as number;
  } finally {
    s.decRef();
  }
}
