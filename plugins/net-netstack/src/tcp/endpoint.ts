/**
 * A TCP endpoint: the RFC 9293 state machine with MSS, window scaling and timestamps
 * (RFC 7323), SACK-permitted negotiation and SACK blocks sent for out-of-order data
 * (RFC 2018, D-SACK RFC 2883), RTO per RFC 6298 with exponential backoff, fast
 * retransmit/recovery (RFC 5681): SACK-based loss recovery (RFC 6675: the peer's SACK
 * blocks kept on a scoreboard, scoreboard.ts; IsLost, pipe, NextSeg rules 1-4; after an RTO
 * SACKed data is not resent unless the peer reneged) when SACK was negotiated and the peer
 * SACKs, NewReno (RFC 6582) otherwise, delayed ACKs,
 * Nagle (and TCP_NODELAY), keepalive, zero-window probes, TIME_WAIT, RST rules with RFC 5961
 * challenge ACKs, listen backlog with SYN cookies (RFC 4987) and half-close.
 *
 * Endpoints never block: operations return a value or a negative Linux errno (-EAGAIN,
 * -EINPROGRESS, ...). Whenever readiness may have changed the endpoint calls `onEvent`;
 * `poll()` gives the current poll(2) mask. Blocking semantics belong to the socket layer.
 *
 * Sequence numbers are unsigned 32-bit numbers compared with seqLT & co. The send buffer
 * holds the bytes from sndUna on (acknowledged bytes are dropped); SYN and FIN occupy
 * sequence space but not buffer space.
 */
import {
  EAGAIN,
  EALREADY,
  ECONNREFUSED,
  ECONNRESET,
  EINPROGRESS,
  EINVAL,
  EISCONN,
  ENOTCONN,
  EOPNOTSUPP,
  EPIPE,
  ETIMEDOUT,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
} from '../errno';
import { createHash, randomBytes } from 'node:crypto';
import { Timer } from '../timer';
import { copyBytes } from '../checksum';
import { forget, recycle, sendCopy } from './pool';
import { validAddr, validPort, type IpAddr } from '../addr';
import { ByteQueue } from './buffer';
import {
  ACK,
  FIN,
  PSH,
  RST,
  SYN,
  headerLength,
  seqAdd,
  seqDiff,
  seqGE,
  seqGT,
  seqLE,
  seqLT,
  writeTcp,
  type TcpSegment,
  type TcpSegmentOut,
} from './segment';
import { routeMss, type TcpHost, type Route } from './host';
import { SackScoreboard } from './scoreboard';

/** Linux's TCP state numbers (as in /proc/net/tcp and TCP_INFO). */
export enum TcpState {
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECEIVED = 3,
  FIN_WAIT_1 = 4,
  FIN_WAIT_2 = 5,
  TIME_WAIT = 6,
  CLOSED = 7,
  CLOSE_WAIT = 8,
  LAST_ACK = 9,
  LISTEN = 10,
  CLOSING = 11,
}

/** Tunables shared by a stack's endpoints (defaults follow Linux's). */
export interface TcpConfig {
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** SYN retransmissions before connect fails with ETIMEDOUT (tcp_syn_retries). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open child is dropped (tcp_synack_retries). */
  synAckRetries: number;
  /** Data retransmissions before the connection fails with ETIMEDOUT (tcp_retries2). */
  retries2: number;
  delayedAckMs: number;
  /** TIME_WAIT duration (2*MSL; Linux: 60 s). */
  timeWaitMs: number;
  /** How long an orphaned FIN_WAIT_2 lingers (tcp_fin_timeout). */
  finTimeoutMs: number;
  sndBuf: number;
  rcvBuf: number;
  initialCwndSegments: number;
  keepaliveIdleMs: number;
  keepaliveIntervalMs: number;
  keepaliveProbes: number;
  /** Offer/accept SACK, timestamps and window scaling (tcp_sack, tcp_timestamps, tcp_window_scaling). */
  sack: boolean;
  timestamps: boolean;
  windowScaling: boolean;
  /** Most half-open (SYN_RECEIVED) children per listener (tcp_max_syn_backlog). */
  maxSynBacklog: number;
  /** Answer SYNs beyond a full SYN queue with SYN cookies (Linux's tcp_syncookies=1). */
  synCookies: boolean;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  synRetries: 6,
  synAckRetries: 5,
  retries2: 15,
  delayedAckMs: 40,
  timeWaitMs: 60_000,
  finTimeoutMs: 60_000,
  sndBuf: 1 << 20,
  rcvBuf: 1 << 20,
  initialCwndSegments: 10,
  keepaliveIdleMs: 7_200_000,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  sack: true,
  timestamps: true,
  windowScaling: true,
  maxSynBacklog: 4096,
  synCookies: true,
};

/** Our window scale: 7, as Linux, so up to 8 MiB windows are expressible. */
const OUR_WSCALE = 7;
const DEFAULT_MSS = 536;
const MAX_WINDOW = 65535;
/** Out-of-order segments held at most (bounds memory against a hostile peer). */
const MAX_OOO_SEGMENTS = 1024;
/**
 * SYN cookies (RFC 4987 §3.6), our own encoding: the SYN-ACK's sequence number is
 * t * 2^24 + ((H(secret, 4-tuple, peer's ISN, t) + i) mod 2^24), t a 64-second counter
 * (mod 256) and i the index of the peer's MSS rounded down in COOKIE_MSS. An ACK to the
 * listener whose ACK - 1 decodes with t now or one period ago recreates the connection
 * (without window scaling, SACK or timestamps, which the cookie does not carry: as Linux
 * when the SYN had no timestamps).
 */
const COOKIE_SECRET = randomBytes(32);
const COOKIE_MSS = [536, 1300, 1440, 1460];
const COOKIE_PERIOD_MS = 64_000;
/** Cookies are checked only this long after the SYN queue last overflowed (Linux: 2 min). */
const COOKIE_VALID_MS = 120_000;

function cookieHash(
  src: IpAddr,
  dst: IpAddr,
  sport: number,
  dport: number,
  peerIsn: number,
  t: number,
): number {
  // IPv4 addresses are numbers, IPv6 ones canonical text: the key never confuses the two.
  const key = `${String(src)} ${String(dst)} ${sport} ${dport} ${peerIsn} ${t}`;
  return createHash('sha256').update(COOKIE_SECRET).update(key).digest().readUIntBE(0, 3);
}

/** The ISN of a cookie SYN-ACK for a SYN (src:sport → dst:dport, seq peerIsn, MSS mss). */
export function makeSynCookie(
  src: IpAddr,
  dst: IpAddr,
  sport: number,
  dport: number,
  peerIsn: number,
  mss: number,
  now: number,
): number {
  const t = Math.floor(now / COOKIE_PERIOD_MS) % 256;
  let i = COOKIE_MSS.length - 1;
  while (i > 0 && mss < COOKIE_MSS[i]) i--;
  return t * 0x1000000 + ((cookieHash(src, dst, sport, dport, peerIsn, t) + i) % 0x1000000);
}

/** The MSS a cookie (the ACK's ack - 1) encodes, or -1 if it is not one of ours or too old. */
export function checkSynCookie(
  src: IpAddr,
  dst: IpAddr,
  sport: number,
  dport: number,
  peerIsn: number,
  cookie: number,
  now: number,
): number {
  const t = Math.floor(cookie / 0x1000000);
  const age = (Math.floor(now / COOKIE_PERIOD_MS) - t + 256 * 2) % 256;
  if (age > 1) return -1;
  const idx = ((cookie % 0x1000000) - cookieHash(src, dst, sport, dport, peerIsn, t) + 0x1000000) % 0x1000000;
  return idx < COOKIE_MSS.length ? COOKIE_MSS[idx] : -1;
}

/** How soon a SYN is resent after an unacceptable ACK in SYN_SENT (Linux's TCP_TIMEOUT_MIN). */
const SYN_SENT_QUICK_RETRY_MS = 2;

/** Per-endpoint counters (cumulative). */
export interface TcpEndpointStats {
  segsIn: number;
  segsOut: number;
  retransmits: number;
  fastRetransmits: number;
  rtoFires: number;
  dupAcksIn: number;
  /** Loss recoveries driven by the SACK scoreboard (RFC 6675; also counted in fastRetransmits). */
  sackRecoveries: number;
  /** Segments resent by SACK-based recovery (RFC 6675 NextSeg; also counted in retransmits). */
  sackRetransmits: number;
  /** Received SACK blocks ignored as invalid (outside SND.UNA..SND.MAX, empty, or too many ranges). */
  sackBlocksRejected: number;
  /** Scoreboards dropped at an RTO because the peer reneged (SND.UNA itself was SACKed). */
  sackReneges: number;
  oooSegments: number;
  /** Segment size cut by ICMP fragmentation needed. */
  pmtuReductions: number;
  zeroWindowProbes: number;
  keepaliveProbes: number;
  challengeAcks: number;
  /** Segments dropped by PAWS (a timestamp older than the last kept). */
  pawsDrops: number;
  /** Listeners: SYN-ACKs sent with a cookie, and connections made from a cookie's ACK. */
  synCookiesSent: number;
  synCookiesAccepted: number;
}

interface OooSegment {
  seq: number;
  data: Uint8Array;
}

let nextId = 1;

export class TcpEndpoint {
  readonly id = nextId++;
  private st: TcpState = TcpState.CLOSED;

  get state(): TcpState {
    return this.st;
  }

