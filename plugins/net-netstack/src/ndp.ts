/**
 * Neighbor Discovery (RFC 4861) codecs: neighbor solicitation and advertisement bodies
 * (after the 4 reserved/flag bytes the ICMPv6 codec treats as `rest`) and their link-layer
 * address options. The neighbour cache lives in the NIC (stack.ts).
 *
 * Validation as RFC 4861 §7.1: hop limit 255 (the message cannot have crossed a router),
 * code 0, a target that is not multicast, options with non-zero lengths that fit.
 */
import { isMulticast6, readIpv6, writeIpv6 } from './addr';

export const OPT_SOURCE_LLADDR = 1;
export const OPT_TARGET_LLADDR = 2;
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;
/** NDP messages are sent, and must arrive, with hop limit 255. */
export const ND_HOP_LIMIT = 255;

export interface NdMessage {
  /** The target address (NS: whose link-layer address is asked; NA: whose is given). */
  target: string;
  /** The source (NS) or target (NA) link-layer address option, if present. */
  lladdr?: Uint8Array;
}

/**
 * Parses an NS or NA body (`body` is the ICMPv6 message after its first 8 bytes: the
 * target and the options). `optType` is the option expected (source for NS, target for NA).
 */
export function parseNd(body: Uint8Array, optType: number): NdMessage | undefined {
  if (body.length < 16) return undefined;
  const target = readIpv6(body, 0);
  if (isMulticast6(target)) return undefined;
  let lladdr: Uint8Array | undefined;
  let o = 16;
  while (o < body.length) {
    if (o + 2 > body.length) return undefined;
    const len = body[o + 1] * 8;
    if (len === 0 || o + len > body.length) return undefined;
    if (body[o] === optType && len >= 8) lladdr = body.slice(o + 2, o + 8);
    o += len;
  }
  return { target, lladdr };
}

/** The body of an NS or NA: the target and one link-layer address option (omitted if no MAC). */
export function ndBody(target: string, optType: number, mac: Uint8Array | undefined): Uint8Array {
  const b = new Uint8Array(mac ? 24 : 16);
  writeIpv6(b, 0, target);
  if (mac) {
    b[16] = optType;
    b[17] = 1;
    b.set(mac.subarray(0, 6), 18);
  }
  return b;
}
