/**
 * Capabilities, compared with Linux: test/integration/c/caps.c (capget/capset with the three
 * header versions, prctl bounding/ambient/keepcaps/securebits/no_new_privs, the setuid and
 * setfsuid transitions, execve of root, keepcaps, ambient and set-user-ID-root programs,
 * and the privilege checks each capability guards) run natively as root and under
 * `runsc do`; and capsoci.c started through util-linux's setpriv (a real program that sets
 * up capabilities with capset/prctl/setresuid and execs) natively and inside the sandbox.
 * stdout, stderr and exit status must match. Needs root (the native runs change uids).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative, runSandbox } from './harness';

const isRoot = process.getuid?.() === 0;

describe('capabilities: native vs runsc do', function () {
  this.timeout(180_000);
  let work: string;

  before(function () {
    if (!isRoot) this.skip();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-caps-'));
    fs.chmodSync(work, 0o1777);
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  for (const mode of ['static', 'dynamic'] as const)
    it(`caps.c (${mode}): capget/capset, prctl, setuid and execve transitions, privilege checks`, () => {
      const bin = buildC('caps', mode);
      const native = runNative([bin, path.join(work, `native-${mode}`)]);
      const sandbox = runSandbox([bin, path.join(work, `sandbox-${mode}`)]);
      assert.equal(native.status, 0, native.stderr);
      // The program really exercised the transitions (not an early exit with equal output).
      assert.match(native.stdout, /\[setuid-root exec\] \{Uid: 1000 0 0 0\}/);
      assert.match(native.stdout, /\[exec as 1000 with ambient\].*CapAmb: 0000000000000400/);
      assert.match(native.stdout, /^\/proc\/self\/uid_map: \[ +0 +0 4294967295\n\] 33$/m);
      assert.equal(sandbox.stdout, native.stdout, 'stdout');
      assert.equal(sandbox.stderr, native.stderr, 'stderr');
      assert.equal(sandbox.status, native.status, 'exit status');
    });

  const SETPRIV: [string, string[]][] = [
    [
      'ambient chown,kill as uid 1000',
      [
        '--inh-caps=+chown,+kill',
        '--ambient-caps=+chown,+kill',
        '--reuid=1000',
        '--regid=1000',
        '--init-groups',
      ],
    ],
    [
      'bounding set cut to chown,setuid,setgid, uid 1000',
      ['--bounding-set=-all,+chown,+setuid,+setgid', '--reuid=1000', '--regid=1000', '--keep-groups'],
    ],
    [
      'root, no_new_privs, bounding without sys_admin,chown,mknod',
      ['--no-new-privs', '--bounding-set=-sys_admin,-chown,-mknod'],
    ],
    ['uid 1000, no groups', ['--reuid=1000', '--regid=1000', '--clear-groups']],
    ['root with an inheritable set, keep_caps', ['--inh-caps=+mknod,+chown', '--securebits=+noroot']],
  ];
  for (const [what, args] of SETPRIV)
    it(`setpriv ${what}: the same sets and privileges`, function () {
      if (!fs.existsSync('/usr/bin/setpriv')) this.skip();
      const bin = buildC('capsoci');
      const argv = ['/usr/bin/setpriv', ...args, '--', bin, work];
      const native = runNative(argv);
      const sandbox = runSandbox(argv);
      assert.equal(native.status, 0, native.stderr);
      assert.match(native.stdout, /^CapEff:/m);
      assert.equal(sandbox.stdout, native.stdout, 'stdout');
      assert.equal(sandbox.stderr, native.stderr, 'stderr');
      assert.equal(sandbox.status, native.status, 'exit status');
    });
});
