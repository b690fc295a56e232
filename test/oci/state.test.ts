/** The state folder: ids, atomic state.json, the lock (serializes; a dead holder's lock is taken over), stale sandboxes. */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkId, processStart, StateStore, type ContainerRecord } from '../../core/runtime/oci/state';
import { parseSignal } from '../../core/runtime/oci/lifecycle';
import { tmpDir } from './helpers';

function record(id: string, pid: number, pidStart: number): ContainerRecord {
  return {
    id,
    bundle: '/b',
    rootfs: '/b/rootfs',
    pid,
    pidStart,
    status: 'running',
    created: new Date(0).toISOString(),
    owner: 'root',
    annotations: {},
    configPath: '/b/config.json',
  };
}

describe('oci: state folder', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = tmpDir('tsvisor-state-');
    store = new StateStore(path.join(dir, 'root'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses ids that are empty or could leave the folder', () => {
    for (const bad of ['', '..', '.', 'a/b', 'x y', 'a\0b'])
      assert.throws(() => checkId(bad), /container id/);
    for (const good of ['c1', 'a.b-c_d+e', 'f'.repeat(64)]) checkId(good);
  });

  it('writes state.json atomically (no temp file left) and reads it back', () => {
    store.createDir('c1');
    store.write(record('c1', 0, 0));
    assert.deepEqual(fs.readdirSync(store.dir('c1')), ['state.json']);
    assert.equal(store.read('c1').id, 'c1');
    assert.throws(() => store.createDir('c1'), /container with given ID already exists/);
    assert.throws(() => store.read('nosuch'), /container does not exist/);
    assert.deepEqual(store.list(), ['c1']);
  });

  it('a record whose sandbox is gone, or whose pid was recycled, reads as stopped', async () => {
    const child = spawn('sleep', ['100']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const start = processStart(child.pid!)!;
      assert.equal(store.status(record('c', child.pid!, start)), 'running');
      assert.equal(
        store.status(record('c', child.pid!, start + 1)),
        'stopped',
        'another process with the same pid',
      );
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    assert.equal(store.status(record('c', child.pid!, 0)), 'stopped');
  });

  it('the lock serializes: a second holder waits for the first', async () => {
    const order: string[] = [];
    let release!: () => void;
    const first = store.withLock('c', () => {
      order.push('first in');
      return new Promise<void>((r) => (release = r)).then(() => order.push('first out'));
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = store.withLock('c', () => order.push('second in'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order, ['first in'], 'the second waits');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second in']);
    assert.ok(!fs.existsSync(path.join(store.root, 'c.lock')), 'the lock is released');
  });

  it('a lock held by a live process times out with a message naming it; a dead holder is taken over', async () => {
    store.ensureRoot();
    const lock = path.join(store.root, 'c.lock');
    fs.writeFileSync(lock, `${process.pid} ${processStart(process.pid)}\n`);
    await assert.rejects(
      store.withLock('c', () => 1, 200),
      new RegExp(`container c is locked by runsc process ${process.pid}`),
    );
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    fs.writeFileSync(lock, `${child.pid} 12345\n`);
    assert.equal(await store.withLock('c', () => 'taken', 2000), 'taken');
  });

  it('parses signals as runc: names with or without SIG, numbers, RTMIN+n', () => {
    assert.equal(parseSignal('KILL'), 9);
    assert.equal(parseSignal('SIGTERM'), 15);
    assert.equal(parseSignal('term'), 15);
    assert.equal(parseSignal('10'), 10);
    assert.equal(parseSignal('RTMIN+2'), 36);
    assert.throws(() => parseSignal('FOO'), /unknown signal "FOO"/);
    assert.throws(() => parseSignal('99'), /unknown signal "99"/);
  });
});

describe('oci: control socket (JSON-RPC)', () => {
  let dir: string;
  before(() => (dir = tmpDir('tsvisor-rpc-')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers calls, reports handler errors and unknown methods, survives garbage', async () => {
    const { serve, call, RpcError } = await import('../../core/runtime/oci/rpc');
    const net = await import('node:net');
    const sock = path.join(dir, 's.sock');
    const server = await serve(sock, {
      add: (p) => (p as { a: number; b: number }).a + (p as { a: number; b: number }).b,
      slow: () => new Promise((r) => setTimeout(() => r('late'), 50)),
      fail: () => {
        throw new RpcError('container not running');
      },
    });
    try {
      assert.equal(await call(sock, 'add', { a: 2, b: 40 }), 42);
      assert.equal(await call(sock, 'slow'), 'late');
      await assert.rejects(call(sock, 'fail'), /container not running/);
      await assert.rejects(call(sock, 'nosuch'), /unknown method nosuch/);
      await assert.rejects(call(sock, 'constructor'), /unknown method constructor/);
      // Garbage: a parse error answer, and the server keeps serving.
      const reply = await new Promise<string>((resolve) => {
        const c = net.connect(sock, () => c.write('{not json\n'));
        c.setEncoding('utf8').once('data', (d: string) => {
          c.destroy();
          resolve(d);
        });
      });
      assert.match(reply, /"code":-32700/);
      // An endless line is cut off, not buffered without bound.
      const long = await new Promise<string>((resolve) => {
        const c = net.connect(sock, () => c.write('x'.repeat(2 << 20)));
        let got = '';
        c.setEncoding('utf8').on('data', (d: string) => (got += d));
        c.on('error', () => undefined);
        c.on('close', () => resolve(got));
      });
      assert.match(long, /request longer than/);
      assert.equal(await call(sock, 'add', { a: 1, b: 1 }), 2);
    } finally {
      server.close();
    }
    await assert.rejects(call(sock, 'add', { a: 1, b: 1 }), /cannot reach the sandbox/);
  });
});
