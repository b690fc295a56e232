/**
 * The per-layer Bloom filter of paths: a *blocked* Bloom filter (one 64-byte block per key,
 * BLOOM_K bits set inside it), so a query touches one cache line and at most one 4 KiB
 * page of the image. Keys are absolute paths inside the layer ("/usr/bin/ls"), hashed
 * incrementally so a lookup extends its parent directory's hash state by "/" + name
 * instead of rehashing the whole path.
 *
 * With BLOOM_BITS_PER_KEY = 16 and BLOOM_K = 8 the false-positive rate is about 0.1% in
 * theory for 512-bit blocks; test/format.test.ts measures it (and docs state the bound: < 1%).
 */
import { BLOOM_BLOCK, BLOOM_BITS_PER_KEY, PAGE } from './layout';

/** Incremental hash state of a path: two independent 32-bit multiplicative hashes. */
export interface PathHash {
  a: number;
  b: number;
  /** Layer-independent parts of the probe, computed once per path (see probe). */
  fa?: number;
  g1?: number;
  g2?: number;
}

export const ROOT_HASH: PathHash = { a: 0x811c9dc5 | 0, b: 0x2f9be6cc | 0 };

/** The state of `path + s` given the state of `path` (s: latin1 byte string). */
export function extendHash(h: PathHash, s: string): PathHash {
  let a = h.a,
    b = h.b;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return { a, b };
}

/** State of the child `name` of a directory whose state is `dir` ("/" separates, the root is ""). */
export function childHash(dir: PathHash, name: string): PathHash {
  return extendHash(dir, '/' + name);
}

/** Hash of a whole path ("/a/b"); the root directory is "/" and hashes as ROOT_HASH extended by "/". */
export function pathHash(path: string): PathHash {
  return extendHash(ROOT_HASH, path);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Byte offset of the key's block inside the filter, and its K bit positions (0..511). */
export function probe(h: PathHash, blocks: number, k: number, bits: Int32Array): number {
  if (h.fa === undefined) {
    // Only the block choice depends on the layer's filter size: a lookup that probes many
    // layers hashes once.
    h.fa = fmix(h.a);
    h.g1 = fmix(h.b ^ 0x27d4eb2f);
    h.g2 = fmix(h.a ^ h.b ^ 0x9e3779b9) | 1;
  }
  const block = h.fa % blocks;
  const g1 = h.g1!,
    g2 = h.g2!;
  for (let i = 0; i < k; i++) bits[i] = (g1 + Math.imul(i, g2)) & 511;
  return block * BLOOM_BLOCK;
}

/** Pages of filter for `keys` paths. */
export function bloomPages(keys: number): number {
  return Math.max(1, Math.ceil((keys * BLOOM_BITS_PER_KEY) / (PAGE * 8)));
}

/** Build the filter bytes for the given path hashes. */
export function buildBloom(hashes: PathHash[], k: number): Uint8Array {
  const pages = bloomPages(hashes.length);
  const out = new Uint8Array(pages * PAGE);
  const blocks = (pages * PAGE) / BLOOM_BLOCK;
  const bits = new Int32Array(k);
  for (const h of hashes) {
    const base = probe(h, blocks, k, bits);
    for (let i = 0; i < k; i++) out[base + (bits[i] >>> 3)] |= 1 << (bits[i] & 7);
  }
  return out;
}
