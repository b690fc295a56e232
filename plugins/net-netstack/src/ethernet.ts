/** Ethernet II framing (no 802.1Q: tagged frames are dropped as an unknown type). */
export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** The ethertype of a frame, or -1 if it is too short to carry a header. */
export function etherType(frame: Uint8Array): number {
  if (frame.length < ETH_HLEN) return -1;
  return (frame[12] << 8) | frame[13];
}

/** Writes the 14-byte header at frame[0..14). */
export function writeEthernet(frame: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  frame.set(dst.subarray(0, 6), 0);
  frame.set(src.subarray(0, 6), 6);
  frame[12] = type >> 8;
  frame[13] = type & 255;
}
