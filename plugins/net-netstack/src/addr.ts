/**
 * IPv4 addresses are unsigned 32-bit numbers (0..2^32-1) in host order everywhere in the
 * stack; MAC addresses are 6-byte Uint8Arrays.
 */

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

/** An IPv4 address as the stack keeps it: an integer in [0, 2^32). */
export function validAddr(a: number): boolean {
  return Number.isInteger(a) && a >= 0 && a <= 0xffffffff;
}

/** A port number (0 = any/ephemeral where allowed). */
export function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}
