/**
 * The net-host NetworkStack: AF_INET, AF_INET6 and AF_NETLINK (NETLINK_ROUTE) sockets are
 * host sockets the sentry creates and owns (see socket.ts), in one network namespace:
 *   - `netns` unset: the namespace the sentry runs in (for `runsc do`, runsc's own);
 *   - `netns: <path>`: that namespace (an OCI `linux.namespaces` network path, or
 *     /var/run/netns/<name>); sockets are created by a helper thread that joined it;
 *   - `netns: new`: a fresh namespace with only loopback, made at init.
 * Without `netns` in its config the stack follows the namespace the runtime was given
 * (init's ctx.netns: the OCI spec's network namespace under `runsc create/run`).
 */
import * as fs from 'node:fs';
import {
  EACCES,
  EAFNOSUPPORT,
  EINVAL,
  ENOENT,
  EPERM,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
} from '../../../core/abi/errno';
import type { NetworkInitContext, NetworkStack } from '../../../core/plugins/network';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_STREAM,
  SocketFile,
} from '../../../core/net/socket';
import type { FileTask } from '../../../core/vfs/task';
import { CAP_NET_RAW, capable } from '../../../core/kernel/caps';
import { netHostNative, type HostNotifier, type NetHostNative } from './native';
import { HostSocket, isPing, type HostSocketOwner } from './socket';

const NETLINK_ROUTE = 0;

export interface HostStackOptions {
  /** Network namespace: unset (the sentry's), a path to a netns file, or 'new'. */
  netns?: string;
  /**
   * Raw ICMP sockets (SOCK_RAW with IPPROTO_ICMP / IPPROTO_ICMPV6) for root in the sandbox,
   * as host raw sockets (gVisor's --net-raw): what busybox ping needs. Off by default.
   */
  raw?: boolean;
}

/** /proc/net files the stack passes through from its namespace. */
const PROC_NET = new Set([
  'tcp',
  'tcp6',
  'udp',
  'udp6',
  'dev',
  'route',
  'if_inet6',
  'ipv6_route',
  'raw',
  'raw6',
  'arp',
  'sockstat',
  'snmp',
  'snmp6',
]);

/** The /proc/net tables with one row per socket (uid in column 8, inode in column 10). */
const SOCKET_TABLES = new Set(['tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6']);

/** A left-aligned field replaced; the line's trailing padding absorbs the change in length. */
function replaceLeft(line: string, at: number, old: string, value: string): string {
  const head = line.slice(0, at) + value;
  const tail = line.slice(at + old.length);
  const body = tail.trimEnd();
  const pad = tail.length - body.length;
  if (pad === 0) return head + tail;
  return head + body + ' '.repeat(Math.max(1, pad + old.length - value.length));
}

/** A right-aligned field (%5u) replaced; the spaces on its left absorb the change. */
function replaceRight(line: string, at: number, old: string, value: string): string {
  let start = at;
  const end = at + old.length;
  while (value.length > end - start && start > 1 && line[start - 1] === ' ' && line[start - 2] === ' ')
    start--;
  return line.slice(0, start) + value.padStart(end - start) + line.slice(end);
}

export class HostStack implements NetworkStack, HostSocketOwner {
  readonly name = 'net-host';
  readonly families = [AF_INET, AF_INET6, AF_NETLINK] as const;
  private nsfd = -1;
  private readonly live = new Set<HostSocket>();
  private down = false;
  private log: NetworkInitContext['log'];
  /** net.ipv4.ip_unprivileged_port_start of the namespace (read at init). */
  unprivilegedPortStart = 1024;
  private nativeMod: NetHostNative | null = null;
  private notifier: HostNotifier | null = null;
  private readonly byToken = new Map<number, HostSocket>();
  /** Host inode number → the sandbox socket and its owner's uid (for /proc/net). */
  private readonly byHostIno = new Map<number, { s: HostSocket; uid: number }>();
  private readonly hostIno = new Map<HostSocket, number>();
  private readonly tokenOf = new Map<number, number>();
  private nextToken = 1;

  constructor(private readonly opts: HostStackOptions = {}) {}

  get native(): NetHostNative {
    return (this.nativeMod ??= netHostNative());
  }

  /** Host fds of every open socket (tests count them). */
  get openSockets(): number {
    return this.live.size;
  }

