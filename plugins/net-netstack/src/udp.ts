/** UDP (RFC 768) codec. */
import type { IpAddr } from './addr';
import { finish, pseudoSum, sum16, fold } from './checksum';
import { PROTO_UDP } from './ipv4';

export const UDP_HLEN = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/**
 * Parses a datagram carried from src to dst; undefined if short, the length field disagrees
 * with the IP payload, or the checksum is wrong (0 means "none" in IPv4 and is accepted).
 */
export function parseUdp(buf: Uint8Array, src: IpAddr, dst: IpAddr, verify = true): UdpHeader | undefined {
  if (buf.length < UDP_HLEN) return undefined;
  const len = (buf[4] << 8) | buf[5];
  if (len < UDP_HLEN || len > buf.length) return undefined;
  const ck = (buf[6] << 8) | buf[7];
  if (verify && ck !== 0 && fold(sum16(buf, 0, len, pseudoSum(src, dst, PROTO_UDP, len))) !== 0xffff)
    return undefined;
  return {
    srcPort: (buf[0] << 8) | buf[1],
    dstPort: (buf[2] << 8) | buf[3],
    payload: buf.subarray(UDP_HLEN, len),
  };
}

/** Writes header + payload at out[off..] with the checksum; returns the datagram length. */
export function writeUdp(
  out: Uint8Array,
  off: number,
  src: IpAddr,
  dst: IpAddr,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): number {
  const len = UDP_HLEN + payload.length;
  out[off] = srcPort >> 8;
  out[off + 1] = srcPort & 255;
  out[off + 2] = dstPort >> 8;
  out[off + 3] = dstPort & 255;
  out[off + 4] = len >> 8;
  out[off + 5] = len & 255;
  out[off + 6] = 0;
  out[off + 7] = 0;
  out.set(payload, off + UDP_HLEN);
  let c = finish(sum16(out, off, len, pseudoSum(src, dst, PROTO_UDP, len)));
  if (c === 0) c = 0xffff;
  out[off + 6] = c >> 8;
  out[off + 7] = c & 255;
  return len;
}
