/**
 * busybox-static applets, natively and under `runsc do`, compared byte for byte
 * (stdout, stderr, exit status). Needs Debian's busybox-static (.ci/run installs it).
 */
import * as assert from 'node:assert/strict';
import { CASES, PID_CASES } from './busybox-cases';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { haveBusybox, runNative, runSandbox } from './harness';

const BB = '/bin/busybox';

/** Scripts run as `busybox sh -c SCRIPT` in a scratch directory $D (created by the script). */

describe('busybox applets: native vs runsc do', function () {
  this.timeout(120000);
  before(function () {
    if (!haveBusybox()) this.skip();
  });
  for (const [name, script] of CASES) {
    it(name, () => {
      const D = `/tmp/tsvisor-bb-${randomBytes(4).toString('hex')}`;
      try {
        const native = runNative([BB, 'sh', '-c', script], { env: { D } });
        fs.rmSync(D, { recursive: true, force: true });
        const sandbox = runSandbox([BB, 'sh', '-c', script], { env: { D } });
        assert.equal(sandbox.stdout, native.stdout, 'stdout');
        assert.equal(sandbox.stderr, native.stderr, 'stderr');
        assert.equal(sandbox.status, native.status, 'exit status');
        // The sandbox writes into its own overlay: nothing lands on the host.
        assert.equal(fs.existsSync(D), false, `sandbox wrote ${D} on the host`);
      } finally {
        fs.rmSync(D, { recursive: true, force: true });
      }
    });
  }
  for (const [name, script] of PID_CASES) {
    it(`${name} (natively in a new PID namespace)`, () => {
      const native = runNative(['unshare', '--pid', '--fork', '--mount-proc', BB, 'sh', '-c', script]);
      const sandbox = runSandbox([BB, 'sh', '-c', script]);
      assert.equal(sandbox.stdout, native.stdout, 'stdout');
      assert.equal(sandbox.stderr, native.stderr, 'stderr');
      assert.equal(sandbox.status, native.status, 'exit status');
    });
  }
});