  init(ctx?: NetworkInitContext): void {
    this.log = ctx?.log;
    // The plugin's own config wins over the runtime's namespace (network: none's loopback).
    const own = this.opts.netns;
    const ns = own !== undefined && own !== '' ? own : ctx?.netns;
    if (own && ctx?.netns !== undefined && own !== ctx.netns)
      ctx.log?.debug({ netns: own, spec: ctx.netns }, "net-host: the configured netns overrides the spec's");
    if (ns !== undefined && ns !== '') this.enterNetns(ns, ctx);
    if (this.down) return;
    this.applySysctl(ctx?.sysctl ?? {});
    const v = this.native.readIn(this.nsfd, '/proc/sys/net/ipv4/ip_unprivileged_port_start');
    if (typeof v !== 'number' && /^\d+/.test(v.toString()))
      this.unprivilegedPortStart = parseInt(v.toString(), 10);
  }

  /**
   * The spec's net.* sysctls, written in the stack's namespace as runc writes them in the
   * container's. Like runc, refused in a namespace the container shares with the host.
   */
  private applySysctl(sysctl: Readonly<Record<string, string>>): void {
    for (const [key, value] of Object.entries(sysctl)) {
      if (this.nsfd < 0) throw new Error(`sysctl "${key}" not allowed in host network namespace`);
      const parts = key.split(/[./]/);
      if (parts.some((p) => p === '' || p === '..' || p === '.') || parts[0] !== 'net')
        throw new Error(`sysctl "${key}": not a net.* sysctl name`);
      const r = this.native.writeIn(this.nsfd, `/proc/sys/${parts.join('/')}`, value);
      if (r < 0) {
        const why =
          r === -ENOENT ? 'no such sysctl' : r === -EINVAL ? `invalid value "${value}"` : `errno ${-r}`;
        throw new Error(`sysctl "${key}": ${why}`);
      }
    }
  }

  private enterNetns(ns: string, ctx?: NetworkInitContext): void {
    if (ns === 'loopback') {
      // `network: none`: a namespace with only loopback, as Linux gives a new netns and
      // gVisor its `--network=none` sandbox. Making one needs CAP_SYS_ADMIN; without it the
      // sandbox has no AF_INET/AF_INET6 at all (EAFNOSUPPORT), said once in the log.
      const fd = this.native.newNetns();
      if (fd < 0) {
        this.down = true;
        ctx?.log?.warn(
          { errno: -fd },
          'network none: cannot create a loopback-only network namespace (not root?); AF_INET/AF_INET6 give EAFNOSUPPORT',
        );
        return;
      }
      this.nsfd = fd;
      ctx?.log?.debug({ netns: ns }, 'net-host uses a fresh loopback-only network namespace');
      return;
    }
    const fd = ns === 'new' ? this.native.newNetns() : this.native.openNetns(ns);
    if (fd < 0)
      throw new Error(
        `net-host: cannot ${ns === 'new' ? 'create a network namespace' : `open the network namespace ${ns}`}: errno ${-fd}`,
      );
    if (ns !== 'new') {
      // Any file opens; only a network namespace can be joined (setns gives EINVAL otherwise).
      const probe = this.native.readIn(fd, '/proc/thread-self/net/dev');
      if (typeof probe === 'number') {
        this.native.close(fd);
        throw new Error(
          `net-host: ${ns} is not a network namespace this process can join (setns: errno ${-probe})`,
        );
      }
    }
    this.nsfd = fd;
    ctx?.log?.debug({ netns: ns }, 'net-host uses a network namespace');
  }

  socket(t: FileTask, family: number, type: number, protocol: number, flags: number): SocketFile | number {
    if (this.down) return -EAFNOSUPPORT;
    if (family === AF_NETLINK) {
      if (type !== SOCK_RAW && type !== SOCK_DGRAM) return -ESOCKTNOSUPPORT;
      if (protocol !== NETLINK_ROUTE) return -EPROTONOSUPPORT;
    } else if (type === SOCK_RAW) {
      // Raw sockets use the sentry's CAP_NET_RAW on the host: only raw ICMP, only when the
      // config allows it (`raw: true`), only for a task with CAP_NET_RAW in the sandbox.
      // IP_HDRINCL is not passed (options.ts), so the app cannot forge IP headers.
      if (!this.opts.raw || !isPing(family, protocol) || !capable(t, CAP_NET_RAW)) return -EPERM;
    }
    let fd: number;
    if (type === SOCK_DGRAM && isPing(family, protocol)) {
      const egid = this.pingGroup(t);
      if (egid === null) return -EACCES;
      fd = this.native.socketIn(this.nsfd, family, type, protocol, egid);
      // Without CAP_SETGID the sentry can only try as itself.
      if (fd === -EPERM && egid >= 0) fd = this.native.socketIn(this.nsfd, family, type, protocol);
    } else {
      fd =
        this.nsfd >= 0
          ? this.native.socketIn(this.nsfd, family, type, protocol)
          : this.native.socket(family, type, protocol);
    }
    if (fd < 0) return fd;
    if (family !== AF_NETLINK && type !== SOCK_STREAM && type !== SOCK_DGRAM && type !== SOCK_RAW) {
      // Something the host has (SCTP...) that this stack does not serve.
      this.native.close(fd);
      return -ESOCKTNOSUPPORT;
    }
    return this.adopt(fd, family, type, protocol, flags, t.creds.fsuid);
  }

