/**
 * Socket options of AF_INET/AF_INET6 (and AF_NETLINK) that a stack backed by host sockets
 * may pass to the host as they are: ones that only affect the socket itself. Options
 * needing privileges the sandbox does not have against the host (SO_MARK, SO_BINDTODEVICE,
 * IP_TRANSPARENT, *BUFFORCE...) or that are emulated by the sentry (SO_RCVTIMEO/SO_SNDTIMEO:
 * host fds never block) are not listed; a stack answers those itself or ENOPROTOOPT.
 * The host validates sizes and values, so the app gets Linux's own errnos.
 */
export const SOL_IP = 0,
  SOL_SOCKET = 1,
  SOL_TCP = 6,
  SOL_UDP = 17,
  SOL_IPV6 = 41,
  SOL_ICMPV6 = 58,
  SOL_RAW = 255,
  SOL_NETLINK = 270;

type Table = Readonly<Record<number, { get: boolean; set: boolean }>>;

const rw = { get: true, set: true },
  ro = { get: true, set: false };

function table(read: number[], readWrite: number[]): Table {
  const t: Record<number, { get: boolean; set: boolean }> = {};
  for (const n of read) t[n] = ro;
  for (const n of readWrite) t[n] = rw;
  return t;
}

const SOCKET_OPTS = table(
  // SO_TYPE, SO_ERROR, SO_PEERCRED, SO_BINDTODEVICE (get), SO_ACCEPTCONN, SO_PROTOCOL,
  // SO_DOMAIN, SO_COOKIE
  [3, 4, 17, 25, 30, 38, 39, 57],
  // SO_REUSEADDR, SO_DONTROUTE, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE,
  // SO_OOBINLINE, SO_NO_CHECK, SO_PRIORITY, SO_LINGER, SO_REUSEPORT, SO_PASSCRED,
  // SO_RCVLOWAT, SO_SNDLOWAT, SO_TIMESTAMP, SO_PASSSEC, SO_TIMESTAMPNS, SO_RXQ_OVFL,
  // SO_PEEK_OFF, SO_INCOMING_CPU, SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_NEW
  [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18, 19, 29, 34, 35, 40, 42, 49, 63, 64],
);

const TCP_OPTS = table(
  // TCP_INFO
  [11],
  // NODELAY, MAXSEG, CORK, KEEPIDLE, KEEPINTVL, KEEPCNT, SYNCNT, LINGER2, DEFER_ACCEPT,
  // WINDOW_CLAMP, QUICKACK, CONGESTION, USER_TIMEOUT, FASTOPEN, NOTSENT_LOWAT
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 18, 23, 25],
);

const IP_OPTS = table(
  // IP_MTU
  [14],
  // TOS, TTL, OPTIONS, RECVOPTS, RETOPTS, PKTINFO, MTU_DISCOVER, RECVERR, RECVTTL,
  // RECVTOS, FREEBIND, RECVORIGDSTADDR, BIND_ADDRESS_NO_PORT, MULTICAST_IF,
  // MULTICAST_TTL, MULTICAST_LOOP, ADD_MEMBERSHIP, DROP_MEMBERSHIP, MULTICAST_ALL
  [1, 2, 4, 6, 7, 8, 10, 11, 12, 13, 15, 20, 24, 32, 33, 34, 35, 36, 49],
);

const IPV6_OPTS = table(
  // IPV6_MTU
  [24],
  // UNICAST_HOPS, MULTICAST_IF, MULTICAST_HOPS, MULTICAST_LOOP, JOIN_GROUP, LEAVE_GROUP,
  // MTU_DISCOVER, RECVERR, V6ONLY, RECVPKTINFO, RECVHOPLIMIT, RECVTCLASS, TCLASS,
  // RECVORIGDSTADDR, CHECKSUM, 2292HOPLIMIT
  [16, 17, 18, 19, 20, 21, 23, 25, 26, 49, 51, 66, 67, 74, 7, 8],
);

// Raw ICMP sockets (net-host `raw: true`): ICMP_FILTER and IPV6_CHECKSUM at SOL_RAW,
// ICMP6_FILTER at SOL_ICMPV6. Other sockets get the host's own ENOPROTOOPT for them.
const RAW_OPTS = table([], [1, 7]);
const ICMPV6_OPTS = table([], [1]);

const UDP_OPTS = table([], [1 /* UDP_CORK */, 103 /* UDP_SEGMENT */, 104 /* UDP_GRO */]);

const NETLINK_OPTS = table(
  [],
  // ADD_MEMBERSHIP, DROP_MEMBERSHIP, PKTINFO, BROADCAST_ERROR, NO_ENOBUFS, CAP_ACK,
  // EXT_ACK, GET_STRICT_CHK
  [1, 2, 3, 4, 5, 10, 11, 12],
);

const INET_LEVELS: Readonly<Record<number, Table>> = {
  [SOL_SOCKET]: SOCKET_OPTS,
  [SOL_TCP]: TCP_OPTS,
  [SOL_IP]: IP_OPTS,
  [SOL_IPV6]: IPV6_OPTS,
  [SOL_UDP]: UDP_OPTS,
  [SOL_RAW]: RAW_OPTS,
  [SOL_ICMPV6]: ICMPV6_OPTS,
};
const NETLINK_LEVELS: Readonly<Record<number, Table>> = {
  [SOL_SOCKET]: SOCKET_OPTS,
  [SOL_NETLINK]: NETLINK_OPTS,
};

/** May (level, name) be passed to the host for this family? */
export function hostOptionAllowed(netlink: boolean, level: number, name: number, set: boolean): boolean {
  const t = (netlink ? NETLINK_LEVELS : INET_LEVELS)[level];
  const e = t?.[name];
  return e ? (set ? e.set : e.get) : false;
}
