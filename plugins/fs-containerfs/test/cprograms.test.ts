/**
 * The C suite (test/integration/cprograms.test.ts's programs, static, static-PIE and
 * dynamic) on a containerfs root: the compiled programs, the dynamic loader and the
 * libraries they link (as ldd lists them) and /etc/hostname are packed into two layer
 * images; each program's stdout, stderr and exit status under `runsc do` on that root
 * must equal the native run's (which the main suite also requires of the directfs root).
 * The images copy the host files' modes (forkexec execs /etc/hostname and expects the
 * host's errno for it).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, runNative, runSandbox } from '../../../test/integration/harness';
import { writeImage, type Entry } from '../src/format/writer';

// cputime is left out: it compares CPU-time accounting, which flakes on a loaded machine
// in the main suite too, and reads no files.
const PROGRAMS = [
  'robust',
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
];
const DYNAMIC = ['threads', 'forkexec', 'signals', 'memory', 'fileops'];
const MODES = ['static', 'static-pie', 'dynamic'] as const;

describe('C programs on a containerfs root vs native', function () {
  this.timeout(180000);
  let work: string;
  let config: string;
  const bins = new Map<string, string>();

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-c-'));
    for (const mode of MODES)
      for (const name of mode === 'dynamic' ? DYNAMIC : PROGRAMS)
        bins.set(`${name}/${mode}`, buildC(name, mode));
    const lower: Entry[] = [
      {
        path: '/etc/hostname',
        kind: 'file',
        perm: fs.statSync('/etc/hostname').mode & 0o7777,
        content: { data: fs.readFileSync('/etc/hostname') },
      },
    ];
    const libs = new Set<string>();
    for (const name of DYNAMIC) {
      const out = spawnSync('ldd', [bins.get(`${name}/dynamic`)!], { encoding: 'utf8' }).stdout;
      for (const m of out.matchAll(/(\/[^\s]+)\s+\(0x/g)) libs.add(m[1]);
    }
    assert.ok(
      [...libs].some((l) => l.includes('ld-linux')),
      'ldd lists the dynamic loader',
    );
    for (const lib of libs)
      lower.push({
        path: lib,
        kind: 'file',
        perm: 0o755,
        content: { data: fs.readFileSync(fs.realpathSync(lib)) },
      });
    const upper: Entry[] = [{ path: '/tmp', kind: 'dir', perm: 0o1777 }];
    for (const bin of bins.values())
      upper.push({ path: bin, kind: 'file', perm: 0o755, content: { data: fs.readFileSync(bin) } });
    writeImage(lower, path.join(work, 'libs.img'));
    writeImage(upper, path.join(work, 'progs.img'));
    config = path.join(work, 'runsc.config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: ['libs.img', 'progs.img'] } }),
    );
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  for (const mode of MODES)
    for (const name of mode === 'dynamic' ? DYNAMIC : PROGRAMS) {
      it(`${name} (${mode})`, () => {
        const bin = bins.get(`${name}/${mode}`)!;
        const args =
          name === 'fileops' || name === 'misc4' || name === 'unixsock'
            ? [bin, `/tmp/${name}-cfs-${process.pid}-${mode}`]
            : [bin];
        const native = runNative(args);
        const sandbox = runSandbox(args, { flags: ['--config', config] });
        assert.equal(sandbox.stdout, native.stdout, 'stdout');
        assert.equal(sandbox.stderr, native.stderr, 'stderr');
        assert.equal(sandbox.status, native.status, 'exit status');
      });
    }
});
