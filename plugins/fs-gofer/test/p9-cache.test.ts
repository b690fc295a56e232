/**
 * The 9p client's page cache, in process (P9fs over a TCP connection to `runsc gofer
 * --listen`): its memory stays within the documented bounds (idle caches of closed files,
 * an open file's clean pages), what it drops is read again from the server and what it
 * keeps is not, and writes stay in the cache until the dirty bound or the close.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryFile, EXTENT_SIZE } from '../../../core/mm/memfile';
import type { FileDescription } from '../../../core/plugins/filesystem';
import { goferNative } from '../src/p9/native';
import {
  DIRTY_MAX,
  FILE_CACHE_MAX,
  IDLE_CACHE_MAX,
  P9fs,
  READ_AHEAD,
  SyncP9Conn,
  type P9Inode,
} from '../src/p9fs';
import { bytes, startGofer, type RunningGofer } from './helpers';

const O_RDONLY = 0,
  O_RDWR = 2;
const MiB = 1 << 20;
const none = undefined as never;

describe('fs-gofer p9fs: page cache bounds (exclusive file access)', function () {
  this.timeout(120_000);
  let tmp: string;
  let gofer: RunningGofer;
  let mf: MemoryFile;
  let p9: P9fs;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-p9cache-'));
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(tmp, `s${i}`), bytes(4 * MiB, i));
    fs.writeFileSync(path.join(tmp, 'big'), bytes(96 * MiB, 99));
    gofer = await startGofer(tmp);
    const fd = goferNative().connectTcp('127.0.0.1', gofer.port);
    mf = new MemoryFile(4 * 1024 * MiB);
    p9 = new P9fs(new SyncP9Conn(fd, undefined, 'test gofer'), { mf, writable: true });
  });

  after(async () => {
    p9?.release();
    await gofer?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const node = (name: string) => p9.root().lookup(name) as P9Inode;

  /** Reads a file whole through an open file (1 MiB reads) and closes it. */
  function readWhole(name: string): Buffer {
    const f = node(name).open(none, O_RDONLY, none);
    try {
      const parts: Buffer[] = [];
      for (let off = 0; ; off += MiB) {
        const b = Buffer.alloc(MiB);
        const n = f.read(none, [b], off) as number;
        if (n <= 0) break;
        parts.push(b.subarray(0, n));
      }
      return Buffer.concat(parts);
    } finally {
      f.decRef();
    }
  }

  it('caches of closed files are kept up to IDLE_CACHE_MAX in all, least recently closed dropped first', () => {
    for (let i = 0; i < 20; i++) {
      assert.ok(readWhole(`s${i}`).equals(bytes(4 * MiB, i)), `s${i} read back`);
      assert.ok(mf.allocatedBytes <= IDLE_CACHE_MAX, `${mf.allocatedBytes} bytes cached after s${i}`);
    }
    // 80 MiB were read: the cap was reached.
    assert.ok(mf.allocatedBytes > IDLE_CACHE_MAX / 2);
    // The last file read is still cached: reading it again sends no Tread.
    let before = p9.stats.treads;
    assert.ok(readWhole('s19').equals(bytes(4 * MiB, 19)));
    assert.equal(p9.stats.treads, before, 'no Tread for a cached file');
    // The first one was dropped: it is read from the server again.
    before = p9.stats.treads;
    assert.ok(readWhole('s0').equals(bytes(4 * MiB, 0)));
    assert.ok(p9.stats.treads > before, 'a dropped file is read again');
  });

  it("an open file's clean pages past FILE_CACHE_MAX are dropped", () => {
    const idle = mf.allocatedBytes;
    const f = node('big').open(none, O_RDONLY, none);
    try {
      const want = bytes(96 * MiB, 99);
      let peak = 0;
      for (let off = 0; off < want.length; off += MiB) {
        const b = Buffer.alloc(MiB);
        assert.equal(f.read(none, [b], off), MiB);
        assert.ok(b.equals(want.subarray(off, off + MiB)), `bytes at ${off}`);
        peak = Math.max(peak, mf.allocatedBytes - idle);
      }
      assert.ok(peak <= FILE_CACHE_MAX + READ_AHEAD + MiB + EXTENT_SIZE, `peak ${peak}`);
      assert.ok(peak >= FILE_CACHE_MAX / 2, `the file was cached (peak ${peak})`);
    } finally {
      f.decRef();
    }
  });

  it('writes stay in the cache until DIRTY_MAX dirty bytes, fsync or close', () => {
    const dir = p9.root();
    dir.create('w', 0o644, { fsuid: process.getuid!(), fsgid: process.getgid!() } as never);
    const host = path.join(tmp, 'w');
    const f: FileDescription = node('w').open(none, O_RDWR, none);
    const data = bytes(20 * MiB, 7);
    try {
      const writesBefore = p9.stats.twrites;
      assert.equal(f.write(none, [data.subarray(0, MiB)], -1), MiB);
      assert.equal(fs.statSync(host).size, 0, 'the first MiB is only in the cache');
      assert.equal(p9.stats.twrites, writesBefore);
      assert.equal(node('w').stat().size, MiB, "stat shows the cache's size");
      for (let off = MiB; off < data.length; off += MiB) f.write(none, [data.subarray(off, off + MiB)], -1);
      const onHost = fs.statSync(host).size;
      assert.ok(
        onHost >= DIRTY_MAX && onHost < data.length,
        `past the dirty bound: ${onHost} bytes on the host`,
      );
      f.fsync(false);
      assert.ok(fs.readFileSync(host).equals(data), 'all on the host after fsync');
      assert.equal(f.write(none, [Buffer.from('tail')], -1), 4);
      assert.equal(fs.statSync(host).size, data.length);
    } finally {
      f.decRef();
    }
    assert.ok(
      fs.readFileSync(host).equals(Buffer.concat([data, Buffer.from('tail')])),
      'the close wrote the tail',
    );
  });
});
