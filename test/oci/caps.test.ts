/**
 * config.json `process.capabilities`, `process.noNewPrivileges` and `process.user`, and
 * `exec --user/--cap/--process`, compared with Debian's runc: the same bundle (busybox plus
 * test/integration/c/capsoci.c, a static program that prints its ids and capability sets
 * and tries privileged operations) run by runc and by runsc gives the same output.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../../core/runtime/oci/spec';
import { buildC } from '../integration/harness';
import {
  cleanupRoot,
  cleanupRuncRoot,
  haveBusybox,
  haveRunc,
  makeBundle,
  runc,
  runsc,
  tmpDir,
  until,
  type Result,
} from './helpers';

/** The spec's process (makeBundle's spec always has one). */
function proc(s: Spec): NonNullable<Spec['process']> {
  if (!s.process) throw new Error('bundle spec without a process');
  return s.process;
}

const TMPFS = {
  destination: '/tmp',
  type: 'tmpfs',
  source: 'tmpfs',
  options: ['nosuid', 'nodev', 'mode=1777'],
};

const VARIANTS: [string, (s: Spec) => void][] = [
  ['the default spec (root, 3 capabilities, no_new_privs)', () => undefined],
  [
    'root with a narrow bounding set, permitted beyond effective, an inheritable capability',
    (s) => {
      proc(s).noNewPrivileges = false;
      proc(s).capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_MKNOD', 'CAP_SYS_ADMIN'],
        effective: ['CAP_CHOWN'],
        permitted: ['CAP_CHOWN', 'CAP_SETUID'],
        inheritable: ['CAP_MKNOD'],
      };
    },
  ],
  [
    'uid 1000 with supplementary groups and ambient capabilities',
    (s) => {
      proc(s).user = { uid: 1000, gid: 1000, additionalGids: [5, 6] };
      proc(s).capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_MKNOD'],
        effective: ['CAP_CHOWN', 'CAP_KILL'],
        permitted: ['CAP_CHOWN', 'CAP_KILL'],
        inheritable: ['CAP_CHOWN', 'CAP_KILL'],
        ambient: ['CAP_CHOWN', 'CAP_KILL'],
      };
    },
  ],
  [
    'uid 1000 without ambient capabilities, no capabilities block at all',
    (s) => {
      proc(s).user = { uid: 1000, gid: 1000 };
      delete proc(s).capabilities;
      proc(s).noNewPrivileges = false;
    },
  ],
  [
    'root with every capability but CAP_SYS_RESOURCE (absent on this host)',
    (s) => {
      const all = [
        'CAP_CHOWN',
        'CAP_DAC_OVERRIDE',
        'CAP_DAC_READ_SEARCH',
        'CAP_FOWNER',
        'CAP_FSETID',
        'CAP_KILL',
        'CAP_SETGID',
        'CAP_SETUID',
        'CAP_SETPCAP',
        'CAP_SYS_CHROOT',
        'CAP_SYS_NICE',
        'CAP_MKNOD',
      ];
      proc(s).capabilities = { bounding: all, effective: all, permitted: all };
    },
  ],
];

function same(mine: Result, theirs: Result): void {
  assert.equal(theirs.code, 0, `runc: ${theirs.stderr}`);
  assert.match(theirs.stdout, /^CapEff:/m);
  assert.equal(mine.stdout, theirs.stdout, 'stdout');
  assert.equal(mine.code, theirs.code, `exit status: ${mine.stderr}`);
}

