/**
 * containerfs: the read-only union of N layer images (bottom first), as the lower layer of
 * the core overlay (core/fs/overlay.ts), which adds the writable tmpfs upper, copy-up and
 * whiteouts for the app's changes.
 *
 * - Each image is mapped read-only into the sentry once, at mount (runsc opens the file
 *   before any app code runs; the fd is closed after mapping). Mount cost does not depend
 *   on image size: only each header is checked (src/format/reader.ts).
 * - Lookup walks the layers top to bottom; a layer whose Bloom filter says the path is
 *   certainly absent is skipped without touching its directory (the path hash of a child
 *   extends its parent's, so a lookup hashes only the new name). A whiteout entry hides the
 *   name in every lower layer; an opaque directory hides every lower layer's content; a
 *   non-directory hides whatever lies below it; directories present in several layers merge.
 * - Inode numbers are stable: layer L (1 = bottom) inode index i is L * 2^32 + i + 1; a
 *   merged directory takes the number of its top-most part.
 * - Regular files are read straight from the mapping, after their SHA-256 is checked on
 *   first use; mmap fills memory-file pages from the same mapping. Any checksum failure
 *   is EIO to the app and an error log line naming the image and the path.
 */
import { ReadOnlyInode } from '../../../../core/vfs/readonly-inode';
import { EIO, EROFS, SysError } from '../../../../core/abi/errno';
import type { TaskApi } from '../../../../core/kernel/api';
import type { Logger } from '../../../../core/log/index';
import type { Mappable } from '../../../../core/mm/api';
import type { MemoryFile } from '../../../../core/mm/memfile';
import { MemObject } from '../../../../core/mm/memobject';
import {
  allocAnonDev,
  copyToSegs,
  DirectoryFile,
  FileDescription,
  type DirEntry,
  type Filesystem,
  type Inode,
  type IoDst,
  type Stat,
  type Statfs,
  type VirtualDentry,
} from '../../../../core/plugins/filesystem';
import { childHash, ROOT_HASH, type PathHash } from '../format/bloom';
import { PAGE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../format/layout';
import { ImageCorrupt, LayerImage, type InodeRec } from '../format/reader';

/** statfs f_type of containerfs ("TSVC"). */
export const CONTAINERFS_MAGIC = 0x54535643;
const LAYER_INO_STRIDE = 2 ** 32;

export interface Layer {
  img: LayerImage;
  /** 1 = bottom. */
  number: number;
}

interface Part {
  layer: Layer;
  rec: InodeRec;
}

/** Counters for benchmarks and tests. */
export interface LookupStats {
  lookups: number;
  /** Layer probes skipped because the Bloom filter said "absent". */
  bloomSkips: number;
  /** Directory binary searches done. */
  searches: number;
}

export interface ContainerfsOptions {
  mf?: MemoryFile;
  log?: Logger;
  /** Consult the Bloom filters on lookup (default true; false only to measure what they save). */
  bloom?: boolean;
}

export class Containerfs implements Filesystem {
  readonly typeName = 'containerfs';
  readonly dev = allocAnonDev();
  /** Top first. */
  readonly layers: Layer[];
  readonly stats: LookupStats = { lookups: 0, bloomSkips: 0, searches: 0 };
  private readonly rootInode: CfsInode;

  /** `images` bottom first. */
  constructor(
    images: LayerImage[],
    readonly opts: ContainerfsOptions = {},
  ) {
    if (images.length === 0) throw new Error('containerfs needs at least one layer image');
    this.layers = images.map((img, i) => ({ img, number: i + 1 })).reverse();
    const parts: Part[] = [];
    for (const layer of this.layers) {
      const rec = layer.img.inode(0);
      parts.push({ layer, rec });
      if (rec.opaque) break;
    }
    this.rootInode = new CfsInode(this, null, '', parts, ROOT_HASH);
  }

  /** Open and map image files (bottom first). */
  static open(paths: string[], opts: ContainerfsOptions = {}): Containerfs {
    return new Containerfs(
      paths.map((p) => LayerImage.open(p)),
      opts,
    );
  }

  root(): CfsInode {
    return this.rootInode;
  }

  statfs(): Statfs {
    let bytes = 0,
      files = 0;
    for (const l of this.layers) {
      bytes += l.img.imageSize;
      files += l.img.inodeCount;
    }
    return {
      type: CONTAINERFS_MAGIC,
      bsize: PAGE,
      blocks: Math.ceil(bytes / PAGE),
      bfree: 0,
      bavail: 0,
      files,
      ffree: 0,
      fsid: [this.dev, 0],
      namelen: 255,
      frsize: PAGE,
      flags: 1, // ST_RDONLY
    };
  }

  options(): string {
    return `ro,layers=${this.layers.length}`;
  }

  /** Close the image files (their mappings, in the sentry and in apps, stay). */
  release(): void {
    for (const l of this.layers) l.img.close();
  }

  /** Turn a damaged-image error into EIO, logging which file of which image. */
  corrupt(e: unknown, path: string): never {
    if (e instanceof ImageCorrupt) {
      this.opts.log?.error(
        { image: e.image, path, problem: e.what },
        'containerfs: corrupted layer image; returning EIO',
      );
      throw new SysError(EIO, `${e.message} (at ${path})`);
    }
    throw e;
  }
}

export class CfsInode extends ReadOnlyInode implements Inode {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  private kids: Map<string, CfsInode> | null = null;
  private cache: MemObject | null = null;
  private data: Uint8Array | null = null;

  constructor(
    readonly fs: Containerfs,
    readonly parent: CfsInode | null,
    readonly name: string,
    /** Top-most first; one part for a non-directory. */
    readonly parts: Part[],
    readonly hash: PathHash,
  ) {
    super();
    const top = parts[0];
    this.ino = top.layer.number * LAYER_INO_STRIDE + top.rec.index + 1;
    this.mode = top.rec.mode;
    this.uid = top.rec.uid;
    this.gid = top.rec.gid;
  }

  /** The path inside the container, for log lines. */
  get path(): string {
    return this.parent ? `${this.parent.parent ? this.parent.path : ''}/${this.name}` : '/';
  }

  private get top(): Part {
    return this.parts[0];
  }

  get size(): number {
    const r = this.top.rec;
    const t = r.mode & S_IFMT;
    return t === S_IFREG || t === S_IFLNK
      ? r.size
      : t === S_IFDIR
        ? Math.ceil(r.aux / PAGE) * PAGE || PAGE
        : 0;
  }

  stat(): Stat {
    const r = this.top.rec;
    const size = this.size;
    return {
      dev: this.fs.dev,
      ino: this.ino,
      mode: r.mode,
      nlink: r.nlink,
      uid: r.uid,
      gid: r.gid,
      rdev: (r.mode & S_IFMT) === 0o020000 || (r.mode & S_IFMT) === 0o060000 ? r.aux : 0,
      size,
      blksize: PAGE,
      blocks: Math.ceil(size / PAGE) * 8,
      atimeSec: r.mtimeSec,
      atimeNsec: r.mtimeNsec,
      mtimeSec: r.mtimeSec,
      mtimeNsec: r.mtimeNsec,
      ctimeSec: r.mtimeSec,
      ctimeNsec: r.mtimeNsec,
    };
  }

  lookup(name: string): CfsInode | null {
    if ((this.mode & S_IFMT) !== S_IFDIR) return null;
    const known = this.kids?.get(name);
    if (known) return known;
    const st = this.fs.stats;
    st.lookups++;
    const h = childHash(this.hash, name);
    const parts: Part[] = [];
    const bloom = this.fs.opts.bloom !== false;
    try {
      for (const { layer, rec } of this.parts) {
        if (bloom && !layer.img.mayContain(h)) {
          st.bloomSkips++;
          continue;
        }
        st.searches++;
        const e = layer.img.lookup(rec, name);
        if (!e) continue;
        if (e.whiteout) break;
        const r = layer.img.child(rec, e);
        const isDir = (r.mode & S_IFMT) === S_IFDIR;
        if (parts.length && !isDir) break; // a lower non-directory under a directory: hidden
        parts.push({ layer, rec: r });
        if (!isDir || r.opaque) break;
      }
    } catch (e) {
      this.fs.corrupt(e, `${this.parent ? this.path : ''}/${name}`);
    }
    if (!parts.length) return null;
    const c = new CfsInode(this.fs, this, name, parts, h);
    (this.kids ??= new Map()).set(name, c);
    return c;
  }

  readdir(): DirEntry[] {
    const seen = new Set<string>();
    const out: DirEntry[] = [];
    try {
      for (const { layer, rec } of this.parts) {
        for (const e of layer.img.list(rec)) {
          if (seen.has(e.name)) continue;
          seen.add(e.name);
          if (e.whiteout) continue;
          out.push({ name: e.name, ino: layer.number * LAYER_INO_STRIDE + e.index + 1, type: e.dtype });
        }
      }
    } catch (e) {
      this.fs.corrupt(e, this.path);
    }
    return out;
  }

  readlink(): string {
    const { layer, rec } = this.top;
    if ((rec.mode & S_IFMT) !== S_IFLNK) throw new SysError(22 /* EINVAL */);
    try {
      return layer.img.readlink(rec);
    } catch (e) {
      return this.fs.corrupt(e, this.path);
    }
  }

  /** The file's verified bytes (a view of the image mapping, kept once checked). */
  contents(): Uint8Array {
    if (this.data) return this.data;
    const { layer, rec } = this.top;
    try {
      return (this.data = layer.img.contents(rec));
    } catch (e) {
      return this.fs.corrupt(e, this.path);
    }
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const type = this.mode & S_IFMT;
    if (type === S_IFDIR) {
      const parent = vd?.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    if (type !== S_IFREG) throw new SysError(6 /* ENXIO */);
    if ((flags & 3) !== 0) throw new SysError(EROFS);
    this.contents(); // check the digest now: a damaged file fails at open with EIO
    return new CfsFile(flags, this);
  }

  /**
   * The file's page cache, shared by every mapping of it: the image's own pages where the
   * platform can map them into the app (MemObject.ofForeign; read-only private mappings and
   * read-only ELF segments then use no memory-file pages), else one copy in the memory file
   * filled from the image mapping. The SHA-256 is checked before it is first handed out.
   */
  sharedObject(): MemObject {
    if (!this.fs.opts.mf) throw new SysError(19 /* ENODEV */);
    if (!this.cache) {
      const data = this.contents();
      const { layer, rec } = this.top;
      let pages;
      try {
        pages = layer.img.pagesOf(rec);
      } catch (e) {
        return this.fs.corrupt(e, this.path);
      }
      this.cache = pages
        ? MemObject.ofForeign(this.fs.opts.mf, pages)
        : new MemObject(this.fs.opts.mf, (off, dst) => {
            const n = Math.max(0, Math.min(dst.length, data.length - off));
            if (n > 0) dst.set(data.subarray(off, off + n));
            if (n < dst.length) dst.fill(0, n);
          });
    }
    return this.cache;
  }

  override getxattr(name: string): Uint8Array | null {
    const { layer, rec } = this.top;
    try {
      return layer.img.xattrs(rec).get(name) ?? null;
    } catch (e) {
      return this.fs.corrupt(e, this.path);
    }
  }
  override listxattr(): string[] {
    const { layer, rec } = this.top;
    try {
      return [...layer.img.xattrs(rec).keys()];
    } catch (e) {
      return this.fs.corrupt(e, this.path);
    }
  }
}

/** An open regular file of an image (read-only). */
export class CfsFile extends FileDescription implements Mappable {
  constructor(
    flags: number,
    readonly node: CfsInode,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    const pos = off < 0 ? this.pos : off;
    let data: Uint8Array;
    try {
      data = this.node.contents();
    } catch (e) {
      if (e instanceof SysError) return -e.errno;
      throw e;
    }
    const n = pos >= data.length ? 0 : copyToSegs(dst, data.subarray(pos));
    if (off < 0) this.pos = pos + n;
    return n;
  }

  override write(): number {
    return -9; // EBADF: opened read-only
  }

  override seek(off: number, whence: number): number {
    return this.seekWithSize(off, whence, this.node.size);
  }

  override mappable(): Mappable {
    return this;
  }
  sharedObject(): MemObject {
    return this.node.sharedObject();
  }
  /** The image's bytes never change under a mapping: private read-only mappings share them. */
  readOnlyPageCache(): MemObject {
    return this.node.sharedObject();
  }
  readForMap(off: number, dst: Uint8Array): number {
    const data = this.node.contents();
    const n = Math.max(0, Math.min(dst.length, data.length - off));
    if (n > 0) dst.set(data.subarray(off, off + n));
    return n;
  }
  size(): number {
    return this.node.size;
  }
}
