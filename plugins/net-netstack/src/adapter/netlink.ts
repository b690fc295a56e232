/**
 * AF_NETLINK NETLINK_ROUTE answered from the stack's own state: dumps of links
 * (RTM_GETLINK), IPv4 and IPv6 addresses (RTM_GETADDR), main-table routes of both
 * families plus IPv6's multicast routes (RTM_GETROUTE) and the ARP and neighbour caches
 * (RTM_GETNEIGH), so `ip addr`, `ip route`, `ip neigh`, glibc's
 * getaddrinfo(AI_ADDRCONFIG) and if_nameindex see the sandbox's interfaces. Requests that
 * change anything get NLMSG_ERROR -EPERM (the configuration belongs to runsc); other
 * dumps (rules...) are empty. Nothing is multicast (group memberships are accepted and
 * never fire).
 */
import { EINVAL, ENODEV, EOPNOTSUPP, EPERM } from '../../../../core/abi/errno';
import { releaseControl } from '../../../../core/net/cmsg';
import {
  deadlineFor,
  MSG_DONTWAIT,
  MSG_PEEK,
  MSG_TRUNC,
  RecvResult,
  SendControl,
  SocketFile,
  sockWait,
  SOL_SOCKET,
} from '../../../../core/net/socket';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../../../core/util/waiter';
import { O_NONBLOCK, O_RDWR } from '../../../../core/vfs/abi';
import { copyToSegs, gatherSegs, IoDst, IoSrc, ioLength } from '../../../../core/vfs/file';
import type { FileTask } from '../../../../core/vfs/task';
import { ipv6Bytes, isLinkLocal6 } from '../addr';
import type { Nic, Stack } from '../stack';

export const AF_NETLINK = 16;
const SOL_NETLINK = 270;

const NLMSG_NOOP = 1,
  NLMSG_ERROR = 2,
  NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1,
  NLM_F_MULTI = 0x2,
  NLM_F_ACK = 0x4,
  NLM_F_DUMP = 0x300;
const RTM_NEWLINK = 16,
  RTM_GETLINK = 18,
  RTM_NEWADDR = 20,
  RTM_GETADDR = 22,
  RTM_NEWROUTE = 24,
  RTM_GETROUTE = 26,
  RTM_NEWNEIGH = 28,
  RTM_GETNEIGH = 30;
const AF_INET = 2,
  AF_INET6 = 10;
const NDA_DST = 1,
  NDA_LLADDR = 2;
const NUD_REACHABLE = 0x02,
  NUD_STALE = 0x04;
const RTA_PRIORITY = 6,
  RTA_PREF = 20;
const RTN_MULTICAST = 5;
const RT_TABLE_LOCAL = 255;
const IFLA_ADDRESS = 1,
  IFLA_BROADCAST = 2,
  IFLA_IFNAME = 3,
  IFLA_MTU = 4,
  IFLA_LINK = 5,
  IFLA_QDISC = 6,
  IFLA_TXQLEN = 13,
  IFLA_OPERSTATE = 16,
  IFLA_LINKMODE = 17;
const IFA_ADDRESS = 1,
  IFA_LOCAL = 2,
  IFA_LABEL = 3,
  IFA_CACHEINFO = 6,
  IFA_FLAGS = 8;
const RTA_DST = 1,
  RTA_OIF = 4,
  RTA_GATEWAY = 5,
  RTA_PREFSRC = 7,
  RTA_TABLE = 15;
const IFF_UP = 0x1,
  IFF_BROADCAST = 0x2,
  IFF_LOOPBACK = 0x8,
  IFF_RUNNING = 0x40,
  IFF_MULTICAST = 0x1000,
  IFF_LOWER_UP = 0x10000;
const ARPHRD_ETHER = 1,
  ARPHRD_LOOPBACK = 772;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_UNIVERSE = 0,
  RT_SCOPE_LINK = 253,
  RT_SCOPE_HOST = 254;
const RT_TABLE_MAIN = 254;
const RTPROT_KERNEL = 2,
  RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

