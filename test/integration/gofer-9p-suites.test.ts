/**
 * The busybox and C suites of the sentry issue (test/integration/busybox-cases.ts,
 * cprograms-list.ts) with `rootfs: gofer`, `gofer.mode: 9p` and `gofer.overlay: none`: the
 * host's root is served by a runsc gofer and the programs' writes go through it to the host.
 * Each case runs natively and in the sandbox (harness runNative/runSandbox, RUNSC_CONFIG);
 * output, errors and exit status must match, and so must what the two runs leave on the host
 * in their scratch directory.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CASES, PID_CASES } from './busybox-cases';
import { DYNAMIC, PROGRAMS, programArgs } from './cprograms-list';
import { buildC, haveBusybox, runNative, runSandbox } from './harness';
import { walkTree } from '../../plugins/fs-gofer/test/helpers';

const BB = '/bin/busybox';

/**
 * What a directory holds (names, types, modes, sizes), or null when absent. Not contents:
 * some files embed the time they were made (tar headers); the outputs compare contents.
 */
function contents(dir: string): string[] | null {
  if (!fs.existsSync(dir)) return null;
  return walkTree(dir).map(({ rel, st }) => {
    const what = st.isSymbolicLink() ? fs.readlinkSync(path.join(dir, rel)) : '';
    return `${rel} ${st.mode.toString(8)} ${st.isDirectory() ? '-' : st.size} ${what}`;
  });
}

describe('gofer mode 9p, overlay none: the busybox and C suites write the host through the gofer', function () {
  this.timeout(180_000);
  let tmp: string;
  let saved: string | undefined;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-suites-'));
    const cfg = path.join(tmp, '9p-rw.json');
    fs.writeFileSync(cfg, JSON.stringify({ gofer: { mode: '9p', overlay: 'none' } }));
    saved = process.env.RUNSC_CONFIG;
    process.env.RUNSC_CONFIG = cfg;
  });

  after(() => {
    if (saved === undefined) delete process.env.RUNSC_CONFIG;
    else process.env.RUNSC_CONFIG = saved;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('busybox', function () {
    before(function () {
      if (!haveBusybox()) this.skip();
    });
    for (const [name, script] of CASES) {
      it(name, () => {
        const D = `/tmp/tsvisor-bb9p-${randomBytes(4).toString('hex')}`;
        try {
          const native = runNative([BB, 'sh', '-c', script], { env: { D } });
          const left = contents(D);
          fs.rmSync(D, { recursive: true, force: true });
          const sandbox = runSandbox([BB, 'sh', '-c', script], { env: { D } });
          assert.equal(
            sandbox.stdout,
            native.stdout,
            `stdout (status ${sandbox.status}, stderr: ${sandbox.stderr})`,
          );
          assert.equal(sandbox.stderr, native.stderr, 'stderr');
          assert.equal(sandbox.status, native.status, 'exit status');
          // No overlay: the sandbox's writes are on the host, as the native run's were.
          assert.deepEqual(contents(D), left, `what ${D} holds afterwards`);
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

  describe('C programs', function () {
    for (const mode of ['static', 'static-pie', 'dynamic'] as const)
      for (const name of mode === 'dynamic' ? DYNAMIC : PROGRAMS) {
        it(`${name} (${mode})`, () => {
          const bin = buildC(name, mode);
          const args = programArgs(name, bin, mode);
          const dir = args[1];
          try {
            const native = runNative(args);
            const left = dir ? contents(dir) : null;
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
            const sandbox = runSandbox(args);
            assert.equal(
              sandbox.stdout,
              native.stdout,
              `stdout (status ${sandbox.status}, stderr: ${sandbox.stderr})`,
            );
            assert.equal(sandbox.stderr, native.stderr, 'stderr');
            assert.equal(sandbox.status, native.status, 'exit status');
            if (dir) assert.deepEqual(contents(dir), left, `what ${dir} holds afterwards`);
          } finally {
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
          }
        });
      }
  });
});
