/**
 * C programs compiled at test time (gcc -static and -static-pie), run natively and under
 * `runsc do`; stdout, stderr and exit status must match.
 */
import * as assert from 'node:assert/strict';
import { buildC, runNative, runSandbox } from './harness';

const PROGRAMS = ['threads', 'forkexec', 'signals', 'memory', 'futex', 'pipes', 'fileops', 'anonfds'];

describe('C programs: native vs runsc do', function () {
  this.timeout(180000);
  for (const mode of ['static', 'static-pie'] as const)
    for (const name of PROGRAMS) {
      it(`${name} (${mode})`, () => {
        const bin = buildC(name, mode);
        const args = name === 'fileops' ? [bin, `/tmp/fileops-${process.pid}-${mode}`] : [bin];
        const native = runNative(args);
        const sandbox = runSandbox(args);
        assert.equal(sandbox.stdout, native.stdout, 'stdout');
        assert.equal(sandbox.stderr, native.stderr, 'stderr');
        assert.equal(sandbox.status, native.status, 'exit status');
      });
    }
});
