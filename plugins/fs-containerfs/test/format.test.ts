/**
 * The layer image format: a tree with every entry type survives a write/read round trip;
 * identical input gives identical bytes; every byte of the header, and bytes throughout the
 * index, digests, filter and contents, when flipped give a clean ImageCorrupt error or the
 * original answers — never different answers; the Bloom filter has no false negatives and a
 * false-positive rate under 1%.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBloom, childHash, pathHash, ROOT_HASH, type PathHash } from '../src/format/bloom';
import { BLOOM_K, H, PAGE, S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } from '../src/format/layout';
import { ImageCorrupt, LayerImage, type InodeRec } from '../src/format/reader';
import { crc32 } from '../src/format/crc32';
import { writeImage, type Entry } from '../src/format/writer';
import { BLOOM_BLOCK } from '../src/format/layout';
import { probe } from '../src/format/bloom';

const big = Buffer.alloc(3 * PAGE + 123);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;

export const SAMPLE: Entry[] = [
  { path: '/', kind: 'dir', perm: 0o755, mtime: [1000, 5] },
  { path: '/etc', kind: 'dir', perm: 0o750, uid: 1, gid: 2, mtime: [1234567890, 123] },
  {
    path: '/etc/passwd',
    kind: 'file',
    perm: 0o644,
    content: { data: Buffer.from('root:x:0:0::/root:/bin/sh\n') },
  },
  { path: '/etc/empty', kind: 'file', perm: 0o600, content: { data: new Uint8Array(0) } },
  { path: '/bin/big', kind: 'file', perm: 0o4755, uid: 7, gid: 8, content: { data: big }, mtime: [-5, 0] },
  { path: '/bin/sh', kind: 'symlink', target: 'big' },
  { path: '/bin/hard', kind: 'hardlink', target: '/bin/big' },
  { path: '/dev/null', kind: 'chr', perm: 0o666, rdev: (1 << 8) | 3 },
  { path: '/dev/sda', kind: 'blk', perm: 0o660, rdev: (8 << 8) | 0 },
  { path: '/run/fifo', kind: 'fifo', perm: 0o640 },
  { path: '/run/sock', kind: 'sock', perm: 0o777 },
  {
    path: '/etc/attr',
    kind: 'file',
    content: { data: Buffer.from('x') },
    xattrs: [
      ['user.b', Buffer.from('2')],
      ['user.a', Buffer.from([0, 1, 255])],
    ],
  },
  { path: '/gone', kind: 'whiteout' },
  { path: '/opq', kind: 'dir', opaque: true },
  { path: '/opq/\xe9t\xe9', kind: 'file', content: { data: Buffer.from('latin1 name') } },
];

/** A canonical description of everything the reader answers about an image. */
export function describeImage(img: LayerImage): string {
  const out: string[] = [];
  const walk = (r: InodeRec, p: string, h: PathHash): void => {
    out.push(
      `${p} mode=${r.mode.toString(8)} o=${r.opaque} ${r.uid}:${r.gid} n=${r.nlink} t=${r.mtimeSec}.${r.mtimeNsec} i=${r.index}`,
    );
    const xs = img.xattrs(r);
    for (const [k, v] of xs) out.push(`  xattr ${k}=${Buffer.from(v).toString('hex')}`);
    const type = r.mode & S_IFMT;
    if (type === S_IFREG) out.push(`  data ${Buffer.from(img.contents(r)).toString('base64')}`);
    else if (type === S_IFLNK) out.push(`  -> ${img.readlink(r)}`);
    else if (type === S_IFDIR) {
      for (const e of img.list(r)) {
        const ch = childHash(h, e.name);
        if (!img.mayContain(ch)) out.push(`  FALSE NEGATIVE ${e.name}`);
        const found = img.lookup(r, e.name);
        out.push(`  entry ${e.name} dt=${e.dtype} wh=${e.whiteout} found=${found?.index}`);
        if (!e.whiteout) walk(img.child(r, e), `${p === '/' ? '' : p}/${e.name}`, ch);
      }
      out.push(`  nosuch ${img.lookup(r, 'zz-nosuch') === null}`);
    } else out.push(`  rdev ${r.aux}`);
  };
  walk(img.inode(0), '/', ROOT_HASH);
  return out.join('\n');
}

