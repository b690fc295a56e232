/**
 * The busybox suite on a containerfs root: a minimal tree (busybox-static, its applet links
 * as `busybox --list-full` places them, /etc, /tmp, ...) is packed into two layer images
 * (programs below, /etc above) and each script runs under `runsc do` twice — with that tree
 * as the directfs root (--root-dir) and with rootfs: containerfs over the two images — and
 * the two runs must give the same stdout, stderr and exit status. The scripts are those of
 * test/integration/busybox.test.ts.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { haveBusybox, runSandbox } from '../../../test/integration/harness';
import { CASES, PID_CASES } from '../../../test/integration/busybox-cases';
import { dirEntries } from '../src/packer/dir';
import { writeImage } from '../src/format/writer';

const BB = '/bin/busybox';

describe('busybox applets: containerfs root vs directfs root of the same tree', function () {
  this.timeout(180000);
  let tree: string;
  let work: string;
  let config: string;
  before(function () {
    if (!haveBusybox()) this.skip();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-bb-'));
    tree = path.join(work, 'tree');
    const etcTree = path.join(work, 'etc-layer');
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'root', 'dev', 'proc', 'sys'])
      fs.mkdirSync(path.join(tree, d), { recursive: true });
    fs.mkdirSync(path.join(tree, 'tmp'), { mode: 0o1777 });
    fs.chmodSync(path.join(tree, 'tmp'), 0o1777);
    fs.copyFileSync(BB, path.join(tree, 'bin/busybox'));
    fs.chmodSync(path.join(tree, 'bin/busybox'), 0o755);
    const list = spawnSync(BB, ['--list-full'], { encoding: 'utf8' }).stdout.trim().split('\n');
    for (const rel of list) {
      const p = path.join(tree, rel);
      if (fs.existsSync(p)) continue;
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.symlinkSync('/bin/busybox', p);
    }
    for (const root of [tree, etcTree]) fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    for (const root of [tree, etcTree]) {
      fs.writeFileSync(
        path.join(root, 'etc/passwd'),
        'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
      );
      fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    }
    // Layer 1: the tree without /etc; layer 2: /etc. Their union is the tree.
    const lower = dirEntries(tree).filter((e) => e.path !== '/etc' && !e.path.startsWith('/etc/'));
    writeImage(lower, path.join(work, 'l1.img'));
    writeImage(
      dirEntries(etcTree).filter((e) => e.path !== '/'),
      path.join(work, 'l2.img'),
    );
    config = path.join(work, 'runsc.config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: ['l1.img', 'l2.img'] } }),
    );
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const compare = (script: string): void => {
    const D = `/tmp/tsvisor-bb-${randomBytes(4).toString('hex')}`;
    const direct = runSandbox([BB, 'sh', '-c', script], { env: { D }, flags: ['--root-dir', tree] });
    const cfs = runSandbox([BB, 'sh', '-c', script], { env: { D }, flags: ['--config', config] });
    assert.equal(cfs.stdout, direct.stdout, 'stdout');
    assert.equal(cfs.stderr, direct.stderr, 'stderr');
    assert.equal(cfs.status, direct.status, 'exit status');
  };
  for (const [name, script] of [...CASES, ...PID_CASES]) it(name, () => compare(script));
  it('reads the layer contents and sees the merged tree', () => {
    const r = runSandbox(
      [BB, 'sh', '-c', 'cat /etc/passwd | head -1; ls / | tr "\\n" " "; echo; busybox | head -1 | cut -c1-7'],
      {
        flags: ['--config', config],
      },
    );
    assert.equal(
      r.stdout,
      'root:x:0:0:root:/root:/bin/sh\nbin dev etc linuxrc proc root sbin sys tmp usr \nBusyBox\n',
    );
    assert.equal(r.status, 0);
  });
});
