/**
 * A fuzzer issuing 100,000 random syscalls with random arguments inside the sandbox: the
 * app may only see errnos or die by its own hand; the sentry stays up (runsc exits with the
 * fuzzer's own status), and no host file is changed — including files the fuzzer is
 * pointed at by path.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildC, leftoverProcesses, runSandbox } from './harness';

function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d).sort()) {
      const p = path.join(d, e);
      const st = fs.lstatSync(p);
      out.push(
        `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.uid}:${st.gid}`,
      );
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(fs.readFileSync(p, 'hex'));
    }
  };
  walk(dir);
  return out.join('\n');
}

describe('bad input: syscall fuzzing', function () {
  this.timeout(600000);
  it('100,000 random syscalls: only errnos or the app’s own death; sentry alive; host untouched', () => {
    const fuzz = buildC('fuzz');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-fuzz-'));
    try {
      fs.writeFileSync(path.join(dir, 'canary'), 'do not touch\n', { mode: 0o644 });
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.writeFileSync(path.join(dir, 'sub', 'inner'), 'inner\n');
      const before = snapshot(dir);
      const etcBefore = fs.statSync('/etc/passwd').mtimeMs;
      const r = runSandbox([fuzz, '12345', '100000', dir], { timeoutMs: 540000 });
      assert.equal(r.status, 0, `runsc exited ${r.status}: ${r.stderr.slice(-3000)}`);
      const m = /fuzz done: (\d+) syscalls, (\d+) workers, (\d+) deaths/.exec(r.stdout);
      assert.ok(m, `fuzzer output: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-2000)}`);
      assert.ok(Number(m[1]) >= 100000);
      assert.doesNotMatch(r.stderr, /sentry error|internal error/);
      assert.equal(snapshot(dir), before, 'files under the fuzzed directory changed on the host');
      assert.equal(fs.statSync('/etc/passwd').mtimeMs, etcBefore);
      assert.deepEqual(leftoverProcesses(), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
