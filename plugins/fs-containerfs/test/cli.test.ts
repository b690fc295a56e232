/**
 * `runsc image build` and `runsc image inspect` through the real CLI: directories, tar
 * layers (made by GNU tar) and OCI image layouts; reproducible bytes; clean errors.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { runCli, TempDirs } from '../../../test/cli/helpers';

const sh = (cmd: string, cwd: string): void => {
  const r = spawnSync('/bin/sh', ['-c', cmd], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
};

/** The tree lines of `image inspect` (after the blank line). */
/** oclif's error output with its line wrapping undone. */
const flat = (s: string): string => s.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');
const treeOf = (out: string): string[] =>
  out
    .slice(out.indexOf('\n\n') + 2)
    .trim()
    .split('\n');

describe('runsc image build / inspect', function () {
  this.timeout(120000);
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  function sampleTree(): string {
    const d = tmp.make('cfs-src-');
    sh(
      'mkdir -p etc bin usr/share/empty && printf "root:x:0:0\\n" > etc/passwd && chmod 600 etc/passwd && ' +
        'head -c 20000 /dev/urandom > bin/tool && chmod 4755 bin/tool && ln -s tool bin/alias && ln bin/tool bin/hard && ' +
        'mkfifo etc/fifo && touch -d "2001-02-03 04:05:06" etc/passwd bin/tool etc usr',
      d,
    );
    return d;
  }

  it('builds a directory into an image that inspect lists, with every entry, reproducibly', () => {
    const src = sampleTree();
    const out = tmp.make('cfs-out-');
    const a = path.join(out, 'a.img'),
      b = path.join(out, 'b.img');
    const r1 = runCli(['image', 'build', src, '-o', a]);
    assert.equal(r1.status, 0, r1.stderr);
    assert.match(r1.stderr, /a\.img: 10 inodes, 10 paths, 19\.5 KiB of file data/);
    const r2 = runCli(['image', 'build', src, '-o', b]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), 'two builds of the same tree differ');
    const ins = runCli(['image', 'inspect', '--verify', a]);
    assert.equal(ins.status, 0, ins.stderr);
    assert.match(ins.stdout, /version 1/);
    assert.match(ins.stdout, /every checksum and SHA-256 digest matches/);
    const tree = treeOf(ins.stdout);
    const uid = process.getuid!();
    const gid = process.getgid!();
    const owner = `${String(uid).padStart(5)}:${String(gid).padEnd(5)}`;
    assert.deepEqual(
      tree.map((l) => l.replace(owner, 'OWNER')),
      [
        'drwx------ OWNER          0 /',
        'drwxr-xr-x OWNER          0 /bin',
        'lrwxrwxrwx OWNER          0 /bin/alias -> tool',
        '-rwsr-xr-x OWNER      20000 /bin/hard',
        '-rwsr-xr-x OWNER      20000 /bin/tool (hard link, inode 5)',
        'drwxr-xr-x OWNER          0 /etc',
        'prw-r--r-- OWNER          0 /etc/fifo',
        '-rw------- OWNER         11 /etc/passwd',
        'drwxr-xr-x OWNER          0 /usr',
        'drwxr-xr-x OWNER          0 /usr/share',
        'drwxr-xr-x OWNER          0 /usr/share/empty',
      ], // mkdtemp makes the root 0700
    );
  });

  it('builds the same tree from a tar and a tar.gz made by GNU tar as from the directory', () => {
    const src = sampleTree();
    const out = tmp.make('cfs-out-');
    sh(`tar --format=pax -cf ${out}/l.tar -C ${src} . && gzip -c ${out}/l.tar > ${out}/l.tar.gz`, out);
    for (const [s, img] of [
      [src, 'd.img'],
      [`${out}/l.tar`, 't.img'],
      [`${out}/l.tar.gz`, 'g.img'],
    ]) {
      const r = runCli(['image', 'build', '-q', s, '-o', path.join(out, img)]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
    }
    const d = treeOf(runCli(['image', 'inspect', path.join(out, 'd.img')]).stdout);
    const t = treeOf(runCli(['image', 'inspect', path.join(out, 't.img')]).stdout);
    const g = treeOf(runCli(['image', 'inspect', path.join(out, 'g.img')]).stdout);
    // tar stores the hard link as a link to whichever name it met first; compare the set of names.
    const norm = (ls: string[]) => ls.map((l) => l.replace(/ \(hard link, inode \d+\)/, '')).sort();
    assert.deepEqual(norm(t), norm(d));
    assert.deepEqual(g, t);
    assert.ok(fs.readFileSync(path.join(out, 't.img')).equals(fs.readFileSync(path.join(out, 'g.img'))));
  });

  it('builds zstd-compressed tar layers (zstd CLI: with and without the size in the frame) as the plain tar', () => {
    const src = sampleTree();
    const out = tmp.make('cfs-zst-');
    sh(
      `tar --format=pax -cf ${out}/l.tar -C ${src} . && zstd -q -19 -c ${out}/l.tar > ${out}/sized.tar.zst && cat ${out}/l.tar | zstd -q -c > ${out}/streamed.tar.zst`,
      out,
    );
    const build = (s: string, img: string) => {
      const r = runCli(['image', 'build', '-q', s, '-o', path.join(out, img)]);
      assert.equal(r.status, 0, r.stderr);
      return fs.readFileSync(path.join(out, img));
    };
    const plain = build(`${out}/l.tar`, 't.img');
    assert.ok(build(`${out}/sized.tar.zst`, 's.img').equals(plain));
    assert.ok(build(`${out}/streamed.tar.zst`, 'z.img').equals(plain));
    // A damaged zstd layer is refused with a message naming the file.
    const z = fs.readFileSync(`${out}/sized.tar.zst`);
    fs.writeFileSync(`${out}/bad.tar.zst`, z.subarray(0, Math.floor(z.length / 2)));
    const bad = runCli(['image', 'build', '-q', `${out}/bad.tar.zst`, '-o', path.join(out, 'b.img')]);
    assert.notEqual(bad.status, 0);
    assert.match(flat(bad.stderr), /bad\.tar\.zst.*zstd/);
    assert.ok(!fs.existsSync(path.join(out, 'b.img')));
  });

  it('builds every layer of an OCI image layout (gzip and zstd layers), keeping whiteouts and opaque directories', () => {
    const lay = tmp.make('cfs-oci-');
    const work = tmp.make('cfs-ociw-');
    sh(
      'mkdir -p l1/etc l1/var/cache && echo a > l1/etc/a && echo b > l1/etc/b && echo c > l1/var/cache/c',
      work,
    );
    sh(
      'mkdir -p l2/etc l2/var/cache && echo A > l2/etc/a && touch l2/etc/.wh.b l2/var/cache/.wh..wh..opq && echo n > l2/var/cache/new',
      work,
    );
    sh('tar -cf l1.tar -C l1 . && tar -cf l2.tar -C l2 .', work);
    const blobs = path.join(lay, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const put = (b: Buffer): { digest: string; size: number } => {
      const h = createHash('sha256').update(b).digest('hex');
      fs.writeFileSync(path.join(blobs, h), b);
      return { digest: `sha256:${h}`, size: b.length };
    };
    sh('zstd -q -c l2.tar > l2.tar.zst', work);
    const layers = [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        ...put(zlib.gzipSync(fs.readFileSync(path.join(work, 'l1.tar')))),
      },
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
        ...put(fs.readFileSync(path.join(work, 'l2.tar.zst'))),
      },
    ];
    const config = put(Buffer.from('{}'));
    const manifest = put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers,
        }),
      ),
    );
    fs.writeFileSync(path.join(lay, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(
      path.join(lay, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }],
      }),
    );
    const out = path.join(work, 'out');
    const r = runCli(['image', 'build', lay, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(fs.readFileSync(path.join(out, 'layers.json'), 'utf8')) as { layers: string[] };
    assert.equal(list.layers.length, 2);
    const top = treeOf(runCli(['image', 'inspect', path.join(out, list.layers[1])]).stdout);
    assert.ok(
      top.some((l) => / \/etc\/b \(whiteout\)$/.test(l)),
      top.join('\n'),
    );
    assert.ok(
      top.some((l) => / \/var\/cache \(opaque\)$/.test(l)),
      top.join('\n'),
    );
    assert.ok(!top.some((l) => l.includes('.wh.')), top.join('\n'));
    const bottom = treeOf(runCli(['image', 'inspect', path.join(out, list.layers[0])]).stdout);
    assert.ok(bottom.some((l) => / \/var\/cache\/c$/.test(l)));
    // A blob that does not match its digest is refused.
    fs.appendFileSync(path.join(blobs, layers[0].digest.slice(7)), 'x');
    const bad = runCli(['image', 'build', lay, '-o', path.join(work, 'out2')]);
    assert.equal(bad.status, 1);
    assert.match(flat(bad.stderr), /does not match its digest/);
  });

  it('reports bad input clearly', () => {
    const out = tmp.make('cfs-bad-');
    const missing = runCli(['image', 'build', path.join(out, 'nope'), '-o', path.join(out, 'x.img')]);
    assert.equal(missing.status, 2);
    assert.match(flat(missing.stderr), /nope: no such file or directory/);
    fs.writeFileSync(path.join(out, 'junk.tar'), Buffer.alloc(1024, 7));
    const junk = runCli(['image', 'build', path.join(out, 'junk.tar'), '-o', path.join(out, 'x.img')]);
    assert.equal(junk.status, 1);
    assert.match(flat(junk.stderr), /junk\.tar: bad checksum field .* in the header at byte 0/);
    assert.ok(!fs.existsSync(path.join(out, 'x.img')));
    fs.writeFileSync(path.join(out, 'not.img'), Buffer.alloc(8192));
    const notImg = runCli(['image', 'inspect', path.join(out, 'not.img')]);
    assert.equal(notImg.status, 1);
    assert.match(flat(notImg.stderr), /not a tsvisor layer image/);
    // A flipped content byte passes inspect without --verify but not with it.
    const src = sampleTree();
    const img = path.join(out, 'c.img');
    assert.equal(runCli(['image', 'build', '-q', src, '-o', img]).status, 0);
    const b = fs.readFileSync(img);
    b[4096 + 5] ^= 0x40; // inside the first file's contents (data starts at page 1)
    fs.writeFileSync(img, b);
    assert.equal(runCli(['image', 'inspect', img]).status, 0);
    const v = runCli(['image', 'inspect', '--verify', img]);
    assert.equal(v.status, 1);
    assert.match(flat(v.stderr), /fail their SHA-256 check/);
  });

  it('explains a bad containerfs config: wrong type, unknown option, missing image, no layers, --root-dir', () => {
    const d = tmp.make('cfs-cfg-');
    const run = (cfg: object, extra: string[] = []) => {
      fs.writeFileSync(path.join(d, 'c.json'), JSON.stringify(cfg));
      return runCli(['--config', path.join(d, 'c.json'), 'do', ...extra, '--cwd', '/', '--', '/bin/true']);
    };
    const t = run({ rootfs: 'containerfs', containerfs: { layers: 'a.img' } });
    assert.equal(t.status, 3);
    assert.match(
      t.stderr,
      /field "containerfs\.layers": invalid value "a\.img" \(string\); expected an array/,
    );
    const u = run({ rootfs: 'containerfs', containerfs: { layer: ['a.img'] } });
    assert.equal(u.status, 3);
    assert.match(u.stderr, /did you mean 'layers'/);
    const m = run({ rootfs: 'containerfs', containerfs: { layers: ['nope.img'] } });
    assert.equal(m.status, 1);
    assert.match(m.stderr, new RegExp(`cannot mount ${path.join(d, 'nope.img')}: ENOENT`));
    const n = run({ rootfs: 'containerfs' });
    assert.equal(n.status, 1);
    assert.match(n.stderr, /needs layer images: set containerfs\.layers/);
    const src = sampleTree();
    assert.equal(runCli(['image', 'build', '-q', src, '-o', path.join(d, 'ok.img')]).status, 0);
    const r = run({ rootfs: 'containerfs', containerfs: { layers: ['ok.img'] } }, ['--root-dir', src]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /drop --root-dir/);
  });
});