let nextPort = 0x40000000;

/** Builds netlink messages: a header, a fixed part, then 4-aligned attributes. */
class MsgWriter {
  static u32(v: number): Uint8Array {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return b;
  }

  /** One message; `body` = fixed part then attributes [type, value][]. */
  static msg(
    type: number,
    flags: number,
    seq: number,
    pid: number,
    fixed: Uint8Array,
    attrs: [number, Uint8Array][],
  ): Uint8Array {
    let len = 16 + align(fixed.length);
    for (const [, v] of attrs) len += align(4 + v.length);
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, len, true);
    dv.setUint16(4, type, true);
    dv.setUint16(6, flags, true);
    dv.setUint32(8, seq >>> 0, true);
    dv.setUint32(12, pid >>> 0, true);
    b.set(fixed, 16);
    let o = 16 + align(fixed.length);
    for (const [t, v] of attrs) {
      dv.setUint16(o, 4 + v.length, true);
      dv.setUint16(o + 2, t, true);
      b.set(v, o + 4);
      o += align(4 + v.length);
    }
    return b;
  }
}

function align(n: number): number {
  return (n + 3) & ~3;
}

function concat(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of list) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function be32(a: number): Uint8Array {
  return new Uint8Array([Math.floor(a / 0x1000000) & 255, (a >>> 16) & 255, (a >>> 8) & 255, a & 255]);
}

function cstr(s: string): Uint8Array {
  const b = new Uint8Array(s.length + 1);
  b.set(Buffer.from(s, 'latin1'));
  return b;
}

export class NetlinkSocket extends SocketFile {
  private port = 0;
  private groups = 0;
  private readonly queue: Uint8Array[] = [];
  private readonly opts = new Map<number, number>();

  constructor(
    private readonly stack: Stack,
    type: number,
    flags: number,
    /** The peer interface index of a NIC (IFLA_LINK), if any. */
    private readonly linkOf: (nicId: number) => number | undefined = () => undefined,
  ) {
    super(AF_NETLINK, type, 0, O_RDWR | (flags & O_NONBLOCK));
  }

  private autobind(): number {
    if (!this.port) this.port = nextPort++;
    return this.port;
  }

  override readiness(mask: number): number {
    let m = POLLOUT | POLLWRNORM;
    if (this.queue.length) m |= POLLIN | POLLRDNORM;
    return m & mask;
  }

  override bind(_t: FileTask, addr: Uint8Array): number {
    if (addr.length < 12) return -EINVAL;
    if ((addr[0] | (addr[1] << 8)) !== AF_NETLINK) return -EINVAL;
    const dv = new DataView(addr.buffer, addr.byteOffset, 12);
    const pid = dv.getUint32(4, true);
    this.groups = dv.getUint32(8, true);
    if (this.port && pid && pid !== this.port) return -EINVAL;
    if (!this.port) this.port = pid || nextPort++;
    return 0;
  }

  override connect(_t: FileTask, addr: Uint8Array): number {
    if (addr.length < 2) return -EINVAL;
    const fam = addr[0] | (addr[1] << 8);
    if (fam === 0) return 0;
    if (addr.length < 12 || fam !== AF_NETLINK) return -EINVAL;
    // Only the kernel (port 0) answers here.
    if (new DataView(addr.buffer, addr.byteOffset, 12).getUint32(4, true) !== 0) return -EPERM;
    this.autobind();
    return 0;
  }

