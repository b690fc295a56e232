/**
 * The missing escape of issue 5: a mount point whose path has a symlink component pointing
 * outside the root. The destination must resolve inside the root (as runc's securejoin and
 * gVisor do) and nothing outside the root may change.
 *   - OCI bind mounts (runsc run) whose destination goes through an absolute and a relative
 *     symlink to a host directory beside the bundle: compared with runc on the same bundle.
 *   - runsc do's own mount points (/dev, /proc, /sys, /tmp) made symlinks to a host
 *     directory, in gofer mode 9p with the memory overlay and with overlay none.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanupRoot, cleanupRuncRoot, haveRunc, makeBundle, runc, runsc, tmpDir } from '../oci/helpers';
import { makeRootTree, runscDo, walkTree } from '../../plugins/fs-gofer/test/helpers';

/** Every path below `dir` with its mode, size and mtime: any change shows. */
function snapshot(dir: string): string[] {
  return walkTree(dir).map(
    ({ rel, st }) => `${rel} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.ino}`,
  );
}

describe('gofer escapes: a mount point with a symlink component resolves inside the root', function () {
  this.timeout(120_000);
  let work: string;
  let outside: string;
  let root: string;
  let runcRoot: string;

  before(() => {
    work = tmpDir('tsvisor-mp-escape-');
    outside = path.join(work, 'outside');
    fs.mkdirSync(path.join(outside, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret'), 'HOST SECRET\n');
    root = path.join(work, 'runsc-root');
    runcRoot = path.join(work, 'runc-root');
  });

  after(async () => {
    await cleanupRoot(root);
    await cleanupRuncRoot(runcRoot);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('OCI bind mounts through absolute and relative symlinks land inside the root, as with runc', async () => {
    const vol = path.join(work, 'vol');
    fs.mkdirSync(vol);
    fs.writeFileSync(path.join(vol, 'marker'), 'volume\n');
    const script = [
      'cat /abs/sub/marker /rel/sub/marker',
      `cat ${outside}/sub/marker`,
      'cat /abs/secret; echo "abs secret rc=$?"',
      'cat /rel/secret; echo "rel secret rc=$?"',
      `ls ${outside}`,
    ].join('; ');
    const before = snapshot(outside);
    const results: { who: string; code: number | null; stdout: string; stderr: string }[] = [];
    for (const who of ['runsc', 'runc'] as const) {
      if (who === 'runc' && !haveRunc()) continue;
      const b = makeBundle(path.join(work, `bundle-${who}`), ['sh', '-c', script], (s) => {
        s.mounts!.push(
          { destination: '/abs/sub', type: 'bind', source: vol, options: ['rbind', 'ro'] },
          { destination: '/rel/sub', type: 'bind', source: vol, options: ['rbind', 'ro'] },
        );
      });
      const rootfs = path.join(b, 'rootfs');
      fs.symlinkSync(outside, path.join(rootfs, 'abs'));
      fs.symlinkSync('../'.repeat(12) + outside.slice(1), path.join(rootfs, 'rel'));
      const r =
        who === 'runsc'
          ? await runsc(root, ['run', '--bundle', b, 'mp1'])
          : await runc(runcRoot, ['run', '--bundle', b, 'mp1']);
      results.push({ who, ...r });
      // Nothing outside the root changed: no new entry, nothing mounted over it.
      assert.deepEqual(snapshot(outside), before, `${who} touched ${outside}`);
      assert.doesNotMatch(fs.readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(` ${outside}`));
    }
    const ours = results[0];
    assert.equal(ours.code, 0, ours.stderr);
    assert.match(ours.stdout, /^volume\nvolume\nvolume\n/);
    assert.doesNotMatch(ours.stdout, /HOST SECRET/);
    assert.match(ours.stdout, /abs secret rc=1\nrel secret rc=1\n/);
    const theirs = results[1];
    if (theirs) {
      assert.equal(ours.stdout, theirs.stdout, 'stdout as with runc');
      assert.equal(ours.code, theirs.code);
    }
  });

  for (const overlay of ['memory', 'none'] as const) {
    it(`runsc do, gofer mode 9p, overlay ${overlay}: /dev, /proc, /sys and /tmp as symlinks out of the root`, async () => {
      const tree = path.join(work, `tree-${overlay}`);
      fs.mkdirSync(tree);
      makeRootTree(tree);
      for (const d of ['dev', 'proc', 'sys', 'tmp']) fs.rmdirSync(path.join(tree, d));
      fs.symlinkSync(outside, path.join(tree, 'dev'));
      fs.symlinkSync('../'.repeat(12) + outside.slice(1), path.join(tree, 'proc'));
      fs.symlinkSync(path.join(outside, 'sub'), path.join(tree, 'sys'));
      fs.symlinkSync('../..', path.join(tree, 'tmp'));
      const cfg = path.join(work, `cfg-${overlay}.json`);
      fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p', overlay } }));
      const before = snapshot(outside);
      const treeBefore = snapshot(tree);
      const { done } = runscDo(cfg, [
        '--root-dir',
        tree,
        '--',
        '/bin/busybox',
        'sh',
        '-c',
        'echo hi > /dev/null && /bin/busybox ls /proc/self/fd >/dev/null && echo x > /tmp/t && /bin/busybox cat /tmp/t',
      ]);
      const r = await done;
      if (overlay === 'memory') {
        // The mount points are made in the sandbox's upper layer, over the links.
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'x\n');
      } else {
        // The root is the host tree itself: runsc refuses to replace its files and says which.
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /\/dev is not a directory; it is needed as a mount point/);
      }
      assert.deepEqual(snapshot(outside), before, `${outside} changed`);
      assert.deepEqual(snapshot(tree), treeBefore, `the root tree changed`);
    });
  }
});
