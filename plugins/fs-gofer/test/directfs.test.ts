import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EROFS, ENOENT, SysError } from '../../../core/abi/errno';
import { AT_FDCWD, O_RDONLY, O_WRONLY, O_CREAT, O_DIRECTORY } from '../../../core/vfs/abi';
import type { FileDescription } from '../../../core/vfs/file';
import { lookupAt, openAt, readlinkAt, mkdirAt } from '../../../core/vfs/ops';
import { directfsType, manifest, p9Type } from '../index';
import { Directfs } from '../src/directfs';
import { newWorld, testMemoryFile } from '../../../test/helpers/fake-task';

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

function readAll(t: any, p: string): string {
  const f = openAt(t, AT_FDCWD, p, { flags: O_RDONLY, mode: 0 }) as FileDescription;
  const buf = Buffer.alloc(4096);
  const n = f.read(t, [buf], -1) as number;
  f.decRef();
  return buf.toString('latin1', 0, n);
}

describe('fs-gofer directfs', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'directfs-'));
    fs.writeFileSync(path.join(dir, 'a.txt'), 'hello');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'b.txt'), 'bee');
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'sandbox passwd');
    fs.symlinkSync('/etc', path.join(dir, 'link'));
    fs.symlinkSync('../../../../etc/passwd', path.join(dir, 'sub', 'escape'));
    fs.writeFileSync(path.join(dir, 'weird\xe9'), 'latin1 name', { encoding: 'utf8' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has a manifest registering the directfs and 9p types', () => {
    assert.equal(manifest.kind, 'filesystem');
    assert.equal(manifest.name, 'gofer');
    assert.deepEqual(manifest.configSchema?.properties.mode.enum, ['directfs', '9p']);
    assert.equal(manifest.configSchema?.properties.mode.default, 'directfs');
    assert.equal(directfsType.name, 'directfs');
    assert.equal(p9Type.name, '9p');
  });

  it('reads files, lists directories and reports host inode numbers with ns times', () => {
    const { t } = newWorld(new Directfs(dir, { mf: testMemoryFile() }));
    assert.equal(readAll(t, '/a.txt'), 'hello');
    assert.equal(readAll(t, '/sub/b.txt'), 'bee');
    const st = lookupAt(t, AT_FDCWD, '/a.txt', true).inode.stat();
    const hs = fs.statSync(path.join(dir, 'a.txt'), { bigint: true });
    assert.equal(BigInt(st.ino), hs.ino);
    assert.equal(BigInt(st.mtimeSec) * 1000000000n + BigInt(st.mtimeNsec), hs.mtimeNs);
    const d = openAt(t, AT_FDCWD, '/sub', { flags: O_RDONLY | O_DIRECTORY, mode: 0 }) as FileDescription;
    const names: string[] = [];
    d.getdents(t, (n) => (names.push(n), true));
    assert.deepEqual(names.sort(), ['.', '..', 'b.txt', 'escape']);
  });

  it('resolves host symlinks inside the sandbox root, never on the host', () => {
    const { t } = newWorld(new Directfs(dir));
    assert.equal(readlinkAt(t, AT_FDCWD, '/link'), '/etc');
    assert.equal(readAll(t, '/link/passwd'), 'sandbox passwd');
    assert.equal(readAll(t, '/sub/escape'), 'sandbox passwd');
  });

  it('is read-only', () => {
    const { t } = newWorld(new Directfs(dir));
    assert.equal(
      errno(() => openAt(t, AT_FDCWD, '/a.txt', { flags: O_WRONLY, mode: 0 })),
      EROFS,
    );
    assert.equal(
      errno(() => openAt(t, AT_FDCWD, '/new', { flags: O_WRONLY | O_CREAT, mode: 0o644 })),
      EROFS,
    );
    assert.equal(
      errno(() => mkdirAt(t, AT_FDCWD, '/d', 0o755)),
      EROFS,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/missing', true)),
      ENOENT,
    );
  });

  it('serves private and shared mappings', () => {
    const { t } = newWorld(new Directfs(dir, { mf: testMemoryFile() }));
    const f = openAt(t, AT_FDCWD, '/a.txt', { flags: O_RDONLY, mode: 0 }) as FileDescription;
    const m = f.mappable()!;
    const b = new Uint8Array(8);
    assert.equal(m.readForMap(1, b), 4);
    assert.equal(Buffer.from(b.subarray(0, 4)).toString(), 'ello');
    assert.equal(m.size(), 5);
    const obj = m.sharedObject();
    const c = new Uint8Array(5);
    obj.read(0, c);
    assert.equal(Buffer.from(c).toString(), 'hello');
    f.decRef();
  });
});
