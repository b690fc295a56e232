/** ARP for IPv4 over Ethernet (RFC 826): the codec. The cache lives in the NIC (stack.ts). */
import { readIpv4, writeIpv4 } from './addr';
import { ETH_HLEN, ETHERTYPE_ARP, writeEthernet } from './ethernet';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ARP_LEN = 28;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** Parses an ARP packet (after the Ethernet header); undefined unless Ethernet/IPv4 ARP. */
export function parseArp(buf: Uint8Array): ArpPacket | undefined {
  if (buf.length < ARP_LEN) return undefined;
  const htype = (buf[0] << 8) | buf[1];
  const ptype = (buf[2] << 8) | buf[3];
  if (htype !== 1 || ptype !== 0x0800 || buf[4] !== 6 || buf[5] !== 4) return undefined;
  const op = (buf[6] << 8) | buf[7];
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return undefined;
  return {
    op,
    senderMac: buf.slice(8, 14),
    senderIp: readIpv4(buf, 14),
    targetMac: buf.slice(18, 24),
    targetIp: readIpv4(buf, 24),
  };
}

/** A whole Ethernet frame carrying an ARP packet. */
export function buildArpFrame(ethDst: Uint8Array, p: ArpPacket): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + ARP_LEN);
  writeEthernet(f, ethDst, p.senderMac, ETHERTYPE_ARP);
  const b = f.subarray(ETH_HLEN);
  b[1] = 1; // Ethernet
  b[2] = 0x08; // IPv4
  b[4] = 6;
  b[5] = 4;
  b[7] = p.op;
  b.set(p.senderMac, 8);
  writeIpv4(b, 14, p.senderIp);
  b.set(p.targetMac, 18);
  writeIpv4(b, 24, p.targetIp);
  return f;
}