  /**
   * Every state change goes through here, so the MIB's transition counters are kept as
   * Linux's tcp_connect / tcp_create_openreq_child / tcp_set_state / tcp_done keep them:
   * ActiveOpens on CLOSED -> SYN_SENT, PassiveOpens when a listener's child completes the
   * handshake, AttemptFails on SYN_SENT or SYN_RECEIVED -> CLOSED, EstabResets on
   * ESTABLISHED or CLOSE_WAIT -> CLOSED.
   */
  set state(s: TcpState) {
    const old = this.st;
    if (old === s) return;
    this.st = s;
    const m = this.host.mib;
    switch (s) {
      case TcpState.SYN_SENT:
        if (old === TcpState.CLOSED) m.tcpActiveOpens++;
        break;
      case TcpState.ESTABLISHED:
        if (old === TcpState.SYN_RECEIVED && this.parent) m.tcpPassiveOpens++;
        break;
      case TcpState.CLOSED:
        if (old === TcpState.ESTABLISHED || old === TcpState.CLOSE_WAIT) m.tcpEstabResets++;
        else if (old === TcpState.SYN_SENT || old === TcpState.SYN_RECEIVED) m.tcpAttemptFails++;
        break;
    }
  }
  /** Bound/connected addresses (0 = unspecified; IPv6 as canonical text). */
  laddr: IpAddr = 0;
  lport = 0;
  raddr: IpAddr = 0;
  rport = 0;
  /** IP versions a wildcard bind/listen takes: 4, 6 (IPV6_V6ONLY) or 46 (dual-stack AF_INET6). */
  ipVersions: 4 | 6 | 46 = 4;
  /** Called when readiness may have changed (new data, writable, accept-able, error, hang-up). */
  onEvent: ((ep: TcpEndpoint) => void) | undefined;
  readonly stats: TcpEndpointStats = {
    segsIn: 0,
    segsOut: 0,
    retransmits: 0,
    fastRetransmits: 0,
    rtoFires: 0,
    dupAcksIn: 0,
    sackRecoveries: 0,
    sackRetransmits: 0,
    sackBlocksRejected: 0,
    sackReneges: 0,
    oooSegments: 0,
    pmtuReductions: 0,
    zeroWindowProbes: 0,
    keepaliveProbes: 0,
    challengeAcks: 0,
    pawsDrops: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
  };

  // Options set by the owner.
  nodelay = false;
  keepalive = false;
  keepaliveIdleMs: number;
  keepaliveIntervalMs: number;
  keepaliveProbes: number;
  reuseAddr = false;
  ttl = 64;
  tos = 0;
  sndBufSize: number;
  rcvBufSize: number;

  // Connection state.
  private route: Route | undefined;
  private everConnected = false;
  private err = 0;
  private bound = false;
  private registered = false;
  /** The app has closed its handle: the endpoint lives on only to finish the protocol. */
  private orphan = false;
  private rdShutdown = false;
  private wrShutdown = false;

  // Send sequence space.
  private iss = 0;
  private sndUna = 0;
  private sndNxt = 0;
  private sndMax = 0;
  private sndWnd = 0;
  private maxSndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private sndWscale = 0;
  private readonly sndBuf = new ByteQueue(recycle, forget);
  /** FIN sent in the current pass (cleared when an RTO rewinds sndNxt). */
  private finSent = false;
  /** FIN ever sent: finSeq is valid. */
  private finOut = false;
  private finSeq = 0;
  /** Effective send MSS (payload bytes per segment, options excluded). */
  mss = DEFAULT_MSS;
  private peerMss = DEFAULT_MSS;

  // Receive sequence space.
  private irs = 0;
  private rcvNxt = 0;
  private rcvWscale = 0;
  private rcvAdvRight = 0;
  private readonly rcvQueue = new ByteQueue();
  private ooo: OooSegment[] = [];
  private oooBytes = 0;
  /** Sequence number of the latest out-of-order arrival (its block is reported first). */
  private lastOooSeq = 0;
  /** A duplicate range to report as the first SACK block of the next ACK (D-SACK). */
  private dsack: number[] | undefined;
  private finReceived = false;
  /** Sequence number of a FIN received out of order (-1: none). */
  private oooFin = -1;
  private ackPending = 0;
  private ackNow = false;

  // Negotiated options.
  private tsOk = false;
  private tsRecent = 0;
  private sackOk = false;
  private wsOk = false;

  // Congestion control: NewReno (RFC 6582), or RFC 6675's SACK-based loss recovery when
  // SACK was negotiated and the peer reports SACK blocks.
  private cwnd = 0;
  private ssthresh = 0x7fffffff;
  private dupAcks = 0;
  private inRecovery = false;
  /** RecoveryPoint (RFC 6675) / recover (RFC 6582): SND.MAX when recovery or an RTO began. */
  private recover = 0;
  /** The current recovery is RFC 6675's: retransmissions chosen by NextSeg, sending by `pipe`. */
  private sackRecovery = false;
  /** RFC 6675's HighRxt, exclusive: the end of the highest range resent in this recovery. */
  private highRxt = 0;
  /** RFC 6675's RescueRxt: no rescue retransmission until SND.UNA passes it. */
  private rescueRxt = 0;
  /** What the peer reported holding above SND.UNA. */
  private readonly scoreboard = new SackScoreboard();

  // RTT estimation (RFC 6298).
  private srtt = 0;
  private rttvar = 0;
  private rto: number;
  private retries = 0;
  private rttSeq = -1;
  private rttStart = 0;
  private persistBackoff = 0;
  private kaProbesSent = 0;
  private lastRecv = 0;

  // Timers.
  private readonly rtxTimer: Timer;
  private readonly delackTimer: Timer;
  private readonly persistTimer: Timer;
  private readonly keepaliveTimer: Timer;
  /** TIME_WAIT and orphaned FIN_WAIT_2 expiry. */
  private readonly stateTimer: Timer;

  // Listening.
  private backlog = 0;
  private readonly acceptQueue: TcpEndpoint[] = [];
  private synReceived = 0;
  private parent: TcpEndpoint | undefined;

  constructor(
    private readonly host: TcpHost,
    private readonly cfg: TcpConfig,
  ) {
    this.sndBufSize = cfg.sndBuf;
    this.rcvBufSize = cfg.rcvBuf;
    this.keepaliveIdleMs = cfg.keepaliveIdleMs;
    this.keepaliveIntervalMs = cfg.keepaliveIntervalMs;
    this.keepaliveProbes = cfg.keepaliveProbes;
    this.rto = cfg.initialRtoMs;
    const c = host.counters;
    // A bug in a timer handler must not take the sentry down: it is reported and the
    // endpoint is reset.
    const guard = (name: string, f: () => void) => (): void => {
      try {
        f();
      } catch (e) {
        host.reportError(`netstack: TCP ${name} timer`, e);
        this.abort();
      }
    };
    this.rtxTimer = new Timer(
      c,
      guard('retransmission', () => this.onRto()),
    );
    this.delackTimer = new Timer(
      c,
      guard('delayed-ACK', () => this.onDelack()),
    );
    this.persistTimer = new Timer(
      c,
      guard('persist', () => this.onPersist()),
    );
    this.keepaliveTimer = new Timer(
      c,
      guard('keepalive', () => this.onKeepalive()),
    );
    this.stateTimer = new Timer(
      c,
      guard('TIME_WAIT', () => this.onStateTimer()),
    );
  }

  // ---------------------------------------------------------------- app-facing operations

  /** bind(2): port 0 picks an ephemeral port. Returns 0 or -errno. */
  bind(addr: IpAddr, port: number): number {
    if (!validAddr(addr) || !validPort(port)) return -EINVAL;
    if (this.bound || this.state !== TcpState.CLOSED || this.everConnected) return -EINVAL;
    const r = this.host.bindTcp(this, addr, port);
    if (r < 0) return r;
    this.laddr = addr;
    this.lport = r;
    this.bound = true;
    return 0;
  }

  /** listen(2). Returns 0 or -errno. */
  listen(backlog: number): number {
    if (this.state === TcpState.LISTEN) {
      this.backlog = Math.max(0, Math.min(backlog, 4096));
      return 0;
    }
    if (this.state !== TcpState.CLOSED || this.everConnected) return -EINVAL;
    if (!this.bound) {
      const r = this.bind(0, 0);
      if (r < 0) return r;
    }
    this.backlog = Math.max(0, Math.min(backlog, 4096));
    this.state = TcpState.LISTEN;
    this.host.addListener(this);
    return 0;
  }

  /** accept(2), non-blocking: a connected child, or -EAGAIN / -EINVAL. */
  accept(): TcpEndpoint | number {
    if (this.state !== TcpState.LISTEN) return -EINVAL;
    const c = this.acceptQueue.shift();
    if (!c) return -EAGAIN;
    c.parent = undefined;
    return c;
  }

  /** connect(2), non-blocking: -EINPROGRESS when the SYN is out; completion is signalled by onEvent. */
  connect(addr: IpAddr, port: number): number {
    switch (this.state) {
      case TcpState.SYN_SENT:
        return -EALREADY;
      case TcpState.LISTEN:
        return -EINVAL;
      case TcpState.CLOSED:
        break;
      default:
        return -EISCONN;
    }
    if (this.everConnected) return this.err ? -this.takeError() : -EISCONN;
    if (!validAddr(addr) || !validPort(port)) return -EINVAL;
    if (port === 0) return -ECONNREFUSED;
    const route = this.host.route(addr, this.laddr);
    if (typeof route === 'number') return route;
    this.route = route;
    const src = this.laddr || route.src;
    const lport = this.host.connectTcp(this, src, this.bound ? this.lport : 0, addr, port);
    if (lport < 0) return lport;
    this.laddr = src;
    this.lport = lport;
    this.raddr = addr;
    this.rport = port;
    this.bound = true;
    this.registered = true;
    this.everConnected = true;
    this.initSend();
    this.rcvWscale = this.cfg.windowScaling ? OUR_WSCALE : 0;
    this.state = TcpState.SYN_SENT;
    this.sendSyn();
    return -EINPROGRESS;
  }