describe('containerfs format', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-format-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips a tree with every entry type', () => {
    const out = path.join(dir, 'a.img');
    const stats = writeImage(SAMPLE, out);
    const img = LayerImage.open(out);
    assert.equal(stats.imageBytes, fs.statSync(out).size);
    const root = img.inode(0);
    const get = (p: string): InodeRec => {
      let r = root;
      for (const c of p.split('/').filter(Boolean)) {
        const e = img.lookup(r, c);
        assert.ok(e && !e.whiteout, `lookup ${c} of ${p}`);
        r = img.inode(e.index);
      }
      return r;
    };
    assert.equal(root.mode, S_IFDIR | 0o755);
    assert.deepEqual([root.mtimeSec, root.mtimeNsec], [1000, 5]);
    const etc = get('/etc');
    assert.deepEqual(
      [etc.mode & 0o7777, etc.uid, etc.gid, etc.mtimeSec, etc.mtimeNsec],
      [0o750, 1, 2, 1234567890, 123],
    );
    assert.equal(Buffer.from(img.contents(get('/etc/passwd'))).toString(), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(img.contents(get('/etc/empty')).length, 0);
    const b = get('/bin/big');
    assert.equal(b.offset % PAGE, 0, 'contents are page-aligned');
    assert.deepEqual(Buffer.from(img.contents(b)), big);
    assert.deepEqual([b.mode, b.uid, b.gid, b.nlink, b.mtimeSec], [S_IFREG | 0o4755, 7, 8, 2, -5]);
    assert.equal(get('/bin/hard').index, b.index, 'hard link shares the inode');
    assert.equal(img.readlink(get('/bin/sh')), 'big');
    assert.equal(get('/dev/null').mode, 0o020666);
    assert.equal(get('/dev/null').aux, 0x103);
    assert.equal(get('/dev/sda').mode, 0o060660);
    assert.equal(get('/run/fifo').mode, 0o010640);
    assert.equal(get('/run/sock').mode, 0o140777);
    const xs = img.xattrs(get('/etc/attr'));
    assert.deepEqual([...xs.keys()], ['user.a', 'user.b']);
    assert.deepEqual([...xs.get('user.a')!], [0, 1, 255]);
    const gone = img.lookup(root, 'gone');
    assert.ok(gone?.whiteout);
    assert.ok(get('/opq').opaque);
    assert.equal(get('/').opaque, false);
    assert.equal(Buffer.from(img.contents(get('/opq/\xe9t\xe9'))).toString(), 'latin1 name');
    assert.equal(get('/bin').nlink, 2);
    assert.equal(root.nlink, 2 + 5);
    assert.deepEqual(
      img.list(root).map((e) => e.name),
      ['bin', 'dev', 'etc', 'gone', 'opq', 'run'],
    );
    assert.ok(!describeImage(img).includes('FALSE NEGATIVE'));
  });

  it('writes identical bytes for identical input, whatever the entry order', () => {
    const a = path.join(dir, 'd1.img'),
      b = path.join(dir, 'd2.img');
    writeImage(SAMPLE, a);
    const shuffled = [SAMPLE[0], ...SAMPLE.slice(1, 4).reverse(), ...SAMPLE.slice(4)];
    writeImage(shuffled, b);
    assert.deepEqual(fs.readFileSync(a), fs.readFileSync(b));
  });

  it('refuses images with any header byte flipped, and truncated or extended files', () => {
    const out = path.join(dir, 'h.img');
    writeImage(SAMPLE, out);
    const good = fs.readFileSync(out);
    assert.doesNotThrow(() => new LayerImage(new Uint8Array(good), 'good'));
    for (let i = 0; i < 128; i++) {
      for (const mask of [0x01, 0x80]) {
        const c = Buffer.from(good);
        c[i] ^= mask;
        assert.throws(() => new LayerImage(new Uint8Array(c), 'bad'), ImageCorrupt, `header byte ${i}`);
      }
    }
    assert.throws(() => new LayerImage(new Uint8Array(good.subarray(0, good.length - 8)), 't'), /truncated/);
    assert.throws(
      () => new LayerImage(new Uint8Array(Buffer.concat([good, Buffer.alloc(8)])), 't'),
      /truncated/,
    );
    assert.throws(() => new LayerImage(new Uint8Array(100), 't'), /shorter/);
    const v2 = Buffer.from(good);
    v2.writeUInt32LE(2, H.version);
    assert.throws(() => new LayerImage(new Uint8Array(v2), 'v2'), /checksum/);
  });

  it('never answers differently after a byte flip past the header: error or the same answers', () => {
    const out = path.join(dir, 'f.img');
    writeImage(SAMPLE, out);
    const good = fs.readFileSync(out);
    const want = describeImage(new LayerImage(new Uint8Array(good), 'good'));
    let errors = 0,
      same = 0;
    for (let i = PAGE; i < good.length; i++) {
      const c = Buffer.from(good);
      c[i] ^= 1 << (i % 8);
      let got: string;
      try {
        got = describeImage(new LayerImage(new Uint8Array(c), 'bad'));
      } catch (e) {
        if (!(e instanceof ImageCorrupt)) throw new Error(`byte ${i}: ${(e as Error).stack}`);
        errors++;
        continue;
      }
      assert.equal(got, want, `flipped byte ${i} changed an answer`);
      same++;
    }
    assert.ok(errors > 1000, `${errors} flips detected`);
    void same;
  });

  it('refuses a directory entry that loops back to an ancestor, even with valid checksums', () => {
    const out = path.join(dir, 'loop.img');
    writeImage([{ path: '/a/b/c', kind: 'file' }], out);
    const b = fs.readFileSync(out);
    const img = new LayerImage(new Uint8Array(b), 'loop');
    const a = img.inode(img.lookup(img.inode(0), 'a')!.index);
    // Point /a's entry "b" at /a itself and re-seal the block and the record.
    b.writeUInt32LE(a.index, a.offset + 8);
    const table = Number(b.readBigUInt64LE(H.inodeTable));
    const at = table + a.index * 64;
    b.writeUInt32LE(crc32(b, a.offset, a.offset + a.aux), at + 56);
    b.writeUInt32LE(crc32(b, at, at + 60), at + 60);
    const bad = new LayerImage(new Uint8Array(b), 'loop');
    const ba = bad.inode(bad.lookup(bad.inode(0), 'a')!.index);
    const e = bad.lookup(ba, 'b')!;
    assert.equal(e.index, a.index);
    assert.throws(() => bad.child(ba, e), /loops back to directory/);
  });

  it('refuses entries the format cannot hold, naming them', () => {
    const out = path.join(dir, 'x.img');
    assert.throws(
      () => writeImage([{ path: '/' + 'n'.repeat(256), kind: 'file' }], out),
      /longer than 255 bytes/,
    );
    assert.throws(
      () => writeImage([{ path: '/l', kind: 'symlink', target: 't'.repeat(4096) }], out),
      /symlink \/l: target must be 1 to 4095 bytes/,
    );
    assert.throws(() => writeImage([{ path: '/a/../b', kind: 'file' }], out), /contains ".."/);
    assert.throws(
      () => writeImage([{ path: '/h', kind: 'hardlink', target: '/nope' }], out),
      /hard link \/h: target \/nope/,
    );
    assert.equal(fs.existsSync(out), false);
  });

  it('has no false negatives and under 1% false positives in the Bloom filter', () => {
    const keys: PathHash[] = [];
    for (let i = 0; i < 20000; i++) keys.push(pathHash(`/usr/share/doc/pkg${i % 200}/file${i}`));
    const bloom = buildBloom(keys, BLOOM_K);
    const blocks = bloom.length / BLOOM_BLOCK;
    const bits = new Int32Array(BLOOM_K);
    const has = (h: PathHash): boolean => {
      const base = probe(h, blocks, BLOOM_K, bits);
      for (let i = 0; i < BLOOM_K; i++)
        if (!(bloom[base + (bits[i] >>> 3)] & (1 << (bits[i] & 7)))) return false;
      return true;
    };
    for (const k of keys) assert.ok(has(k));
    let fp = 0;
    const N = 200000;
    for (let i = 0; i < N; i++) if (has(pathHash(`/usr/share/doc/pkg${i % 200}/other${i}`))) fp++;
    const rate = fp / N;
    assert.ok(rate < 0.01, `false-positive rate ${rate}`);
    console.log(`      Bloom false-positive rate: ${(rate * 100).toFixed(3)}% (16 bits/key, k=8)`);
  });
});
