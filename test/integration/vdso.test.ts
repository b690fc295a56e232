/**
 * The vDSO (core/kernel/vdso.ts, core/vdso/): programs read the clocks without a trap, and
 * what they see matches Linux — symbols and versions, clocks consistent with the system
 * calls, [vvar]/[vdso] mappings and the errors Linux gives for them, fork and patching.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO, RUNSC, buildC, runNative, runSandbox } from './harness';

describe('vDSO: native vs runsc do', function () {
  this.timeout(120000);

  for (const mode of ['static', 'static-pie', 'dynamic'] as const)
    it(`clocks, symbols, mappings, fork and patching (${mode})`, () => {
      const bin = buildC('vdso', mode);
      const native = runNative([bin]);
      const sandbox = runSandbox([bin]);
      // The program prints facts, not times: every line must be the same as on Linux.
      assert.match(native.stdout, /AT_SYSINFO_EHDR present: 1/);
      assert.equal(sandbox.stdout, native.stdout);
      assert.equal(sandbox.stderr, native.stderr);
      assert.equal(sandbox.status, native.status);
    });

  it('clock_gettime through glibc makes no system call; syscall(2) still does', () => {
    const bin = buildC('vdsotrace', 'dynamic');
    const r = spawnSync(process.execPath, [RUNSC, '--strace', 'do', bin], {
      cwd: REPO,
      encoding: 'utf8',
      input: '',
    });
    assert.equal(r.stdout, 'done 1\n');
    assert.equal(r.status, 0);
    const calls = r.stderr.split('\n').filter((l) => / X clock_gettime\(/.test(l));
    // Exactly the three direct system calls reach the sentry; the 100 libc calls do not.
    assert.equal(calls.length, 3, calls.join('\n'));
    assert.ok(
      calls.every((l) => l.includes('clock_gettime(CLOCK_REALTIME, ')),
      calls.join('\n'),
    );
  });
});
