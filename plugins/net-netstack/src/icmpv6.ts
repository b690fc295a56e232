/**
 * ICMPv6 (RFC 4443) codec: the checksum covers the IPv6 pseudo-header (next header 58).
 * Types used by the stack: echo, destination unreachable, packet too big, and the
 * neighbour discovery messages of ndp.ts.
 */
import { finish, fold, pseudoSum, sum16 } from './checksum';
import { NH_ICMPV6, IPV6_HLEN, IPV6_MIN_MTU } from './ipv6';

export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROBLEM = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const UNREACH6_NOROUTE = 0;
export const UNREACH6_ADDR = 3;
export const UNREACH6_PORT = 4;
/** Parameter problem: unrecognized next header. */
export const PARAM_NEXT_HEADER = 1;

/** An error message quotes as much of the offending packet as fits in the minimum MTU. */
export const ICMP6_QUOTE_MAX = IPV6_MIN_MTU - IPV6_HLEN - 8;

export interface Icmp6Message {
  type: number;
  code: number;
  /** Bytes 4..8 (identifier/sequence for echo, the MTU for packet too big). */
  rest: number;
  body: Uint8Array;
}

/** Parses a message carried src -> dst, verifying its checksum; undefined if short or corrupt. */
export function parseIcmp6(
  buf: Uint8Array,
  src: string,
  dst: string,
  verify = true,
): Icmp6Message | undefined {
  if (buf.length < 8) return undefined;
  if (verify && fold(sum16(buf, 0, buf.length, pseudoSum(src, dst, NH_ICMPV6, buf.length))) !== 0xffff)
    return undefined;
  return {
    type: buf[0],
    code: buf[1],
    rest: ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0,
    body: buf.subarray(8),
  };
}

/** Writes a message at out[off..] with its checksum and returns its length. */
export function writeIcmp6(
  out: Uint8Array,
  off: number,
  src: string,
  dst: string,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
): number {
  out[off] = type;
  out[off + 1] = code;
  out[off + 2] = 0;
  out[off + 3] = 0;
  out[off + 4] = Math.floor(rest / 0x1000000) & 255;
  out[off + 5] = (rest >>> 16) & 255;
  out[off + 6] = (rest >>> 8) & 255;
  out[off + 7] = rest & 255;
  out.set(body, off + 8);
  const len = 8 + body.length;
  const c = finish(sum16(out, off, len, pseudoSum(src, dst, NH_ICMPV6, len)));
  out[off + 2] = c >> 8;
  out[off + 3] = c & 255;
  return len;
}

/** ICMPv6 messages that are errors (types 0..127): never answered with an error. */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}
