/**
 * Link endpoints over a host fd that carries one Ethernet frame per read/write: a TAP
 * device (TapLink) or an AF_PACKET socket bound to an interface such as a veth
 * (PacketLink). Readability is watched by uv_poll on the event loop; each wake-up drains
 * the fd in batches of up to 64 frames into one preallocated buffer (research/netio.md,
 * design c': the cheapest receive path measured here). Frames are written one per call.
 *
 * A TAP device is created in the calling thread's network namespace and disappears when
 * its fd closes; without TUNSETOFFLOAD/IFF_VNET_HDR the kernel hands it only complete
 * frames and checksums. On a veth, the peer's offloads (tso, gso, tx checksumming) must be
 * off, or the packet socket sees super-segments and partial checksums (netio.md).
 */
import { newLinkStats, type LinkEndpoint } from './link';
import { netstackNative, type NetstackNative, type PollHandle } from '../native';

const BATCH = 64;
const SLOT = 2048;

abstract class FdLink implements LinkEndpoint {
  readonly ethernet = true;
  readonly batches = true;
  readonly stats = newLinkStats();
  abstract readonly name: string;
  abstract readonly mac: Uint8Array;
  protected abstract readonly fd: number;
  protected readonly native: NetstackNative = netstackNative();
  private poll: PollHandle | undefined;
  private deliver: ((frame: Uint8Array) => void) | undefined;
  private endBatch: (() => void) | undefined;
  private readonly rxBuf = new Uint8Array(BATCH * SLOT);
  private readonly rxLens = new Int32Array(BATCH);
  private closed = false;

  constructor(readonly mtu: number) {}

  attach(deliver: (frame: Uint8Array) => void, endBatch?: () => void): void {
    this.deliver = deliver;
    this.endBatch = endBatch;
    if (!this.poll && !this.closed) this.poll = this.native.pollStart(this.fd, this.onReadable);
  }

  private readonly onReadable = (status: number): void => {
    if (this.closed) return;
    if (status < 0) return;
    try {
      this.drain();
    } finally {
      if (!this.closed) this.endBatch?.();
    }
  };

  private drain(): void {
    for (;;) {
      const n = this.native.readBatch(this.fd, this.rxBuf, SLOT, this.rxLens);
      if (n <= 0) return;
      for (let i = 0; i < n; i++) {
        const len = this.rxLens[i];
        this.stats.rxFrames++;
        this.stats.rxBytes += len;
        this.deliver?.(this.rxBuf.subarray(i * SLOT, i * SLOT + len));
        if (this.closed) return;
      }
      if (n < BATCH) return;
    }
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    // Pad to the Ethernet minimum (60 bytes without FCS), as a NIC would.
    const f = frame.length >= 60 ? frame : padded(frame);
    const r = this.native.writeFrame(this.fd, f);
    if (r < 0) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += f.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) this.native.pollStop(this.poll);
    this.poll = undefined;
    this.native.closeFd(this.fd);
  }
}

/** A TAP device `ifname`; `mac` is the stack's address on it (the kernel side keeps its own). */
export class TapLink extends FdLink {
  readonly name: string;
  protected readonly fd: number;

  constructor(
    ifname: string,
    readonly mac: Uint8Array,
    mtu = 1500,
  ) {
    super(mtu);
    const r = this.native.tapOpen(ifname);
    this.fd = r.fd;
    this.name = r.name;
  }
}

/**
 * An AF_PACKET socket bound to interface `ifname` of this process's network namespace, or
 * of `netns` (the socket is made by a thread that joined it) — e.g. our end of a veth
 * pair, which must have no kernel address. The stack uses the
 * interface's own MAC, as gVisor does.
 */
export class PacketLink extends FdLink {
  readonly mac: Uint8Array;
  protected readonly fd: number;

  constructor(
    readonly name: string,
    mtu = 1500,
    /** The network namespace file the interface is in (unset: this process's). */
    netns?: string,
  ) {
    super(mtu);
    const r = netns ? this.native.packetOpen(name, netns) : this.native.packetOpen(name);
    this.fd = r.fd;
    this.mac = Uint8Array.from(r.mac);
  }
}

function padded(frame: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.set(frame);
  return f;
}
