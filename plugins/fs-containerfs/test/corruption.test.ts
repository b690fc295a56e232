/**
 * Corruption fuzz: 1,000 variants of a layer image with random bytes flipped in its file
 * contents, its index (inode records, digests, directory blocks, symlink targets, xattrs)
 * or its Bloom filter. Each variant is stacked over a clean base layer and walked
 * completely through the filesystem (lookups, readdir, reads, readlink, xattrs, mmap page
 * source). Every answer must equal the undamaged image's, or be EIO with a log line naming
 * the image — or the mount must fail with a clean ImageCorrupt. Never another exception,
 * never different bytes. Then a damaged image under `runsc do`: the app gets EIO, the
 * sandbox survives, and a damaged header stops runsc with a message naming the image.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EIO, SysError } from '../../../core/abi/errno';
import type { Logger } from '../../../core/log/index';
import { runSandbox } from '../../../test/integration/harness';
import { H, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../src/format/layout';
import { ImageCorrupt, LayerImage } from '../src/format/reader';
import { writeImage, type Entry } from '../src/format/writer';
import { CfsInode, Containerfs } from '../src/fs/containerfs';

const VARIANTS = 1000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function layerEntries(): Entry[] {
  const out: Entry[] = [];
  for (let d = 0; d < 6; d++) {
    out.push({
      path: `/d${d}`,
      kind: 'dir',
      perm: 0o755,
      xattrs: d === 0 ? [['user.tag', Buffer.from('dir')]] : undefined,
    });
    for (let f = 0; f < 8; f++) {
      const size = (d * 8 + f) * 613;
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + d * 7 + f) & 0xff;
      out.push({ path: `/d${d}/f${f}`, kind: 'file', perm: 0o644, content: { data } });
    }
    out.push({ path: `/d${d}/l`, kind: 'symlink', target: `f${d}` });
  }
  out.push({ path: '/base-gone', kind: 'whiteout' });
  out.push({ path: '/shared', kind: 'dir', opaque: true });
  out.push({ path: '/shared/top', kind: 'file', content: { data: Buffer.from('top') } });
  return out;
}

const BASE: Entry[] = [
  { path: '/base-only', kind: 'file', content: { data: Buffer.from('base') } },
  { path: '/base-gone', kind: 'file', content: { data: Buffer.from('hidden') } },
  { path: '/shared/low', kind: 'file', content: { data: Buffer.from('low') } },
  { path: '/d1/from-base', kind: 'file', content: { data: Buffer.from('merged') } },
];

const quietLog = (hits: string[]): Logger =>
  ({
    level: 'error',
    error: (o: { image?: string; path?: string }) => void hits.push(`${o.image}:${o.path}`),
    warn() {},
    info() {},
    debug() {},
    trace() {},
    fatal() {},
    child() {
      return this;
    },
    isLevelEnabled: () => true,
  }) as unknown as Logger;

/** Every answer the filesystem gives, path by path; EIO answers recorded as such. */
function walk(fs0: Containerfs): Map<string, string> {
  const out = new Map<string, string>();
  const io = (p: string, f: () => string): void => {
    try {
      out.set(p, f());
    } catch (e) {
      if (e instanceof SysError && e.errno === EIO) out.set(p, 'EIO');
      else throw e;
    }
  };
  const visit = (n: CfsInode, p: string): void => {
    io(`${p} stat`, () => {
      const s = n.stat();
      return `${s.mode.toString(8)} ${s.size} ${s.nlink} ${s.ino} ${s.uid}:${s.gid} ${s.mtimeSec}`;
    });
    io(`${p} xattr`, () =>
      n
        .listxattr()
        .map((k) => `${k}=${Buffer.from(n.getxattr(k)!).toString('hex')}`)
        .join(','),
    );
    const t = n.mode & S_IFMT;
    if (t === S_IFREG)
      io(`${p} data`, () => {
        const d = n.contents();
        const page = new Uint8Array(4096);
        const f = n.open({} as never, 0, null as never);
        const got =
          (f.mappable()!.readForMap(0, page), Buffer.from(page.subarray(0, Math.min(4096, d.length))));
        f.decRef();
        return Buffer.from(d).toString('base64') + '|' + got.toString('base64');
      });
    if (t === S_IFLNK) io(`${p} link`, () => n.readlink());
    if (t === S_IFDIR) {
      let names: string[] = [];
      io(`${p} readdir`, () => {
        const es = n.readdir();
        names = es.map((e) => e.name);
        return es.map((e) => `${e.name}:${e.ino}:${e.type}`).join(',');
      });
      for (const name of [...names, 'nosuch', 'base-gone']) {
        let c: CfsInode | null = null;
        io(`${p}/${name} lookup`, () => ((c = n.lookup(name)), c ? 'found' : 'absent'));
        if (c) visit(c, `${p}/${name}`);
      }
    }
  };
  visit(fs0.root(), '');
  return out;
}

