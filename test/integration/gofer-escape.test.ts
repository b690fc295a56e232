/**
 * Escape attempts against `runsc gofer` itself (a 9P client that lies as much as it likes):
 * symlinks pointing outside, '..' past the root, names with '/', a symlink swapped in and out
 * of a walked path by a concurrent process (10,000 walks), hard links and creations through
 * links. Each gets the errno of the gofer's contract and nothing outside the root changes.
 *
 * The contract (docs/gofer.md): the gofer never follows a host symlink. Walking to a symlink
 * yields a symlink fid (its client resolves the target inside its own tree); walking through
 * one is ENOTDIR; opening one is ELOOP; a name is one component ('/', '.'-only or '..' in a
 * creation is EINVAL); '..' at the root is the root.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EINVAL, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, SysError } from '../../core/abi/errno';
import { P9Client } from '../../plugins/fs-gofer/src/p9/client';
import { GETATTR, SETATTR, type Message } from '../../plugins/fs-gofer/src/p9/codec';
import { startGofer, type RunningGofer } from '../../plugins/fs-gofer/test/helpers';

const O_RDONLY = 0,
  O_WRONLY = 1,
  O_TRUNC = 0o1000;

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

describe('gofer escapes: a hostile 9P client stays inside the root', function () {
  this.timeout(300_000);
  let tmp: string;
  let root: string;
  let g: RunningGofer | undefined;
  let c: P9Client;
  let swapper: ChildProcess | undefined;
  let nextFid = 100;
  let outsideBefore = '';

  const outsideState = () =>
    ['canary', 'outside', 'outside/secret']
      .map((n) => {
        const p = path.join(tmp, n);
        const st = fs.lstatSync(p);
        const body = st.isFile() ? fs.readFileSync(p, 'hex') : fs.readdirSync(p).sort().join(',');
        return `${n} ${st.mode} ${st.uid} ${st.size} ${st.nlink} ${st.mtimeMs} ${st.ctimeMs} ${body}`;
      })
      .join('\n') + `\n${fs.readdirSync(tmp).sort().join(',')}`;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-escape-'));
    root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'd'), { recursive: true });
    fs.writeFileSync(path.join(root, 'd', 'secret'), 'inside\n');
    fs.writeFileSync(path.join(tmp, 'canary'), 'canary\n');
    fs.chmodSync(path.join(tmp, 'canary'), 0o600);
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside', 'secret'), 'OUTSIDE\n');
    fs.symlinkSync('/etc/shadow', path.join(root, 'shadow'));
    fs.symlinkSync('../canary', path.join(root, 'canary-rel'));
    fs.symlinkSync(path.join(tmp, 'canary'), path.join(root, 'canary-abs'));
    fs.symlinkSync('../outside', path.join(root, 'outdir'));
    fs.symlinkSync('../../outside', path.join(root, 'd', 'outdir2'));
    outsideBefore = outsideState();
    g = await startGofer(root);
    c = await P9Client.connect(g.host, g.port);
    await c.mount(0);
  });

  after(async () => {
    if (swapper && swapper.exitCode === null) swapper.kill('SIGKILL');
    c?.close();
    await g?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => {
    assert.equal(outsideState(), outsideBefore, 'nothing outside the root changed');
    assert.equal(g!.exited(), null, 'the gofer is still running');
  });

  const walk = (wnames: string[], from = 0) => {
    const newfid = nextFid++;
    return c.call({ op: 'Twalk', fid: from, newfid, wnames }).then((r) => ({ fid: newfid, qids: r.qids }));
  };
  const rawWalk = (wnames: string[], from = 0) =>
    c.rpc({ op: 'Twalk', fid: from, newfid: nextFid++, wnames });
  const getattr = (fid: number) => c.call({ op: 'Tgetattr', fid, requestMask: GETATTR.BASIC });
  const readAll = async (fid: number) => {
    await c.call({ op: 'Tlopen', fid, flags: O_RDONLY });
    const r = await c.call({ op: 'Tread', fid, offset: 0n, count: 4096 });
    return Buffer.from(r.data).toString();
  };

  it('a symlink to /etc/shadow or to a file beside the root is a symlink fid: open ELOOP, attrs of the link', async () => {
    for (const name of ['shadow', 'canary-rel', 'canary-abs']) {
      const { fid, qids } = await walk([name]);
      assert.equal(qids[0].type, 0x02, `${name}: a symlink qid`);
      const a = await getattr(fid);
      assert.equal(a.mode & 0o170000, 0o120000, `${name}: S_IFLNK`);
      assert.equal(
        Number(a.size),
        fs.readlinkSync(path.join(root, name)).length,
        `${name}: size of the link`,
      );
      assert.equal(await errnoOf(c.call({ op: 'Tlopen', fid, flags: O_RDONLY })), ELOOP, `${name}: open`);
      assert.equal(await errnoOf(c.call({ op: 'Tlopen', fid, flags: O_WRONLY | O_TRUNC })), ELOOP);
      // Attribute and xattr changes never reach the target.
      const setMode = { op: 'Tsetattr', fid, valid: SETATTR.MODE, mode: 0o777, uid: 0, gid: 0 } as const;
      const t = { size: 0n, atimeSec: 0n, atimeNsec: 0n, mtimeSec: 0n, mtimeNsec: 0n };
      assert.equal(await errnoOf(c.call({ ...setMode, ...t })), EOPNOTSUPP, `${name}: chmod`);
      assert.equal(
        await errnoOf(c.call({ ...setMode, ...t, valid: SETATTR.SIZE })),
        EINVAL,
        `${name}: truncate`,
      );
      assert.equal(
        await errnoOf(c.call({ ...setMode, ...t, valid: SETATTR.MTIME })),
        EOPNOTSUPP,
        `${name}: utimes`,
      );
      const xw = { op: 'Txattrcreate', fid, name: 'user.x', attrSize: 1n, flags: 0 } as const;
      assert.equal(await errnoOf(c.call(xw)), EOPNOTSUPP, `${name}: setxattr`);
      const r = await c.call({ op: 'Treadlink', fid });
      assert.equal(r.target, fs.readlinkSync(path.join(root, name)));
    }
  });

  it('walking through a symlink to a directory outside is ENOTDIR (a partial walk, no new fid)', async () => {
    for (const names of [
      ['outdir', 'secret'],
      ['d', 'outdir2', 'secret'],
    ]) {
      const first = await rawWalk([names[0]]);
      assert.equal(first.op, 'Rwalk');
      const r = (await rawWalk(names)) as Message;
      // Rwalk with the qids of the components before the symlink's child; Rlerror if none.
      assert.equal(r.op, 'Rwalk', show(r));
      if (r.op === 'Rwalk') assert.equal(r.qids.length, names.length - 1);
      const fid = nextFid - 1;
      assert.equal(await errnoOf(getattr(fid)), 9 /* EBADF: not created */);
    }
    assert.equal(await errnoOf(walk(['outdir', 'secret'].slice(1), (await walk(['outdir'])).fid)), ENOTDIR);
  });

  it("'..' at the root is the root; names with '/' are refused", async () => {
    const rootIno = BigInt(fs.statSync(root).ino);
    const up = await walk(['..', '..', '..', '..']);
    assert.deepEqual(
      up.qids.map((q) => q.path),
      [rootIno, rootIno, rootIno, rootIno],
    );
    const down = await walk(['d', '..', '..', '..']);
    assert.deepEqual(
      down.qids.map((q) => q.path),
      [BigInt(fs.statSync(path.join(root, 'd')).ino), rootIno, rootIno, rootIno],
    );
    // The canary sits beside the root: '..' then its name must not find it.
    const r = await rawWalk(['..', 'canary']);
    assert.ok(r.op === 'Rwalk' && r.qids.length === 1, `'..' then canary stops after '..': ${show(r)}`);
    assert.equal(await errnoOf(walk(['../canary'])), EINVAL);
    assert.equal(await errnoOf(walk(['d/../../canary'])), EINVAL);
    assert.equal(await errnoOf(walk(['/etc'])), EINVAL);
    assert.equal(await errnoOf(walk(['canary'])), ENOENT);
    const d = await walk([]);
    for (const bad of ['../x', '..', '.', '', 'a/b', '/tmp/x']) {
      assert.equal(
        await errnoOf(c.call({ op: 'Tmkdir', dfid: d.fid, name: bad, mode: 0o755, gid: 0 })),
        EINVAL,
        `mkdir ${bad}`,
      );
      assert.equal(
        await errnoOf(c.call({ op: 'Tsymlink', fid: d.fid, name: bad, symtgt: '/etc', gid: 0 })),
        EINVAL,
        `symlink ${bad}`,
      );
    }
    const f = await walk([]);
    assert.equal(
      await errnoOf(
        c.call({ op: 'Tlcreate', fid: f.fid, name: '../evil', flags: O_WRONLY, mode: 0o644, gid: 0 }),
      ),
      EINVAL,
    );
  });

  it('creating or truncating through a symlink fails with ELOOP; linking a symlink is EPERM', async () => {
    const d = await walk([]);
    for (const name of ['canary-rel', 'canary-abs', 'shadow']) {
      const f = await walk([]);
      assert.equal(
        await errnoOf(
          c.call({ op: 'Tlcreate', fid: f.fid, name, flags: O_WRONLY | O_TRUNC, mode: 0o644, gid: 0 }),
        ),
        ELOOP,
        `lcreate over ${name}`,
      );
      const l = await walk([name]);
      assert.equal(
        await errnoOf(c.call({ op: 'Tlink', dfid: d.fid, fid: l.fid, name: `hl-${name}` })),
        EPERM,
      );
    }
    // A symlink the client makes itself is stored, never followed.
    await c.call({ op: 'Tsymlink', fid: d.fid, name: 'mine', symtgt: '../canary', gid: 0 });
    assert.equal(fs.readlinkSync(path.join(root, 'mine')), '../canary');
    const m = await walk(['mine']);
    assert.equal(await errnoOf(c.call({ op: 'Tlopen', fid: m.fid, flags: O_WRONLY | O_TRUNC })), ELOOP);
    // A hard link needs a fid of its target, and no fid names anything outside.
    const inside = await walk(['d', 'secret']);
    await c.call({ op: 'Tlink', dfid: d.fid, fid: inside.fid, name: 'hl-inside' });
    assert.equal(
      fs.statSync(path.join(root, 'hl-inside')).ino,
      fs.statSync(path.join(root, 'd', 'secret')).ino,
    );
    assert.equal(
      await errnoOf(c.call({ op: 'Tlink', dfid: d.fid, fid: inside.fid, name: '../hl-out' })),
      EINVAL,
    );
    // Renames stay inside too.
    assert.equal(
      await errnoOf(
        c.call({
          op: 'Trenameat',
          olddirfid: d.fid,
          oldname: 'hl-inside',
          newdirfid: d.fid,
          newname: '../x',
        }),
      ),
      EINVAL,
    );
    const od = await walk(['outdir']);
    assert.equal(
      await errnoOf(
        c.call({ op: 'Trenameat', olddirfid: d.fid, oldname: 'hl-inside', newdirfid: od.fid, newname: 'x' }),
      ),
      ENOTDIR,
    );
    assert.equal(
      await errnoOf(c.call({ op: 'Tunlinkat', dirfid: od.fid, name: 'secret', flags: 0 })),
      ENOTDIR,
    );
  });

  it('a directory swapped with a symlink to outside during 10,000 walks never yields an outside file', async () => {
    fs.mkdirSync(path.join(root, 'race'));
    fs.writeFileSync(path.join(root, 'race', 'secret'), 'inside\n');
    // The swapper: moves race away, puts a symlink to ../outside in its place, and back.
    const script = `
import os, sys
os.chdir(sys.argv[1])
while True:
    os.rename('race', 'parked')
    os.symlink('../outside', 'race')
    os.unlink('race')
    os.rename('parked', 'race')
`;
    swapper = spawn('/usr/bin/python3', ['-c', script, root], { stdio: 'ignore' });
    const outcomes = new Map<string, number>();
    const bump = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    try {
      for (let i = 0; i < 10_000; i++) {
        const fid = nextFid++;
        const r = await c.rpc({ op: 'Twalk', fid: 0, newfid: fid, wnames: ['race', 'secret'] });
        if (r.op === 'Rlerror') {
          bump(`walk errno ${r.ecode}`);
          continue;
        }
        assert.equal(r.op, 'Rwalk');
        if (r.op === 'Rwalk' && r.qids.length < 2) {
          bump(`partial walk`);
          continue;
        }
        try {
          const body = await readAll(fid);
          assert.equal(body, 'inside\n', `walk ${i} read ${JSON.stringify(body)}`);
          bump('read inside');
        } finally {
          await c.rpc({ op: 'Tclunk', fid });
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    const summary = JSON.stringify([...outcomes]);
    assert.ok((outcomes.get('read inside') ?? 0) > 0, `some walks reached the real file: ${summary}`);
    assert.ok(outcomes.size > 1, `the swap raced with the walks (other outcomes too): ${summary}`);
    for (const k of outcomes.keys())
      assert.ok(
        ['read inside', 'partial walk', `walk errno ${ENOENT}`].includes(k),
        `unexpected outcome ${k}: ${summary}`,
      );
  });
});
