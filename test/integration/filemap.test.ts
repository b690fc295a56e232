/**
 * Private mappings of files that are not written (program text, read-only data): the same
 * behaviour as Linux (filemap.c, compared), and one copy of the file in memory however
 * many processes map it or run it (the read-only page cache mapped copy-on-write, by mmap
 * and by the ELF loader).
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative, runSandbox } from './harness';

describe('private file mappings: native vs runsc do', function () {
  this.timeout(120000);
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-filemap-'));
    fs.writeFileSync(path.join(dir, 'small.dat'), randomBytes(200 * 1024 + 123));
    fs.writeFileSync(path.join(dir, 'big.dat'), randomBytes(32 * 1024 * 1024));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const mode of ['static', 'dynamic'] as const)
    it(`copy-on-write, MADV_DONTNEED, fork, offsets and mremap (${mode})`, () => {
      const bin = buildC('filemap', mode);
      const args = [bin, path.join(dir, 'small.dat')];
      const native = runNative(args);
      const sandbox = runSandbox(args);
      assert.match(native.stdout, /a == file: 1, b == file: 1/);
      assert.equal(sandbox.stdout, native.stdout);
      assert.equal(sandbox.stderr, native.stderr);
      assert.equal(sandbox.status, native.status);
    });

  it('six processes mapping a 32 MiB file privately hold one copy of it', () => {
    const bin = buildC('filemap');
    const r = runSandbox([bin, path.join(dir, 'big.dat'), 'share', '6']);
    assert.equal(r.status, 0, r.stderr);
    const m = /memfree drop MB: (-?\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // One copy is 32 MiB; a private copy per process would be 192 MiB.
    assert.ok(Number(m[1]) < 64, `MemFree dropped by ${m[1]} MB`);
  });

  it('four children of a process with 64 MiB of heap share it until they write (lazy copy-on-write)', () => {
    const bin = buildC('forkcow');
    const r = runSandbox([bin, 'share', '4']);
    assert.equal(r.status, 0, r.stderr);
    const m = /memfree drop MB: (-?\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // Copying at fork would take 4 x 64 MiB.
    assert.ok(Number(m[1]) < 32, `MemFree dropped by ${m[1]} MB`);
  });

  it("six copies of a program share its read-only segment (8 MiB): the loader maps the file's pages", () => {
    const bin = buildC('bigtext');
    const r = runSandbox([bin, '6']);
    assert.equal(r.status, 0, r.stderr);
    const m = /memfree drop MB: (-?\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // One copy of the data is 8 MiB; a copy per process would be 48 MiB.
    assert.ok(Number(m[1]) < 24, `MemFree dropped by ${m[1]} MB`);
  });
});