describe('containerfs corruption fuzz', function () {
  this.timeout(300000);
  let dir: string;
  let base: LayerImage;
  let good: Buffer;
  let want: Map<string, string>;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-fuzz-'));
    writeImage(BASE, path.join(dir, 'base.img'));
    writeImage(layerEntries(), path.join(dir, 'top.img'));
    base = LayerImage.open(path.join(dir, 'base.img'));
    good = fs.readFileSync(path.join(dir, 'top.img'));
    want = walk(new Containerfs([base, new LayerImage(new Uint8Array(good), 'top.img')]));
    assert.ok(want.size > 200);
    assert.ok(![...want.values()].includes('EIO'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${VARIANTS} damaged variants: the same answers, EIO with a log line, or a clean mount error`, () => {
    const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const u64 = (o: number) => Number(dv.getBigUint64(o, true));
    const regions: Record<string, [number, number]> = {
      contents: [u64(H.dataOffset), u64(H.dataOffset) + u64(H.dataSize)],
      index: [u64(H.inodeTable), u64(H.metaOffset) + u64(H.metaSize)],
      filter: [u64(H.bloomOffset), u64(H.bloomCrcTable) + dv.getUint32(H.bloomPages, true) * 4],
    };
    const rnd = mulberry32(1234);
    const tally: Record<string, { same: number; eio: number; mountError: number }> = {};
    for (let v = 0; v < VARIANTS; v++) {
      const region = Object.keys(regions)[v % 3];
      const [lo, hi] = regions[region];
      const bad = Buffer.from(good);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < flips; i++) bad[lo + Math.floor(rnd() * (hi - lo))] ^= 1 << Math.floor(rnd() * 8);
      const t = (tally[region] ??= { same: 0, eio: 0, mountError: 0 });
      const hits: string[] = [];
      let got: Map<string, string>;
      try {
        got = walk(
          new Containerfs([base, new LayerImage(new Uint8Array(bad), 'top.img')], { log: quietLog(hits) }),
        );
      } catch (e) {
        if (e instanceof ImageCorrupt) {
          t.mountError++;
          continue;
        }
        throw new Error(`variant ${v} (${region}): ${(e as Error).stack}`);
      }
      let eio = 0;
      for (const [k, w] of want) {
        const g = got.get(k);
        if (g === 'EIO') eio++;
        else if (g !== undefined) assert.equal(g, w, `variant ${v} (${region}): ${k} answered differently`);
      }
      if (eio) {
        t.eio++;
        assert.ok(
          hits.length > 0 && hits.every((h) => h.startsWith('top.img:')),
          `variant ${v}: EIO without a log line`,
        );
      } else t.same++;
    }
    console.log(`      ${JSON.stringify(tally)}`);
    for (const r of Object.keys(regions))
      assert.ok(tally[r].eio + tally[r].mountError > 0, `no damage detected in ${r}`);
  });

  it('under runsc do: a damaged file reads as EIO and the sandbox carries on; a damaged header stops runsc clearly', () => {
    const probe = new LayerImage(new Uint8Array(good), 'p');
    const d1 = probe.inode(probe.lookup(probe.inode(0), 'd1')!.index);
    const f3 = probe.inode(probe.lookup(d1, 'f3')!.index);
    const bad = Buffer.from(good);
    bad[f3.offset + 7] ^= 0x10;
    const busybox = path.join(dir, 'bb.img');
    writeImage(
      [
        {
          path: '/bin/busybox',
          kind: 'file',
          perm: 0o755,
          content: { data: fs.readFileSync('/bin/busybox') },
        },
      ],
      busybox,
    );
    fs.writeFileSync(path.join(dir, 'bad.img'), bad);
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: ['bb.img', 'bad.img'] } }),
    );
    const r = runSandbox(
      [
        '/bin/busybox',
        'sh',
        '-c',
        'cat /d1/f3 >/dev/null; echo "rc=$?"; /bin/busybox md5sum /d1/f2 | cut -c1-8',
      ],
      {
        flags: ['--config', cfg],
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /cat: can't open '\/d1\/f3': Input\/output error/);
    assert.match(r.stdout, /^rc=1\n[0-9a-f]{8}\n$/);
    assert.match(r.stderr, /corrupted layer image/);
    assert.match(r.stderr, /d1\/f3/);
    const hdr = Buffer.from(good);
    hdr[H.inodeTable] ^= 1;
    fs.writeFileSync(path.join(dir, 'bad.img'), hdr);
    const m = runSandbox(['/bin/busybox', 'true'], { flags: ['--config', cfg] });
    assert.notEqual(m.status, 0);
    assert.match(m.stderr, /bad\.img.*header checksum mismatch/);
  });
});
