/**
 * The image writer: turns a list of entries (from a directory, a tar layer or an OCI
 * layer; see src/packer) into one layer image file. Output depends only on the entries:
 * names are sorted bytewise, inode indices are given breadth-first in that order, file
 * contents are laid out in inode order, and nothing of the build (time, host, user) is
 * recorded — so the same input gives the same bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { buildBloom, pathHash, type PathHash } from './bloom';
import { crc32 } from './crc32';
import {
  BLOOM_K,
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
  dtypeOf,
} from './layout';

export type EntryKind =
  'file' | 'dir' | 'symlink' | 'hardlink' | 'chr' | 'blk' | 'fifo' | 'sock' | 'whiteout';

/** Where a regular file's bytes come from. */
export type Content = { data: Uint8Array } | { hostPath: string | Buffer; size: number };

/** One entry of a layer. Paths are latin1 byte strings, absolute ("/etc/passwd"); "/" is the root. */
export interface Entry {
  path: string;
  kind: EntryKind;
  /** Permission bits (07777). */
  perm?: number;
  uid?: number;
  gid?: number;
  mtime?: [number, number];
  content?: Content;
  /** Symlink text, or for a hard link the path of the file it links to. */
  target?: string;
  /** Device number (Linux encoding) of chr/blk. */
  rdev?: number;
  xattrs?: [string, Uint8Array][];
  /** A directory that hides lower layers' content (OCI `.wh..wh..opq`). */
  opaque?: boolean;
}

export interface Progress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface WriteStats {
  inodes: number;
  paths: number;
  dataBytes: number;
  imageBytes: number;
}

interface Node {
  name: string;
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: [number, number];
  nlink: number;
  content?: Content;
  target?: string;
  rdev: number;
  xattrs: [string, Uint8Array][];
  children?: Map<string, Node | 'whiteout'>;
  index: number;
}

const KIND_TYPE: Record<string, number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  chr: S_IFCHR,
  blk: S_IFBLK,
  fifo: S_IFIFO,
  sock: S_IFSOCK,
};

export class ImageBuildError extends Error {}

function normalize(p: string): string {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new ImageBuildError(`entry path ${JSON.stringify(p)} contains ".."`);
  return '/' + parts.join('/');
}

