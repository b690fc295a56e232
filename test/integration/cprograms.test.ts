/**
 * C programs compiled at test time (gcc -static and -static-pie), run natively and under
 * `runsc do`; stdout, stderr and exit status must match.
 */
import * as assert from 'node:assert/strict';
import { buildC, runNative, runSandbox } from './harness';

const PROGRAMS = [
  'robust',
  'cputime',
  'threads',
  'forkexec',
  'signals',
  'memory',
  'futex',
  'pipes',
  'fileops',
  'anonfds',
  'pty',
  'sysvipc',
  'misc4',
  'unixsock',
  'jobctl',
  'forkcow',
  'fdlimit',
];

/** Dynamically linked (ld.so, libc.so from the host root): the loader's PT_INTERP path. */
const DYNAMIC = ['threads', 'forkexec', 'signals', 'memory', 'fileops', 'forkcow'];

describe('C programs: native vs runsc do', function () {
  this.timeout(180000);
  for (const mode of ['static', 'static-pie', 'dynamic'] as const)
    for (const name of mode === 'dynamic' ? DYNAMIC : PROGRAMS) {
      it(`${name} (${mode})`, () => {
        const bin = buildC(name, mode);
        const args =
          name === 'fileops' || name === 'misc4' || name === 'unixsock'
            ? [bin, `/tmp/${name}-${process.pid}-${mode}`]
            : [bin];
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