  /**
   * The rule of Linux's ping sockets: the creator's effective group or one of its
   * supplementary groups must lie in the namespace's net.ipv4.ping_group_range (read now:
   * it may change), else EACCES (null here). Root is not exempt. The answer is the egid the
   * host socket must be created with so the host admits the sentry too: -1 when the
   * sentry's own is in the range, else the range's first group.
   */
  private pingGroup(t: FileTask): number | null {
    const r = this.native.readIn(this.nsfd, '/proc/sys/net/ipv4/ping_group_range');
    if (typeof r === 'number') return null;
    const m = /^(\d+)\s+(\d+)/.exec(r.toString('latin1'));
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    const inRange = (g: number) => g >= lo && g <= hi;
    if (!inRange(t.creds.egid) && !t.creds.groups.some(inRange)) return null;
    const own = process.getegid?.() ?? -1;
    return own >= 0 && inRange(own) ? -1 : lo;
  }

  adopt(fd: number, family: number, type: number, protocol: number, flags: number, uid: number): HostSocket {
    const s = new HostSocket(this, fd, family, type, protocol, flags);
    this.live.add(s);
    // The host inode number names the socket in the namespace's /proc/net tables.
    try {
      const ino = fs.fstatSync(fd).ino;
      this.byHostIno.set(ino, { s, uid });
      this.hostIno.set(s, ino);
    } catch {
      /* an fd the host cannot stat is simply not renamed in /proc/net */
    }
    return s;
  }

  forget(s: HostSocket): void {
    this.live.delete(s);
    const ino = this.hostIno.get(s);
    if (ino !== undefined) {
      this.hostIno.delete(s);
      this.byHostIno.delete(ino);
    }
  }

  watch(fd: number, s: HostSocket): void {
    this.notifier ??= new this.native.Notifier((batch) => this.deliver(batch));
    const token = this.nextToken++;
    const r = this.notifier.add(fd, token);
    if (r < 0) throw new Error(`net-host: cannot watch host socket fd ${fd}: errno ${-r}`);
    this.byToken.set(token, s);
    this.tokenOf.set(fd, token);
  }

  unwatch(fd: number): void {
    const token = this.tokenOf.get(fd);
    if (token === undefined) return;
    this.tokenOf.delete(fd);
    this.byToken.delete(token);
    this.notifier?.del(fd);
  }

  private deliver(batch: Float64Array): void {
    for (let i = 0; i + 1 < batch.length; i += 2) {
      const s = this.byToken.get(batch[i]);
      if (!s) continue;
      try {
        s.fired(batch[i + 1]);
      } catch (e) {
        this.log?.warn({ err: e }, 'net-host: a readiness callback failed');
      }
    }
  }

  procNet(name: string): string | null {
    if (!PROC_NET.has(name)) return null;
    const r = this.native.readIn(this.nsfd, `/proc/thread-self/net/${name}`);
    if (typeof r === 'number') return null;
    const text = r.toString('latin1');
    return SOCKET_TABLES.has(name) ? this.renameSockets(text) : text;
  }

  /**
   * A socket table (tcp, udp, raw...) as the sandbox must see it: a row of one of its own
   * sockets carries that socket's sandbox inode number (fstat's st_ino, /proc/<pid>/fd's
   * socket:[N]) and its creator's uid; a row of a socket the sandbox does not own (another
   * host process's, in a shared namespace) carries inode 0, as Linux shows sockets no file
   * refers to, so no host inode number is seen inside.
   */
  private renameSockets(text: string): string {
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const toks = [...lines[i].matchAll(/\S+/g)];
      if (toks.length < 10) continue;
      const own = this.byHostIno.get(Number(toks[9][0]));
      // The inode first (it is right of the uid, so the uid's offsets stay valid).
      let line = replaceLeft(lines[i], toks[9].index!, toks[9][0], own ? String(own.s.ino) : '0');
      if (own) line = replaceRight(line, toks[7].index!, toks[7][0], String(own.uid));
      lines[i] = line;
    }
    return lines.join('\n');
  }

  shutdown(): void {
    if (this.down) return;
    this.down = true;
    for (const s of [...this.live]) s.closeHost();
    this.live.clear();
    if (this.nsfd >= 0) this.native.close(this.nsfd);
    this.nsfd = -1;
    this.notifier?.close();
    this.notifier = null;
  }
}
