/**
 * The 9p client's page cache (`gofer.mode: 9p`, `overlay: none`, `fileAccess: exclusive`):
 * reads served from cached pages (Tread messages counted by a proxy between the sandbox and
 * the gofer), writes cached and written back at close/fsync/munmap/the dirty bound, compared
 * with the same C program run natively (its output and the files it leaves on the host), and
 * what killing the gofer does to fsynced and pending writes.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative } from './harness';
import {
  childrenMatching,
  makeRootTree,
  runscDo,
  sleep,
  startGofer,
  walkTree,
  type RunningGofer,
} from '../../plugins/fs-gofer/test/helpers';

/** Path, size and content hash of every regular file under `root`. */
function files(root: string): string[] {
  return walkTree(root)
    .filter(({ st }) => st.isFile())
    .map(({ rel, st }) => {
      const h = createHash('sha256')
        .update(fs.readFileSync(path.join(root, rel)))
        .digest('hex');
      return `${rel} ${st.mode.toString(8)} ${st.size} ${h.slice(0, 16)}`;
    });
}

/**
 * A TCP proxy to a 9P server that counts the client's messages by type (it parses the
 * size[4] type[1] framing of the client -> server stream).
 */
async function countingProxy(
  port: number,
): Promise<{ port: number; count: (type: number) => number; close: () => void }> {
  const counts = new Map<number, number>();
  const socks = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    socks.add(c).add(up);
    let pending = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 5) {
        const size = pending.readUInt32LE(0);
        if (pending.length < size) break;
        const type = pending[4];
        counts.set(type, (counts.get(type) ?? 0) + 1);
        pending = pending.subarray(size);
      }
      up.write(d);
    });
    up.on('data', (d: Buffer) => c.write(d));
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    count: (t) => counts.get(t) ?? 0,
    close: () => {
      for (const s of socks) s.destroy();
      server.close();
    },
  };
}

const TREAD = 116;

