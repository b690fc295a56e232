/**
 * Tar layers (ustar, GNU long names, pax extended headers; optionally gzip- or zstd-compressed)
 * into image entries. OCI whiteouts are honoured: `.wh.NAME` hides NAME of lower layers,
 * `.wh..wh..opq` makes its directory opaque. pax `SCHILY.xattr.*` records become xattrs.
 * The whole (decompressed) layer is held in memory while packing.
 */
import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import type { Entry } from '../format/writer';

export class TarError extends Error {}

const WH = '.wh.';
const OPQ = '.wh..wh..opq';

/** Linux's new_encode_dev for device numbers below 2^32. */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('latin1', off, end < 0 || end > off + len ? off + len : end);
}

function num(b: Buffer, off: number, len: number, what: string, at: number): number {
  if (b[off] & 0x80) {
    // base-256: big-endian two's complement, first byte's top bit is the marker
    let v = b[off] & 0x3f;
    if (b[off] & 0x40) throw new TarError(`negative ${what} in the header at byte ${at}`);
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    return v;
  }
  const s = str(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarError(`bad ${what} field ${JSON.stringify(s)} in the header at byte ${at}`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let o = 0;
  while (o < data.length) {
    const sp = data.indexOf(0x20, o);
    if (sp < 0) break;
    const len = Number(data.toString('latin1', o, sp));
    if (!Number.isInteger(len) || len <= 0 || o + len > data.length)
      throw new TarError(`bad pax record in the extended header at byte ${at}`);
    const rec = data.subarray(sp + 1, o + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) {
      const key = rec.toString('utf8', 0, eq);
      // path-like values stay as bytes (latin1 byte strings); others are text
      out.set(key, rec.toString('latin1', eq + 1));
    }
    o += len;
  }
  return out;
}

/** Whether `buf` starts with the gzip magic. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

export interface TarOptions {
  /** Honour OCI whiteouts (`.wh.*`); default true. */
  whiteouts?: boolean;
}

/** Whether `buf` starts with the zstd frame magic (28 b5 2f fd). */
export function isZstd(buf: Uint8Array): boolean {
  return buf.length > 4 && buf[0] === 0x28 && buf[1] === 0xb5 && buf[2] === 0x2f && buf[3] === 0xfd;
}

/** The tar bytes of a layer: gunzipped or zstd-decompressed when it starts with their magic. */
export function decompressLayer(input: Buffer): Buffer {
  if (isGzip(input)) return zlib.gunzipSync(input);
  if (isZstd(input)) {
    try {
      const out = zstdDecompress(input);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw new Error(`zstd: cannot decompress the layer: ${(e as Error).message}`);
    }
  }
  return input;
}

/** Parse a tar (.tar, .tar.gz or .tar.zst) layer into entries, in archive order. */
export function tarEntries(input: Buffer, opts: TarOptions = {}): Entry[] {
  const buf = decompressLayer(input);
  const whiteouts = opts.whiteouts ?? true;
  const out: Entry[] = [];
  const opaque: string[] = [];
  let off = 0;
  let longName: string | null = null;
  let longLink: string | null = null;
  let pax: Map<string, string> | null = null;
  const global = new Map<string, string>();
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const stored = num(h, 148, 8, 'checksum', off);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== stored)
      throw new TarError(`header checksum mismatch at byte ${off} (not a tar file, or corrupted)`);
    const type = String.fromCharCode(h[156] || 0x30);
    const size = num(h, 124, 12, 'size', off);
    const dataStart = off + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length)
      throw new TarError(`entry at byte ${off} runs past the end of the archive (truncated)`);
    const data = buf.subarray(dataStart, dataEnd);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      longLink = str(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = parsePax(data, off);
      continue;
    }
    if (type === 'g') {
      for (const [k, v] of parsePax(data, off)) global.set(k, v);
      continue;
    }
    const rec = new Map([...global, ...(pax ?? [])]);
    const ustar = h.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar ? str(h, 345, 155) : '';
    let name = longName ?? rec.get('path') ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const link = longLink ?? rec.get('linkpath') ?? str(h, 157, 100);
    longName = longLink = pax = null;
    name =
      '/' +
      name
        .split('/')
        .filter((c) => c !== '' && c !== '.')
        .join('/');
    if (name.split('/').includes('..'))
      throw new TarError(`entry ${JSON.stringify(name)} has a ".." component`);
    const mtimeRaw = rec.get('mtime');
    let mtime: [number, number] = [num(h, 136, 12, 'mtime', off), 0];
    if (mtimeRaw !== undefined && /^-?\d+(\.\d+)?$/.test(mtimeRaw)) {
      const [s, f = ''] = mtimeRaw.split('.');
      mtime = [Number(s), Number((f + '000000000').slice(0, 9))];
    }
    const e: Entry = {
      path: name,
      kind: 'file',
      perm: num(h, 100, 8, 'mode', off) & 0o7777,
      uid: rec.has('uid') ? Number(rec.get('uid')) : num(h, 108, 8, 'uid', off),
      gid: rec.has('gid') ? Number(rec.get('gid')) : num(h, 116, 8, 'gid', off),
      mtime,
    };
    const xattrs: [string, Uint8Array][] = [];
    for (const [k, v] of rec) {
      if (k.startsWith('SCHILY.xattr.')) xattrs.push([k.slice(13), Buffer.from(v, 'latin1')]);
      else if (k.startsWith('LIBARCHIVE.xattr.')) xattrs.push([k.slice(17), Buffer.from(v, 'base64')]);
    }
    if (xattrs.length) e.xattrs = xattrs;
    const base = name.slice(name.lastIndexOf('/') + 1);
    const dir = name.slice(0, name.lastIndexOf('/')) || '/';
    if (whiteouts && base === OPQ) {
      opaque.push(dir);
      continue;
    }
    if (whiteouts && base.startsWith(WH)) {
      out.push({ path: (dir === '/' ? '' : dir) + '/' + base.slice(WH.length), kind: 'whiteout' });
      continue;
    }
    switch (type) {
      case '0':
      case '7':
        e.kind = 'file';
        e.content = { data };
        if (rec.has('size') && Number(rec.get('size')) !== size)
          throw new TarError(`${name}: pax size disagrees with the header`);
        break;
      case '1':
        e.kind = 'hardlink';
        e.target = '/' + link.replace(/^\/+/, '');
        break;
      case '2':
        e.kind = 'symlink';
        e.target = link;
        break;
      case '3':
      case '4':
        e.kind = type === '3' ? 'chr' : 'blk';
        e.rdev = makedev(num(h, 329, 8, 'devmajor', off), num(h, 337, 8, 'devminor', off));
        break;
      case '5':
        e.kind = 'dir';
        break;
      case '6':
        e.kind = 'fifo';
        break;
      default:
        throw new TarError(`${name}: unsupported tar entry type ${JSON.stringify(type)}`);
    }
    out.push(e);
  }
  for (const d of opaque) out.push({ path: d, kind: 'dir', opaque: true });
  return out;
}
