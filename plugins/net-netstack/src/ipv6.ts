/**
 * IPv6 (RFC 8200): the fixed header codec, the extension-header chain on input and the
 * fragment header on output. Addresses are canonical text (see addr.ts).
 *
 * Input walks the chain safely: hop-by-hop options (first only) and destination options
 * are skipped option by option, honouring the action bits of unknown options (RFC 8200
 * §4.2: skip, or drop); a routing header with segments left is dropped (we are not a
 * router; type 0 is deprecated by RFC 5095) and one with none left is skipped; the
 * fragment header stops the walk (the caller reassembles, then walks the rest with
 * walkExtensions); "no next header" ends the packet. The chain is at most 8 headers.
 */
import { readIpv6, writeIpv6 } from './addr';

export const IPV6_HLEN = 40;
export const FRAG_HLEN = 8;
export const NH_HOPOPTS = 0;
export const NH_TCP = 6;
export const NH_UDP = 17;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_ICMPV6 = 58;
export const NH_NONE = 59;
export const NH_DSTOPTS = 60;
export const DEFAULT_HOP_LIMIT = 64;
/** The minimum link MTU every IPv6 link has (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
const MAX_EXTENSIONS = 8;

export interface Ipv6Header {
  tclass: number;
  flow: number;
  /** The payload length field (bytes after the fixed header). */
  payloadLen: number;
  /** The first next-header value. */
  next: number;
  hopLimit: number;
  src: string;
  dst: string;
}

/** Parses and validates the fixed header at buf[0..]; returns a drop reason when invalid. */
export function parseIpv6Header(buf: Uint8Array): Ipv6Header | string {
  if (buf.length < IPV6_HLEN) return 'short';
  if (buf[0] >> 4 !== 6) return 'version';
  const payloadLen = (buf[4] << 8) | buf[5];
  // Jumbograms (payload length 0 with a hop-by-hop jumbo option) are not supported.
  if (payloadLen === 0 && buf[6] !== NH_NONE) return 'length';
  if (IPV6_HLEN + payloadLen > buf.length) return 'length';
  return {
    tclass: ((buf[0] & 15) << 4) | (buf[1] >> 4),
    flow: ((buf[1] & 15) << 16) | (buf[2] << 8) | buf[3],
    payloadLen,
    next: buf[6],
    hopLimit: buf[7],
    src: readIpv6(buf, 8),
    dst: readIpv6(buf, 24),
  };
}

export interface Ipv6Fields {
  src: string;
  dst: string;
  next: number;
  hopLimit: number;
  tclass?: number;
  flow?: number;
  payloadLen: number;
}

/** Writes the 40-byte fixed header at buf[off..off+40). */
export function writeIpv6Header(buf: Uint8Array, off: number, f: Ipv6Fields): void {
  const tc = f.tclass ?? 0;
  const flow = f.flow ?? 0;
  buf[off] = 0x60 | (tc >> 4);
  buf[off + 1] = ((tc & 15) << 4) | ((flow >> 16) & 15);
  buf[off + 2] = (flow >> 8) & 255;
  buf[off + 3] = flow & 255;
  buf[off + 4] = f.payloadLen >> 8;
  buf[off + 5] = f.payloadLen & 255;
  buf[off + 6] = f.next;
  buf[off + 7] = f.hopLimit;
  writeIpv6(buf, off + 8, f.src);
  writeIpv6(buf, off + 24, f.dst);
}

/** Where the walk ended: an upper-layer protocol at buf[off, end), or a fragment header. */
export interface ExtWalk {
  /** The upper-layer protocol (next header) and its offset; NH_NONE for "nothing follows". */
  proto: number;
  off: number;
  /** Set when a fragment header was found at `off - 8`: its fields. */
  frag?: { offset: number; more: boolean; id: number };
  /** Offset of the option that made the packet be dropped with an ICMP parameter problem. */
  problem?: number;
}

