/**
 * The Internet checksum (RFC 1071) in plain arithmetic. Sums are kept as doubles (exact up
 * to 2^53), so a sum over a whole 64 KiB datagram never overflows; fold() reduces it to 16
 * bits without bitwise operations on values above 2^32.
 */
import { ipv6Bytes, type IpAddr } from './addr';

/** Adds the 16-bit big-endian words of buf[off, off+len) to `initial` (an odd last byte is padded). */
export function sum16(buf: Uint8Array, off: number, len: number, initial = 0): number {
  const start = buf.byteOffset + off;
  if (len >= 64 && (start & 1) === 0) {
    // Fast path: sum little-endian 32-bit words through a Uint32Array view, then swap the
    // folded result (the one's-complement sum is byte-order independent, RFC 1071 §2(B);
    // a 32-bit word is two 16-bit words since 2^16 = 1 in one's-complement arithmetic).
    let le = 0;
    let o = off;
    let n = len;
    if ((start & 3) !== 0) {
      le += buf[o] | (buf[o + 1] << 8);
      o += 2;
      n -= 2;
    }
    const words = n >>> 2;
    const w = new Uint32Array(buf.buffer, buf.byteOffset + o, words);
    for (let i = 0; i < words; i++) le += w[i];
    o += words * 4;
    n -= words * 4;
    if (n >= 2) {
      le += buf[o] | (buf[o + 1] << 8);
      o += 2;
      n -= 2;
    }
    if (n === 1) le += buf[o];
    const f = fold(le);
    return initial + (((f & 0xff) << 8) | (f >>> 8));
  }
  let s = initial;
  const end = off + len;
  let i = off;
  const even = end - ((end - off) & 1);
  for (; i < even; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (i < end) s += buf[i] << 8;
  return s;
}

/** Folds a sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return s;
}

/** A copy of `d` without zero-filling first (Buffer.allocUnsafe + set; slice() is much slower in V8). */
export function copyBytes(d: Uint8Array): Uint8Array {
  const c = Buffer.allocUnsafe(d.length);
  c.set(d);
  return c;
}

/** The checksum field value for a sum (one's complement of the folded sum). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/**
 * The pseudo-header sum: IPv4's (RFC 793/768: addresses, protocol, upper-layer length) for
 * numeric addresses, IPv6's (RFC 8200 §8.1: addresses, 32-bit length, next header) for
 * IPv6 text. Both are plain sums of 16-bit words, so they differ only in the addresses.
 */
export function pseudoSum(src: IpAddr, dst: IpAddr, proto: number, length: number): number {
  if (typeof src === 'string' || typeof dst === 'string')
    return addrSum6(src) + addrSum6(dst) + proto + Math.floor(length / 65536) + (length % 65536);
  return Math.floor(src / 65536) + (src % 65536) + Math.floor(dst / 65536) + (dst % 65536) + proto + length;
}

const sum6Cache = new Map<string, number>();

/** The sum of an IPv6 address's eight words (cached per address). */
function addrSum6(a: IpAddr): number {
  if (typeof a === 'number') throw new Error(`pseudoSum: IPv4 address ${a} mixed with IPv6`);
  let s = sum6Cache.get(a);
  if (s === undefined) {
    s = sum16(ipv6Bytes(a), 0, 16);
    if (sum6Cache.size > 4096) sum6Cache.clear();
    sum6Cache.set(a, s);
  }
  return s;
}

/** Checksum of buf[off, off+len) alone (IPv4 header, ICMP). */
export function checksum(buf: Uint8Array, off: number, len: number): number {
  return finish(sum16(buf, off, len));
}

/** True when the region sums (with its own checksum field) to 0xffff, i.e. the checksum verifies. */
export function verify(buf: Uint8Array, off: number, len: number, initial = 0): boolean {
  return fold(sum16(buf, off, len, initial)) === 0xffff;
}
