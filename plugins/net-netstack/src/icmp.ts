/** ICMPv4 (RFC 792): echo and destination-unreachable codecs. */
import { checksum, verify } from './checksum';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Bytes 4..8 (identifier/sequence for echo, next-hop MTU for frag-needed). */
  rest: number;
  body: Uint8Array;
}

/** Parses an ICMP message (verifying its checksum); undefined if short or corrupt. */
export function parseIcmp(buf: Uint8Array): IcmpMessage | undefined {
  if (buf.length < 8 || !verify(buf, 0, buf.length)) return undefined;
  return {
    type: buf[0],
    code: buf[1],
    rest: ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0,
    body: buf.subarray(8),
  };
}

/** Writes an ICMP message at out[off..] and returns its length. */
export function writeIcmp(
  out: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
): number {
  out[off] = type;
  out[off + 1] = code;
  out[off + 2] = 0;
  out[off + 3] = 0;
  out[off + 4] = (rest >>> 24) & 255;
  out[off + 5] = (rest >>> 16) & 255;
  out[off + 6] = (rest >>> 8) & 255;
  out[off + 7] = rest & 255;
  out.set(body, off + 8);
  const len = 8 + body.length;
  const c = checksum(out, off, len);
  out[off + 2] = c >> 8;
  out[off + 3] = c & 255;
  return len;
}
