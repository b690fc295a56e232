/**
 * C programs compiled at test time (gcc -static and -static-pie), run natively and under
 * `runsc do`; stdout, stderr and exit status must match.
 */
import * as assert from 'node:assert/strict';
import { buildC, runNative, runSandbox } from './harness';
import { DYNAMIC, PROGRAMS, programArgs } from './cprograms-list';

describe('C programs: native vs runsc do', function () {
  this.timeout(180000);
  for (const mode of ['static', 'static-pie', 'dynamic'] as const)
    for (const name of mode === 'dynamic' ? DYNAMIC : PROGRAMS) {
      it(`${name} (${mode})`, () => {
        const bin = buildC(name, mode);
        const args = programArgs(name, bin, mode);
        const native = runNative(args);
        const sandbox = runSandbox(args);
        assert.equal(sandbox.stdout, native.stdout, 'stdout');
        assert.equal(sandbox.stderr, native.stderr, 'stderr');
        assert.equal(sandbox.status, native.status, 'exit status');
      });
    }

  it('init (pid 1) semantics: signals without a handler are dropped, blocked ones queue', () => {
    const bin = buildC('init');
    const native = runNative(['unshare', '--pid', '--fork', bin]);
    const sandbox = runSandbox([bin]);
    assert.equal(native.stdout, 'pid=1 ppid=0\nsigtimedwait=10 from_child=1\nstill alive after SIGTERM\n');
    assert.equal(sandbox.stdout, native.stdout);
    assert.equal(sandbox.status, native.status);
  });
});
