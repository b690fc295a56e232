/**
 * The link endpoint interface: how frames enter and leave the stack. An endpoint is
 * fd-agnostic (TAP, AF_PACKET, in-process loopback, a test channel). Frames are Ethernet
 * frames when `ethernet` is true, bare IPv4 packets otherwise (loopback).
 *
 * Contract: `deliver` is called from the event loop (never re-entrantly from `send`); the
 * frame's bytes are only valid during the call (receive buffers are reused). `send` copies
 * or writes the frame before returning; it never throws (a failed write is a dropped frame,
 * counted by the endpoint).
 */
export interface LinkEndpoint {
  readonly name: string;
  readonly mtu: number;
  /** True for Ethernet framing (ARP, MAC addresses); false for IP-only links (loopback). */
  readonly ethernet: boolean;
  /** The endpoint's MAC address (Ethernet links). */
  readonly mac: Uint8Array;
  /**
   * Frames never leave this process (loopback): the stack neither computes nor verifies
   * transport checksums on this link, as Linux and gVisor do on lo.
   */
  readonly checksumOffload?: boolean;
  /** Delivered frames are not reused by the link, so the stack may keep views into them. */
  readonly stableFrames?: boolean;
  /** The link calls `endBatch` after every receive batch (see attach). */
  readonly batches?: boolean;
  /**
   * Starts delivery. A link that receives in batches calls `endBatch` after each batch, so
   * the stack can answer a whole batch at once (one ACK and one readiness event per
   * connection, as GRO does for the kernel).
   */
  attach(deliver: (frame: Uint8Array) => void, endBatch?: () => void): void;
  send(frame: Uint8Array): void;
  close(): void;
  readonly stats: LinkStats;
}

export interface LinkStats {
  rxFrames: number;
  txFrames: number;
  rxBytes: number;
  txBytes: number;
  txDropped: number;
}

export function newLinkStats(): LinkStats {
  return { rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0, txDropped: 0 };
}
