/** A byte queue of chunks: append at the tail, peek at any offset, consume from the head. */
export class ByteQueue {
  /**
   * `onDrop` is called with each chunk once it is consumed whole (never for `clear`);
   * `onClear` with each chunk still queued when `clear` throws them away.
   */
  constructor(
    private readonly onDrop?: (chunk: Uint8Array) => void,
    private readonly onClear?: (chunk: Uint8Array) => void,
  ) {}

  private chunks: Uint8Array[] = [];
  private first = 0; // index of the head chunk
  private head = 0; // offset into chunks[first]
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Copies `len` bytes starting `offset` bytes after the head into out[outOff..]. */
  peek(offset: number, len: number, out: Uint8Array, outOff: number): void {
    let skip = this.head + offset;
    let i = this.first;
    while (i < this.chunks.length && skip >= this.chunks[i].length) {
      skip -= this.chunks[i].length;
      i++;
    }
    let o = outOff;
    let left = len;
    while (left > 0 && i < this.chunks.length) {
      const c = this.chunks[i];
      const n = Math.min(left, c.length - skip);
      out.set(c.subarray(skip, skip + n), o);
      o += n;
      left -= n;
      skip = 0;
      i++;
    }
  }

  /** Drops `n` bytes from the head. */
  consume(n: number): void {
    let left = Math.min(n, this.length);
    this.length -= left;
    while (left > 0) {
      const c = this.chunks[this.first];
      const avail = c.length - this.head;
      if (left < avail) {
        this.head += left;
        return;
      }
      left -= avail;
      this.onDrop?.(c);
      this.first++;
      this.head = 0;
    }
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  /** Copies up to out.length bytes from the head into out and consumes them (or not, when peeking). */
  read(out: Uint8Array, peek = false): number {
    const n = Math.min(out.length, this.length);
    this.peek(0, n, out, 0);
    if (!peek) this.consume(n);
    return n;
  }

  clear(): void {
    if (this.onClear) for (let i = this.first; i < this.chunks.length; i++) this.onClear(this.chunks[i]);
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.length = 0;
  }
}
