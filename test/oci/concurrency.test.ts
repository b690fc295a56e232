/**
 * Many runsc calls at once: 50 containers created, started and deleted concurrently leave
 * no sandbox process, mount or state folder behind; concurrent calls on one container are
 * serialized by its lock (exactly one start wins).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanupRoot, haveBusybox, makeBundle, runsc, tmpDir, until } from './helpers';

/** Pids of runsc boot processes serving containers under `root`. */
function bootsUnder(root: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('boot') && cmd.includes(root)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('oci: concurrency', function () {
  this.timeout(600_000);
  let work: string;
  let root: string;
  let bundle: string;

  before(function () {
    if (!haveBusybox()) this.skip();
    work = tmpDir('tsvisor-oci-conc-');
    root = path.join(work, 'state');
    bundle = makeBundle(path.join(work, 'b'), ['sh', '-c', 'echo up; sleep 1000']);
  });
  after(async () => {
    if (!work) return;
    await cleanupRoot(root);
    for (const pid of bootsUnder(root)) process.kill(pid, 'SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('50 containers created, started and deleted concurrently leave nothing behind', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const results = await Promise.all(
      ids.map(async (id) => {
        const c = await runsc(root, ['create', '--bundle', bundle, id]);
        if (c.code !== 0) return `${id} create: ${c.stderr}`;
        const s = await runsc(root, ['start', id]);
        if (s.code !== 0) return `${id} start: ${s.stderr}`;
        const st = await runsc(root, ['state', id]);
        const status = (JSON.parse(st.stdout) as { status: string }).status;
        if (status !== 'running') return `${id} state: ${status}`;
        const d = await runsc(root, ['delete', '--force', id]);
        if (d.code !== 0) return `${id} delete: ${d.stderr}`;
        return 'ok';
      }),
    );
    assert.deepEqual(
      results.filter((r) => r !== 'ok'),
      [],
    );
    assert.deepEqual(fs.readdirSync(root), [], 'no state folder or lock is left');
    await until(() => bootsUnder(root).length === 0, 20_000);
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
    assert.ok(!mounts.includes(work), 'no mount under the test folder');
  });

  it('concurrent starts of one container: the lock lets exactly one win', async () => {
    assert.equal((await runsc(root, ['create', '--bundle', bundle, 'one'])).code, 0);
    const rs = await Promise.all(Array.from({ length: 6 }, () => runsc(root, ['start', 'one'])));
    assert.equal(rs.filter((r) => r.code === 0).length, 1, rs.map((r) => r.stderr).join(''));
    for (const r of rs.filter((x) => x.code !== 0))
      assert.match(r.stderr, /cannot start an already running container/);
    assert.equal((await runsc(root, ['delete', '--force', 'one'])).code, 0);
  });
});