  /** send(2), non-blocking: bytes queued, or -EAGAIN / -EPIPE / -ENOTCONN / a pending error. */
  send(data: Uint8Array, flags = 0): number {
    if (flags & 1 /* MSG_OOB */) return -EOPNOTSUPP;
    if (this.err) return -this.takeError();
    if (this.wrShutdown) return -EPIPE;
    switch (this.state) {
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        break;
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        return -EAGAIN;
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return this.everConnected ? -EPIPE : -ENOTCONN;
      default:
        return -EPIPE;
    }
    const space = this.sndBufSize - this.sndBuf.length;
    if (space <= 0) return -EAGAIN;
    const n = Math.min(space, data.length);
    if (n === 0) return 0;
    this.sndBuf.push(sendCopy(data.subarray(0, n)));
    this.trySend();
    this.flushAck();
    return n;
  }

  /**
   * recv(2), non-blocking, into `out`: bytes read; 0 at end of stream; -EAGAIN when nothing
   * is queued yet; -ENOTCONN before a connection; a pending error (-ECONNRESET...).
   */
  recv(out: Uint8Array, peek = false): number {
    if (this.rcvQueue.length > 0 && out.length > 0) {
      const n = this.rcvQueue.read(out, peek);
      if (!peek) this.maybeWindowUpdate();
      return n;
    }
    if (this.err) return -this.takeError();
    if (out.length === 0) return 0;
    if (this.finReceived || this.rdShutdown) return 0;
    switch (this.state) {
      case TcpState.LISTEN:
        return -ENOTCONN;
      case TcpState.CLOSED:
        return this.everConnected ? 0 : -ENOTCONN;
      default:
        return -EAGAIN;
    }
  }

  /** Bytes waiting to be read (FIONREAD). */
  get readable(): number {
    return this.rcvQueue.length;
  }

  /** Bytes queued but not yet acknowledged (TIOCOUTQ / SIOCOUTQ). */
  get unacked(): number {
    return this.sndBuf.length;
  }

