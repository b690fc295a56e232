/**
 * IPv4 (RFC 791): header codec, fragmentation on output and reassembly on input.
 * Options are skipped (never interpreted); a header whose IHL, total length or checksum
 * is wrong is dropped with a reason.
 */
import { checksum, verify } from './checksum';
import { readIpv4, writeIpv4 } from './addr';

export const IPV4_HLEN = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const DEFAULT_TTL = 64;

export interface Ipv4Header {
  /** Header length in bytes (20..60). */
  hlen: number;
  tos: number;
  totalLen: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** Fragment offset in bytes. */
  fragOff: number;
  ttl: number;
  proto: number;
  src: number;
  dst: number;
}

/** Parses and validates a header at buf[0..]; returns a drop reason string when invalid. */
export function parseIpv4Header(buf: Uint8Array): Ipv4Header | string {
  if (buf.length < IPV4_HLEN) return 'short';
  if (buf[0] >> 4 !== 4) return 'version';
  const hlen = (buf[0] & 15) * 4;
  if (hlen < IPV4_HLEN || hlen > buf.length) return 'ihl';
  const totalLen = (buf[2] << 8) | buf[3];
  if (totalLen < hlen || totalLen > buf.length) return 'length';
  if (!verify(buf, 0, hlen)) return 'checksum';
  const ff = (buf[6] << 8) | buf[7];
  return {
    hlen,
    tos: buf[1],
    totalLen,
    id: (buf[4] << 8) | buf[5],
    df: (ff & 0x4000) !== 0,
    mf: (ff & 0x2000) !== 0,
    fragOff: (ff & 0x1fff) * 8,
    ttl: buf[8],
    proto: buf[9],
    src: readIpv4(buf, 12),
    dst: readIpv4(buf, 16),
  };
}

export interface Ipv4Fields {
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  id: number;
  df?: boolean;
  mf?: boolean;
  fragOff?: number;
  tos?: number;
  /** Payload length (the header is 20 bytes, no options). */
  payloadLen: number;
}

/** Writes a 20-byte header with its checksum at buf[off..off+20). */
export function writeIpv4Header(buf: Uint8Array, off: number, f: Ipv4Fields): void {
  const total = IPV4_HLEN + f.payloadLen;
  buf[off] = 0x45;
  buf[off + 1] = f.tos ?? 0;
  buf[off + 2] = total >> 8;
  buf[off + 3] = total & 255;
  buf[off + 4] = (f.id >> 8) & 255;
  buf[off + 5] = f.id & 255;
  const ff = (f.df ? 0x4000 : 0) | (f.mf ? 0x2000 : 0) | ((f.fragOff ?? 0) / 8);
  buf[off + 6] = ff >> 8;
  buf[off + 7] = ff & 255;
  buf[off + 8] = f.ttl;
  buf[off + 9] = f.proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeIpv4(buf, off + 12, f.src);
  writeIpv4(buf, off + 16, f.dst);
  const c = checksum(buf, off, IPV4_HLEN);
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 255;
}

/**
 * Splits a payload into fragments that fit `mtu`. Returns [fragOff, length, more] triples;
 * every length but the last is a multiple of 8.
 */
export function fragmentPlan(payloadLen: number, mtu: number): [number, number, boolean][] {
  const per = Math.floor((mtu - IPV4_HLEN) / 8) * 8;
  const out: [number, number, boolean][] = [];
  for (let off = 0; off < payloadLen; off += per) {
    const len = Math.min(per, payloadLen - off);
    out.push([off, len, off + len < payloadLen]);
  }
  return out;
}

interface Reassembly {
  /** Received pieces sorted by offset, non-overlapping. */
  pieces: { off: number; data: Uint8Array }[];
  /** Total payload length once the last fragment (MF=0) arrived, else -1. */
  total: number;
  bytes: number;
  expires: number;
  /** The first fragment's header (offset 0), kept for ICMP time-exceeded replies. */
  proto: number;
}

/**
 * Reassembles fragmented datagrams keyed by (src, dst, proto, id). A fragment that overlaps
 * one already held with different length or position drops the whole datagram (as Linux
 * does since 4.19 for IPv4 and RFC 5722 requires for IPv6); an exact duplicate is ignored.
 * Incomplete datagrams expire after `timeoutMs`; total held bytes are bounded by `maxBytes`.
 */
export class Reassembler {
  private readonly map = new Map<string, Reassembly>();
  private held = 0;
  /** Counters: completed datagrams, dropped (overlap, timeout, oversize, memory). */
  readonly stats = { reassembled: 0, overlaps: 0, timeouts: 0, oversize: 0, memory: 0 };

  constructor(
    private readonly timeoutMs = 30_000,
    private readonly maxBytes = 4 << 20,
  ) {}

  get pending(): number {
    return this.map.size;
  }

  /** Payload bytes held by incomplete datagrams. */
  get heldBytes(): number {
    return this.held;
  }

  /** Adds one fragment's payload; returns the whole payload when complete. */
  add(h: Ipv4Header, payload: Uint8Array, now: number): Uint8Array | undefined {
    this.expire(now);
    const key = `${h.src}/${h.dst}/${h.proto}/${h.id}`;
    let r = this.map.get(key);
    if (h.fragOff + payload.length > 65535 - IPV4_HLEN) {
      this.stats.oversize++;
      if (r) this.drop(key, r);
      return undefined;
    }
    if (!r) {
      r = { pieces: [], total: -1, bytes: 0, expires: now + this.timeoutMs, proto: h.proto };
      this.map.set(key, r);
    }
    if (h.mf && payload.length % 8 !== 0) {
      this.stats.oversize++;
      this.drop(key, r);
      return undefined;
    }
    const end = h.fragOff + payload.length;
    if (!h.mf) {
      if ((r.total >= 0 && r.total !== end) || r.pieces.some((p) => p.off + p.data.length > end)) {
        this.stats.overlaps++;
        this.drop(key, r);
        return undefined;
      }
      r.total = end;
    } else if (r.total >= 0 && end > r.total) {
      this.stats.overlaps++;
      this.drop(key, r);
      return undefined;
    }
    // Find the insertion point; reject overlaps (exact duplicates are ignored).
    let i = 0;
    while (i < r.pieces.length && r.pieces[i].off < h.fragOff) i++;
    const prev = r.pieces[i - 1];
    const next = r.pieces[i];
    if (next && next.off === h.fragOff && next.data.length === payload.length) return undefined;
    if ((prev && prev.off + prev.data.length > h.fragOff) || (next && end > next.off)) {
      this.stats.overlaps++;
      this.drop(key, r);
      return undefined;
    }
    if (this.held + payload.length > this.maxBytes) {
      this.stats.memory++;
      this.drop(key, r);
      return undefined;
    }
    r.pieces.splice(i, 0, { off: h.fragOff, data: payload.slice() });
    r.bytes += payload.length;
    this.held += payload.length;
    if (r.total < 0 || r.bytes !== r.total) return undefined;
    const out = new Uint8Array(r.total);
    for (const p of r.pieces) out.set(p.data, p.off);
    this.drop(key, r);
    this.stats.reassembled++;
    return out;
  }

  /** Drops expired datagrams. */
  expire(now: number): void {
    for (const [k, r] of this.map) {
      if (r.expires <= now) {
        this.stats.timeouts++;
        this.drop(k, r);
      }
    }
  }

  clear(): void {
    this.map.clear();
    this.held = 0;
  }

  private drop(key: string, r: Reassembly): void {
    this.held -= r.bytes;
    this.map.delete(key);
  }
}
