/**
 * The image reader: a read-only view of one layer image, searched in place. Opening an
 * image checks only the header (magic, version, checksum, region bounds against the file
 * size): its cost does not depend on the image's size. Everything else is checked on
 * first use: an inode record's CRC when it is decoded, a directory block's or symlink
 * target's CRC on first access, a Bloom page's CRC on the first query that touches it,
 * an xattr block's CRC on first read, and a regular file's SHA-256 on its first read.
 * Any mismatch is an ImageCorrupt error naming the image, the path when known, and what
 * failed; callers (src/fs) turn it into EIO and a log line.
 */
import { hash } from 'node:crypto';
import * as fs from 'node:fs';
import { coreNative } from '../../../../core/native';
import type { ForeignFile } from '../../../../core/plugins/platform';
import { ROOT_HASH, probe, type PathHash } from './bloom';
import { crc32 } from './crc32';
import {
  BLOOM_BLOCK,
  DIGEST_SIZE,
  DIRENT_SIZE,
  DIRENT_WHITEOUT,
  H,
  HEADER_SIZE,
  I,
  INODE_SIZE,
  MAGIC,
  MODE_OPAQUE,
  NO_INODE,
  PAGE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  VERSION,
} from './layout';

/** The image is damaged: `what` says which structure failed its check. */
export class ImageCorrupt extends Error {
  constructor(
    readonly image: string,
    readonly what: string,
  ) {
    super(`layer image ${image}: ${what}`);
  }
}

/** A decoded inode record. */
export interface InodeRec {
  index: number;
  /** st_mode (type and permission bits). */
  mode: number;
  opaque: boolean;
  uid: number;
  gid: number;
  nlink: number;
  /** reg: bytes; lnk: target length; dir: entry count. */
  size: number;
  offset: number;
  aux: number;
  mtimeSec: number;
  mtimeNsec: number;
  xattr: number;
  bodyCrc: number;
}

/** One directory entry as stored. */
export interface RawDirent {
  name: string;
  dtype: number;
  whiteout: boolean;
  index: number;
}

const VALID_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK]);

export class LayerImage {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  readonly imageSize: number;
  readonly inodeCount: number;
  readonly bloomK: number;
  readonly pathCount: number;
  private readonly inodeTable: number;
  private readonly digestTable: number;
  private readonly metaOffset: number;
  private readonly metaEnd: number;
  private readonly bloomOffset: number;
  readonly bloomPages: number;
  private readonly bloomBlocks: number;
  private readonly bloomCrcTable: number;
  private readonly dataOffset: number;
  private readonly dataEnd: number;
  private readonly records = new Map<number, InodeRec>();
  private readonly checkedBodies = new Set<number>();
  private readonly checkedPages = new Set<number>();
  private readonly verified = new Set<number>();
  private readonly probeBits: Int32Array;

