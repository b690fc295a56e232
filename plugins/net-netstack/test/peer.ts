/**
 * A scripted TCP peer on the other end of a ChannelLink: answers ARP, records every TCP
 * segment the stack sends, and injects segments built with the stack's own codecs (the
 * codecs are checked against independent values in codec.test.ts and against the Linux
 * kernel in tap.test.ts).
 */
import { ipv4, parseMac, readIpv4 } from '../src/addr';
import { ARP_REPLY, ARP_REQUEST, buildArpFrame, parseArp } from '../src/arp';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, etherType, writeEthernet } from '../src/ethernet';
import { PROTO_TCP, parseIpv4Header, writeIpv4Header, type Ipv4Header } from '../src/ipv4';
import { ChannelLink } from '../src/link/channel';
import { headerLength, parseTcp, writeTcp, type TcpSegment, type TcpSegmentOut } from '../src/tcp/segment';
import type { Stack } from '../src/stack';

export const PEER_IP = ipv4('10.9.0.1');
export const STACK_IP = ipv4('10.9.0.2');
const PEER_MAC = parseMac('02:00:00:00:00:01');
const STACK_MAC = parseMac('02:00:00:00:00:02');

export interface Seen extends TcpSegment {
  /** performance.now() when the stack sent it. */
  at: number;
}

/** Where the peer's frames go and come from. */
export interface PeerWire {
  send(frame: Uint8Array): void;
}

export interface PeerAddresses {
  ourIp: number;
  ourMac: Uint8Array;
  theirIp: number;
  theirMac: Uint8Array;
}

export class Peer {
  readonly link = new ChannelLink('peer0', STACK_MAC);
  private wire: PeerWire;
  readonly a: PeerAddresses;
  /** Every TCP segment the stack sent, in order. */
  readonly seen: Seen[] = [];
  /** Index of the next segment next() looks at. */
  private cursor = 0;
  /** Drop the stack's segments matching this (simulated loss on the way to the peer). */
  dropIf: ((s: TcpSegment) => boolean) | undefined;
  readonly dropped: TcpSegment[] = [];

  /**
   * With a stack: the peer sits on a new channel link of that stack (10.9.0.1 talking to
   * the stack's 10.9.0.2). Without: the caller connects `rx` and a wire (e.g. a TAP fd, to
   * run the same script against the Linux kernel).
   */
  constructor(stack: Stack | undefined, wire?: PeerWire, addrs?: PeerAddresses) {
    this.a = addrs ?? { ourIp: PEER_IP, ourMac: PEER_MAC, theirIp: STACK_IP, theirMac: STACK_MAC };
    if (stack) {
      this.link.onSend = (f) => this.rx(f);
      stack.addNic(this.link, { addresses: ['10.9.0.2/24'] });
      this.wire = { send: (f) => this.link.inject(f) };
    } else {
      this.wire = wire!;
    }
  }

  /** A frame from the other side. */
  rx(f: Uint8Array): void {
    const type = etherType(f);
    if (type === ETHERTYPE_ARP) {
      const a = parseArp(f.subarray(ETH_HLEN));
      if (a && a.op === ARP_REQUEST && a.targetIp === this.a.ourIp) {
        this.wire.send(
          buildArpFrame(a.senderMac, {
            op: ARP_REPLY,
            senderMac: this.a.ourMac,
            senderIp: this.a.ourIp,
            targetMac: a.senderMac,
            targetIp: a.senderIp,
          }),
        );
      }
      return;
    }
    if (type !== ETHERTYPE_IPV4) return;
    const h = parseIpv4Header(f.subarray(ETH_HLEN));
    if (typeof h === 'string' || h.proto !== PROTO_TCP || h.dst !== this.a.ourIp) return;
    const seg = parseTcp(f.subarray(ETH_HLEN + h.hlen, ETH_HLEN + h.totalLen), h.src, h.dst);
    if (!seg) throw new Error('the other side sent a TCP segment with a bad checksum');
    if (this.dropIf?.(seg)) {
      this.dropped.push(seg);
      return;
    }
    this.seen.push({ ...seg, payload: seg.payload.slice(), at: performance.now() });
  }

  /** The next segment (after those already taken) matching pred; waits up to timeoutMs. */
  next(pred: (s: Seen) => boolean = () => true, what = 'segment', timeoutMs = 5000): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const start = Date.now();
      const tick = (): void => {
        while (this.cursor < this.seen.length) {
          const s = this.seen[this.cursor++];
          if (pred(s)) {
            resolve(s);
            return;
          }
        }
        if (Date.now() - start > timeoutMs) reject(new Error(`peer: timed out waiting for ${what}`));
        else setTimeout(tick, 1);
      };
      tick();
    });
  }

  /** Skips everything seen so far. */
  skip(): void {
    this.cursor = this.seen.length;
  }

  /** Builds the Ethernet frame of a segment from the peer to the stack. */
  frame(s: TcpSegmentOut, payload: Uint8Array = new Uint8Array(0), corrupt = false): Uint8Array {
    const hl = headerLength(s);
    const f = new Uint8Array(ETH_HLEN + 20 + hl + payload.length);
    f.set(payload, ETH_HLEN + 20 + hl);
    writeTcp(f, ETH_HLEN + 20, s, payload.length, this.a.ourIp, this.a.theirIp);
    if (corrupt) f[ETH_HLEN + 20 + 16] ^= 0x5a;
    writeIpv4Header(f, ETH_HLEN, {
      src: this.a.ourIp,
      dst: this.a.theirIp,
      proto: PROTO_TCP,
      ttl: 64,
      id: 1,
      df: true,
      payloadLen: hl + payload.length,
    });
    writeEthernet(f, this.a.theirMac, this.a.ourMac, ETHERTYPE_IPV4);
    return f;
  }

  /** Sends a raw frame. */
  sendFrame(f: Uint8Array): void {
    this.wire.send(f);
  }

  send(s: TcpSegmentOut, payload?: Uint8Array, corrupt = false): void {
    this.wire.send(this.frame(s, payload, corrupt));
  }
}

export function ipOf(f: Uint8Array): Ipv4Header | string {
  return parseIpv4Header(f.subarray(ETH_HLEN));
}
export { readIpv4 };