describe('oci: capabilities, no_new_privs and user from config.json, compared with runc', function () {
  this.timeout(180_000);
  let work: string;
  let root: string;
  let runcRoot: string;
  let bin: string;

  before(function () {
    if (!haveBusybox() || !haveRunc()) this.skip();
    work = tmpDir('tsvisor-oci-caps-');
    root = path.join(work, 'state');
    runcRoot = path.join(work, 'runc-state');
    bin = buildC('capsoci');
  });
  after(async () => {
    if (!work) return;
    await cleanupRoot(root);
    await cleanupRuncRoot(runcRoot);
    fs.rmSync(work, { recursive: true, force: true });
  });

  function bundle(name: string, args: string[], edit: (s: Spec) => void): string {
    const dir = makeBundle(path.join(work, name), args, (s) => {
      (s.mounts ??= []).push({ ...TMPFS });
      edit(s);
    });
    fs.copyFileSync(bin, path.join(dir, 'rootfs', 'capsoci'));
    fs.chmodSync(path.join(dir, 'rootfs', 'capsoci'), 0o755);
    // runc gives a tmpfs the mode of the directory it covers.
    fs.chmodSync(path.join(dir, 'rootfs', 'tmp'), 0o1777);
    return dir;
  }

  VARIANTS.forEach(([what, edit], i) => {
    it(`run: ${what}`, async () => {
      const b = bundle(`run${i}`, ['/capsoci'], edit);
      const mine = await runsc(root, ['run', '--bundle', b, `mine${i}`]);
      const theirs = await runc(runcRoot, ['run', '--bundle', b, `theirs${i}`]);
      same(mine, theirs);
    });
  });

  it('a tmpfs mounted on an existing directory takes its mode (over mode=), as runc', async () => {
    const b = makeBundle(
      path.join(work, 'tmpfsmode'),
      ['/bin/busybox', 'stat', '-c', '%n %a %u %g', '/tmp', '/run', '/var'],
      (s) => {
        (s.mounts ??= []).push(
          { ...TMPFS },
          { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777'] },
          { destination: '/var', type: 'tmpfs', source: 'tmpfs', options: ['mode=0711'] },
        );
      },
    );
    fs.chmodSync(path.join(b, 'rootfs', 'tmp'), 0o750);
    fs.mkdirSync(path.join(b, 'rootfs', 'run'), { mode: 0o700 });
    fs.chmodSync(path.join(b, 'rootfs', 'run'), 0o2755);
    const mine = await runsc(root, ['run', '--bundle', b, 'tm']);
    const theirs = await runc(runcRoot, ['run', '--bundle', b, 'tt']);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.match(theirs.stdout, /^\/tmp 750 0 0$/m);
    assert.equal(mine.stdout, theirs.stdout);
    assert.equal(mine.code, theirs.code, mine.stderr);
  });

  it('exec --user, --cap, --additional-gids, --no-new-privs and --process: as runc exec', async () => {
    const b = bundle('execs', ['sleep', '1000'], (s) => {
      proc(s).capabilities = {
        bounding: ['CAP_KILL', 'CAP_CHOWN'],
        effective: ['CAP_KILL'],
        permitted: ['CAP_KILL'],
        inheritable: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      };
      proc(s).noNewPrivileges = false;
    });
    const procFile = path.join(work, 'process.json');
    fs.writeFileSync(
      procFile,
      JSON.stringify({
        user: { uid: 1000, gid: 1000, additionalGids: [7] },
        args: ['/capsoci'],
        cwd: '/',
        env: ['PATH=/bin'],
        noNewPrivileges: true,
        capabilities: {
          bounding: ['CAP_CHOWN', 'CAP_FOWNER'],
          effective: ['CAP_CHOWN'],
          permitted: ['CAP_CHOWN', 'CAP_FOWNER'],
          inheritable: ['CAP_FOWNER'],
          ambient: ['CAP_FOWNER'],
        },
      }),
    );
    const EXECS: string[][] = [
      ['/capsoci'],
      ['--user', '1000:1000', '/capsoci'],
      ['--user', '1000:1000', '--cap', 'CAP_CHOWN', '--additional-gids', '9', '/capsoci'],
      ['--cap', 'CAP_MKNOD', '--cap', 'CAP_SYS_CHROOT', '--no-new-privs', '/capsoci'],
      ['--process', procFile],
    ];
    for (const [tool, r, id] of [
      [runsc, root, 'em'],
      [runc, runcRoot, 'et'],
    ] as const) {
      assert.equal((await tool(r, ['create', '--bundle', b, id])).code, 0);
      assert.equal((await tool(r, ['start', id])).code, 0);
      await until(async () => JSON.parse((await tool(r, ['state', id])).stdout).status === 'running');
    }
    for (const e of EXECS) {
      const split = e.indexOf('/capsoci');
      const flags = split < 0 ? e : e.slice(0, split);
      const prog = split < 0 ? [] : e.slice(split);
      const mine = await runsc(root, ['exec', ...flags, 'em', ...prog]);
      const theirs = await runc(runcRoot, ['exec', ...flags, 'et', ...prog]);
      same(mine, theirs);
    }
  });
});
