/**
 * struct sockaddr_in as the app passes it (raw bytes: family little-endian, port and
 * address in network order) to and from the stack's (address, port) numbers.
 */
import { EAFNOSUPPORT, EINVAL } from '../../../../core/abi/errno';

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
