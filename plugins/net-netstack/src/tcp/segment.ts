/** TCP segment codec (RFC 9293 header, RFC 7323 WS/TS, RFC 2018 SACK, RFC 6691 MSS). */
import type { IpAddr } from '../addr';
import { finish, fold, pseudoSum, sum16 } from '../checksum';
import { PROTO_TCP } from '../ipv4';

export const TCP_HLEN = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WS = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TS = 8;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** Options present (-1 / false when absent). */
  mss: number;
  wscale: number;
  sackPermitted: boolean;
  /** SACK blocks as [left, right) pairs, flattened. */
  sack: number[];
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  payload: Uint8Array;
  /** The payload may be kept without copying (the link does not reuse its buffers). */
  stable: boolean;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

/**
 * Parses a segment carried src -> dst. Returns undefined when the segment is short, its
 * data offset is impossible or its checksum is wrong. Malformed options end option
 * parsing (the segment is still accepted, as Linux does).
 */
export function parseTcp(buf: Uint8Array, src: IpAddr, dst: IpAddr, verify = true): TcpSegment | undefined {
  if (buf.length < TCP_HLEN) return undefined;
  const doff = (buf[12] >> 4) * 4;
  if (doff < TCP_HLEN || doff > buf.length) return undefined;
  if (verify && fold(sum16(buf, 0, buf.length, pseudoSum(src, dst, PROTO_TCP, buf.length))) !== 0xffff)
    return undefined;
  const seg: TcpSegment = {
    srcPort: (buf[0] << 8) | buf[1],
    dstPort: (buf[2] << 8) | buf[3],
    seq: u32(buf, 4),
    ack: u32(buf, 8),
    flags: buf[13] & 0x3f,
    window: (buf[14] << 8) | buf[15],
    urgent: (buf[18] << 8) | buf[19],
    mss: -1,
    wscale: -1,
    sackPermitted: false,
    sack: [],
    hasTs: false,
    tsVal: 0,
    tsEcr: 0,
    payload: buf.subarray(doff),
    stable: false,
  };
  let i = TCP_HLEN;
  while (i < doff) {
    const kind = buf[i];
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= doff) break;
    const len = buf[i + 1];
    if (len < 2 || i + len > doff) break;
    switch (kind) {
      case OPT_MSS:
        if (len === 4) seg.mss = (buf[i + 2] << 8) | buf[i + 3];
        break;
      case OPT_WS:
        if (len === 3) seg.wscale = Math.min(buf[i + 2], 14);
        break;
      case OPT_SACK_PERMITTED:
        if (len === 2) seg.sackPermitted = true;
        break;
      case OPT_SACK:
        if ((len - 2) % 8 === 0)
          for (let j = i + 2; j < i + len; j += 8) seg.sack.push(u32(buf, j), u32(buf, j + 4));
        break;
      case OPT_TS:
        if (len === 10) {
          seg.hasTs = true;
          seg.tsVal = u32(buf, i + 2);
          seg.tsEcr = u32(buf, i + 6);
        }
        break;
    }
    i += len;
  }
  return seg;
}

export interface TcpSegmentOut {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  ts?: [number, number];
  sack?: number[];
}

/** Length of the options for `s` (a multiple of 4). */
export function optionsLength(s: TcpSegmentOut): number {
  let n = 0;
  if (s.mss !== undefined) n += 4;
  if (s.sackPermitted && s.ts) n += 12;
  else if (s.sackPermitted) n += 4;
  else if (s.ts) n += 12;
  if (s.wscale !== undefined) n += 4;
  if (s.sack && s.sack.length) n += 4 + 4 * s.sack.length; // NOP NOP kind len + 8 per block
  return n;
}

/**
 * Writes header, options and `len` payload bytes already placed at out[off+hdr..] — the
 * caller writes the payload after the header (see headerLength) — and the checksum.
 * Returns the whole segment's length.
 */
export function writeTcp(
  out: Uint8Array,
  off: number,
  s: TcpSegmentOut,
  payloadLen: number,
  src: IpAddr,
  dst: IpAddr,
  checksum = true,
): number {
  const hl = TCP_HLEN + optionsLength(s);
  out[off] = s.srcPort >> 8;
  out[off + 1] = s.srcPort & 255;
  out[off + 2] = s.dstPort >> 8;
  out[off + 3] = s.dstPort & 255;
  w32(out, off + 4, s.seq);
  w32(out, off + 8, s.ack);
  out[off + 12] = (hl / 4) << 4;
  out[off + 13] = s.flags;
  out[off + 14] = (s.window >> 8) & 255;
  out[off + 15] = s.window & 255;
  out[off + 16] = 0;
  out[off + 17] = 0;
  out[off + 18] = 0;
  out[off + 19] = 0;
  let o = off + TCP_HLEN;
  if (s.mss !== undefined) {
    out[o++] = OPT_MSS;
    out[o++] = 4;
    out[o++] = s.mss >> 8;
    out[o++] = s.mss & 255;
  }
  if (s.sackPermitted && s.ts) {
    out[o++] = OPT_SACK_PERMITTED;
    out[o++] = 2;
  } else if (s.sackPermitted) {
    out[o++] = OPT_NOP;
    out[o++] = OPT_NOP;
    out[o++] = OPT_SACK_PERMITTED;
    out[o++] = 2;
  } else if (s.ts) {
    out[o++] = OPT_NOP;
    out[o++] = OPT_NOP;
  }
  if (s.ts) {
    out[o++] = OPT_TS;
    out[o++] = 10;
    w32(out, o, s.ts[0]);
    w32(out, o + 4, s.ts[1]);
    o += 8;
  }
  if (s.wscale !== undefined) {
    out[o++] = OPT_NOP;
    out[o++] = OPT_WS;
    out[o++] = 3;
    out[o++] = s.wscale;
  }
  if (s.sack && s.sack.length) {
    out[o++] = OPT_NOP;
    out[o++] = OPT_NOP;
    out[o++] = OPT_SACK;
    out[o++] = 2 + 4 * s.sack.length;
    for (const v of s.sack) {
      w32(out, o, v);
      o += 4;
    }
  }
  const len = hl + payloadLen;
  if (!checksum) return len;
  const c = finish(sum16(out, off, len, pseudoSum(src, dst, PROTO_TCP, len)));
  out[off + 16] = c >> 8;
  out[off + 17] = c & 255;
  return len;
}

/** Header length (20 + options) of a segment. */
export function headerLength(s: TcpSegmentOut): number {
  return TCP_HLEN + optionsLength(s);
}

/** Sequence-space comparisons modulo 2^32 (RFC 9293 §3.4). */
export function seqLT(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLE(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGT(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGE(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** b - a in sequence space (as a signed 32-bit difference). */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}
