/**
 * MemObject: a sparse, byte-addressed object whose pages live in the MemoryFile — the
 * sentry's equivalent of a Linux shmem/anon object. Anonymous mappings, private copies of
 * file pages, and tmpfs file data are MemObjects; a shared mapping of a tmpfs file maps the
 * file's own MemObject, so writes through the mapping and write(2) see the same bytes.
 *
 * Storage is in 64 KiB extents allocated on first write (or first fault); absent extents
 * read as zeros, or as the content supplied by `filler` (used for private file mappings).
 */
import { EXTENT_SHIFT, EXTENT_SIZE, MemoryFile } from './memfile';
import type { ForeignFile } from '../plugins/platform';
import { EFAULT, SysError } from '../abi/errno';

/** Supplies initial content for a freshly allocated extent at object offset `objOff`. */
export type ExtentFiller = (objOff: number, dst: Uint8Array) => void;

/**
 * The pages of an object that are a window of a read-only host file (a layer image): the
 * platform can map them straight into the app (AddressSpace.mapForeign) instead of copies
 * in the memory file. Such an object is never written in place: it is only ever mapped
 * privately without write permission (writable mappings get a copy, see Vma.cow).
 */
export interface ForeignPages {
  file: ForeignFile;
  /** Page-aligned offset in `file` of object offset 0. */
  offset: number;
  /** The sentry's read-only view of the object's bytes, a whole number of pages long. */
  bytes: Uint8Array;
}

/** Something a MemObject keeps alive while it exists (the file a private mapping fills from). */
export interface Holdable {
  incRef(): unknown;
  decRef(): void;
}

export class MemObject {
  /** extent index -> memory-file offset */
  readonly extents = new Map<number, number>();
  /**
   * Extents this object may share with a clone (fork's lazy copy-on-write): they are copied
   * before anything writes them (own). An entry whose extent is no longer shared is simply
   * dropped on the next write.
   */
  readonly cowIdx = new Set<number>();
  private refs = 1;

  /** `hold` is referenced for the object's life (and by its clones): the filler's source. */
  /** Set for an object whose content is a host file's pages (see ForeignPages). */
  foreign?: ForeignPages;

  constructor(
    readonly mf: MemoryFile,
    public filler?: ExtentFiller,
    readonly hold?: Holdable,
  ) {}

  /**
   * An object whose content is `pages`: mapped from the host file where the platform can,
   * else copied into the memory file extent by extent on first use (once, for everyone).
   */
  static ofForeign(mf: MemoryFile, pages: ForeignPages): MemObject {
    const b = pages.bytes;
    const o = new MemObject(mf, (off, dst) => {
      const n = Math.max(0, Math.min(dst.length, b.length - off));
      if (n > 0) dst.set(b.subarray(off, off + n));
      if (n < dst.length) dst.fill(0, n);
    });
    o.foreign = pages;
    return o;
  }

  incRef(): this {
    this.refs++;
    return this;
  }

  /**
   * Told when own() moved an extent (its memory-file offset changed) or made a shared one
   * this object's alone, so the address space mapping this private object drops host
   * mappings of it (stale, or read-only) and installs it afresh on the next access.
   */
  onMove?: (idx: number) => void;

  /** Drop a reference; the last one frees every extent. */
  decRef(): void {
    if (--this.refs > 0) return;
    for (const off of this.extents.values()) this.mf.freeExtent(off);
    this.extents.clear();
    this.cowIdx.clear();
    this.hold?.decRef();
  }

  /** Memory-file offset of extent `idx`, allocating (and filling) it if `alloc`; -1 if absent. */
  extent(idx: number, alloc: boolean): number {
    let off = this.extents.get(idx);
    if (off !== undefined) return off;
    if (!alloc) return -1;
    off = this.mf.allocExtent();
    this.extents.set(idx, off);
    if (this.filler) this.filler(idx * EXTENT_SIZE, this.mf.view(off, EXTENT_SIZE));
    return off;
  }

  /**
   * Make extent `idx` this object's alone before it is written. Returns true when its
   * memory-file offset changed (a copy was made): host mappings of the old one are stale.
   */
  own(idx: number): boolean {
    if (!this.cowIdx.delete(idx)) return false;
    const off = this.extents.get(idx);
    if (off === undefined) return false;
    if (!this.mf.isShared(off)) {
      // Ours alone already, but possibly installed read-only while it was shared: the
      // address space re-installs it on the next access.
      this.onMove?.(idx);
      return false;
    }
    const n = this.mf.allocExtent();
    this.mf.view(n, EXTENT_SIZE).set(this.mf.view(off, EXTENT_SIZE));
    this.mf.freeExtent(off);
    this.extents.set(idx, n);
    this.onMove?.(idx);
    return true;
  }

  /** Whether extent `idx` is still shared with a clone (writes must copy it first). */
  sharesExtent(idx: number): boolean {
    if (!this.cowIdx.has(idx)) return false;
    const off = this.extents.get(idx);
    if (off !== undefined && this.mf.isShared(off)) return true;
    this.cowIdx.delete(idx);
    return false;
  }