/**
 * Walks extension headers starting with next-header `next` at buf[off], up to `end`.
 * `first` is true for the header right after the fixed one (hop-by-hop is only allowed
 * there). Returns the walk's end, or a drop reason.
 */
export function walkExtensions(
  buf: Uint8Array,
  next: number,
  off: number,
  end: number,
  first: boolean,
): ExtWalk | string {
  let nh = next;
  let o = off;
  for (let n = 0; n <= MAX_EXTENSIONS; n++) {
    switch (nh) {
      case NH_HOPOPTS:
      case NH_DSTOPTS: {
        if (nh === NH_HOPOPTS && !(first && n === 0)) return 'hbh-position';
        if (o + 8 > end) return 'ext-short';
        const len = (buf[o + 1] + 1) * 8;
        if (o + len > end) return 'ext-short';
        const r = checkOptions(buf, o + 2, o + len);
        if (r !== undefined) return r;
        nh = buf[o];
        o += len;
        break;
      }
      case NH_ROUTING: {
        if (o + 8 > end) return 'ext-short';
        const len = (buf[o + 1] + 1) * 8;
        if (o + len > end) return 'ext-short';
        // Segments left: a router would forward; we are the final destination only.
        if (buf[o + 3] !== 0) return buf[o + 2] === 0 ? 'routing-type0' : 'routing';
        nh = buf[o];
        o += len;
        break;
      }
      case NH_FRAGMENT: {
        if (o + FRAG_HLEN > end) return 'ext-short';
        const fo = (buf[o + 2] << 8) | buf[o + 3];
        const id = ((buf[o + 4] << 24) | (buf[o + 5] << 16) | (buf[o + 6] << 8) | buf[o + 7]) >>> 0;
        return {
          proto: buf[o],
          off: o + FRAG_HLEN,
          frag: { offset: fo & 0xfff8, more: (fo & 1) !== 0, id },
        };
      }
      default:
        return { proto: nh, off: o };
    }
  }
  return 'ext-chain';
}

/** Checks the TLV options in buf[off, end): undefined to go on, or a drop reason. */
function checkOptions(buf: Uint8Array, off: number, end: number): string | undefined {
  let o = off;
  while (o < end) {
    const type = buf[o];
    if (type === 0) {
      o++; // Pad1
      continue;
    }
    if (o + 2 > end) return 'opt-short';
    const len = buf[o + 1];
    if (o + 2 + len > end) return 'opt-short';
    // PadN and the router alert (5) are fine to skip; other types by their action bits.
    if (type !== 1 && type !== 5 && type >> 6 !== 0) return 'opt-unknown';
    o += 2 + len;
  }
  return undefined;
}

/**
 * Splits a fragmentable payload into fragments for `mtu` (fixed header + fragment header
 * included). Returns [offset, length, more] triples; every length but the last is a multiple of 8.
 */
export function fragmentPlan6(payloadLen: number, mtu: number): [number, number, boolean][] {
  const per = Math.floor((mtu - IPV6_HLEN - FRAG_HLEN) / 8) * 8;
  const out: [number, number, boolean][] = [];
  for (let off = 0; off < payloadLen; off += per) {
    const len = Math.min(per, payloadLen - off);
    out.push([off, len, off + len < payloadLen]);
  }
  return out;
}

/** Writes a fragment header at buf[off..off+8). */
export function writeFragHeader(
  buf: Uint8Array,
  off: number,
  next: number,
  offset: number,
  more: boolean,
  id: number,
): void {
  buf[off] = next;
  buf[off + 1] = 0;
  const fo = offset | (more ? 1 : 0);
  buf[off + 2] = fo >> 8;
  buf[off + 3] = fo & 255;
  buf[off + 4] = Math.floor(id / 0x1000000) & 255;
  buf[off + 5] = (id >>> 16) & 255;
  buf[off + 6] = (id >>> 8) & 255;
  buf[off + 7] = id & 255;
}
