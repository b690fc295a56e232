/**
 * MemoryFile: the memfd that backs all application memory and tmpfs file data (as gVisor's
 * pgalloc.MemoryFile). The sentry sees it through 1 GiB shared mappings (one ArrayBuffer
 * each, mapped on first use); platforms map ranges of the same fd into the app.
 *
 * Allocation unit: the 64 KiB extent. Extents never straddle a chunk, so every extent is
 * one contiguous Uint8Array in the sentry. Freed extents are punched (their pages go back
 * to the host) and reused.
 */
import { coreNative } from '../native';

export const PAGE_SIZE = 4096;
export const EXTENT_SHIFT = 16;
export const EXTENT_SIZE = 1 << EXTENT_SHIFT; // 64 KiB
const CHUNK_SHIFT = 30;
const CHUNK_SIZE = 2 ** CHUNK_SHIFT; // 1 GiB

export class OutOfMemoryError extends Error {}

export class MemoryFile {
  readonly fd: number;
  private readonly chunks: (Uint8Array | undefined)[] = [];
  private next = 0;
  private readonly free: number[] = [];
  private allocated = 0;

  /** @param maxBytes virtual size of the memfd (sparse); the app cannot use more. */
  constructor(readonly maxBytes: number = 64 * CHUNK_SIZE) {
    this.fd = coreNative().memfdCreate('tsvisor-memory', maxBytes);
  }

  /** Allocate one zeroed extent; returns its file offset. */
  allocExtent(): number {
    let off = this.free.pop();
    if (off === undefined) {
      if (this.next + EXTENT_SIZE > this.maxBytes) throw new OutOfMemoryError('memory file exhausted');
      off = this.next;
      this.next += EXTENT_SIZE;
    }
    this.allocated++;
    return off;
  }

  /**
   * Extra references to extents shared by several objects (fork's lazy copy-on-write):
   * offset -> number of references beyond the first. Absent = one owner.
   */
  private readonly shares = new Map<number, number>();

  /** One more object holds extent `off` (MemObject.clone). */
  shareExtent(off: number): void {
    this.shares.set(off, (this.shares.get(off) ?? 0) + 1);
  }

  /** Whether more than one object holds extent `off`. */
  isShared(off: number): boolean {
    return this.shares.has(off);
  }

  /** Return an extent; its pages are released to the host and read back as zeros. */
  freeExtent(off: number): void {
    const extra = this.shares.get(off);
    if (extra !== undefined) {
      // Another object still holds it.
      if (extra > 1) this.shares.set(off, extra - 1);
      else this.shares.delete(off);
      return;
    }
    coreNative().punchHole(this.fd, off, EXTENT_SIZE);
    this.free.push(off);
    this.allocated--;
  }

  /** Bytes currently allocated to extents. */
  get allocatedBytes(): number {
    return this.allocated * EXTENT_SIZE;
  }

  /** The sentry's view of the 1 GiB chunk containing `off`. */
  chunkFor(off: number): Uint8Array {
    const i = Math.floor(off / CHUNK_SIZE);
    let c = this.chunks[i];
    if (!c) {
      c = new Uint8Array(coreNative().mapShared(this.fd, i * CHUNK_SIZE, CHUNK_SIZE, true));
      this.chunks[i] = c;
    }
    return c;
  }

  /** A view of [off, off+len) — must not cross an extent boundary. */
  view(off: number, len: number): Uint8Array {
    const c = this.chunkFor(off);
    const base = off % CHUNK_SIZE;
    return c.subarray(base, base + len);
  }

  close(): void {
    this.chunks.length = 0;
    coreNative().closeFd(this.fd);
  }
}
