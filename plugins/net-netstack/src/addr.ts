/**
 * IPv4 addresses are unsigned 32-bit numbers (0..2^32-1) in host order everywhere in the
 * stack; IPv6 addresses are their canonical RFC 5952 text ("::1", "fd61::2"), so either
 * kind compares with === and keys maps; 0 is "unspecified" for both (an endpoint bound to
 * "::" keeps laddr 0 and a family restriction, see TcpEndpoint.family). MAC addresses are
 * 6-byte Uint8Arrays.
 */

/** An IPv4 address (a number) or an IPv6 address (canonical text). */
export type IpAddr = number | string;

/** True for an IPv6 address (canonical text). */
export function isV6(a: IpAddr): a is string {
  return typeof a === 'string';
}

/** Parses dotted-quad text; returns undefined for anything else. */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return undefined;
    v = v * 256 + b;
  }
  return v;
}

/** parseIpv4 that throws a clear error (for configuration). */
export function ipv4(text: string): number {
  const v = parseIpv4(text);
  if (v === undefined) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  return v;
}

export function formatIpv4(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function readIpv4(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

export function writeIpv4(buf: Uint8Array, off: number, a: number): void {
  buf[off] = (a >>> 24) & 255;
  buf[off + 1] = (a >>> 16) & 255;
  buf[off + 2] = (a >>> 8) & 255;
  buf[off + 3] = a & 255;
}

/** The network mask of a prefix length (0..32) as an unsigned number. */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function sameSubnet(a: number, b: number, prefixLen: number): boolean {
  const m = prefixMask(prefixLen);
  return (a & m) >>> 0 === (b & m) >>> 0;
}

export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p)))
    throw new Error(`not a MAC address: ${JSON.stringify(text)}`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(m: Uint8Array): string {
  return Array.from(m.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEqual(a: Uint8Array, aOff: number, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== b[i]) return false;
  return true;
}

export const BROADCAST_MAC = new Uint8Array([255, 255, 255, 255, 255, 255]);
export const LOOPBACK_NET = 0x7f000000;
export function isLoopback(a: number): boolean {
  return a >>> 24 === 127;
}

/** An address as the stack keeps it: an integer in [0, 2^32), or canonical IPv6 text (not ::). */
export function validAddr(a: IpAddr): boolean {
  // Canonical text only: the tables compare addresses as strings.
  if (typeof a === 'string') return a !== '::' && canonIpv6(a) === a;
  return Number.isInteger(a) && a >= 0 && a <= 0xffffffff;
}

// ---------------------------------------------------------------- IPv6

/** Parses IPv6 text (with "::" and a trailing dotted quad) into 16 bytes; undefined otherwise. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    // A trailing dotted quad is the last two words.
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const w of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const a = words(halves[0]);
  const b = halves.length === 2 ? words(halves[1]) : [];
  if (!a || !b) return undefined;
  const total = a.length + b.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const w = [...a, ...new Array<number>(8 - total).fill(0), ...b];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = w[i] >> 8;
    out[2 * i + 1] = w[i] & 255;
  }
  return out;
}

/** RFC 5952 text of buf[off, off+16): lower case, the longest run (>= 2) of zero words as "::". */
export function readIpv6(buf: Uint8Array, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((buf[off + 2 * i] << 8) | buf[off + 2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((x) => x.toString(16)).join(':');
  // ::ffff:a.b.c.d is written with its dotted quad, as inet_ntop does.
  if (best === 0 && bestLen === 5 && w[5] === 0xffff) return `::ffff:${formatIpv4(w[6] * 65536 + w[7])}`;
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Writes an IPv6 address (canonical or any valid text) as 16 bytes at buf[off..]. */
export function writeIpv6(buf: Uint8Array, off: number, a: string): void {
  const b = ipv6Bytes(a);
  buf.set(b, off);
}

const bytesCache = new Map<string, Uint8Array>();

/** The 16 bytes of an IPv6 address (cached: the stack sees few distinct addresses). */
export function ipv6Bytes(a: string): Uint8Array {
  let b = bytesCache.get(a);
  if (!b) {
    b = parseIpv6(a);
    if (!b) throw new Error(`not an IPv6 address: ${JSON.stringify(a)}`);
    if (bytesCache.size > 4096) bytesCache.clear();
    bytesCache.set(a, b);
  }
  return b;
}

/** Canonical text of IPv6 text, or undefined if it is not IPv6. */
export function canonIpv6(text: string): string | undefined {
  const b = parseIpv6(text);
  return b ? readIpv6(b, 0) : undefined;
}

/** canonIpv6 that throws a clear error (for configuration). */
export function ipv6(text: string): string {
  const v = canonIpv6(text);
  if (v === undefined) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
  return v;
}

export const IPV6_LOOPBACK = '::1';

/** The IPv4 address inside ::ffff:a.b.c.d, or undefined for any other address. */
export function v4Mapped(a: string): number | undefined {
  if (!a.startsWith('::ffff:') || a.indexOf('.') < 0) return undefined;
  return parseIpv4(a.slice(7));
}

/** ::ffff:a.b.c.d for an IPv4 address. */
export function mapV4(a: number): string {
  return `::ffff:${formatIpv4(a)}`;
}

/** True when the first `len` bits of a and b are equal. */
export function samePrefix6(a: string, b: string, len: number): boolean {
  const x = ipv6Bytes(a);
  const y = ipv6Bytes(b);
  let bits = len;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((x[i] & m) !== (y[i] & m)) return false;
  }
  return true;
}

/** The first `len` bits of a, the rest zero (a route's destination). */
export function prefix6(a: string, len: number): string {
  const x = ipv6Bytes(a).slice();
  let bits = len;
  for (let i = 0; i < 16; i++, bits -= 8) {
    if (bits >= 8) continue;
    x[i] = bits > 0 ? x[i] & ((0xff << (8 - bits)) & 0xff) : 0;
  }
  return readIpv6(x, 0);
}

/** Multicast (ff00::/8). */
export function isMulticast6(a: string): boolean {
  return a.startsWith('ff');
}

/** Link-local unicast (fe80::/10). */
export function isLinkLocal6(a: string): boolean {
  return /^fe[89ab]/.test(a);
}

/** The solicited-node multicast group of an address (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
export function solicitedNode(a: string): string {
  const b = ipv6Bytes(a);
  const g = parseIpv6('ff02::1:ff00:0')!;
  g[13] = b[13];
  g[14] = b[14];
  g[15] = b[15];
  return readIpv6(g, 0);
}

/** The link-local address of a MAC (modified EUI-64, RFC 4291 appendix A). */
export function linkLocalFromMac(mac: Uint8Array): string {
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b[8] = mac[0] ^ 2;
  b[9] = mac[1];
  b[10] = mac[2];
  b[11] = 0xff;
  b[12] = 0xfe;
  b[13] = mac[3];
  b[14] = mac[4];
  b[15] = mac[5];
  return readIpv6(b, 0);
}

/** The Ethernet multicast MAC of an IPv6 multicast group (33:33 + its last 32 bits). */
export function multicastMac6(a: string): Uint8Array {
  const b = ipv6Bytes(a);
  return Uint8Array.from([0x33, 0x33, b[12], b[13], b[14], b[15]]);
}

/** A port number (0 = any/ephemeral where allowed). */
export function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}
