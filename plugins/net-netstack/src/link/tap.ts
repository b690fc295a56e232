/**
 * A TAP link endpoint: a non-blocking /dev/net/tun fd (IFF_TAP | IFF_NO_PI) whose
 * readability is watched by uv_poll on the event loop; each wake-up drains the fd in
 * batches of up to 64 frames into one preallocated buffer (see research/netio.md, design
 * c': the cheapest receive path measured here). Frames are written one per call.
 *
 * The device is created in the calling thread's network namespace and disappears when
 * the fd closes. The host side must have offloads off or none negotiated: without
 * TUNSETOFFLOAD/IFF_VNET_HDR the kernel hands a TAP only complete frames and checksums.
 */
import { newLinkStats, type LinkEndpoint } from './link';
import { netstackNative, type NetstackNative, type PollHandle } from '../native';

const BATCH = 64;
const SLOT = 2048;

export class TapLink implements LinkEndpoint {
  readonly ethernet = true;
  readonly batches = true;
  readonly stats = newLinkStats();
  readonly name: string;
  private readonly fd: number;
  private readonly native: NetstackNative;
  private poll: PollHandle | undefined;
  private deliver: ((frame: Uint8Array) => void) | undefined;
  private endBatch: (() => void) | undefined;
  private readonly rxBuf = new Uint8Array(BATCH * SLOT);
  private readonly rxLens = new Int32Array(BATCH);
  private closed = false;

  /**
   * Opens TAP device `ifname` with our MAC `mac` (the stack's address on this link; the
   * kernel side keeps its own). MTU must match the device's (default 1500).
   */
  constructor(
    ifname: string,
    readonly mac: Uint8Array,
    readonly mtu = 1500,
  ) {
    this.native = netstackNative();
    const r = this.native.tapOpen(ifname);
    this.fd = r.fd;
    this.name = r.name;
  }

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

function padded(frame: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.set(frame);
  return f;
}
