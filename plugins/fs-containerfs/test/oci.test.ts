/**
 * Layers from the OCI annotation `dev.tsvisor.containerfs.layers` (a JSON list of image
 * files, bottom first, relative to the bundle or absolute): `runsc run` on a bundle whose
 * root is two layer images behaves as `runsc run` on a bundle whose root.path is the same
 * merged tree through directfs (same output and exit status, writes landing in the upper,
 * the upper layer's files and whiteouts winning). A bad annotation or a bad image fails
 * `runsc run` with a message naming the annotation and the file.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../../../core/runtime/oci/spec';
import { BIN, cleanupRoot, haveBusybox, makeBundle, runsc, tmpDir } from '../../../test/oci/helpers';

const ANNOTATION = 'dev.tsvisor.containerfs.layers';

const SCRIPT = [
  'cat /app/hello.txt',
  'cat /etc/motd',
  'ls /app /etc',
  'test -e /etc/removed && echo removed still there',
  'echo written > /tmp/out && cat /tmp/out',
  'ls -ln /bin | grep -v ^total | head -3',
  'exit 3',
].join('; ');

function imageBuild(src: string, out: string): void {
  const r = spawnSync(process.execPath, [BIN, 'image', 'build', '-q', src, '-o', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('containerfs: layers from an OCI annotation (runsc run)', function () {
  this.timeout(120000);
  let work: string;
  let root: string;
  let direct: string;
  let layered: string;
  let n = 0;

  const writable = (s: Spec) => {
    s.root!.readonly = false;
  };

  before(function () {
    if (!haveBusybox()) this.skip();
    work = tmpDir('cfs-oci-');
    root = path.join(work, 'state');
    // The merged tree, as directfs sees it: busybox rootfs + the app layer's changes.
    direct = makeBundle(path.join(work, 'direct'), ['sh', '-c', SCRIPT], writable);
    const rootfs = path.join(direct, 'rootfs');
    fs.writeFileSync(path.join(rootfs, 'etc', 'motd'), 'base motd\n');
    fs.writeFileSync(path.join(rootfs, 'etc', 'removed'), 'gone in the app layer\n');
    // Base layer: the tree so far; app layer: a new file, a replaced one, a whiteout.
    layered = path.join(work, 'layered');
    fs.mkdirSync(path.join(layered, 'images'), { recursive: true });
    imageBuild(rootfs, path.join(layered, 'images', 'base.img'));
    const app = path.join(work, 'app-src');
    fs.mkdirSync(path.join(app, 'app'), { recursive: true });
    fs.mkdirSync(path.join(app, 'etc'));
    fs.writeFileSync(path.join(app, 'app', 'hello.txt'), 'hello from the app layer\n');
    fs.writeFileSync(path.join(app, 'etc', 'motd'), 'app motd\n');
    fs.writeFileSync(path.join(app, 'etc', '.wh.removed'), '');
    const appImg = path.join(work, 'app.img'); // absolute path in the annotation
    imageBuild(app, appImg);
    // Apply the same changes to the directfs tree.
    fs.mkdirSync(path.join(rootfs, 'app'));
    fs.writeFileSync(path.join(rootfs, 'app', 'hello.txt'), 'hello from the app layer\n');
    fs.writeFileSync(path.join(rootfs, 'etc', 'motd'), 'app motd\n');
    fs.rmSync(path.join(rootfs, 'etc', 'removed'));
    const spec = JSON.parse(fs.readFileSync(path.join(direct, 'config.json'), 'utf8')) as Spec;
    spec.root = { path: 'no-such-rootfs', readonly: false };
    spec.annotations = { [ANNOTATION]: JSON.stringify(['images/base.img', appImg]) };
    fs.writeFileSync(path.join(layered, 'config.json'), JSON.stringify(spec, null, 2));
  });
  after(async () => {
    if (!work) return;
    await cleanupRoot(root);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs on the layers as on the same tree through directfs', async () => {
    const d = await runsc(root, ['run', '--bundle', direct, `d${++n}`]);
    const l = await runsc(root, ['run', '--bundle', layered, `l${++n}`]);
    assert.equal(d.code, 3, d.stderr);
    assert.match(d.stdout, /^hello from the app layer\napp motd\n/);
    assert.equal(l.stderr, d.stderr);
    assert.equal(l.stdout, d.stdout);
    assert.equal(l.code, d.code);
  });

  it('takes a layers.json (as image build writes for an OCI layout) in the annotation', async () => {
    const dir = path.join(work, 'listed');
    fs.mkdirSync(dir);
    const spec = JSON.parse(fs.readFileSync(path.join(layered, 'config.json'), 'utf8')) as Spec;
    const list = JSON.parse(spec.annotations![ANNOTATION]) as string[];
    fs.writeFileSync(
      path.join(layered, 'images', 'layers.json'),
      JSON.stringify({ layers: ['base.img', list[1]] }),
    );
    spec.annotations = { [ANNOTATION]: JSON.stringify([path.join(layered, 'images', 'layers.json')]) };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    const d = await runsc(root, ['run', '--bundle', direct, `d${++n}`]);
    const l = await runsc(root, ['run', '--bundle', dir, `l${++n}`]);
    assert.equal(l.stdout, d.stdout);
    assert.equal(l.stderr, d.stderr);
    assert.equal(l.code, 3);
  });

  const badCases: [string, (dir: string) => string, RegExp][] = [
    ['not JSON', () => '[base.img', /not valid|must be a JSON list/],
    ['not a list of paths', () => JSON.stringify(['a.img', 7]), /entry 1 must be a non-empty path/],
    ['a missing image', () => JSON.stringify(['images/none.img']), /images\/none\.img.*no such file/i],
    [
      'a layers.json without a list',
      (dir) => {
        fs.writeFileSync(path.join(dir, 'layers.json'), '{"layer": []}');
        return JSON.stringify(['layers.json']);
      },
      /layers\.json has no "layers" list/,
    ],
    [
      'a file that is not an image',
      (dir) => {
        fs.writeFileSync(path.join(dir, 'junk.img'), Buffer.alloc(8192, 1));
        return JSON.stringify(['junk.img']);
      },
      /junk\.img.*bad magic/,
    ],
  ];
  for (const [what, value, message] of badCases)
    it(`a bad annotation (${what}) fails runsc run naming the annotation and the file`, async () => {
      const dir = path.join(work, `bad${++n}`);
      fs.mkdirSync(dir);
      const spec = JSON.parse(fs.readFileSync(path.join(layered, 'config.json'), 'utf8')) as Spec;
      spec.annotations = { [ANNOTATION]: value(dir) };
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
      const r = await runsc(root, ['run', '--bundle', dir, `b${n}`]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(ANNOTATION.replace(/\./g, '\\.')));
      assert.match(r.stderr, message);
    });
});
