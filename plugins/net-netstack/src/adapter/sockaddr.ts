/**
 * struct sockaddr_in / sockaddr_in6 as the app passes them (raw bytes: family
 * little-endian, port and address in network order) to and from the stack's (address, port).
 */
import { EAFNOSUPPORT, EINVAL } from '../../../../core/abi/errno';
import { mapV4, readIpv6, writeIpv6, type IpAddr } from '../addr';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const SOCKADDR_IN_LEN = 16;

export interface InetAddr {
  addr: number;
  port: number;
}

/** The family field, or -1 when the address is too short to have one. */
export function sockaddrFamily(b: Uint8Array): number {
  return b.length < 2 ? -1 : b[0] | (b[1] << 8);
}

/**
 * A sockaddr_in for bind/connect/sendto: -EINVAL when shorter than sockaddr_in,
 * -EAFNOSUPPORT for another family (AF_UNSPEC is taken as AF_INET when `unspecOk`,
 * as Linux's inet_bind does for INADDR_ANY).
 */
export function parseSockaddrIn(b: Uint8Array, unspecOk = false): InetAddr | number {
  if (b.length < SOCKADDR_IN_LEN) return -EINVAL;
  const fam = sockaddrFamily(b);
  if (fam !== AF_INET && !(unspecOk && fam === AF_UNSPEC)) return -EAFNOSUPPORT;
  const port = (b[2] << 8) | b[3];
  const addr = b[4] * 0x1000000 + ((b[5] << 16) | (b[6] << 8) | b[7]);
  if (fam === AF_UNSPEC && addr !== 0) return -EAFNOSUPPORT;
  return { addr, port };
}

export function formatSockaddrIn(addr: number, port: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN_LEN);
  b[0] = AF_INET;
  b[2] = (port >>> 8) & 255;
  b[3] = port & 255;
  b[4] = Math.floor(addr / 0x1000000) & 255;
  b[5] = (addr >>> 16) & 255;
  b[6] = (addr >>> 8) & 255;
  b[7] = addr & 255;
  return b;
}

export const AF_INET6 = 10;
/** sizeof(struct sockaddr_in6), and the RFC 2133 size (without sin6_scope_id) Linux still accepts. */
export const SOCKADDR_IN6_LEN = 28;
export const SIN6_LEN_RFC2133 = 24;

export interface Inet6Addr {
  /** Canonical IPv6 text (v4-mapped addresses as ::ffff:a.b.c.d). */
  addr: string;
  port: number;
  flowinfo: number;
  scopeId: number;
}

/**
 * A sockaddr_in6 (family, port, flowinfo, address, scope id): -EINVAL when shorter than
 * RFC 2133's 24 bytes, -EAFNOSUPPORT for another family (inet6_bind, tcp_v6_connect).
 */
export function parseSockaddrIn6(b: Uint8Array): Inet6Addr | number {
  if (b.length < SIN6_LEN_RFC2133) return -EINVAL;
  if (sockaddrFamily(b) !== AF_INET6) return -EAFNOSUPPORT;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  return {
    port: (b[2] << 8) | b[3],
    flowinfo: dv.getUint32(4, false),
    addr: readIpv6(b, 8),
    scopeId: b.length >= SOCKADDR_IN6_LEN ? dv.getUint32(24, true) : 0,
  };
}

/** A sockaddr_in6 for an address the stack keeps (IPv4 numbers become ::ffff:a.b.c.d; 0 is ::). */
export function formatSockaddrIn6(addr: IpAddr, port: number, scopeId = 0): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN6_LEN);
  b[0] = AF_INET6;
  b[2] = (port >>> 8) & 255;
  b[3] = port & 255;
  const text = typeof addr === 'string' ? addr : addr === 0 ? '::' : mapV4(addr);
  writeIpv6(b, 8, text);
  new DataView(b.buffer).setUint32(24, scopeId, true);
  return b;
}
