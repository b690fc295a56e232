/**
 * The layer image format, version 1 (byte-level spec: docs/containerfs.md). Constants
 * and record offsets shared by the writer and the reader. All integers are little-endian.
 */

/** "TSVLAYR" + 0x0a: the first 8 bytes of every image. */
export const MAGIC = Buffer.from('TSVLAYR\n', 'latin1');
export const VERSION = 1;
export const PAGE = 4096;
export const HEADER_SIZE = 128;
export const INODE_SIZE = 64;
export const DIGEST_SIZE = 32;
export const DIRENT_SIZE = 12;
export const BLOOM_BLOCK = 64; // bytes (512 bits): one block per key
export const BLOOM_BITS_PER_KEY = 16;
export const BLOOM_K = 8;
/** Inode index of the layer's root directory. */
export const ROOT_INDEX = 0;
/** Inode index stored in a whiteout's directory entry. */
export const NO_INODE = 0xffffffff;
/** Directory entry flag: this name is a whiteout (hides the name in lower layers). */
export const DIRENT_WHITEOUT = 1;
/** Inode mode bit above st_mode: a directory that hides every lower layer's content. */
export const MODE_OPAQUE = 0x10000;

/** Header field offsets. */
export const H = {
  magic: 0,
  version: 8,
  headerSize: 12,
  imageSize: 16,
  inodeCount: 24,
  bloomK: 28,
  inodeTable: 32,
  digestTable: 40,
  metaOffset: 48,
  metaSize: 56,
  bloomOffset: 64,
  bloomPages: 72,
  pathCount: 76,
  bloomCrcTable: 80,
  dataOffset: 88,
  dataSize: 96,
  /** bytes 104..123 reserved (zero) */
  crc: 124,
} as const;

/** Inode record field offsets. */
export const I = {
  mode: 0,
  uid: 4,
  gid: 8,
  nlink: 12,
  size: 16,
  offset: 24,
  aux: 32,
  mtimeNsec: 36,
  mtimeSec: 40,
  xattr: 48,
  bodyCrc: 56,
  crc: 60,
} as const;

export const S_IFMT = 0o170000,
  S_IFSOCK = 0o140000,
  S_IFLNK = 0o120000,
  S_IFREG = 0o100000,
  S_IFBLK = 0o060000,
  S_IFDIR = 0o040000,
  S_IFCHR = 0o020000,
  S_IFIFO = 0o010000;

/** d_type of a file type (st_mode & S_IFMT). */
export function dtypeOf(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}