  private nameOf(pid: number, groups: number): Uint8Array {
    const b = new Uint8Array(12);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, AF_NETLINK, true);
    dv.setUint32(4, pid, true);
    dv.setUint32(8, groups, true);
    return b;
  }

  override sockName(): Uint8Array {
    return this.nameOf(this.port, this.groups);
  }

  override peerName(): Uint8Array {
    return this.nameOf(0, 0);
  }

  override sendmsg(
    _t: FileTask,
    src: IoSrc,
    total: number,
    _flags: number,
    addr: Uint8Array | null,
    ctl: SendControl | null,
  ): number {
    if (ctl) releaseControl(ctl);
    if (addr && addr.length >= 12 && new DataView(addr.buffer, addr.byteOffset, 12).getUint32(4, true) !== 0)
      return -EPERM;
    this.autobind();
    const buf = gatherSegs(src, total);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = dv.getUint32(off, true);
      if (len < 16 || len > buf.length - off) break;
      this.request(buf.subarray(off, off + len));
      off += align(len);
    }
    if (this.queue.length) this.waitQueue().notify(POLLIN | POLLRDNORM);
    return total;
  }

  /** Answers one request message. */
  private request(m: Uint8Array): void {
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    const type = dv.getUint16(4, true);
    const flags = dv.getUint16(6, true);
    const seq = dv.getUint32(8, true);
    if (!(flags & NLM_F_REQUEST) || type === NLMSG_NOOP || type === NLMSG_DONE || type === NLMSG_ERROR)
      return;
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    if (type < 16 || type >= 128) return this.error(m, seq, -EOPNOTSUPP);
    if ((type & 3) !== 2) return this.error(m, seq, -EPERM); // RTM_NEW*, RTM_DEL*, RTM_SET*
    const body = m.subarray(16);
    let out: Uint8Array[] | number;
    switch (type) {
      case RTM_GETLINK:
        out = this.links(body, dump, seq);
        break;
      case RTM_GETADDR:
        out = dump ? this.addrs(body, seq) : -EOPNOTSUPP;
        break;
      case RTM_GETROUTE:
        out = dump ? this.routes(body, seq) : -EOPNOTSUPP;
        break;
      case RTM_GETNEIGH:
        out = dump ? this.neighbours(body, seq) : -EOPNOTSUPP;
        break;
      default:
        out = dump ? [] : -EOPNOTSUPP;
    }
    if (typeof out === 'number') return this.error(m, seq, out);
    if (dump) {
      const done = new Uint8Array(4);
      out.push(MsgWriter.msg(NLMSG_DONE, NLM_F_MULTI, seq, this.port, done, []));
    } else if (flags & NLM_F_ACK) {
      this.queue.push(concat(out));
      return this.error(m, seq, 0);
    }
    this.queue.push(concat(out));
  }

  private error(req: Uint8Array, seq: number, err: number): void {
    const fixed = new Uint8Array(4 + Math.min(req.length, 16));
    new DataView(fixed.buffer).setInt32(0, err, true);
    fixed.set(req.subarray(0, 16), 4);
    this.queue.push(MsgWriter.msg(NLMSG_ERROR, 0, seq, this.port, fixed, []));
  }

  private ifFlags(n: Nic): number {
    return n.link.ethernet
      ? IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP
      : IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP;
  }

  /** One link; `v6` for an AF_INET6 request (inet6_dump_ifinfo's answer has no IFLA_QDISC). */
  private link(n: Nic, seq: number, multi: boolean, v6 = false): Uint8Array {
    const fixed = new Uint8Array(16);
    const dv = new DataView(fixed.buffer);
    dv.setUint16(2, n.link.ethernet ? ARPHRD_ETHER : ARPHRD_LOOPBACK, true);
    dv.setInt32(4, n.id, true);
    dv.setUint32(8, this.ifFlags(n), true);
    const mac = n.link.ethernet ? n.link.mac.subarray(0, 6) : new Uint8Array(6);
    const bcast = n.link.ethernet ? new Uint8Array(6).fill(255) : new Uint8Array(6);
    const peer = this.linkOf(n.id);
    return MsgWriter.msg(RTM_NEWLINK, multi ? NLM_F_MULTI : 0, seq, this.port, fixed, [
      [IFLA_IFNAME, cstr(n.name)],
      ...(peer ? ([[IFLA_LINK, MsgWriter.u32(peer)]] as [number, Uint8Array][]) : []),
      [IFLA_TXQLEN, MsgWriter.u32(1000)],
      [IFLA_OPERSTATE, new Uint8Array([n.link.ethernet ? 6 : 0])],
      [IFLA_LINKMODE, new Uint8Array([0])],
      [IFLA_MTU, MsgWriter.u32(n.link.mtu)],
      ...(v6 ? [] : ([[IFLA_QDISC, cstr('noqueue')]] as [number, Uint8Array][])),
      [IFLA_ADDRESS, mac],
      [IFLA_BROADCAST, bcast],
    ]);
  }

  private links(body: Uint8Array, dump: boolean, seq: number): Uint8Array[] | number {
    if (dump) return this.stack.nics.map((n) => this.link(n, seq, true, body[0] === AF_INET6));
    if (body.length < 16) return -EINVAL;
    const idx = new DataView(body.buffer, body.byteOffset, 16).getInt32(4, true);
    let nic = idx > 0 ? this.stack.nics.find((n) => n.id === idx) : undefined;
    if (!nic) {
      // By IFLA_IFNAME.
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let o = 16; o + 4 <= body.length;) {
        const l = dv.getUint16(o, true);
        const t = dv.getUint16(o + 2, true);
        if (l < 4) break;
        if (t === IFLA_IFNAME) {
          const raw = body.subarray(o + 4, o + l);
          const z = raw.indexOf(0);
          const name = Buffer.from(z < 0 ? raw : raw.subarray(0, z)).toString('latin1');
          nic = this.stack.nics.find((n) => n.name === name);
        }
        o += align(l);
      }
    }
    if (!nic) return -ENODEV;
    return [this.link(nic, seq, false)];
  }

  private addrs(body: Uint8Array, seq: number): Uint8Array[] {
    const fam = body.length >= 1 ? body[0] : 0;
    if (fam !== 0 && fam !== AF_INET && fam !== AF_INET6) return [];
    const out: Uint8Array[] = [];
    if (fam !== AF_INET6) out.push(...this.addrs4(seq));
    if (fam !== AF_INET) out.push(...this.addrs6(seq));
    return out;
  }

  /**
   * IPv6 addresses as inet6_fill_ifaddr writes them: IFA_ADDRESS (no label), cache info,
   * flags; per interface in the kernel's list order (wider scope first, newest first).
   */
  private addrs6(seq: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const n of this.stack.nics) {
      const list = [...n.addresses6].reverse();
      list.sort((a, b) => Number(isLinkLocal6(a.addr)) - Number(isLinkLocal6(b.addr)));
      for (const a of list) {
        const fixed = new Uint8Array(8);
        fixed[0] = AF_INET6;
        fixed[1] = a.prefixLen;
        fixed[2] = IFA_F_PERMANENT;
        fixed[3] =
          a.addr === '::1' ? RT_SCOPE_HOST : isLinkLocal6(a.addr) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
        new DataView(fixed.buffer).setUint32(4, n.id, true);
        const ci = new Uint8Array(16);
        new DataView(ci.buffer).setUint32(0, 0xffffffff, true);
        new DataView(ci.buffer).setUint32(4, 0xffffffff, true);
        out.push(
          MsgWriter.msg(RTM_NEWADDR, NLM_F_MULTI, seq, this.port, fixed, [
            [IFA_ADDRESS, ipv6Bytes(a.addr).slice()],
            [IFA_CACHEINFO, ci],
            [IFA_FLAGS, MsgWriter.u32(IFA_F_PERMANENT)],
          ]),
        );
      }
    }
    return out;
  }

  private addrs4(seq: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const n of this.stack.nics) {
      for (const a of n.addresses) {
        const fixed = new Uint8Array(8);
        fixed[0] = 2;
        fixed[1] = a.prefixLen;
        fixed[2] = IFA_F_PERMANENT;
        fixed[3] = n.link.ethernet ? RT_SCOPE_UNIVERSE : RT_SCOPE_HOST;
        new DataView(fixed.buffer).setUint32(4, n.id, true);
        const attrs: [number, Uint8Array][] = [
          [IFA_ADDRESS, be32(a.addr)],
          [IFA_LOCAL, be32(a.addr)],
        ];
        attrs.push([IFA_LABEL, cstr(n.name)]);
        attrs.push([IFA_FLAGS, MsgWriter.u32(IFA_F_PERMANENT)]);
        const ci = new Uint8Array(16);
        new DataView(ci.buffer).setUint32(0, 0xffffffff, true);
        new DataView(ci.buffer).setUint32(4, 0xffffffff, true);
        attrs.push([IFA_CACHEINFO, ci]);
        out.push(MsgWriter.msg(RTM_NEWADDR, NLM_F_MULTI, seq, this.port, fixed, attrs));
      }
    }
    return out;
  }

  private routes(body: Uint8Array, seq: number): Uint8Array[] {
    const fam = body.length >= 1 ? body[0] : 0;
    if (fam !== 0 && fam !== AF_INET && fam !== AF_INET6) return [];
    const out: Uint8Array[] = [];
    if (fam !== AF_INET6) out.push(...this.routes4(seq));
    if (fam !== AF_INET) out.push(...this.routes6(seq));
    return out;
  }

  /**
   * IPv6 routes as the kernel dumps them: the main table (prefix routes in address order,
   * the default last; metric and preference), then the local table's multicast route
   * (ff00::/8) of each multicast-capable interface. Local routes (::1, our addresses) are
   * left out, as `ip -6 route` hides them.
   */
  private routes6(seq: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const key = (d: string): string =>
      Array.from(ipv6Bytes(d), (b) => b.toString(16).padStart(2, '0')).join('');
    const list = this.stack
      .route6List()
      .filter((r) => r.nic !== this.stack.loopback)
      .slice()
      .sort(
        (a, b) =>
          Number(a.prefixLen === 0) - Number(b.prefixLen === 0) ||
          (key(a.dest) < key(b.dest) ? -1 : key(a.dest) > key(b.dest) ? 1 : 0) ||
          b.prefixLen - a.prefixLen ||
          a.nic.id - b.nic.id,
      );
    const route = (
      table: number,
      type: number,
      dest: string,
      prefixLen: number,
      nicId: number,
      metric: number,
      gateway: string,
    ): Uint8Array => {
      const fixed = new Uint8Array(12);
      fixed[0] = AF_INET6;
      fixed[1] = prefixLen;
      fixed[4] = table;
      fixed[5] = gateway ? RTPROT_BOOT : RTPROT_KERNEL;
      fixed[6] = RT_SCOPE_UNIVERSE;
      fixed[7] = type;
      const attrs: [number, Uint8Array][] = [[RTA_TABLE, MsgWriter.u32(table)]];
      if (prefixLen) attrs.push([RTA_DST, ipv6Bytes(dest).slice()]);
      attrs.push([RTA_PRIORITY, MsgWriter.u32(metric)]);
      if (gateway) attrs.push([RTA_GATEWAY, ipv6Bytes(gateway).slice()]);
      attrs.push([RTA_OIF, MsgWriter.u32(nicId)]);
      attrs.push([RTA_PREF, new Uint8Array([0])]);
      return MsgWriter.msg(RTM_NEWROUTE, NLM_F_MULTI, seq, this.port, fixed, attrs);
    };
    for (const r of list)
      out.push(route(RT_TABLE_MAIN, RTN_UNICAST, r.dest, r.prefixLen, r.nic.id, r.metric, r.gateway));
    for (const n of this.stack.nics)
      if (n.link.ethernet) out.push(route(RT_TABLE_LOCAL, RTN_MULTICAST, 'ff00::', 8, n.id, 256, ''));
    return out;
  }

  /** The ARP cache and the neighbour cache (RTM_GETNEIGH), IPv4 first as the kernel's families. */
  private neighbours(body: Uint8Array, seq: number): Uint8Array[] {
    const fam = body.length >= 1 ? body[0] : 0;
    if (fam !== 0 && fam !== AF_INET && fam !== AF_INET6) return [];
    const out: Uint8Array[] = [];
    const now = performance.now();
    const entry = (family: number, n: Nic, dst: Uint8Array, mac: Uint8Array, expires: number): Uint8Array => {
      const fixed = new Uint8Array(12);
      const dv = new DataView(fixed.buffer);
      fixed[0] = family;
      dv.setInt32(4, n.id, true);
      dv.setUint16(8, expires > now ? NUD_REACHABLE : NUD_STALE, true);
      return MsgWriter.msg(RTM_NEWNEIGH, NLM_F_MULTI, seq, this.port, fixed, [
        [NDA_DST, dst],
        [NDA_LLADDR, mac.slice(0, 6)],
      ]);
    };
    if (fam !== AF_INET6)
      for (const n of this.stack.nics)
        for (const [ip, e] of n.arp) out.push(entry(AF_INET, n, be32(ip), e.mac, e.expires));
    if (fam !== AF_INET)
      for (const n of this.stack.nics)
        for (const [ip, e] of n.neighbors)
          out.push(entry(AF_INET6, n, ipv6Bytes(ip).slice(), e.mac, e.expires));
    return out;
  }

  private routes4(seq: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const r of this.stack.routeList()) {
      if (r.nic === this.stack.loopback) continue; // lo's routes live in the local table
      const fixed = new Uint8Array(12);
      fixed[0] = 2;
      fixed[1] = r.prefixLen;
      fixed[4] = RT_TABLE_MAIN;
      fixed[5] = r.gateway ? RTPROT_BOOT : RTPROT_KERNEL;
      fixed[6] = r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
      fixed[7] = RTN_UNICAST;
      const attrs: [number, Uint8Array][] = [[RTA_TABLE, MsgWriter.u32(RT_TABLE_MAIN)]];
      if (r.prefixLen) attrs.push([RTA_DST, be32(r.dest)]);
      if (r.gateway) attrs.push([RTA_GATEWAY, be32(r.gateway)]);
      else if (r.nic.addresses[0]) attrs.push([RTA_PREFSRC, be32(r.nic.addresses[0].addr)]);
      attrs.push([RTA_OIF, MsgWriter.u32(r.nic.id)]);
      out.push(MsgWriter.msg(RTM_NEWROUTE, NLM_F_MULTI, seq, this.port, fixed, attrs));
    }
    // The kernel lists the default route before the connected ones.
    return out.reverse();
  }

  override recvmsg(
    t: FileTask,
    dst: IoDst,
    flags: number,
    _ctlLen: number,
    out: RecvResult,
  ): number | Promise<number> {
    const deadline = deadlineFor(this.rcvTimeoNs);
    const total = ioLength(dst);
    const attempt = (): number | Promise<number> => {
      const d = this.queue[0];
      if (!d) {
        if ((this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0) return -11; // EAGAIN
        return sockWait(t, this.waitQueue(), POLLIN | POLLRDNORM, deadline, attempt);
      }
      if (!(flags & MSG_PEEK)) this.queue.shift();
      const n = Math.min(total, d.length);
      copyToSegs(dst, d.subarray(0, n));
      out.name = this.nameOf(0, 0);
      out.flags = d.length > total ? MSG_TRUNC : 0;
      out.control = null;
      return flags & MSG_TRUNC ? d.length : n;
    };
    return attempt();
  }

  override setsockoptFamily(_t: FileTask, level: number, name: number, val: Uint8Array): number | null {
    if (level === SOL_SOCKET) return null;
    if (level !== SOL_NETLINK) return -ENOPROTOOPT_NL;
    if (val.length < 4) return -EINVAL;
    this.opts.set(name, new DataView(val.buffer, val.byteOffset, 4).getInt32(0, true));
    return 0;
  }

  override getsockoptFamily(_t: FileTask, level: number, name: number): Uint8Array | number | null {
    if (level === SOL_SOCKET) return null;
    if (level !== SOL_NETLINK) return -ENOPROTOOPT_NL;
    return MsgWriter.u32(this.opts.get(name) ?? 0);
  }
}

/** ENOPROTOOPT (netlink answers it for other levels). */
const ENOPROTOOPT_NL = 92;