  /**
   * `bytes` is the whole image (normally a read-only mapping of the file); `name` is used
   * in error messages. Throws ImageCorrupt when the header is invalid.
   */
  constructor(
    bytes: Uint8Array,
    readonly name: string,
  ) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bad = (what: string): never => {
      throw new ImageCorrupt(name, what);
    };
    if (bytes.length < PAGE) bad(`file is ${bytes.length} bytes, shorter than the ${PAGE}-byte header page`);
    for (let i = 0; i < MAGIC.length; i++)
      if (bytes[i] !== MAGIC[i]) bad('bad magic: not a tsvisor layer image (expected "TSVLAYR\\n")');
    const version = this.u32(H.version);
    if (crc32(bytes, 0, H.crc) !== this.u32(H.crc)) bad('header checksum mismatch');
    if (version !== VERSION)
      bad(`unsupported format version ${version} (this reader reads version ${VERSION})`);
    if (this.u32(H.headerSize) !== HEADER_SIZE) bad(`bad header size ${this.u32(H.headerSize)}`);
    for (let i = 104; i < H.crc; i++) if (bytes[i] !== 0) bad('reserved header bytes are not zero');
    this.imageSize = this.u64(H.imageSize);
    if (this.imageSize !== bytes.length)
      bad(`header says ${this.imageSize} bytes but the file has ${bytes.length} (truncated or extended)`);
    this.inodeCount = this.u32(H.inodeCount);
    this.bloomK = this.u32(H.bloomK);
    this.pathCount = this.u32(H.pathCount);
    this.inodeTable = this.u64(H.inodeTable);
    this.digestTable = this.u64(H.digestTable);
    this.metaOffset = this.u64(H.metaOffset);
    this.metaEnd = this.metaOffset + this.u64(H.metaSize);
    this.bloomOffset = this.u64(H.bloomOffset);
    this.bloomPages = this.u32(H.bloomPages);
    this.bloomBlocks = (this.bloomPages * PAGE) / BLOOM_BLOCK;
    this.bloomCrcTable = this.u64(H.bloomCrcTable);
    this.dataOffset = this.u64(H.dataOffset);
    this.dataEnd = this.dataOffset + this.u64(H.dataSize);
    const inRange = (what: string, off: number, len: number): void => {
      if (!(off >= PAGE && len >= 0 && off + len <= this.imageSize)) bad(`${what} lies outside the image`);
    };
    if (this.inodeCount < 1) bad('no inodes (a layer has at least its root directory)');
    if (this.bloomK < 1 || this.bloomK > 32) bad(`bad Bloom hash count ${this.bloomK}`);
    if (this.bloomPages < 1) bad('empty Bloom filter');
    inRange('data region', this.dataOffset, this.dataEnd - this.dataOffset);
    if (this.dataOffset % PAGE) bad('data region is not page-aligned');
    inRange('inode table', this.inodeTable, this.inodeCount * INODE_SIZE);
    if (this.digestTable !== this.inodeTable + this.inodeCount * INODE_SIZE) bad('digest table misplaced');
    inRange('digest table', this.digestTable, this.inodeCount * DIGEST_SIZE);
    inRange('metadata region', this.metaOffset, this.metaEnd - this.metaOffset);
    if (this.bloomOffset % PAGE) bad('Bloom filter is not page-aligned');
    inRange('Bloom filter', this.bloomOffset, this.bloomPages * PAGE);
    inRange('Bloom checksum table', this.bloomCrcTable, this.bloomPages * 4);
    this.probeBits = new Int32Array(this.bloomK);
    const root = this.inode(0);
    if ((root.mode & S_IFMT) !== S_IFDIR) bad('root inode is not a directory');
  }

  /**
   * The image file, open read-only for the life of this object when it was opened from a
   * path (platforms that can map a host file map file pages from it; see pagesOf).
   */
  file?: ForeignFile;

  /** Map an image file read-only; the fd stays open (close() closes it, the mapping stays). */
  static open(path: string): LayerImage {
    const fd = fs.openSync(path, 'r');
    try {
      const img = LayerImage.fromFd(fd, path);
      img.file = { fd, name: path };
      return img;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Map an open image file read-only (the caller keeps the fd). */
  static fromFd(fd: number, name: string): LayerImage {
    const size = fs.fstatSync(fd).size;
    if (size < PAGE)
      throw new ImageCorrupt(name, `file is ${size} bytes, shorter than the ${PAGE}-byte header page`);
    const ab = coreNative().mapShared(fd, 0, size, false);
    return new LayerImage(new Uint8Array(ab), name);
  }

  /** Close the image file (mappings made from it, here and in apps, stay valid). */
  close(): void {
    const f = this.file as { fd: number } | undefined;
    this.file = undefined;
    if (!f || f.fd < 0) return;
    const fd = f.fd;
    // Page caches made from this image still name the object: -1 tells platforms the fd
    // is gone (they copy instead of reaching a reused descriptor number).
    f.fd = -1;
    fs.closeSync(fd);
  }

  /**
   * A regular file's pages as they lie in the image, for mapping them into the app: its
   * contents (SHA-256 checked here, before any mapping) and the zero padding to the page
   * end. Undefined when the image has no open file, the file is empty, or its padding is not
   * zero (an app must see zeros after EOF; the caller then copies instead).
   */
  pagesOf(r: InodeRec): { file: ForeignFile; offset: number; bytes: Uint8Array } | undefined {
    const data = this.contents(r);
    if (!this.file || data.length === 0) return undefined;
    const end = r.offset + Math.ceil(r.size / PAGE) * PAGE;
    if (end > this.imageSize) return undefined;
    for (let i = r.offset + r.size; i < end; i++) if (this.bytes[i] !== 0) return undefined;
    return { file: this.file, offset: r.offset, bytes: this.bytes.subarray(r.offset, end) };
  }

  private u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  private u64(off: number): number {
    const lo = this.dv.getUint32(off, true);
    const hi = this.dv.getUint32(off + 4, true);
    if (hi >= 0x200000) throw new ImageCorrupt(this.name, `64-bit field at byte ${off} is out of range`);
    return hi * 0x100000000 + lo;
  }

  /** Decode (and check, once) inode record `index`. */
  inode(index: number): InodeRec {
    const cached = this.records.get(index);
    if (cached) return cached;
    const bad = (what: string): never => {
      throw new ImageCorrupt(this.name, `inode ${index}: ${what}`);
    };
    if (!(index >= 0 && index < this.inodeCount)) bad('index out of range');
    const at = this.inodeTable + index * INODE_SIZE;
    if (crc32(this.bytes, at, at + I.crc) !== this.u32(at + I.crc)) bad('record checksum mismatch');
    const rawMode = this.u32(at + I.mode);
    const mode = rawMode & 0xffff;
    const type = mode & S_IFMT;
    if (!VALID_TYPES.has(type) || rawMode >>> 17 !== 0) bad(`bad mode 0x${rawMode.toString(16)}`);
    const r: InodeRec = {
      index,
      mode,
      opaque: (rawMode & MODE_OPAQUE) !== 0,
      uid: this.u32(at + I.uid),
      gid: this.u32(at + I.gid),
      nlink: this.u32(at + I.nlink),
      size: this.u64(at + I.size),
      offset: this.u64(at + I.offset),
      aux: this.u32(at + I.aux),
      mtimeNsec: this.u32(at + I.mtimeNsec),
      mtimeSec: this.dv.getInt32(at + I.mtimeSec + 4, true) * 0x100000000 + this.u32(at + I.mtimeSec),
      xattr: this.u64(at + I.xattr),
      bodyCrc: this.u32(at + I.bodyCrc),
    };
    if (r.opaque && type !== S_IFDIR) bad('opaque flag on a non-directory');
    if (type === S_IFREG) {
      if (r.size > 0 && (r.offset % PAGE || r.offset < this.dataOffset || r.offset + r.size > this.dataEnd))
        bad('file contents lie outside the data region or are not page-aligned');
    } else if (type === S_IFDIR) {
      if (r.aux < r.size * DIRENT_SIZE || !this.inMeta(r.offset, r.aux)) bad('directory block out of range');
    } else if (type === S_IFLNK) {
      if (!this.inMeta(r.offset, r.size) || r.size === 0 || r.size > 4095) bad('symlink target out of range');
    }
    if (r.xattr !== 0 && !this.inMeta(r.xattr, 12)) bad('xattr block out of range');
    this.records.set(index, r);
    return r;
  }

  private inMeta(off: number, len: number): boolean {
    return off >= this.metaOffset && off + len <= this.metaEnd;
  }

  private checkBody(r: InodeRec, len: number): void {
    if (this.checkedBodies.has(r.index)) return;
    if (crc32(this.bytes, r.offset, r.offset + len) !== r.bodyCrc)
      throw new ImageCorrupt(
        this.name,
        `inode ${r.index}: ${(r.mode & S_IFMT) === S_IFDIR ? 'directory block' : 'symlink target'} checksum mismatch`,
      );
    if ((r.mode & S_IFMT) === S_IFDIR) this.checkDirBlock(r);
    this.checkedBodies.add(r.index);
  }

  /** Structural check of a directory block (once, after its CRC): names in range, sorted, valid. */
  private checkDirBlock(r: InodeRec): void {
    let prev: string | null = null;
    for (let i = 0; i < r.size; i++) {
      const e = this.direntAt(r, i);
      if (e.name === '' || e.name === '.' || e.name === '..' || e.name.includes('/') || e.name.includes('\0'))
        throw new ImageCorrupt(this.name, `inode ${r.index}: invalid entry name ${JSON.stringify(e.name)}`);
      if (prev !== null && !(prev < e.name))
        throw new ImageCorrupt(this.name, `inode ${r.index}: directory entries not sorted`);
      if (!e.whiteout && !(e.index > 0 && e.index < this.inodeCount))
        throw new ImageCorrupt(
          this.name,
          `inode ${r.index}: entry ${JSON.stringify(e.name)} has a bad inode index`,
        );
      prev = e.name;
    }
  }

  private direntAt(r: InodeRec, i: number, knownName?: string): RawDirent {
    const at = r.offset + i * DIRENT_SIZE;
    const nameOff = this.u32(at);
    const nameLen = this.dv.getUint16(at + 4, true);
    if (nameOff + nameLen > r.aux || nameLen > 255)
      throw new ImageCorrupt(this.name, `inode ${r.index}: entry ${i} name out of range`);
    const s = r.offset + nameOff;
    const flags = this.bytes[at + 7];
    const index = this.u32(at + 8);
    return {
      name:
        knownName ?? Buffer.from(this.bytes.buffer, this.bytes.byteOffset + s, nameLen).toString('latin1'),
      dtype: this.bytes[at + 6],
      whiteout: (flags & DIRENT_WHITEOUT) !== 0 || index === NO_INODE,
      index,
    };
  }

  /** Compare entry `i`'s name with `name` bytewise, without decoding it (<0, 0, >0). */
  private compareAt(r: InodeRec, i: number, name: string): number {
    const at = r.offset + i * DIRENT_SIZE;
    const nameOff = this.u32(at);
    const nameLen = this.bytes[at + 4] | (this.bytes[at + 5] << 8);
    if (nameOff + nameLen > r.aux)
      throw new ImageCorrupt(this.name, `inode ${r.index}: entry ${i} name out of range`);
    const s = r.offset + nameOff;
    const n = Math.min(nameLen, name.length);
    const b = this.bytes;
    for (let k = 0; k < n; k++) {
      const d = b[s + k] - name.charCodeAt(k);
      if (d !== 0) return d;
    }
    return nameLen - name.length;
  }

  /** Binary search of `name` in directory `r`. */
  lookup(r: InodeRec, name: string): RawDirent | null {
    this.checkBody(r, r.aux);
    let lo = 0,
      hi = r.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compareAt(r, mid, name);
      if (c === 0) return this.direntAt(r, mid, name);
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
  }

  /**
   * The inode an entry of directory `dir` names. A directory's inode index is always
   * greater than its parent's (the writer numbers breadth-first), so a damaged or crafted
   * image cannot make the tree loop back onto itself.
   */
  child(dir: InodeRec, e: RawDirent): InodeRec {
    const r = this.inode(e.index);
    if ((r.mode & S_IFMT) === S_IFDIR && r.index <= dir.index)
      throw new ImageCorrupt(
        this.name,
        `inode ${dir.index}: entry ${JSON.stringify(e.name)} loops back to directory ${r.index}`,
      );
    return r;
  }

  /** Every entry of directory `r`, in byte order (whiteouts included). */
  list(r: InodeRec): RawDirent[] {
    this.checkBody(r, r.aux);
    const out: RawDirent[] = [];
    for (let i = 0; i < r.size; i++) out.push(this.direntAt(r, i));
    return out;
  }

  readlink(r: InodeRec): string {
    this.checkBody(r, r.size);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + r.offset, r.size).toString('latin1');
  }

  /** Extended attributes of `r` (name → value), checked on first read. */
  xattrs(r: InodeRec): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    if (r.xattr === 0) return out;
    const bad = (what: string): never => {
      throw new ImageCorrupt(this.name, `inode ${r.index}: xattr block ${what}`);
    };
    const len = this.u32(r.xattr + 4);
    if (!this.inMeta(r.xattr, len) || len < 12) bad('out of range');
    if (crc32(this.bytes, r.xattr + 4, r.xattr + len) !== this.u32(r.xattr)) bad('checksum mismatch');
    const count = this.u32(r.xattr + 8);
    let o = r.xattr + 12;
    const end = r.xattr + len;
    for (let i = 0; i < count; i++) {
      if (o + 6 > end) bad('truncated');
      const kl = this.dv.getUint16(o, true);
      const vl = this.u32(o + 2);
      if (o + 6 + kl + vl > end) bad('truncated');
      const k = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + o + 6, kl).toString('latin1');
      out.set(k, this.bytes.slice(o + 6 + kl, o + 6 + kl + vl));
      o += 6 + kl + vl;
    }
    return out;
  }

  /** The file's bytes (a view into the image), after checking its SHA-256 once. */
  contents(r: InodeRec): Uint8Array {
    const view = this.bytes.subarray(r.offset, r.offset + r.size);
    if (!this.verified.has(r.index)) {
      const got = hash('sha256', view, 'buffer') as unknown as Buffer;
      const want = this.digestTable + r.index * DIGEST_SIZE;
      for (let i = 0; i < DIGEST_SIZE; i++)
        if (got[i] !== this.bytes[want + i])
          throw new ImageCorrupt(this.name, `inode ${r.index}: contents fail their SHA-256 check`);
      this.verified.add(r.index);
    }
    return view;
  }

  /** Whether path (by its hash) may be in this layer; false means certainly absent. */
  mayContain(h: PathHash): boolean {
    const base = probe(h, this.bloomBlocks, this.bloomK, this.probeBits);
    const page = Math.floor(base / PAGE);
    if (!this.checkedPages.has(page)) {
      const at = this.bloomOffset + page * PAGE;
      if (crc32(this.bytes, at, at + PAGE) !== this.u32(this.bloomCrcTable + page * 4))
        throw new ImageCorrupt(this.name, `Bloom filter page ${page} checksum mismatch`);
      this.checkedPages.add(page);
    }
    const b = this.bloomOffset + base;
    for (let i = 0; i < this.bloomK; i++) {
      const bit = this.probeBits[i];
      if ((this.bytes[b + (bit >>> 3)] & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  /** The root's path hash state (for childHash). */
  static readonly rootHash = ROOT_HASH;
}