  /** shutdown(2). */
  shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.SYN_SENT:
        if (this.state === TcpState.SYN_SENT) {
          this.destroy();
          this.notify();
          return 0;
        }
        return -ENOTCONN;
      case TcpState.LISTEN:
        if (how === SHUT_WR) return -ENOTCONN;
        this.closeListener();
        this.notify();
        return 0;
    }
    if (how !== SHUT_WR) this.rdShutdown = true;
    if (how !== SHUT_RD && !this.wrShutdown) {
      this.wrShutdown = true;
      this.queueFin();
    }
    this.notify();
    return 0;
  }

  /**
   * close(2) of the app's last handle. Unread data or SO_LINGER 0 abort the connection
   * with RST (as Linux); otherwise a FIN goes out and the endpoint finishes on its own.
   */
  close(linger0 = false): void {
    if (this.orphan) return;
    this.orphan = true;
    this.onEvent = undefined;
    switch (this.state) {
      case TcpState.LISTEN:
        this.closeListener();
        return;
      case TcpState.CLOSED:
        this.destroy();
        return;
      case TcpState.SYN_SENT:
        this.destroy();
        return;
      case TcpState.TIME_WAIT:
        return;
    }
    if (linger0 || this.rcvQueue.length > 0) {
      this.abort();
      return;
    }
    this.rdShutdown = true;
    if (!this.wrShutdown) {
      this.wrShutdown = true;
      this.queueFin();
    } else if (this.state === TcpState.FIN_WAIT_2) {
      this.stateTimer.arm(this.cfg.finTimeoutMs);
    }
  }

  /** Sends RST and closes at once (SO_LINGER 0, or close with unread data). */
  abort(): void {
    if (
      this.state !== TcpState.CLOSED &&
      this.state !== TcpState.LISTEN &&
      this.state !== TcpState.SYN_SENT &&
      this.state !== TcpState.TIME_WAIT
    ) {
      this.sendSegment(this.sndNxt, RST | ACK, 0);
    }
    if (this.state === TcpState.LISTEN) this.closeListener();
    else this.destroy();
  }

  /** poll(2) readiness mask, following Linux's tcp_poll. */
  poll(): number {
    if (this.state === TcpState.LISTEN) return this.acceptQueue.length ? POLLIN : 0;
    let m = 0;
    if (this.err) m |= POLLERR;
    const closed = this.state === TcpState.CLOSED;
    if ((this.wrShutdown && (this.finReceived || this.rdShutdown)) || (closed && this.everConnected))
      m |= POLLHUP;
    if (this.finReceived || this.rdShutdown || (closed && this.everConnected)) m |= POLLIN | POLLRDHUP;
    if (this.state !== TcpState.SYN_SENT && this.state !== TcpState.SYN_RECEIVED) {
      if (this.rcvQueue.length > 0) m |= POLLIN;
      if (this.wrShutdown || closed) {
        if (this.everConnected) m |= POLLOUT;
      } else if (this.sndBufSize - this.sndBuf.length > 0) m |= POLLOUT;
    }
    if (closed && !this.everConnected && !this.err) m = POLLOUT | POLLHUP;
    return m;
  }

  /** SO_ERROR: the pending error, cleared. */
  takeError(): number {
    const e = this.err;
    this.err = 0;
    return e;
  }

  get pendingError(): number {
    return this.err;
  }

  /** Whether the endpoint still holds table entries or timers (for leak accounting). */
  get live(): boolean {
    return this.registered;
  }

  /** The listener's pending (accept-able) connections. */
  /**
   * Linux's sk_acceptq_is_full: the queue is full when it holds more than the backlog, so
   * listen(fd, N) queues N + 1 connections (listen(fd, 0) one).
   */
  private get acceptQueueFull(): boolean {
    return this.acceptQueue.length > this.backlog;
  }

  get acceptQueueLength(): number {
    return this.acceptQueue.length;
  }

  /** Congestion and RTT state, for TCP_INFO and tests. */
  info(): {
    state: TcpState;
    mss: number;
    cwnd: number;
    ssthresh: number;
    srttMs: number;
    rttvarMs: number;
    rtoMs: number;
    sndWnd: number;
    rcvWnd: number;
    sndWscale: number;
    rcvWscale: number;
    timestamps: boolean;
    sack: boolean;
    /** SND.UNA and SND.MAX (absolute sequence numbers). */
    sndUna: number;
    sndMax: number;
    /** SACKed ranges held on the scoreboard, and whether RFC 6675 recovery is under way. */
    sackRanges: number;
    sackRecovery: boolean;
  } {
    return {
      state: this.state,
      mss: this.mss,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      srttMs: this.srtt,
      rttvarMs: this.rttvar,
      rtoMs: this.rto,
      sndWnd: this.sndWnd,
      rcvWnd: seqDiff(this.rcvAdvRight, this.rcvNxt),
      sndWscale: this.sndWscale,
      rcvWscale: this.rcvWscale,
      timestamps: this.tsOk,
      sack: this.sackOk,
      sndUna: this.sndUna,
      sndMax: this.sndMax,
      sackRanges: this.scoreboard.ranges,
      sackRecovery: this.sackRecovery,
    };
  }

  setKeepalive(on: boolean): void {
    this.keepalive = on;
    if (on && this.state === TcpState.ESTABLISHED) this.keepaliveTimer.arm(this.keepaliveIdleMs);
    if (!on) this.keepaliveTimer.cancel();
  }

  setNodelay(on: boolean): void {
    this.nodelay = on;
    if (on) this.trySend();
  }

  // ---------------------------------------------------------------- input

  /**
   * A SYN for a listening endpoint: creates a SYN_RECEIVED child (registered by the host)
   * and answers SYN-ACK, unless the accept queue or the SYN backlog is full (then the SYN
   * is dropped, as Linux does without syncookies).
   */
  inputListen(seg: TcpSegment, src: IpAddr, dst: IpAddr): void {
    if (seg.flags & RST) return;
    if (seg.flags & ACK) {
      if (!(seg.flags & SYN) && this.cookieAck(seg, src, dst)) return;
      this.host.sendReset(seg, src, dst);
      return;
    }
    if (!(seg.flags & SYN) || seg.flags & FIN) return;
    // As Linux: nothing is admitted while the accept queue is full; the half-open queue is
    // bounded by the listen backlog and by tcp_max_syn_backlog, beyond which SYNs get a
    // cookie (or are dropped, without synCookies).
    if (this.acceptQueueFull) {
      this.host.stats.listenDrops++;
      return;
    }
    const backlog = Math.max(1, this.backlog);
    if (this.synReceived >= backlog || this.synReceived >= this.cfg.maxSynBacklog) {
      if (this.cfg.synCookies) this.sendCookie(seg, src, dst);
      else this.host.stats.listenDrops++;
      return;
    }
    const c = this.newChild(seg, src, dst);
    if (!c) return;
    this.synReceived++;
    c.initSend();
    c.acceptSynOptions(seg);
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.lastRecv = performance.now();
    c.state = TcpState.SYN_RECEIVED;
    c.stats.segsIn++;
    c.sendSyn();
  }

  /** When the SYN queue last overflowed (a cookie was sent); 0 never. */
  private cookieAt = 0;

  /** A stateless SYN-ACK whose sequence number is a cookie. */
  private sendCookie(seg: TcpSegment, src: IpAddr, dst: IpAddr): void {
    const route = this.host.route(src, dst);
    if (typeof route === 'number') return;
    const now = performance.now();
    this.cookieAt = now;
    const mss = seg.mss > 0 ? seg.mss : DEFAULT_MSS;
    const out: TcpSegmentOut = {
      srcPort: this.lport,
      dstPort: seg.srcPort,
      seq: makeSynCookie(src, dst, seg.srcPort, this.lport, seg.seq, mss, now),
      ack: seqAdd(seg.seq, 1),
      flags: SYN | ACK,
      window: Math.min(this.rcvBufSize, MAX_WINDOW),
      mss: routeMss(route),
    };
    const host = this.host;
    const buf = Buffer.allocUnsafe(host.headroom + headerLength(out));
    const total = writeTcp(buf, host.headroom, out, 0, dst, src, !route.offload);
    this.stats.synCookiesSent++;
    host.outputTcp(route, buf, total, dst, src, this.ttl, this.tos);
  }

  /**
   * An ACK for no connection: if it carries one of our recent cookies, the connection it
   * completes goes to the accept queue (true); false if it is no cookie (the caller resets).
   */
  private cookieAck(seg: TcpSegment, src: IpAddr, dst: IpAddr): boolean {
    const now = performance.now();
    if (!this.cfg.synCookies || this.cookieAt === 0 || now - this.cookieAt > COOKIE_VALID_MS) return false;
    const cookie = seqAdd(seg.ack, -1);
    const mss = checkSynCookie(src, dst, seg.srcPort, this.lport, seqAdd(seg.seq, -1), cookie, now);
    if (mss < 0) return false;
    if (this.acceptQueueFull) {
      this.host.stats.listenDrops++;
      return true; // as Linux: dropped, the peer retransmits
    }
    const c = this.newChild(seg, src, dst);
    if (!c) return true;
    c.iss = cookie;
    c.sndUna = seqAdd(cookie, 1);
    c.sndNxt = c.sndUna;
    c.sndMax = c.sndUna;
    c.recover = c.sndUna;
    c.peerMss = mss;
    c.mss = Math.max(64, Math.min(mss, routeMss(c.route!)));
    c.cwnd = this.cfg.initialCwndSegments * c.mss;
    c.irs = seqAdd(seg.seq, -1);
    c.rcvNxt = seg.seq;
    c.rcvAdvRight = seqAdd(c.rcvNxt, Math.min(c.rcvBufSize, MAX_WINDOW));
    c.sndWnd = seg.window;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.lastRecv = now;
    c.establish();
    this.acceptQueue.push(c);
    this.stats.synCookiesAccepted++;
    if (seg.payload.length > 0 || seg.flags & FIN) c.input(seg);
    this.notify();
    return true;
  }

  /** A child for a SYN (or a cookie's ACK) from src:seg.srcPort, registered; undefined if impossible. */
  private newChild(seg: TcpSegment, src: IpAddr, dst: IpAddr): TcpEndpoint | undefined {
    const route = this.host.route(src, dst);
    if (typeof route === 'number') return undefined;
    const c = new TcpEndpoint(this.host, this.cfg);
    c.parent = this;
    c.nodelay = this.nodelay;
    c.keepalive = this.keepalive;
    c.keepaliveIdleMs = this.keepaliveIdleMs;
    c.keepaliveIntervalMs = this.keepaliveIntervalMs;
    c.keepaliveProbes = this.keepaliveProbes;
    c.sndBufSize = this.sndBufSize;
    c.rcvBufSize = this.rcvBufSize;
    c.ttl = this.ttl;
    c.ipVersions = this.ipVersions;
    c.route = route;
    c.laddr = dst;
    c.lport = this.lport;
    c.raddr = src;
    c.rport = seg.srcPort;
    c.bound = true;
    c.everConnected = true;
    if (!this.host.addConnection(c)) return undefined;
    c.registered = true;
    return c;
  }

  /** A segment for this (non-listening) endpoint's 4-tuple. */
  input(seg: TcpSegment): void {
    this.stats.segsIn++;
    this.lastRecv = performance.now();
    this.kaProbesSent = 0;
    if (this.state === TcpState.SYN_SENT) this.inputSynSent(seg);
    else this.inputSynchronized(seg);
    if (!this.host.deferInput(this)) this.finishInput();
  }

  /** After the segments of a receive batch: ACK, send what the ACKs allow, notify the owner. */
  finishInput(): void {
    if (this.registered) this.afterInput();
    this.notify();
  }

  private inputSynSent(seg: TcpSegment): void {
    const f = seg.flags;
    if (f & ACK && (seqLE(seg.ack, this.iss) || seqGT(seg.ack, this.sndMax))) {
      if (!(f & RST)) this.host.sendReset(seg, this.raddr, this.laddr);
      // As Linux (tcp_rcv_synsent_state_process): an unacceptable ACK may be a stale
      // connection's FIN or RST that swallowed our SYN, so resend it soon rather than after
      // the whole RTO, once.
      if (this.retries === 0) this.rtxTimer.arm(SYN_SENT_QUICK_RETRY_MS);
      return;
    }
    if (f & RST) {
      if (f & ACK) {
        this.err = ECONNREFUSED;
        this.destroy();
      }
      return;
    }
    if (!(f & SYN)) return;
    this.acceptSynOptions(seg);
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdvRight = seqAdd(this.rcvNxt, Math.min(this.rcvBufSize, MAX_WINDOW));
    if (f & ACK) {
      this.sndUna = seg.ack;
      this.rtxTimer.cancel();
      this.retries = 0;
      this.sampleRtt(seg);
      this.sndWnd = seg.window; // the window in a SYN is never scaled
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.establish();
      this.ackNow = true;
    } else {
      // Simultaneous open.
      this.state = TcpState.SYN_RECEIVED;
      this.sendSyn();
    }
  }

  private inputSynchronized(seg: TcpSegment): void {
    const f = seg.flags;
    let segLen = seg.payload.length;
    if (f & SYN) segLen++;
    if (f & FIN) segLen++;

    if (this.state === TcpState.TIME_WAIT) {
      if (f & RST) {
        if (seg.seq === this.rcvNxt) this.destroy();
        return;
      }
      if (f & FIN || segLen > 0) {
        // A retransmitted FIN: acknowledge again and restart the 2MSL wait.
        this.sendAck();
        if (f & FIN) this.stateTimer.arm(this.cfg.timeWaitMs);
      }
      return;
    }

    // 0. PAWS (RFC 7323 §5.3): a timestamp older than the last one kept marks an old
    // duplicate: drop it and ACK (a RST still goes on to the checks below, as Linux). A pure
    // duplicate ACK is let through (Linux's tcp_disordered_ack, simplified).
    if (
      this.tsOk &&
      seg.hasTs &&
      !(f & RST) &&
      seqDiff(this.tsRecent, seg.tsVal) > 1 &&
      !(segLen === 0 && seg.seq === this.rcvNxt && f & ACK && seg.ack === this.sndUna)
    ) {
      this.stats.pawsDrops++;
      this.ackNow = true;
      return;
    }

    // 1. Sequence number acceptability (RFC 9293 3.10.7.4).
    const wnd = Math.max(seqDiff(this.rcvAdvRight, this.rcvNxt), 0);
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd === 0 ? seg.seq === this.rcvNxt : this.inWindow(seg.seq, wnd) || seg.seq === this.rcvNxt;
    } else {
      ok = wnd > 0 && (this.inWindow(seg.seq, wnd) || this.inWindow(seqAdd(seg.seq, segLen - 1), wnd));
    }
    if (!ok) {
      if (f & RST) return;
      // Out of window: ACK it (this is also how we answer zero-window and keepalive probes),
      // but still take its ACK and window when we have no room (RFC 9293 allows this).
      if (wnd === 0 && f & ACK && seg.seq === this.rcvNxt) this.processAck(seg);
      // Old data again: report it as a duplicate (D-SACK, RFC 2883).
      const n = seg.payload.length;
      if (this.sackOk && n > 0 && seqLE(seqAdd(seg.seq, n), this.rcvNxt))
        this.dsack = [seg.seq, seqAdd(seg.seq, n)];
      this.ackNow = true;
      return;
    }

    // 2. RST (RFC 5961 §3: only an exact match resets; in window gets a challenge ACK).
    if (f & RST) {
      if (seg.seq !== this.rcvNxt) {
        this.stats.challengeAcks++;
        this.ackNow = true;
        return;
      }
      if (this.state === TcpState.SYN_RECEIVED && this.parent) {
        this.destroy(); // passive open: the listener carries on
        return;
      }
      if (
        this.state === TcpState.ESTABLISHED ||
        this.state === TcpState.FIN_WAIT_1 ||
        this.state === TcpState.FIN_WAIT_2 ||
        this.state === TcpState.CLOSE_WAIT ||
        this.state === TcpState.SYN_RECEIVED
      ) {
        this.err = this.state === TcpState.SYN_RECEIVED ? ECONNREFUSED : ECONNRESET;
      }
      this.destroy();
      return;
    }

    // 3. SYN in a synchronized state: challenge ACK (RFC 5961 §4).
    if (f & SYN) {
      if (this.state === TcpState.SYN_RECEIVED && seg.seq === this.irs) {
        this.retransmitSyn(); // the peer lost our SYN-ACK
        return;
      }
      this.stats.challengeAcks++;
      this.ackNow = true;
      return;
    }

    // 4. ACK.
    if (!(f & ACK)) return;
    if (this.state === TcpState.SYN_RECEIVED) {
      if (seqLE(seg.ack, this.sndUna) || seqGT(seg.ack, this.sndMax)) {
        this.host.sendReset(seg, this.raddr, this.laddr);
        return;
      }
      const p = this.parent;
      if (p?.acceptQueueFull) {
        this.host.stats.listenDrops++;
        return; // Linux drops the ACK; our SYN-ACK retransmission retries
      }
      this.sndWnd = seg.window * (1 << this.sndWscale);
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.establish();
      if (p) {
        p.synReceived--;
        p.acceptQueue.push(this);
        p.notify();
      }
    }
    if (!this.processAck(seg)) return;

    // 5. Data.
    if (seg.payload.length > 0) this.processData(seg);

    // 6. FIN.
    if (f & FIN) {
      const finSeq = seqAdd(seg.seq, seg.payload.length);
      if (finSeq === this.rcvNxt) this.processFin();
      else if (seqGT(finSeq, this.rcvNxt)) this.oooFin = finSeq;
    }
  }

  private inWindow(seq: number, wnd: number): boolean {
    return seqGE(seq, this.rcvNxt) && seqLT(seq, seqAdd(this.rcvNxt, wnd));
  }

  /** Processes the ACK field; false if the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    if (seg.hasTs && this.tsOk && seqLE(seg.seq, this.rcvNxt)) this.tsRecent = seg.tsVal;
    if (seqGT(seg.ack, this.sndMax)) {
      this.ackNow = true; // acks something not yet sent
      return false;
    }
    const wasZeroWindow = this.sndWnd === 0;
    if (seqLT(seg.ack, this.sndUna)) return true; // old duplicate ACK; data may still be new
    const acked = seqDiff(seg.ack, this.sndUna);
    const newWnd = seg.window * (1 << this.sndWscale);
    const windowUpdate =
      seqLT(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLE(this.sndWl2, seg.ack));
    // SACK blocks go on the scoreboard first (those below the ACK are D-SACKs or stale).
    let newlySacked = 0;
    if (this.sackOk && seg.sack.length > 0 && this.sndMax !== this.sndUna) {
      const u = this.scoreboard.update(
        seg.sack,
        seg.ack,
        this.sndMax,
        this.finOut ? this.finSeq : this.sndMax,
      );
      newlySacked = u.newlySacked;
      this.stats.sackBlocksRejected += u.rejected;
    }
    if (acked > 0) {
      this.onNewAck(seg, acked);
    } else if (
      seg.payload.length === 0 &&
      !(seg.flags & (SYN | FIN)) &&
      // With SACK, an ACK reporting newly SACKed data is a duplicate even if the window moved.
      (newWnd === this.sndWnd || newlySacked > 0) &&
      this.sndMax !== this.sndUna
    ) {
      this.onDupAck();
    }
    if (windowUpdate) {
      this.sndWnd = newWnd;
      this.maxSndWnd = Math.max(this.maxSndWnd, newWnd);
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (this.sndWnd > 0 && wasZeroWindow) {
        this.persistTimer.cancel();
        this.persistBackoff = 0;
        if (this.sndUna !== this.sndMax) this.rtxTimer.arm(this.rto);
      }
    }
    // A cumulative ACK whose SACK blocks leave SND.UNA itself counted lost starts recovery
    // too (as Linux; RFC 6675 checks this on duplicate ACKs only).
    if (acked > 0 && newlySacked > 0 && !this.inRecovery && this.sackMayRecover() && this.headLost())
      this.enterRecovery();
    // FIN acknowledged?
    if (this.finOut && seqGT(seg.ack, this.finSeq)) {
      switch (this.state) {
        case TcpState.FIN_WAIT_1:
          this.state = TcpState.FIN_WAIT_2;
          if (this.orphan) this.stateTimer.arm(this.cfg.finTimeoutMs);
          break;
        case TcpState.CLOSING:
          this.enterTimeWait();
          return false;
        case TcpState.LAST_ACK:
          this.destroy();
          return false;
      }
    }
    return true;
  }

  private onNewAck(seg: TcpSegment, acked: number): void {
    this.sampleRtt(seg);
    let dataAcked = acked;
    if (seqLE(this.sndUna, this.iss)) dataAcked--; // the SYN
    if (this.finOut && seqGT(seg.ack, this.finSeq)) dataAcked--;
    this.sndBuf.consume(dataAcked);
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.sndUna = seg.ack;
    if (seqLT(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
    this.scoreboard.advance(this.sndUna);
    this.retries = 0;
    this.persistBackoff = 0;
    // Congestion control.
    if (this.inRecovery) {
      if (seqGE(seg.ack, this.recover)) {
        this.cwnd = Math.min(this.ssthresh, Math.max(seqDiff(this.sndMax, this.sndUna), this.mss) + this.mss);
        this.inRecovery = false;
        this.sackRecovery = false;
      } else if (this.sackRecovery) {
        // Partial ACK (RFC 6675 step B): cwnd stays; sackSend fills what pipe allows.
      } else {
        // Partial ACK (RFC 6582): retransmit the next hole, deflate by the amount acked.
        this.retransmitHead();
        this.cwnd = Math.max(this.cwnd - acked + this.mss, this.mss);
      }
    } else if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * this.mss);
    } else {
      this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
    }
    // Cap growth when the sender is application- or window-limited.
    this.cwnd = Math.min(
      this.cwnd,
      Math.max(flight * 2, 10 * this.mss, this.cfg.initialCwndSegments * this.mss),
    );
    this.dupAcks = 0;
    if (this.sndUna === this.sndMax) this.rtxTimer.cancel();
    else this.rtxTimer.arm(this.rto);
  }

  private onDupAck(): void {
    this.stats.dupAcksIn++;
    this.dupAcks++;
    if (this.inRecovery) {
      // RFC 6675 sends by pipe after the ACK is processed (afterInput); NewReno inflates.
      if (!this.sackRecovery && this.dupAcks > 3) {
        this.cwnd += this.mss; // each further duplicate means a segment left the network
        this.trySend();
      }
      return;
    }
    if (this.sackOk && !this.scoreboard.empty) {
      // RFC 6675 §5 (3): DupThresh duplicates, or the first unacknowledged byte counted lost;
      // not again before the ACK passes the last RecoveryPoint (an RTO's included).
      if (this.sackMayRecover() && (this.dupAcks >= 3 || this.headLost())) this.enterRecovery();
      return;
    }
    if (this.dupAcks === 3) this.enterRecovery();
  }

  /** No recovery (or RTO) episode is still open: SND.UNA has reached its RecoveryPoint. */
  private sackMayRecover(): boolean {
    return this.sackOk && !this.scoreboard.empty && seqGE(this.sndUna, this.recover);
  }

  /** RFC 6675 IsLost(SND.UNA): the first unacknowledged byte is unSACKed and counted lost. */
  private headLost(): boolean {
    const sb = this.scoreboard;
    return seqGT(sb.lostBelow(this.sndUna, this.mss), this.sndUna) && !sb.isSacked(this.sndUna);
  }

  /**
   * Fast retransmit and the start of recovery: RFC 6675's when the peer SACKs (the
   * scoreboard holds something), else NewReno's.
   */
  private enterRecovery(): void {
    if (this.sackOk && !this.scoreboard.empty) {
      this.enterSackRecovery();
      return;
    }
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.recover = this.sndMax;
    this.inRecovery = true;
    this.stats.fastRetransmits++;
    this.retransmitHead();
    this.cwnd = this.ssthresh + 3 * this.mss;
  }

  /**
   * RFC 6675 §5 step 4: RecoveryPoint = SND.MAX, ssthresh = cwnd = FlightSize / 2 (at least
   * two segments), the first unSACKed segment resent at once whatever pipe says, then
   * whatever else pipe allows.
   */
  private enterSackRecovery(): void {
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.recover = this.sndMax;
    this.inRecovery = true;
    this.sackRecovery = true;
    this.stats.fastRetransmits++;
    this.stats.sackRecoveries++;
    this.highRxt = this.sndUna;
    if (seqLT(this.sndNxt, this.sndMax)) this.skipGoBack();
    const sb = this.scoreboard;
    const s = sb.nextUnsacked(this.sndUna);
    if (seqGE(s, this.highRxt) && seqLT(s, this.sndMax)) this.resendHole(s, sb.nextSacked(s, this.sndMax));
    this.rescueRxt = this.highRxt;
    this.trySend();
  }

  /**
   * ICMP fragmentation needed quoting our segment at `seq`: the path takes at most `mtu`
   * bytes. Believed (true) only for a sequence number in flight and an MTU below the one in
   * use; later segments then fit it, and everything unacknowledged is sent again at once in
   * the new size without a congestion response — the segment was lost to its size, not to
   * congestion (Linux's tcp_v4_err, tcp_v4_mtu_reduced and tcp_simple_retransmit).
   */
  mtuReduced(mtu: number, seq: number): boolean {
    if (!this.registered || !this.route || this.state === TcpState.LISTEN) return false;
    if (seqLT(seq, this.sndUna) || !seqLT(seq, this.sndMax)) return false;
    if (mtu >= this.route.mtu) return false;
    this.route = { ...this.route, mtu };
    const mss = Math.max(64, Math.min(this.peerMss, routeMss(this.route)) - (this.tsOk ? 12 : 0));
    if (mss >= this.mss) return true;
    this.mss = mss;
    this.stats.pmtuReductions++;
    if (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECEIVED) return true;
    this.rttSeq = -1; // Karn: what follows is retransmitted
    if (this.sackRecovery) {
      this.inRecovery = false;
      this.sackRecovery = false;
    }
    this.sndNxt = this.sndUna;
    if (this.finSent) this.finSent = false;
    this.stats.retransmits++;
    this.host.mib.tcpRetransSegs++;
    this.trySend();
    return true;
  }

  /** Retransmits one segment at sndUna. */
  private retransmitHead(): void {
    const inFlightData = seqDiff(this.sndMax, this.sndUna) - (this.finOut ? 1 : 0);
    const len = Math.min(this.mss, Math.max(0, Math.min(inFlightData, this.sndBuf.length)));
    this.stats.retransmits++;
    this.host.mib.tcpRetransSegs++;
    this.rttSeq = -1; // Karn: no sample from retransmitted data
    if (len > 0) this.sendSegment(this.sndUna, ACK, len);
    else if (this.finOut) this.sendSegment(this.finSeq, ACK | FIN, 0);
    this.rtxTimer.arm(this.rto);
  }

  private processData(seg: TcpSegment): void {
    if (
      this.state !== TcpState.ESTABLISHED &&
      this.state !== TcpState.FIN_WAIT_1 &&
      this.state !== TcpState.FIN_WAIT_2
    ) {
      return; // CLOSE_WAIT/CLOSING/LAST_ACK: the peer already sent FIN; ignore
    }
    if (this.orphan && this.rdShutdown) {
      // Data for a closed socket: Linux answers RST and drops the connection.
      this.sendSegment(this.sndNxt, RST | ACK, 0);
      this.err = ECONNRESET;
      this.destroy();
      return;
    }
    let data = seg.payload;
    let seq = seg.seq;
    // Trim what we already have.
    const dup = seqDiff(this.rcvNxt, seq);
    if (dup > 0) {
      // Report the duplicated range first in the next ACK (D-SACK, RFC 2883).
      if (this.sackOk) this.dsack = [seq, seqAdd(seq, Math.min(dup, data.length))];
      if (dup >= data.length) {
        this.ackNow = true; // a duplicate: re-ACK (the peer may have lost our ACK)
        return;
      }
      data = data.subarray(dup);
      seq = this.rcvNxt;
    }
    // Trim to the window we offered (plus free space).
    const room = Math.max(
      seqDiff(this.rcvAdvRight, seq),
      this.rcvBufSize - this.rcvQueue.length - this.oooBytes - Math.max(0, seqDiff(seq, this.rcvNxt)),
    );
    if (room <= 0) {
      this.ackNow = true;
      return;
    }
    if (data.length > room) data = data.subarray(0, room);
    if (seq === this.rcvNxt) {
      this.rcvQueue.push(seg.stable ? data : copyBytes(data));
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      const hadOoo = this.ooo.length > 0;
      this.pullOoo();
      if (hadOoo) this.ackNow = true; // filled (part of) a hole: ACK at once
      this.ackPending++;
      if (this.ackPending >= 2) this.ackNow = true; // ACK every second segment
    } else {
      this.stats.oooSegments++;
      this.lastOooSeq = seq;
      this.insertOoo(seq, seg.stable ? data : copyBytes(data));
      this.ackNow = true; // duplicate ACK with SACK: lets the peer fast-retransmit
    }
  }

  private insertOoo(seq: number, data: Uint8Array): void {
    if (this.ooo.length >= MAX_OOO_SEGMENTS) return;
    let s = seq;
    let d = data;
    let i = 0;
    while (i < this.ooo.length && seqLT(this.ooo[i].seq, s)) i++;
    const prev = this.ooo[i - 1];
    if (prev) {
      const overlap = seqDiff(seqAdd(prev.seq, prev.data.length), s);
      if (overlap >= d.length) return;
      if (overlap > 0) {
        d = d.subarray(overlap);
        s = seqAdd(s, overlap);
      }
    }
    // Remove/trim following segments that this one covers.
    while (i < this.ooo.length) {
      const n = this.ooo[i];
      const end = seqAdd(s, d.length);
      if (seqGE(n.seq, end)) break;
      const nEnd = seqAdd(n.seq, n.data.length);
      if (seqLE(nEnd, end)) {
        this.oooBytes -= n.data.length;
        this.ooo.splice(i, 1);
      } else {
        d = d.subarray(0, seqDiff(n.seq, s));
        break;
      }
    }
    if (d.length === 0) return;
    this.ooo.splice(i, 0, { seq: s, data: d });
    this.oooBytes += d.length;
  }

  private pullOoo(): void {
    while (this.ooo.length) {
      const n = this.ooo[0];
      const d = seqDiff(this.rcvNxt, n.seq);
      if (d < 0) break;
      this.ooo.shift();
      this.oooBytes -= n.data.length;
      if (d < n.data.length) {
        const rest = n.data.subarray(d);
        this.rcvQueue.push(rest);
        this.rcvNxt = seqAdd(this.rcvNxt, rest.length);
      }
    }
    if (this.oooFin >= 0 && this.oooFin === this.rcvNxt) {
      this.oooFin = -1;
      this.processFin();
    }
  }

  private processFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.state = TcpState.CLOSE_WAIT;
        break;
      case TcpState.FIN_WAIT_1:
        // Our FIN not yet acknowledged (else we would be in FIN_WAIT_2).
        this.state = TcpState.CLOSING;
        break;
      case TcpState.FIN_WAIT_2:
        this.enterTimeWait(); // flushAck() acknowledges the FIN
        break;
    }
  }

  private afterInput(): void {
    this.trySend();
    this.flushAck();
    if (
      this.keepalive &&
      (this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT) &&
      !this.keepaliveTimer.armed
    ) {
      this.keepaliveTimer.arm(this.keepaliveIdleMs);
    }
  }

  /** Sends a pending ACK now, or arms the delayed-ACK timer. */
  private flushAck(): void {
    if (!this.registered) return;
    if (this.ackNow) {
      this.ackNow = false;
      this.sendAck();
    } else if (this.ackPending > 0) {
      this.delackTimer.ensure(this.cfg.delayedAckMs);
    }
  }

  // ---------------------------------------------------------------- output

  private initSend(): void {
    const r = new Uint32Array(1);
    crypto.getRandomValues(r);
    this.iss = r[0];
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.recover = this.iss;
  }

  private acceptSynOptions(seg: TcpSegment): void {
    const route = this.route!;
    const ourMss = routeMss(route);
    this.peerMss = seg.mss > 0 ? seg.mss : DEFAULT_MSS;
    this.wsOk = this.cfg.windowScaling && seg.wscale >= 0;
    this.sndWscale = this.wsOk ? seg.wscale : 0;
    this.rcvWscale = this.wsOk ? OUR_WSCALE : 0;
    this.tsOk = this.cfg.timestamps && seg.hasTs;
    if (this.tsOk) this.tsRecent = seg.tsVal;
    this.sackOk = this.cfg.sack && seg.sackPermitted;
    this.mss = Math.max(64, Math.min(this.peerMss, ourMss) - (this.tsOk ? 12 : 0));
    this.cwnd = this.cfg.initialCwndSegments * this.mss;
  }

  private sendSyn(): void {
    const synAck = this.state === TcpState.SYN_RECEIVED;
    const route = this.route!;
    const out: TcpSegmentOut = {
      srcPort: this.lport,
      dstPort: this.rport,
      seq: this.iss,
      ack: synAck ? this.rcvNxt : 0,
      flags: synAck ? SYN | ACK : SYN,
      window: Math.min(this.rcvBufSize, MAX_WINDOW),
      mss: routeMss(route),
    };
    if (synAck) {
      if (this.wsOk) out.wscale = this.rcvWscale;
      if (this.sackOk) out.sackPermitted = true;
      if (this.tsOk) out.ts = [this.tsNow(), this.tsRecent];
    } else {
      if (this.cfg.windowScaling) out.wscale = this.rcvWscale;
      if (this.cfg.sack) out.sackPermitted = true;
      if (this.cfg.timestamps) out.ts = [this.tsNow(), 0];
    }
    this.rcvAdvRight = seqAdd(this.rcvNxt, out.window);
    this.emit(out, 0);
    if (this.sndMax === this.iss) {
      this.sndNxt = seqAdd(this.iss, 1);
      this.sndMax = this.sndNxt;
      this.rttSeq = this.iss;
      this.rttStart = performance.now();
    }
    this.rtxTimer.ensure(this.rto);
  }

  private retransmitSyn(): void {
    this.stats.retransmits++;
    this.host.mib.tcpRetransSegs++;
    this.rttSeq = -1;
    this.sendSyn();
  }

  /**
   * Sends as much queued data (and the FIN, once queued data is out) as the congestion and
   * peer windows, Nagle and sender-side silly-window avoidance allow. After an RTO (SND.NXT
   * went back to SND.UNA) the ranges the peer SACKed are skipped, and SACKed bytes do not
   * count as in flight. During RFC 6675 recovery, sackSend decides instead.
   */
  private trySend(): void {
    if (
      this.state !== TcpState.ESTABLISHED &&
      this.state !== TcpState.CLOSE_WAIT &&
      this.state !== TcpState.FIN_WAIT_1 &&
      this.state !== TcpState.CLOSING &&
      this.state !== TcpState.LAST_ACK
    ) {
      return;
    }
    if (this.sackRecovery) {
      this.sackSend();
      return;
    }
    const sb = this.scoreboard;
    for (;;) {
      // When resending after an RTO: the hole at SND.NXT, up to the next SACKed range.
      let limit = -1;
      let outstanding = seqDiff(this.sndNxt, this.sndUna);
      if (!sb.empty) {
        if (seqLT(this.sndNxt, this.sndMax)) {
          this.sndNxt = sb.nextUnsacked(this.sndNxt);
          if (seqLT(this.sndNxt, this.sndMax))
            limit = seqDiff(sb.nextSacked(this.sndNxt, this.sndMax), this.sndNxt);
        }
        outstanding = seqDiff(this.sndNxt, this.sndUna) - sb.sackedIn(this.sndUna, this.sndNxt);
      }
      const usable = Math.min(this.sndWnd - seqDiff(this.sndNxt, this.sndUna), this.cwnd - outstanding);
      if (this.sendNext(usable, limit) <= 0) return;
    }
  }

  /**
   * Sends the segment at SND.NXT: queued data — at most `limit` bytes when limit >= 0 (a
   * hole being resent whole, never held back) — or the FIN once all data is out, if
   * `usable` bytes of window allow it and neither Nagle nor sender-side silly-window
   * avoidance holds it. Returns the sequence space sent (0: nothing).
   */
  private sendNext(usable: number, limit: number): number {
    const sentData = seqDiff(this.sndNxt, this.sndUna);
    const unsent = this.sndBuf.length - sentData;
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (unsent > 0) {
      let len = Math.min(unsent, this.mss, usable);
      if (len <= 0) {
        if (this.sndWnd === 0 && flight === 0) this.persistTimer.ensure(this.persistDelay());
        return 0;
      }
      if (limit >= 0 && limit <= len) {
        len = limit;
      } else {
        // Window-limited small segment: wait unless it is at least half the peer's max window.
        if (len < this.mss && len < unsent && flight > 0 && len < this.maxSndWnd / 2) return 0;
        // Nagle.
        if (len < this.mss && len === unsent && !this.nodelay && flight > 0 && !this.finQueuedUnsent())
          return 0;
      }
      const lastOfQueue = len === unsent;
      const withFin = lastOfQueue && this.wrShutdown && !this.finSent && usable > len;
      let flags = ACK;
      if (lastOfQueue) flags |= PSH;
      if (withFin) flags |= FIN;
      this.sendSegment(this.sndNxt, flags, len);
      if (this.rttSeq < 0 && this.sndNxt === this.sndMax) {
        this.rttSeq = this.sndNxt;
        this.rttStart = performance.now();
      }
      this.sndNxt = seqAdd(this.sndNxt, len);
      if (withFin) this.markFinSent();
      if (seqGT(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      this.rtxTimer.ensure(this.rto);
      return len + (withFin ? 1 : 0);
    }
    if (this.wrShutdown && !this.finSent) {
      this.sendSegment(this.sndNxt, ACK | FIN, 0);
      this.markFinSent();
      if (seqGT(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      this.rtxTimer.ensure(this.rto);
      return 1;
    }
    return 0;
  }

  /**
   * Sending during RFC 6675 loss recovery (§5 step C): while cwnd - pipe leaves room for a
   * full segment, NextSeg's choice goes out.
   */
  private sackSend(): void {
    if (seqLT(this.sndNxt, this.sndMax)) this.skipGoBack();
    const lostEnd = this.scoreboard.lostBelow(this.sndUna, this.mss);
    let pipe = this.pipe(lostEnd);
    // Each round sends something new (HighRxt or SND.NXT moves on), so this ends anyway;
    // the bound is a guard against a bug turning into a busy loop.
    const most = Math.ceil(this.cwnd / this.mss) + 2;
    for (let i = 0; i < most && this.cwnd - pipe >= this.mss; i++) {
      const sent = this.nextSeg(lostEnd);
      if (sent <= 0) break;
      pipe += sent;
    }
  }

  /**
   * RFC 6675's NextSeg, sending what it picks: (1) the first unSACKed, lost range above
   * HighRxt; else (2) new data, as the peer's window allows; else (3) the first unSACKed
   * range above HighRxt below the highest SACKed byte; else (4) once per recovery, after
   * the cumulative ACK passed RescueRxt, the rescue retransmission: the last segment of the
   * highest unSACKed range (a lost tail), if it was not resent yet (RFC 6675 would resend it
   * even then). Returns the sequence space sent.
   */
  private nextSeg(lostEnd: number): number {
    const sb = this.scoreboard;
    const s = sb.nextUnsacked(seqGT(this.highRxt, this.sndUna) ? this.highRxt : this.sndUna);
    if (seqLT(s, lostEnd)) return this.resendHole(s, sb.nextSacked(s, lostEnd));
    const n = this.sendNext(this.sndWnd - seqDiff(this.sndNxt, this.sndUna), -1);
    if (n > 0) return n;
    const high = sb.highEnd(this.sndUna);
    if (seqLT(s, high)) return this.resendHole(s, sb.nextSacked(s, high));
    if (seqGT(this.sndUna, this.rescueRxt)) return this.rescue();
    return 0;
  }

  /** NextSeg's rule 4 (see nextSeg); HighRxt does not move. */
  private rescue(): number {
    const sb = this.scoreboard;
    // The highest unSACKed range: below SND.MAX, or below the highest SACKed range if that
    // reaches SND.MAX (a FIN is never SACKed, so then there is none above it).
    const high = sb.highEnd(this.sndUna);
    let end = this.sndMax;
    if (high === this.sndMax && !sb.empty) end = sb.list()[sb.ranges - 1][0];
    let start = sb.ranges > 0 ? sb.nextUnsacked(this.sndUna) : this.sndUna;
    // The hole's start: the end of the last SACKed range below `end`, else SND.UNA.
    for (const [, e] of sb.list()) if (seqLE(e, end) && seqGT(e, start)) start = e;
    if (!seqLT(start, end)) return 0;
    const from = seqDiff(end, start) > this.mss ? seqAdd(end, -this.mss) : start;
    if (seqLT(from, this.highRxt)) return 0; // already resent in this recovery
    const highRxt = this.highRxt;
    const n = this.resendHole(from, end);
    this.highRxt = highRxt;
    this.rescueRxt = this.recover;
    return n;
  }

  /**
   * RFC 6675's pipe (SetPipe): the unSACKed bytes between SND.UNA and SND.MAX not counted
   * lost, plus the unSACKed bytes resent in this recovery (below HighRxt).
   */
  private pipe(lostEnd: number): number {
    const sb = this.scoreboard;
    const una = this.sndUna;
    const from = seqGT(lostEnd, una) ? lostEnd : una;
    let p = seqDiff(this.sndMax, from) - sb.sackedIn(from, this.sndMax);
    if (seqGT(this.highRxt, una)) p += seqDiff(this.highRxt, una) - sb.sackedIn(una, this.highRxt);
    return p;
  }

  /**
   * Resends one segment of the hole [seq, end): up to an MSS of data from `seq`, with the
   * FIN when the hole ends with it and it fits. Moves HighRxt past it; returns the sequence
   * space resent.
   */
  private resendHole(seq: number, end: number): number {
    const dataEnd = this.finOut ? this.finSeq : this.sndMax;
    const stop = seqLT(end, dataEnd) ? end : dataEnd;
    const len = Math.max(
      0,
      Math.min(this.mss, seqDiff(stop, seq), this.sndBuf.length - seqDiff(seq, this.sndUna)),
    );
    const fin = this.finOut && seqAdd(seq, len) === this.finSeq && seqGT(end, this.finSeq);
    if (len === 0 && !fin) return 0;
    this.sendSegment(seq, fin ? ACK | FIN : ACK, len);
    this.stats.retransmits++;
    this.host.mib.tcpRetransSegs++;
    this.stats.sackRetransmits++;
    this.rttSeq = -1; // Karn: no sample from retransmitted data
    const span = len + (fin ? 1 : 0);
    this.highRxt = seqAdd(seq, span);
    this.rtxTimer.ensure(this.rto);
    return span;
  }

  /**
   * Recovery begins while an RTO's go-back is under way (SND.NXT < SND.MAX): what the
   * go-back resent counts as retransmitted (HighRxt), the rest is left to NextSeg.
   */
  private skipGoBack(): void {
    if (seqGT(this.sndNxt, this.highRxt)) this.highRxt = this.sndNxt;
    this.sndNxt = this.sndMax;
    this.finSent = this.finOut;
  }

  private finQueuedUnsent(): boolean {
    return this.wrShutdown && !this.finSent;
  }

  private markFinSent(): void {
    this.finSeq = this.sndNxt;
    this.finSent = true;
    this.finOut = true;
    this.sndNxt = seqAdd(this.sndNxt, 1);
  }

  private queueFin(): void {
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.state = TcpState.FIN_WAIT_1;
        break;
      case TcpState.CLOSE_WAIT:
        this.state = TcpState.LAST_ACK;
        break;
      default:
        return;
    }
    this.keepaliveTimer.cancel();
    this.trySend();
  }

  private sendAck(): void {
    this.sendSegment(this.sndNxt, ACK, 0);
  }

  /** Builds and sends one segment; `len` data bytes are taken from the send buffer at `seq`. */
  private sendSegment(seq: number, flags: number, len: number): void {
    if (!this.route) return;
    const out: TcpSegmentOut = {
      srcPort: this.lport,
      dstPort: this.rport,
      seq,
      ack: flags & ACK ? this.rcvNxt : 0,
      flags,
      window: 0,
    };
    if (this.tsOk && !(flags & RST)) out.ts = [this.tsNow(), this.tsRecent];
    if (this.sackOk && (this.ooo.length || this.dsack) && flags & ACK && !(flags & RST))
      out.sack = this.sackBlocks(out.ts ? 3 : 4);
    out.window = flags & RST ? 0 : this.advertise();
    this.emit(out, len, seqDiff(seq, this.sndUna));
    if (flags & ACK) {
      this.ackPending = 0;
      this.delackTimer.cancel();
    }
  }

  private emit(out: TcpSegmentOut, len: number, bufOff = 0): void {
    const host = this.host;
    const hl = headerLength(out);
    // Every byte is written below (headers, options, payload), so no zero-fill is needed.
    const buf = Buffer.allocUnsafe(host.headroom + hl + len);
    if (len > 0) this.sndBuf.peek(bufOff, len, buf, host.headroom + hl);
    const total = writeTcp(buf, host.headroom, out, len, this.laddr, this.raddr, !this.route!.offload);
    this.stats.segsOut++;
    host.outputTcp(this.route!, buf, total, this.laddr, this.raddr, this.ttl, this.tos);
  }

  /**
   * SACK blocks for an ACK: a pending D-SACK block first, then the block holding the most
   * recently received segment (RFC 2018 §4), then the others in sequence order.
   */
  private sackBlocks(max: number): number[] {
    const blocks: number[][] = [];
    // Merge adjacent held segments into blocks.
    let i = 0;
    while (i < this.ooo.length) {
      const left = this.ooo[i].seq;
      let right = seqAdd(left, this.ooo[i].data.length);
      i++;
      while (i < this.ooo.length && this.ooo[i].seq === right) {
        right = seqAdd(right, this.ooo[i].data.length);
        i++;
      }
      blocks.push([left, right]);
    }
    const recent = blocks.findIndex(([l, r]) => seqGE(this.lastOooSeq, l) && seqLT(this.lastOooSeq, r));
    if (recent > 0) blocks.unshift(...blocks.splice(recent, 1));
    if (this.dsack) {
      blocks.unshift(this.dsack);
      this.dsack = undefined;
    }
    return blocks.slice(0, max).flat();
  }

  /** The window to advertise (already scaled down), never shrinking the right edge. */
  private advertise(): number {
    const free = Math.max(0, this.rcvBufSize - this.rcvQueue.length - this.oooBytes);
    let wnd = free;
    const old = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    // Receiver-side SWS avoidance: move the right edge only by a worthwhile amount.
    if (wnd > old && wnd - old < Math.min(this.rcvBufSize / 2, this.mss)) wnd = old;
    wnd = Math.max(wnd, old);
    let scaled = Math.floor(wnd / (1 << this.rcvWscale));
    if (scaled > MAX_WINDOW) scaled = MAX_WINDOW;
    const real = scaled * (1 << this.rcvWscale);
    const right = seqAdd(this.rcvNxt, real);
    if (seqGT(right, this.rcvAdvRight)) this.rcvAdvRight = right;
    return scaled;
  }

  /** After the app read: ACK with the new window if it opened by a worthwhile amount. */
  private maybeWindowUpdate(): void {
    if (
      this.state !== TcpState.ESTABLISHED &&
      this.state !== TcpState.FIN_WAIT_1 &&
      this.state !== TcpState.FIN_WAIT_2
    )
      return;
    const old = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    // What we could advertise now: free space, capped by what the window field can express.
    const free = Math.min(
      Math.max(0, this.rcvBufSize - this.rcvQueue.length - this.oooBytes),
      MAX_WINDOW * (1 << this.rcvWscale),
    );
    if (free - old >= Math.min(this.rcvBufSize / 2, 2 * this.mss) || (old < this.mss && free >= this.mss)) {
      this.sendAck();
    }
  }

  private tsNow(): number {
    return Math.floor(performance.now()) >>> 0;
  }

  // ---------------------------------------------------------------- timers

  private sampleRtt(seg: TcpSegment): void {
    let r = -1;
    if (this.tsOk && seg.hasTs && seg.tsEcr !== 0) {
      r = seqDiff(this.tsNow(), seg.tsEcr);
    } else if (this.rttSeq >= 0 && seqGT(seg.ack, this.rttSeq)) {
      r = performance.now() - this.rttStart;
    }
    if (this.rttSeq >= 0 && seqGT(seg.ack, this.rttSeq)) this.rttSeq = -1;
    if (r < 0) return;
    r = Math.max(r, 0.1);
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(
      Math.max(this.srtt + Math.max(1, 4 * this.rttvar), this.cfg.minRtoMs),
      this.cfg.maxRtoMs,
    );
  }

  private onRto(): void {
    if (!this.registered) return;
    this.stats.rtoFires++;
    switch (this.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED: {
        const limit = this.state === TcpState.SYN_SENT ? this.cfg.synRetries : this.cfg.synAckRetries;
        if (this.retries >= limit) {
          if (this.state === TcpState.SYN_SENT) this.err = ETIMEDOUT;
          this.destroy();
          this.notify();
          return;
        }
        this.retries++;
        this.rto = Math.min(this.rto * 2, this.cfg.maxRtoMs);
        this.retransmitSyn();
        return;
      }
    }
    if (this.sndUna === this.sndMax) return;
    if (this.sndWnd === 0 && !this.finOut) {
      // Zero window with data outstanding: probe for the window instead of counting a retry;
      // the data is resent by the first RTO after the window opens.
      this.stats.zeroWindowProbes++;
      this.sendSegment(seqAdd(this.sndUna, -1), ACK, 0);
      this.persistBackoff++;
      this.rtxTimer.arm(this.persistDelay());
      return;
    }
    if (this.retries >= this.cfg.retries2) {
      this.err = ETIMEDOUT;
      this.destroy();
      this.notify();
      return;
    }
    this.retries++;
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.sackRecovery = false;
    // RFC 6675 §5.1: the scoreboard is kept, so the go-back below skips SACKed data — unless
    // the peer reneged: it never acknowledged the first byte it claimed to hold.
    if (!this.scoreboard.empty && this.scoreboard.isSacked(this.sndUna)) {
      this.scoreboard.clear();
      this.stats.sackReneges++;
    }
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.rttSeq = -1;
    this.rto = Math.min(this.rto * 2, this.cfg.maxRtoMs);
    // Go back to sndUna: trySend resends from there (the FIN too, if it was out).
    this.sndNxt = this.sndUna;
    if (this.finSent) this.finSent = false;
    this.stats.retransmits++;
    this.host.mib.tcpRetransSegs++;
    this.trySend();
    this.rtxTimer.arm(this.rto);
  }

  private persistDelay(): number {
    return Math.min(this.rto * 2 ** this.persistBackoff, this.cfg.maxRtoMs);
  }

  private onPersist(): void {
    if (!this.registered || this.sndWnd !== 0) return;
    this.stats.zeroWindowProbes++;
    // A segment one below sndUna makes the peer answer with its current window.
    this.sendSegment(seqAdd(this.sndUna, -1), ACK, 0);
    this.persistBackoff++;
    this.persistTimer.arm(this.persistDelay());
  }

  private onDelack(): void {
    if (!this.registered || this.ackPending === 0) return;
    this.sendAck();
  }

  private onKeepalive(): void {
    if (!this.registered || !this.keepalive) return;
    if (this.state !== TcpState.ESTABLISHED && this.state !== TcpState.CLOSE_WAIT) return;
    const idle = performance.now() - this.lastRecv;
    if (this.kaProbesSent === 0 && idle < this.keepaliveIdleMs) {
      this.keepaliveTimer.arm(this.keepaliveIdleMs - idle);
      return;
    }
    if (this.kaProbesSent >= this.keepaliveProbes) {
      this.err = ETIMEDOUT;
      this.destroy();
      this.notify();
      return;
    }
    this.kaProbesSent++;
    this.stats.keepaliveProbes++;
    this.sendSegment(seqAdd(this.sndUna, -1), ACK, 0);
    this.keepaliveTimer.arm(this.keepaliveIntervalMs);
  }

  private onStateTimer(): void {
    if (this.state === TcpState.TIME_WAIT || this.state === TcpState.FIN_WAIT_2) this.destroy();
  }

  // ---------------------------------------------------------------- state changes

  private establish(): void {
    this.state = TcpState.ESTABLISHED;
    if (this.keepalive) this.keepaliveTimer.arm(this.keepaliveIdleMs);
  }

  private enterTimeWait(): void {
    this.state = TcpState.TIME_WAIT;
    this.rtxTimer.cancel();
    this.persistTimer.cancel();
    this.keepaliveTimer.cancel();
    this.delackTimer.cancel();
    this.stateTimer.arm(this.cfg.timeWaitMs);
    this.host.stats.timeWaits++;
  }

  private closeListener(): void {
    this.state = TcpState.CLOSED;
    this.host.removeListener(this);
    for (const c of this.acceptQueue.splice(0)) c.abort();
    this.host.abortChildren(this);
    this.destroy();
  }

  /** Unregisters the endpoint and frees every timer and queue; the state becomes CLOSED. */
  destroy(): void {
    if (this.state === TcpState.SYN_RECEIVED && this.parent) this.parent.synReceived--;
    if (this.parent) {
      const q = this.parent.acceptQueue;
      const i = q.indexOf(this);
      if (i >= 0 && this.orphan) q.splice(i, 1);
    }
    this.state = TcpState.CLOSED;
    this.rtxTimer.dispose();
    this.delackTimer.dispose();
    this.persistTimer.dispose();
    this.keepaliveTimer.dispose();
    this.stateTimer.dispose();
    this.ooo = [];
    this.oooBytes = 0;
    this.scoreboard.clear();
    this.sndBuf.clear();
    if (this.orphan) this.rcvQueue.clear();
    if (this.registered || this.bound) {
      this.host.release(this);
      this.registered = false;
      this.bound = false;
    }
  }

  /** Whether the endpoint is a not-yet-accepted child of `listener`. */
  isChildOf(listener: TcpEndpoint): boolean {
    return this.parent === listener;
  }

  private notify(): void {
    const cb = this.onEvent;
    if (!cb) return;
    try {
      cb(this);
    } catch (e) {
      // The owner's bug must not corrupt the stack; surface it asynchronously.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}