  /** A view of bytes [objOff, objOff+len) that stays inside one extent (allocates). */
  viewWithinExtent(objOff: number, len: number, forWrite = false): Uint8Array {
    const f = this.foreign;
    if (f) {
      // Read straight from the host file's pages; they end with the file's last page.
      if (forWrite) throw new Error("MemObject: write into a host file's read-only pages");
      if (objOff + len > f.bytes.length) throw new SysError(EFAULT);
      return f.bytes.subarray(objOff, objOff + len);
    }
    const idx = Math.floor(objOff / EXTENT_SIZE);
    const inner = objOff - idx * EXTENT_SIZE;
    if (forWrite) this.own(idx);
    return this.mf.view(this.extent(idx, true) + inner, len);
  }

  /** Copy bytes out of the object into `dst` (absent extents: filler content or zeros, without allocating when there is no filler). */
  read(objOff: number, dst: Uint8Array): void {
    const f = this.foreign;
    if (f) {
      const n = Math.max(0, Math.min(dst.length, f.bytes.length - objOff));
      if (n > 0) dst.set(f.bytes.subarray(objOff, objOff + n));
      dst.fill(0, n);
      return;
    }
    let done = 0;
    while (done < dst.length) {
      const pos = objOff + done;
      const idx = Math.floor(pos / EXTENT_SIZE);
      const inner = pos - idx * EXTENT_SIZE;
      const n = Math.min(EXTENT_SIZE - inner, dst.length - done);
      const off = this.extent(idx, this.filler !== undefined);
      if (off < 0) dst.fill(0, done, done + n);
      else dst.set(this.mf.view(off + inner, n), done);
      done += n;
    }
  }

  /** Copy `src` into the object at `objOff`, allocating extents as needed. */
  write(objOff: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const pos = objOff + done;
      const idx = Math.floor(pos / EXTENT_SIZE);
      const inner = pos - idx * EXTENT_SIZE;
      const n = Math.min(EXTENT_SIZE - inner, src.length - done);
      this.own(idx);
      const off = this.extent(idx, true);
      this.mf.view(off + inner, n).set(src.subarray(done, done + n));
      done += n;
    }
  }

  /** Zero bytes [from, to): whole extents are freed, partial ones cleared. */
  zeroRange(from: number, to: number): void {
    let pos = from;
    while (pos < to) {
      const idx = Math.floor(pos / EXTENT_SIZE);
      const start = idx * EXTENT_SIZE;
      const end = Math.min(start + EXTENT_SIZE, to);
      const off = this.extents.get(idx);
      if (off !== undefined) {
        if (pos === start && end === start + EXTENT_SIZE) {
          this.mf.freeExtent(off);
          this.extents.delete(idx);
          this.cowIdx.delete(idx);
        } else {
          this.own(idx);
          this.mf.view(this.extents.get(idx)! + (pos - start), end - pos).fill(0);
        }
      }
      pos = end;
    }
  }

  /**
   * Discard bytes [from, to) (MADV_DONTNEED): they read back as the object's initial content
   * — the filler's (a private file mapping's file bytes) or zeros. Whole extents are freed.
   */
  discard(from: number, to: number): void {
    if (!this.filler) return this.zeroRange(from, to);
    let pos = from;
    let scratch: Uint8Array | undefined;
    while (pos < to) {
      const idx = Math.floor(pos / EXTENT_SIZE);
      const start = idx * EXTENT_SIZE;
      const end = Math.min(start + EXTENT_SIZE, to);
      const off = this.extents.get(idx);
      if (off !== undefined) {
        if (pos === start && end === start + EXTENT_SIZE) {
          this.mf.freeExtent(off);
          this.extents.delete(idx);
          this.cowIdx.delete(idx);
        } else {
          scratch ??= new Uint8Array(EXTENT_SIZE);
          scratch.fill(0);
          this.filler(start, scratch);
          this.own(idx);
          this.mf
            .view(this.extents.get(idx)! + (pos - start), end - pos)
            .set(scratch.subarray(pos - start, end - start));
        }
      }
      pos = end;
    }
  }

  /** Drop everything at and beyond `size` (truncate). */
  truncate(size: number): void {
    const first = Math.ceil(size / EXTENT_SIZE);
    for (const [idx, off] of this.extents) {
      if (idx >= first) {
        this.mf.freeExtent(off);
        this.extents.delete(idx);
        this.cowIdx.delete(idx);
      }
    }
    const partial = size % EXTENT_SIZE;
    if (partial && this.extents.has(first - 1)) {
      this.own(first - 1);
      this.mf.view(this.extents.get(first - 1)! + partial, EXTENT_SIZE - partial).fill(0);
    }
  }

  /**
   * A private copy (fork's copy-on-write, made lazily: extents are shared until written):
   * same content, same filler. With a range, only extents overlapping [from, to) are copied (the caller will
   * never look elsewhere; absent extents read as the filler's content or zeros).
   */
  clone(from = 0, to = Infinity): MemObject {
    this.hold?.incRef();
    const c = new MemObject(this.mf, this.filler, this.hold);
    // Lazily: both objects hold the same extents until one of them writes one (own).
    for (const [idx, off] of this.extents) {
      if ((idx + 1) * EXTENT_SIZE <= from || idx * EXTENT_SIZE >= to) continue;
      this.mf.shareExtent(off);
      c.extents.set(idx, off);
      c.cowIdx.add(idx);
      this.cowIdx.add(idx);
    }
    return c;
  }

  static readonly EXTENT_SHIFT = EXTENT_SHIFT;
}
