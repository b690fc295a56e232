/**
 * One `runsc gofer` serving several directories, as runsc starts it for a container (an
 * inherited socket per directory): each connection's attach root is its own directory; the
 * gofer's mount namespace holds nothing but a read-only tmpfs root and those directories (a
 * directory the sandbox only reads is read-only there, so even a hostile client cannot write
 * it); it exits when the last socket closes. Needs root (the gofer mounts and pivot_roots).
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { EROFS, SysError } from '../../../core/abi/errno';
import { P9Client } from '../src/p9/client';
import { BIN } from './helpers';

const O_RDONLY = 0,
  O_RDWR = 2;

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

describe('runsc gofer: one process, a connection per directory, confined to them', function () {
  this.timeout(60_000);
  let tmp = '';
  let rw = '';
  let ro = '';
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  let a: P9Client;
  let b: P9Client;
  let stderr = '';
  let nextFid = 10;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-confine-'));
    rw = path.join(tmp, 'rw');
    ro = path.join(tmp, 'ro');
    fs.mkdirSync(rw);
    fs.mkdirSync(ro);
    fs.writeFileSync(path.join(rw, 'f'), 'in rw\n');
    fs.writeFileSync(path.join(ro, 'g'), 'in ro\n');
    fs.writeFileSync(path.join(tmp, 'beside'), 'beside\n');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RUNSC_')) env[k] = v;
    env.TSVISOR_INTERNAL = 'gofer';
    // stdio 'pipe' beyond fd 2 is a socketpair: fds 3 and 4 of the gofer.
    child = spawn(
      process.execPath,
      [BIN, 'gofer', '--fd', '3', '--root-dir', rw, '--fd', '4', '--root-dir', ro, '--read-only-fd', '4'],
      { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
    a = new P9Client(child.stdio[3] as Duplex);
    b = new P9Client(child.stdio[4] as Duplex);
    await a.mount(0);
    await b.mount(0);
  });

  after(async () => {
    a?.close();
    b?.close();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const read = async (c: P9Client, wnames: string[]) => {
    const fid = nextFid++;
    await c.call({ op: 'Twalk', fid: 0, newfid: fid, wnames });
    await c.call({ op: 'Tlopen', fid, flags: O_RDONLY });
    const r = await c.call({ op: 'Tread', fid, offset: 0n, count: 4096 });
    await c.call({ op: 'Tclunk', fid });
    return Buffer.from(r.data).toString();
  };

  it("each connection's root is its own directory; '..' stays in it", async () => {
    assert.equal(await read(a, ['f']), 'in rw\n');
    assert.equal(await read(b, ['g']), 'in ro\n');
    // '..' at a connection's root is that root, not the parent holding the other directory.
    assert.equal(await read(a, ['..', 'f']), 'in rw\n');
    assert.notEqual(await errnoOf(read(a, ['..', 'ro', 'g'])), 0);
    assert.notEqual(await errnoOf(read(a, ['..', 'beside'])), 0);
  });

  it('the directory the sandbox only reads is read-only in the gofer; the other is written', async () => {
    const fa = nextFid++;
    await a.call({ op: 'Twalk', fid: 0, newfid: fa, wnames: [] });
    await a.call({ op: 'Tlcreate', fid: fa, name: 'made', flags: O_RDWR, mode: 0o644, gid: 0 });
    await a.call({ op: 'Twrite', fid: fa, offset: 0n, data: Buffer.from('written\n') });
    await a.call({ op: 'Tclunk', fid: fa });
    assert.equal(fs.readFileSync(path.join(rw, 'made'), 'utf8'), 'written\n');

    const fb = nextFid++;
    await b.call({ op: 'Twalk', fid: 0, newfid: fb, wnames: [] });
    assert.equal(
      await errnoOf(b.call({ op: 'Tlcreate', fid: fb, name: 'made', flags: O_RDWR, mode: 0o644, gid: 0 })),
      EROFS,
    );
    assert.equal(await errnoOf(b.call({ op: 'Tmkdir', dfid: 0, name: 'd', mode: 0o755, gid: 0 })), EROFS);
    assert.equal(await errnoOf(b.call({ op: 'Tunlinkat', dirfid: 0, name: 'g', flags: 0 })), EROFS);
    assert.deepEqual(fs.readdirSync(ro), ['g']);
  });

  it('its mount namespace holds only a read-only tmpfs root and the two directories', () => {
    const pid = child!.pid!;
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/mnt`), fs.readlinkSync('/proc/self/ns/mnt'));
    assert.deepEqual(fs.readdirSync(`/proc/${pid}/root`).sort(), ['0', '1']);
    assert.deepEqual(fs.readdirSync(`/proc/${pid}/root/0`).sort(), fs.readdirSync(rw).sort());
    assert.deepEqual(fs.readdirSync(`/proc/${pid}/root/1`).sort(), ['g']);
    const mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n');
    assert.equal(mounts.length, 3, mounts.join('\n'));
    assert.ok(
      mounts.some((m) => / \/ \/ ro,[^ ]* - tmpfs /.test(m)),
      mounts.join('\n'),
    );
    assert.ok(
      mounts.some((m) => / \/0 rw,/.test(m)),
      mounts.join('\n'),
    );
    assert.ok(
      mounts.some((m) => / \/1 ro,/.test(m)),
      mounts.join('\n'),
    );
  });

  it('it serves until the last socket closes, then exits', async () => {
    a.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(child!.exitCode, null, 'still running with one connection left');
    assert.equal(await read(b, ['g']), 'in ro\n');
    b.close();
    assert.equal(await exited, 0, stderr);
  });
});
