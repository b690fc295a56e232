/**
 * The gofer's 9P2000.L operations one by one against `runsc gofer --listen`, each checked
 * against what Linux shows on the host tree afterwards (fs.* on the same files), plus
 * tagged concurrent requests: many in flight on one connection, each reply under its tag.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EBADF, EEXIST, EINVAL, EISDIR, ENOENT, ENOTEMPTY, EPERM, SysError } from '../../core/abi/errno';
import { P9Client } from '../../plugins/fs-gofer/src/p9/client';
import {
  GETATTR,
  LOCK_BLOCKED,
  LOCK_SUCCESS,
  LOCK_TYPE_UNLCK,
  LOCK_TYPE_WRLCK,
  SETATTR,
  decodeDirents,
  type Message,
} from '../../plugins/fs-gofer/src/p9/codec';
import { startGofer, type RunningGofer } from '../../plugins/fs-gofer/test/helpers';

const O_RDONLY = 0,
  O_WRONLY = 1,
  O_RDWR = 2,
  O_EXCL = 0o200,
  O_APPEND = 0o2000;

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

describe('gofer protocol: each 9P2000.L operation against the host tree', function () {
  this.timeout(120_000);
  let tmp: string;
  let root: string;
  let g: RunningGofer | undefined;
  let c: P9Client;
  let c2: P9Client;
  let next = 10;
  const fid = () => next++;
  const walk = async (names: string[]) => {
    const f = fid();
    await c.call({ op: 'Twalk', fid: 0, newfid: f, wnames: names });
    return f;
  };
  const noTimes = { size: 0n, atimeSec: 0n, atimeNsec: 0n, mtimeSec: 0n, mtimeNsec: 0n };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-proto-'));
    root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(root, 'dir', `file${i}`), `content of ${i}\n`);
    g = await startGofer(root);
    c = await P9Client.connect(g.host, g.port);
    await c.mount(0);
    c2 = await P9Client.connect(g.host, g.port);
    await c2.mount(0);
  });

  after(async () => {
    c?.close();
    c2?.close();
    await g?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('Tversion negotiates msize down to the client and refuses other versions', async () => {
    const x = await P9Client.connect(g!.host, g!.port);
    try {
      const r = await x.call({ op: 'Tversion', msize: 8192, version: '9P2000.L' });
      assert.deepEqual([r.msize, r.version], [8192, '9P2000.L']);
      const u = await x.call({ op: 'Tversion', msize: 8192, version: '9P2000.u' });
      assert.equal(u.version, 'unknown');
      const big = await x.call({ op: 'Tversion', msize: 64 << 20, version: '9P2000.L' });
      assert.equal(big.msize, 1 << 20);
    } finally {
      x.close();
    }
  });

  it('Tlcreate, Twrite, Tread, Tfsync, Tgetattr: a new file as the host sees it', async () => {
    const d = await walk([]);
    const r = await c.call({ op: 'Tlcreate', fid: d, name: 'new.txt', flags: O_RDWR, mode: 0o640, gid: 0 });
    assert.equal(r.qid.type, 0);
    const w = await c.call({ op: 'Twrite', fid: d, offset: 0n, data: Buffer.from('hello world\n') });
    assert.equal(w.count, 12);
    await c.call({ op: 'Twrite', fid: d, offset: 6n, data: Buffer.from('there\n') });
    await c.call({ op: 'Tfsync', fid: d, datasync: 0 });
    const host = path.join(root, 'new.txt');
    assert.equal(fs.readFileSync(host, 'utf8'), 'hello there\n');
    const st = fs.statSync(host, { bigint: true });
    assert.equal(Number(st.mode) & 0o7777, 0o640 & ~process.umask());
    const rd = await c.call({ op: 'Tread', fid: d, offset: 6n, count: 100 });
    assert.equal(Buffer.from(rd.data).toString(), 'there\n');
    const a = await c.call({ op: 'Tgetattr', fid: d, requestMask: GETATTR.ALL });
    assert.equal(a.qid.path, st.ino);
    assert.deepEqual(
      [a.mode, a.uid, a.gid, a.nlink, a.size, a.mtimeSec, a.mtimeNsec],
      [
        Number(st.mode),
        Number(st.uid),
        Number(st.gid),
        st.nlink,
        st.size,
        st.mtimeNs / 1000000000n,
        st.mtimeNs % 1000000000n,
      ],
    );
    // O_EXCL on an existing name.
    const d2 = await walk([]);
    assert.equal(
      await errnoOf(
        c.call({ op: 'Tlcreate', fid: d2, name: 'new.txt', flags: O_WRONLY | O_EXCL, mode: 0o600, gid: 0 }),
      ),
      EEXIST,
    );
    // Reading a write-only fid, writing a read-only one.
    const ro = await walk(['new.txt']);
    await c.call({ op: 'Tlopen', fid: ro, flags: O_RDONLY });
    assert.equal(await errnoOf(c.call({ op: 'Twrite', fid: ro, offset: 0n, data: Buffer.from('x') })), EBADF);
    const ap = await walk(['new.txt']);
    await c.call({ op: 'Tlopen', fid: ap, flags: O_WRONLY | O_APPEND });
    await c.call({ op: 'Twrite', fid: ap, offset: 0n, data: Buffer.from('appended\n') });
    assert.equal(fs.readFileSync(host, 'utf8'), 'hello there\nappended\n');
    assert.equal(await errnoOf(c.call({ op: 'Tread', fid: ap, offset: 0n, count: 1 })), EBADF);
    // Offsets past 2^63-1 are negative loff_t for pread/pwrite: EINVAL, and the gofer goes on.
    for (const offset of [1n << 63n, 0xffffffffffffffffn]) {
      assert.equal(await errnoOf(c.call({ op: 'Tread', fid: d, offset, count: 1 })), EINVAL);
      assert.equal(await errnoOf(c.call({ op: 'Twrite', fid: d, offset, data: Buffer.from('x') })), EINVAL);
    }
    assert.equal(
      Buffer.from((await c.call({ op: 'Tread', fid: d, offset: 0n, count: 5 })).data).toString(),
      'hello',
    );
  });

  it('Tsetattr: chmod, truncate, utimes (given and now)', async () => {
    const f = await walk(['new.txt']);
    await c.call({ op: 'Tsetattr', fid: f, valid: SETATTR.MODE, mode: 0o604, uid: 0, gid: 0, ...noTimes });
    await c.call({
      op: 'Tsetattr',
      fid: f,
      valid: SETATTR.SIZE,
      mode: 0,
      uid: 0,
      gid: 0,
      ...noTimes,
      size: 5n,
    });
    await c.call({
      op: 'Tsetattr',
      fid: f,
      valid: SETATTR.ATIME | SETATTR.ATIME_SET | SETATTR.MTIME | SETATTR.MTIME_SET,
      mode: 0,
      uid: 0,
      gid: 0,
      ...noTimes,
      atimeSec: 1000n,
      atimeNsec: 5n,
      mtimeSec: 2000n,
      mtimeNsec: 7n,
    });
    const host = path.join(root, 'new.txt');
    let st = fs.statSync(host, { bigint: true });
    assert.equal(Number(st.mode) & 0o7777, 0o604);
    assert.equal(fs.readFileSync(host, 'utf8'), 'hello');
    assert.equal(st.atimeNs, 1000n * 1000000000n + 5n);
    assert.equal(st.mtimeNs, 2000n * 1000000000n + 7n);
    const before = Date.now();
    await c.call({ op: 'Tsetattr', fid: f, valid: SETATTR.MTIME, mode: 0, uid: 0, gid: 0, ...noTimes });
    st = fs.statSync(host, { bigint: true });
    assert.ok(Number(st.mtimeNs / 1000000n) >= before - 1000, 'mtime set to now');
    const d = await walk(['dir']);
    assert.equal(
      await errnoOf(
        c.call({ op: 'Tsetattr', fid: d, valid: SETATTR.SIZE, mode: 0, uid: 0, gid: 0, ...noTimes }),
      ),
      EISDIR,
    );
  });

  it('Tmkdir, Tsymlink, Treadlink, Tlink, Tmknod, Trenameat, Tunlinkat', async () => {
    const d = await walk([]);
    await c.call({ op: 'Tmkdir', dfid: d, name: 'sub', mode: 0o750, gid: 0 });
    assert.ok(fs.statSync(path.join(root, 'sub')).isDirectory());
    await c.call({ op: 'Tsymlink', fid: d, name: 'sl', symtgt: 'sub/../new.txt', gid: 0 });
    assert.equal(fs.readlinkSync(path.join(root, 'sl')), 'sub/../new.txt');
    const sl = await walk(['sl']);
    assert.equal((await c.call({ op: 'Treadlink', fid: sl })).target, 'sub/../new.txt');
    const f = await walk(['new.txt']);
    await c.call({ op: 'Tlink', dfid: d, fid: f, name: 'hard' });
    assert.equal(fs.statSync(path.join(root, 'hard')).ino, fs.statSync(path.join(root, 'new.txt')).ino);
    assert.equal(fs.statSync(path.join(root, 'new.txt')).nlink, 2);
    await c.call({ op: 'Tmknod', dfid: d, name: 'fifo', mode: 0o010644, major: 0, minor: 0, gid: 0 });
    assert.ok(fs.lstatSync(path.join(root, 'fifo')).isFIFO());
    assert.equal(
      await errnoOf(
        c.call({ op: 'Tmknod', dfid: d, name: 'null', mode: 0o020666, major: 1, minor: 3, gid: 0 }),
      ),
      EPERM,
    );
    assert.equal(fs.existsSync(path.join(root, 'null')), false);
    const sub = await walk(['sub']);
    await c.call({ op: 'Trenameat', olddirfid: d, oldname: 'hard', newdirfid: sub, newname: 'moved' });
    assert.equal(fs.existsSync(path.join(root, 'hard')), false);
    assert.equal(fs.readFileSync(path.join(root, 'sub', 'moved'), 'utf8'), 'hello');
    assert.equal(await errnoOf(c.call({ op: 'Tunlinkat', dirfid: d, name: 'sub', flags: 0x200 })), ENOTEMPTY);
    await c.call({ op: 'Tunlinkat', dirfid: sub, name: 'moved', flags: 0 });
    await c.call({ op: 'Tunlinkat', dirfid: d, name: 'sub', flags: 0x200 });
    await c.call({ op: 'Tunlinkat', dirfid: d, name: 'fifo', flags: 0 });
    assert.deepEqual(fs.readdirSync(root).sort(), ['dir', 'new.txt', 'sl']);
    assert.equal(await errnoOf(c.call({ op: 'Tunlinkat', dirfid: d, name: 'nope', flags: 0 })), ENOENT);
    // Walking '..' from a renamed directory follows the rename.
    await c.call({ op: 'Tmkdir', dfid: d, name: 'a', mode: 0o755, gid: 0 });
    await c.call({ op: 'Tmkdir', dfid: await walk(['a']), name: 'b', mode: 0o755, gid: 0 });
    const b = await walk(['a', 'b']);
    await c.call({ op: 'Trenameat', olddirfid: d, oldname: 'a', newdirfid: d, newname: 'z' });
    const up = fid();
    const r = await c.call({ op: 'Twalk', fid: b, newfid: up, wnames: ['..'] });
    assert.equal(r.qids[0].path, BigInt(fs.statSync(path.join(root, 'z')).ino));
  });

  it('Treaddir lists a directory in pieces that add up to the host listing', async () => {
    const d = await walk(['dir']);
    await c.call({ op: 'Tlopen', fid: d, flags: O_RDONLY });
    const names: string[] = [];
    let offset = 0n;
    for (;;) {
      const r = await c.call({ op: 'Treaddir', fid: d, offset, count: 300 });
      const ents = decodeDirents(r.data);
      if (!ents.length) break;
      for (const e of ents) {
        names.push(e.name);
        offset = e.offset;
        if (e.name.startsWith('file'))
          assert.equal(e.qid.path, BigInt(fs.statSync(path.join(root, 'dir', e.name)).ino));
      }
    }
    assert.deepEqual(names.sort(), ['.', '..', ...fs.readdirSync(path.join(root, 'dir'))].sort());
  });

  it('Tstatfs reports the host filesystem', async () => {
    const r = await c.call({ op: 'Tstatfs', fid: 0 });
    const s = fs.statfsSync(root);
    assert.deepEqual(
      [r.fstype, r.bsize, r.blocks, r.files],
      [s.type, s.bsize, BigInt(s.blocks), BigInt(s.files)],
    );
  });

  it('Tlock/Tgetlock: a write lock held by one connection blocks another', async () => {
    const f1 = await walk(['new.txt']);
    await c.call({ op: 'Tlopen', fid: f1, flags: O_RDWR });
    const f2 = fid();
    await c2.call({ op: 'Twalk', fid: 0, newfid: f2, wnames: ['new.txt'] });
    await c2.call({ op: 'Tlopen', fid: f2, flags: O_RDWR });
    const lk = { lockType: LOCK_TYPE_WRLCK, flags: 0, start: 0n, length: 0n, procId: 1, clientId: 'x' };
    assert.equal((await c.call({ op: 'Tlock', fid: f1, ...lk })).status, LOCK_SUCCESS);
    assert.equal((await c2.call({ op: 'Tlock', fid: f2, ...lk })).status, LOCK_BLOCKED);
    const gl = await c2.call({
      op: 'Tgetlock',
      fid: f2,
      lockType: LOCK_TYPE_WRLCK,
      start: 0n,
      length: 0n,
      procId: 1,
      clientId: 'x',
    });
    assert.equal(gl.lockType, LOCK_TYPE_WRLCK, 'the conflicting lock is reported');
    assert.equal(
      (await c.call({ op: 'Tlock', fid: f1, ...lk, lockType: LOCK_TYPE_UNLCK })).status,
      LOCK_SUCCESS,
    );
    assert.equal((await c2.call({ op: 'Tlock', fid: f2, ...lk })).status, LOCK_SUCCESS);
    const free = await c.call({
      op: 'Tgetlock',
      fid: f1,
      lockType: LOCK_TYPE_WRLCK,
      start: 0n,
      length: 0n,
      procId: 1,
      clientId: 'x',
    });
    assert.equal(free.lockType, LOCK_TYPE_WRLCK, 'still held by the other');
  });

  it('Txattrcreate/Txattrwalk set, list and read a user xattr', async function () {
    const f = await walk(['new.txt']);
    const xf = await walk(['new.txt']);
    const value = Buffer.from('xattr value');
    try {
      await c.call({
        op: 'Txattrcreate',
        fid: xf,
        name: 'user.test',
        attrSize: BigInt(value.length),
        flags: 0,
      });
      await c.call({ op: 'Twrite', fid: xf, offset: 0n, data: value });
      await c.call({ op: 'Tclunk', fid: xf });
    } catch (e) {
      if (e instanceof SysError && e.errno === 95) this.skip(); // the host fs has no user xattrs
      throw e;
    }
    const lw = fid();
    const l = await c.call({ op: 'Txattrwalk', fid: f, newfid: lw, name: '' });
    const list = await c.call({ op: 'Tread', fid: lw, offset: 0n, count: Number(l.size) });
    assert.ok(Buffer.from(list.data).toString().split('\0').includes('user.test'));
    const gw = fid();
    const gr = await c.call({ op: 'Txattrwalk', fid: f, newfid: gw, name: 'user.test' });
    assert.equal(gr.size, BigInt(value.length));
    const v = await c.call({ op: 'Tread', fid: gw, offset: 0n, count: 100 });
    assert.equal(Buffer.from(v.data).toString(), 'xattr value');
  });

  it('serves 500 tagged requests in flight on one connection, each reply under its own tag', async () => {
    const reqs: Promise<{ i: number; r: Message }>[] = [];
    const fids: number[] = [];
    for (let i = 0; i < 50; i++) fids.push(await walk(['dir', `file${i}`]));
    await Promise.all(fids.map((f) => c.call({ op: 'Tlopen', fid: f, flags: O_RDONLY })));
    for (let i = 0; i < 500; i++)
      reqs.push(
        c
          .rpc(
            i % 2
              ? { op: 'Tread', fid: fids[i % 50], offset: 0n, count: 100 }
              : { op: 'Tgetattr', fid: fids[i % 50], requestMask: GETATTR.BASIC },
            1000 + i,
          )
          .then((r) => ({ i, r })),
      );
    // A flush of one of them: the server has answered it already (requests complete in order).
    const fl = await c.rpc({ op: 'Tflush', oldtag: 1499 }, 2000);
    assert.equal(fl.op, 'Rflush');
    for (const { i, r } of await Promise.all(reqs)) {
      assert.equal(r.tag, 1000 + i);
      if (i % 2) {
        assert.equal(r.op, 'Rread');
        if (r.op === 'Rread') assert.equal(Buffer.from(r.data).toString(), `content of ${i % 50}\n`);
      } else {
        assert.equal(r.op, 'Rgetattr');
        if (r.op === 'Rgetattr')
          assert.equal(r.qid.path, BigInt(fs.statSync(path.join(root, 'dir', `file${i % 50}`)).ino));
      }
    }
  });
});
