/**
 * Recycled 64 KiB buffers for the TCP send queue. Each send(2) copies the app's bytes into
 * the queue, where they stay until acknowledged; a fresh 64 KiB ArrayBuffer per write made
 * the garbage collector the largest cost of a bulk transfer. The send queue's lifetime is
 * exact (segments are built by copying out of it, nothing else keeps a view), so a chunk
 * can go back to a free list the moment an ACK consumes it.
 */
import { copyBytes } from '../checksum';

const SIZE = 65536;
/** Smaller copies are cheap to allocate (and Buffer pools those under 4 KiB anyway). */
const MIN = 16384;
/** Free buffers kept (4 MiB). */
const MAX_FREE = 64;

const free: ArrayBuffer[] = [];
const ours = new WeakSet<ArrayBuffer>();
/** Pool buffers handed to a send queue and not yet recycled (for /proc/net/sockstat). */
let out = 0;

/** Buffers in send queues, and buffers waiting on the free list. */
export function poolStats(): { out: number; free: number } {
  return { out, free: free.length };
}

/** A copy of `d` for the send queue, in a recycled buffer when its size suits one. */
export function sendCopy(d: Uint8Array): Uint8Array {
  if (d.length < MIN || d.length > SIZE) return copyBytes(d);
  let ab = free.pop();
  if (!ab) {
    ab = new ArrayBuffer(SIZE);
    ours.add(ab);
  }
  const b = new Uint8Array(ab, 0, d.length);
  b.set(d);
  out++;
  return b;
}

/** A send-queue chunk was thrown away unsent (a reset): no longer counted as out. */
export function forget(chunk: Uint8Array): void {
  if (chunk.byteOffset === 0 && ours.has(chunk.buffer as ArrayBuffer)) out--;
}

/** A send-queue chunk was consumed whole: its buffer may be reused. */
export function recycle(chunk: Uint8Array): void {
  const ab = chunk.buffer as ArrayBuffer;
  if (chunk.byteOffset !== 0 || !ours.has(ab)) return;
  out--;
  if (free.length < MAX_FREE) free.push(ab);
}