describe('gofer mode 9p: the page cache of regular files', function () {
  this.timeout(300_000);
  let tmp: string;
  let tree: string;
  let bin: string;
  const procs: ChildProcess[] = [];
  const gofers: RunningGofer[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-cache-'));
    tree = path.join(tmp, 'tree');
    fs.mkdirSync(tree);
    makeRootTree(tree);
    bin = buildC('gofer_cache');
    fs.copyFileSync(bin, path.join(tree, 'gofer_cache'));
    fs.chmodSync(path.join(tree, 'gofer_cache'), 0o755);
  });

  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const g of gofers) await g.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs `gofer_cache read /cachedata N` through a counting proxy; returns its output and Treads. */
  async function readRun(fileAccess: string, times: number): Promise<{ stdout: string; treads: number }> {
    const g = await startGofer(tree);
    gofers.push(g);
    const proxy = await countingProxy(g.port);
    try {
      const cfg = path.join(tmp, `read-${fileAccess}.json`);
      fs.writeFileSync(
        cfg,
        JSON.stringify({
          gofer: { mode: '9p', overlay: 'none', fileAccess, server: `127.0.0.1:${proxy.port}`, aname: tree },
        }),
      );
      const { proc, done } = runscDo(cfg, [
        '--cwd',
        '/',
        '--',
        '/gofer_cache',
        'read',
        '/cachedata',
        String(times),
      ]);
      procs.push(proc);
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      return { stdout: r.stdout, treads: proxy.count(TREAD) };
    } finally {
      proxy.close();
      await g.stop();
    }
  }

  it('a file read a second time sends no Tread (exclusive); with fileAccess shared it does', async () => {
    // 3 MiB: more than one Tread's worth (msize is 1 MiB) and than the read-ahead.
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 12)) & 0xff;
    fs.writeFileSync(path.join(tree, 'cachedata'), data);
    const native = runNative([bin, 'read', path.join(tree, 'cachedata'), '2']);
    assert.equal(native.status, 0, native.stderr);
    const once = await readRun('exclusive', 1);
    const twice = await readRun('exclusive', 2);
    assert.equal(twice.stdout, native.stdout);
    assert.equal(once.stdout, native.stdout.split('\n')[0] + '\n');
    // The program's own pages come over 9p too: runs that differ only by the second pass
    // must send the same number of Treads.
    assert.ok(once.treads > 0, 'the proxy saw the reads');
    assert.equal(twice.treads, once.treads, 'the second pass was served from the cache');
    // Without the cache every pass reads the file again (the count can tell).
    const sOnce = await readRun('shared', 1);
    const sTwice = await readRun('shared', 2);
    assert.equal(sTwice.stdout, native.stdout);
    assert.ok(sTwice.treads >= sOnce.treads + 3, `shared: ${sOnce.treads} then ${sTwice.treads} Treads`);
  });

  it('cached writes: reads, mmap, O_APPEND, holes, ftruncate, O_TRUNC as Linux; the host has them after close', async () => {
    const cfg = path.join(tmp, 'rw.json');
    fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p', overlay: 'none' } }));
    const nat = path.join(tmp, 'native');
    fs.mkdirSync(nat);
    const native = runNative([bin, 'rw', nat]);
    assert.equal(native.status, 0, native.stderr);
    assert.match(
      native.stdout,
      /^mapped @98: .. .. 4d 41 50 50 45 44/m,
      'the native run did what the test expects',
    );
    fs.mkdirSync(path.join(tree, 'w'));
    try {
      const { proc, done } = runscDo(cfg, ['--root-dir', tree, '--', '/gofer_cache', 'rw', '/w']);
      procs.push(proc);
      const r = await done;
      assert.equal(r.stdout, native.stdout, r.stderr);
      assert.equal(r.code, native.status);
      assert.deepEqual(files(path.join(tree, 'w')), files(nat));
    } finally {
      fs.rmSync(path.join(tree, 'w'), { recursive: true, force: true });
    }
  });

  it('killing the gofer: what was fsynced (fsync, syncfs, sync) is on the host; a close with pending writes is EIO', async () => {
    const cfg = path.join(tmp, 'rw.json');
    fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p', overlay: 'none' } }));
    fs.mkdirSync(path.join(tree, 'w'));
    try {
      // The program runs from /dev/shm (the sandbox's tmpfs): its own pages must not come
      // from the dead gofer.
      const { proc, done, out } = runscDo(cfg, [
        '--root-dir',
        tree,
        '--',
        '/bin/busybox',
        'sh',
        '-c',
        '/bin/busybox cp /gofer_cache /dev/shm/gc && exec /dev/shm/gc kill /w',
      ]);
      procs.push(proc);
      for (let i = 0; i < 600 && !out().includes('ready') && proc.exitCode === null; i++) await sleep(50);
      assert.equal(out(), 'ready\n');
      const g = childrenMatching(proc.pid!, ['gofer', '--root-dir', tree]);
      assert.equal(g.length, 1, 'one gofer child');
      process.kill(g[0], 'SIGKILL');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ready\nclose a 0\nclose b -1 Input/output error\n', r.stderr);
      assert.equal(fs.readFileSync(path.join(tree, 'w', 'a'), 'latin1'), 'A'.repeat(200000));
      assert.equal(fs.readFileSync(path.join(tree, 'w', 'c'), 'latin1'), 'syncfs\n');
      assert.equal(fs.readFileSync(path.join(tree, 'w', 'd'), 'latin1'), 'sync\n');
      assert.equal(
        fs.statSync(path.join(tree, 'w', 'b')).size,
        0,
        'the pending write never reached the host',
      );
      assert.equal((r.stderr.match(/lost the connection/g) ?? []).length, 1, r.stderr);
      assert.equal((r.stderr.match(/writing back cached writes of b failed/g) ?? []).length, 1, r.stderr);
    } finally {
      fs.rmSync(path.join(tree, 'w'), { recursive: true, force: true });
    }
  });
});