/** Build the tree from entries; later entries replace earlier ones with the same path. */
function buildTree(entries: readonly Entry[]): Node {
  const root: Node = {
    name: '',
    path: '/',
    mode: S_IFDIR | 0o755,
    uid: 0,
    gid: 0,
    mtime: [0, 0],
    nlink: 0,
    rdev: 0,
    xattrs: [],
    children: new Map(),
    index: -1,
  };
  const dirOf = (path: string): Node => {
    if (path === '/') return root;
    const i = path.lastIndexOf('/');
    const parent = dirOf(i === 0 ? '/' : path.slice(0, i));
    const name = path.slice(i + 1);
    let n = parent.children!.get(name);
    if (n === undefined || n === 'whiteout' || !n.children) {
      n = {
        name,
        path,
        mode: S_IFDIR | 0o755,
        uid: 0,
        gid: 0,
        mtime: [0, 0],
        nlink: 0,
        rdev: 0,
        xattrs: [],
        children: new Map(),
        index: -1,
      };
      parent.children!.set(name, n);
    }
    return n;
  };
  const byPath = (path: string): Node | undefined => {
    if (path === '/') return root;
    const i = path.lastIndexOf('/');
    const parent = byPath(i === 0 ? '/' : path.slice(0, i));
    const c = parent?.children?.get(path.slice(i + 1));
    return c === 'whiteout' ? undefined : c;
  };
  for (const e of entries) {
    const path = normalize(e.path);
    for (const c of path.split('/'))
      if (c.length > 255) throw new ImageBuildError(`entry ${path}: a name is longer than 255 bytes`);
    if (e.kind === 'symlink' && (e.target === undefined || e.target.length === 0 || e.target.length > 4095))
      throw new ImageBuildError(`symlink ${path}: target must be 1 to 4095 bytes`);
    if (e.target?.includes('\0')) throw new ImageBuildError(`entry ${path}: target contains a NUL byte`);
    if (e.kind === 'dir') {
      const d = dirOf(path);
      // Fields left out keep their value: a later `{kind: 'dir', opaque: true}` only marks it opaque.
      if (e.perm !== undefined) d.mode = S_IFDIR | (e.perm & 0o7777) | (d.mode & MODE_OPAQUE);
      if (e.uid !== undefined) d.uid = e.uid;
      if (e.gid !== undefined) d.gid = e.gid;
      if (e.mtime !== undefined) d.mtime = e.mtime;
      if (e.xattrs !== undefined) d.xattrs = e.xattrs;
      if (e.opaque) d.mode |= MODE_OPAQUE;
      continue;
    }
    if (path === '/') throw new ImageBuildError(`the root "/" must be a directory, not a ${e.kind}`);
    const i = path.lastIndexOf('/');
    const parent = dirOf(i === 0 ? '/' : path.slice(0, i));
    const name = path.slice(i + 1);
    if (e.kind === 'whiteout') {
      parent.children!.set(name, 'whiteout');
      continue;
    }
    if (e.kind === 'hardlink') {
      const target = byPath(normalize(e.target ?? ''));
      if (!target || target.children)
        throw new ImageBuildError(
          `hard link ${path}: target ${e.target} is not a non-directory entry of the layer`,
        );
      parent.children!.set(name, target);
      continue;
    }
    const type = KIND_TYPE[e.kind];
    if (type === undefined) throw new ImageBuildError(`entry ${path}: unknown kind ${e.kind}`);
    if (e.kind === 'symlink' && typeof e.target !== 'string')
      throw new ImageBuildError(`symlink ${path} has no target`);
    parent.children!.set(name, {
      name,
      path,
      mode: type | ((e.perm ?? 0o644) & 0o7777),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? [0, 0],
      nlink: 0,
      content: e.kind === 'file' ? (e.content ?? { data: new Uint8Array(0) }) : undefined,
      target: e.kind === 'symlink' ? e.target : undefined,
      rdev: e.kind === 'chr' || e.kind === 'blk' ? (e.rdev ?? 0) : 0,
      xattrs: e.xattrs ?? [],
      index: -1,
    });
  }
  return root;
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function contentSize(c: Content): number {
  return 'data' in c ? c.data.length : c.size;
}

/**
 * Write an image of `entries` to `outPath` (via a temporary file renamed into place).
 * `onProgress` is called as file contents are written.
 */
export function writeImage(
  entries: readonly Entry[],
  outPath: string,
  onProgress?: (p: Progress) => void,
): WriteStats {
  const root = buildTree(entries);
  // Breadth-first, sorted: inode indices, and the path list for the Bloom filter.
  const order: Node[] = [];
  const hashes: PathHash[] = [];
  const queue: Node[] = [root];
  root.index = 0;
  order.push(root);
  while (queue.length) {
    const d = queue.shift()!;
    const names = [...d.children!.keys()].sort(byteOrder);
    for (const name of names) {
      const c = d.children!.get(name)!;
      const path = d.path === '/' ? '/' + name : d.path + '/' + name;
      hashes.push(pathHash(path));
      if (c === 'whiteout') continue;
      c.nlink++;
      if (c.index < 0) {
        c.index = order.length;
        order.push(c);
        if (c.children) queue.push(c);
      }
    }
  }
  for (const n of order) {
    if (n.children) {
      let sub = 0;
      for (const c of n.children.values()) if (c !== 'whiteout' && c.children) sub++;
      n.nlink = 2 + sub;
    }
  }
  if (order.length > 0xfffffffe) throw new ImageBuildError('too many inodes for one layer image');

  const tmp = `${outPath}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    let pos = PAGE; // the first page holds the header
    const write = (b: Uint8Array): void => {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    const pad = (align: number): void => {
      const r = pos % align;
      if (r) write(new Uint8Array(align - r));
    };

    // --- data region: regular files in inode order, each page-aligned
    const dataOffset = pos;
    const digests = new Uint8Array(order.length * DIGEST_SIZE);
    const fileOffset = new Float64Array(order.length);
    const totalFiles = order.filter((n) => n.content).length;
    const totalBytes = order.reduce((s, n) => s + (n.content ? contentSize(n.content) : 0), 0);
    const prog: Progress = { files: 0, bytes: 0, totalFiles, totalBytes };
    const chunk = Buffer.alloc(1 << 20);
    for (const n of order) {
      if (!n.content) continue;
      const h = createHash('sha256');
      const size = contentSize(n.content);
      fileOffset[n.index] = size ? pos : 0;
      if ('data' in n.content) {
        h.update(n.content.data);
        write(n.content.data);
      } else {
        const src = fs.openSync(n.content.hostPath, 'r');
        try {
          let off = 0;
          for (;;) {
            const got = fs.readSync(src, chunk, 0, chunk.length, off);
            if (got === 0) break;
            if (off + got > size) break;
            h.update(chunk.subarray(0, got));
            write(chunk.subarray(0, got));
            off += got;
            prog.bytes += got;
            onProgress?.(prog);
          }
          if (off !== size)
            throw new ImageBuildError(
              `${n.content.hostPath}: size changed while packing (expected ${size} bytes, read ${off})`,
            );
        } finally {
          fs.closeSync(src);
        }
      }
      digests.set(h.digest(), n.index * DIGEST_SIZE);
      pad(PAGE);
      prog.files++;
      if ('data' in n.content) prog.bytes += size;
      onProgress?.(prog);
    }
    const dataSize = pos - dataOffset;

    // --- meta region: directory blocks, symlink targets, xattr blocks (built in memory)
    const metaParts: Uint8Array[] = [];
    let metaLen = 0;
    const rel = new Float64Array(order.length); // meta-relative offset of each node's body
    const bodyLen = new Uint32Array(order.length);
    const bodyCrc = new Uint32Array(order.length);
    const xattrRel = new Float64Array(order.length).fill(-1);
    const addMeta = (b: Uint8Array): number => {
      const at = metaLen;
      metaParts.push(b);
      metaLen += b.length;
      const r = metaLen % 8;
      if (r) {
        metaParts.push(new Uint8Array(8 - r));
        metaLen += 8 - r;
      }
      return at;
    };
    for (const n of order) {
      if (n.children) {
        const names = [...n.children.keys()].sort(byteOrder);
        const nameBytes = names.map((s) => Buffer.from(s, 'latin1'));
        const block = Buffer.alloc(names.length * DIRENT_SIZE + nameBytes.reduce((s, b) => s + b.length, 0));
        let nameOff = names.length * DIRENT_SIZE;
        names.forEach((name, i) => {
          const c = n.children!.get(name)!;
          const at = i * DIRENT_SIZE;
          block.writeUInt32LE(nameOff, at);
          block.writeUInt16LE(nameBytes[i].length, at + 4);
          block[at + 6] = c === 'whiteout' ? 0 : dtypeOf(c.mode);
          block[at + 7] = c === 'whiteout' ? DIRENT_WHITEOUT : 0;
          block.writeUInt32LE(c === 'whiteout' ? NO_INODE : c.index, at + 8);
          nameBytes[i].copy(block, nameOff);
          nameOff += nameBytes[i].length;
        });
        rel[n.index] = addMeta(block);
        bodyLen[n.index] = block.length;
        bodyCrc[n.index] = crc32(block);
      } else if (n.target !== undefined) {
        const t = Buffer.from(n.target, 'latin1');
        rel[n.index] = addMeta(t);
        bodyLen[n.index] = t.length;
        bodyCrc[n.index] = crc32(t);
      }
      if (n.xattrs.length) {
        const xs = [...n.xattrs].sort((x, y) => byteOrder(x[0], y[0]));
        const len = 12 + xs.reduce((s, [k, v]) => s + 6 + Buffer.byteLength(k, 'latin1') + v.length, 0);
        const b = Buffer.alloc(len);
        b.writeUInt32LE(len, 4);
        b.writeUInt32LE(xs.length, 8);
        let o = 12;
        for (const [k, v] of xs) {
          const kb = Buffer.from(k, 'latin1');
          b.writeUInt16LE(kb.length, o);
          b.writeUInt32LE(v.length, o + 2);
          kb.copy(b, o + 6);
          b.set(v, o + 6 + kb.length);
          o += 6 + kb.length + v.length;
        }
        b.writeUInt32LE(crc32(b, 4), 0);
        xattrRel[n.index] = addMeta(b);
      }
    }

    // --- inode table, digest table, meta region
    pad(8);
    const inodeTable = pos;
    const digestTable = inodeTable + order.length * INODE_SIZE;
    const metaOffset = digestTable + order.length * DIGEST_SIZE;
    const table = Buffer.alloc(order.length * INODE_SIZE);
    for (const n of order) {
      const at = n.index * INODE_SIZE;
      table.writeUInt32LE(n.mode >>> 0, at + I.mode);
      table.writeUInt32LE(n.uid >>> 0, at + I.uid);
      table.writeUInt32LE(n.gid >>> 0, at + I.gid);
      table.writeUInt32LE(n.nlink, at + I.nlink);
      const type = n.mode & S_IFMT;
      let size = 0,
        offset = 0,
        aux = 0;
      if (type === S_IFREG) {
        size = contentSize(n.content!);
        offset = fileOffset[n.index];
      } else if (type === S_IFDIR) {
        size = n.children!.size;
        offset = metaOffset + rel[n.index];
        aux = bodyLen[n.index];
      } else if (type === S_IFLNK) {
        size = bodyLen[n.index];
        offset = metaOffset + rel[n.index];
      } else if (type === S_IFCHR || type === S_IFBLK) aux = n.rdev >>> 0;
      table.writeBigUInt64LE(BigInt(size), at + I.size);
      table.writeBigUInt64LE(BigInt(offset), at + I.offset);
      table.writeUInt32LE(aux, at + I.aux);
      table.writeUInt32LE(n.mtime[1] >>> 0, at + I.mtimeNsec);
      table.writeBigInt64LE(BigInt(Math.trunc(n.mtime[0])), at + I.mtimeSec);
      const xr = xattrRel[n.index];
      table.writeBigUInt64LE(BigInt(xr >= 0 ? metaOffset + xr : 0), at + I.xattr);
      table.writeUInt32LE(bodyCrc[n.index], at + I.bodyCrc);
      table.writeUInt32LE(crc32(table, at, at + 60), at + I.crc);
    }
    write(table);
    write(digests);
    for (const p of metaParts) write(p);
    const metaSize = pos - metaOffset;

    // --- Bloom filter pages + one CRC per page
    pad(PAGE);
    const bloomOffset = pos;
    const bloom = buildBloom(hashes, BLOOM_K);
    write(bloom);
    const pages = bloom.length / PAGE;
    const crcs = Buffer.alloc(pages * 4);
    for (let p = 0; p < pages; p++) crcs.writeUInt32LE(crc32(bloom, p * PAGE, (p + 1) * PAGE), p * 4);
    const bloomCrcTable = pos;
    write(crcs);
    pad(8);
    const imageSize = pos;

    // --- header
    const h = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(h, H.magic);
    h.writeUInt32LE(VERSION, H.version);
    h.writeUInt32LE(HEADER_SIZE, H.headerSize);
    h.writeBigUInt64LE(BigInt(imageSize), H.imageSize);
    h.writeUInt32LE(order.length, H.inodeCount);
    h.writeUInt32LE(BLOOM_K, H.bloomK);
    h.writeBigUInt64LE(BigInt(inodeTable), H.inodeTable);
    h.writeBigUInt64LE(BigInt(digestTable), H.digestTable);
    h.writeBigUInt64LE(BigInt(metaOffset), H.metaOffset);
    h.writeBigUInt64LE(BigInt(metaSize), H.metaSize);
    h.writeBigUInt64LE(BigInt(bloomOffset), H.bloomOffset);
    h.writeUInt32LE(pages, H.bloomPages);
    h.writeUInt32LE(hashes.length, H.pathCount);
    h.writeBigUInt64LE(BigInt(bloomCrcTable), H.bloomCrcTable);
    h.writeBigUInt64LE(BigInt(dataOffset), H.dataOffset);
    h.writeBigUInt64LE(BigInt(dataSize), H.dataSize);
    h.writeUInt32LE(crc32(h, 0, H.crc), H.crc);
    fs.writeSync(fd, h, 0, h.length, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, outPath);
    return { inodes: order.length, paths: hashes.length, dataBytes: totalBytes, imageBytes: imageSize };
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
