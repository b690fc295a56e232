/**
 * Real programs from a Debian 12 root filesystem (issue 4): each command runs natively,
 * chrooted into the same root (with its own PID namespace and /proc), and under
 * `runsc do --root-dir ROOT`; stdout, stderr and exit status must match.
 *
 * The root is built once by scripts/debian-rootfs.sh (debootstrap --variant=minbase plus
 * python3, gawk, xz-utils) into .cache/; building needs root and Debian's mirror.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareDebianCases } from './debian-cases';
import { REPO, runNative, runSandbox } from './harness';

let ROOT = '';

function buildRoot(): string | null {
  if (process.getuid?.() !== 0) return null;
  const r = spawnSync('bash', [path.join(REPO, 'scripts', 'debian-rootfs.sh')], {
    encoding: 'utf8',
    timeout: 900000,
  });
  if (r.status !== 0) throw new Error(`debian-rootfs.sh failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

/** The same command natively: chrooted into ROOT, as pid 1 of a new PID namespace with its own /proc, /tmp and /dev/pts. */
function native(argv: string[], env: Record<string, string> = {}) {
  // A private tmpfs on the root's /tmp keeps the native run's files out of the cached root.
  return runNative(
    [
      'unshare',
      '--pid',
      '--fork',
      '--mount',
      `--mount-proc=${ROOT}/proc`,
      'sh',
      '-c',
      'mount -t tmpfs tmpfs "$0/tmp" && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$0/dev/pts" && mount --bind "$0/dev/pts/ptmx" "$0/dev/ptmx" && exec chroot "$0" "$@"',
      ROOT,
      ...argv,
    ],
    { env, timeoutMs: 180000 },
  );
}

function sandboxed(argv: string[], env: Record<string, string> = {}) {
  return runSandbox(argv, { env, flags: ['--root-dir', ROOT], timeoutMs: 300000 });
}

describe('Debian programs: native (chroot) vs runsc do --root-dir', function () {
  this.timeout(600000);
  before(function () {
    const r = buildRoot();
    if (!r) this.skip();
    ROOT = r;
  });
  compareDebianCases(native, sandboxed);
  it('writes stay in the sandbox: the root on the host is untouched', () => {
    const marker = `/tmp/tsvisor-marker-${process.pid}`;
    const s = sandboxed([
      '/bin/bash',
      '-c',
      `echo x > ${marker} && cat ${marker} && touch /etc/marker && echo ok`,
    ]);
    assert.equal(s.stdout, 'x\nok\n');
    assert.equal(fs.existsSync(path.join(ROOT, marker)), false);
    assert.equal(fs.existsSync(path.join(ROOT, 'etc', 'marker')), false);
  });
});
