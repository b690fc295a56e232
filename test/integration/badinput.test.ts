/**
 * Bad input: corrupted ELF files (truncated, bogus headers, overlapping segments, random
 * flips) exec'ed natively and in the sandbox must end the same way (the same execve errno,
 * exit status or signal), with the sentry alive throughout.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative, runSandbox } from './harness';
import { corruptions } from './elf-corrupt';

describe('bad input: corrupted ELF executables', function () {
  this.timeout(300000);
  it('200 corrupted ELFs end natively and in the sandbox the same way, and the sentry survives', () => {
    const runner = buildC('execrunner');
    const tiny = fs.readFileSync(buildC('tiny'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-elf-'));
    try {
      const files: string[] = [];
      for (const [name, data] of corruptions(tiny)) {
        const p = path.join(dir, name);
        fs.writeFileSync(p, data, { mode: 0o755 });
        files.push(p);
      }
      assert.equal(files.length, 200);
      const native = runNative([runner, ...files], { timeoutMs: 120000 });
      const sandbox = runSandbox([runner, ...files], { timeoutMs: 240000 });
      assert.equal(native.status, 0, native.stderr);
      assert.equal(sandbox.status, 0, `the sandbox did not finish cleanly: ${sandbox.stderr.slice(0, 2000)}`);
      const n = native.stdout.trim().split('\n');
      const s = sandbox.stdout.trim().split('\n');
      assert.equal(s.length, 200);
      const diffs = n
        .map((line, i) => (line === s[i] ? null : `native "${line}" / sandbox "${s[i]}"`))
        .filter(Boolean);
      assert.deepEqual(diffs, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
