/**
 * No process is left behind: after a normal exit, the app SIGKILLed from inside, runsc
 * SIGKILLed, Ctrl-C (SIGINT to runsc), and a sentry crash (runsc dying on SIGSEGV), the
 * host has no stub process and no runsc of ours. Also: exit statuses of runsc do.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { RUNSC, REPO, runSandbox, stubProcesses } from './harness';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Stub processes (comm tsvisor-stub*) whose ancestry includes `pid`, or any at all when pid is 0. */
function stubsOf(rootPid: number): number[] {
  const out: number[] = [];
  for (const pid of stubProcesses()) {
    let p = pid;
    for (let i = 0; i < 64 && p > 1; i++) {
      if (p === rootPid) {
        out.push(pid);
        break;
      }
      try {
        p = Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]);
      } catch {
        break;
      }
    }
  }
  return out;
}

async function waitGone(pids: number[], ms = 5000): Promise<number[]> {
  const end = Date.now() + ms;
  let alive = pids;
  while (Date.now() < end) {
    alive = alive.filter((p) => {
      try {
        const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        return !/\) Z /.test(st);
      } catch {
        return false;
      }
    });
    if (!alive.length) return [];
    await sleep(50);
  }
  return alive;
}

/** Start `runsc do busybox sh -c SCRIPT` and wait until its sandbox has `n` stubs. */
async function startSandbox(script: string, nStubs: number) {
  const child = spawn(process.execPath, [RUNSC, 'do', '--', '/bin/busybox', 'sh', '-c', script], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Listen from the start: a short script may end before its stubs are even seen.
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  let stubs: number[] = [];
  for (let i = 0; i < 200; i++) {
    stubs = stubsOf(child.pid!);
    if (stubs.length >= nStubs || child.exitCode !== null) break;
    await sleep(50);
  }
  return { child, stubs, exited };
}

describe('runsc do: process lifecycle', function () {
  this.timeout(60000);

  it('exit statuses: code, 128+signal, 127 for a missing command', () => {
    assert.equal(runSandbox(['/bin/busybox', 'sh', '-c', 'exit 7']).status, 7);
    assert.equal(runSandbox(['/bin/busybox', 'sh', '-c', 'kill -TERM $$']).status, 128 + 15);
    const missing = runSandbox(['/no/such/program']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /\/no\/such\/program: no such file or directory/);
    const notInPath = runSandbox(['no-such-program-anywhere']);
    assert.equal(notInPath.status, 127);
    assert.match(notInPath.stderr, /no-such-program-anywhere: executable file not found in \$PATH/);
    const notElf = runSandbox(['/etc/hostname']);
    assert.equal(notElf.status, 126);
    assert.match(notElf.stderr, /exec format error|permission denied/);
  });

  it('--strace prints every syscall with decoded arguments and results', () => {
    const r = spawnSync(
      process.execPath,
      [RUNSC, '--strace', 'do', '/bin/busybox', 'sh', '-c', 'echo hi; cat /nonexistent'],
      {
        cwd: REPO,
        encoding: 'utf8',
        input: '',
      },
    );
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[ +1: +1\] busybox X write\(1, "hi\\n", 3\) = 3 \(/);
    assert.match(r.stderr, /X open(at)?\((-100, )?"\/nonexistent", O_RDONLY[^)]*\) = -2 \(ENOENT\)/);
    assert.match(r.stderr, /rseq: unsupported syscall, returning ENOSYS/);
    assert.match(r.stderr, /X rseq\(.*\) = -38 \(ENOSYS\)/);
    assert.match(r.stderr, /X execve\("\/proc\/self\/exe", \["cat", "\/nonexistent"\]/);
  });

  it('every sandbox log line names the sandbox, and kernel lines their task', () => {
    const r = spawnSync(
      process.execPath,
      [RUNSC, '--debug', '--log-format', 'json', 'do', '/bin/busybox', 'sh', '-c', 'true'],
      { cwd: REPO, encoding: 'utf8', input: '' },
    );
    assert.equal(r.status, 0);
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const sandboxLines = lines.filter((l) => l.sandboxId !== undefined);
    assert.ok(sandboxLines.length >= 3, r.stderr);
    assert.equal(new Set(sandboxLines.map((l) => l.sandboxId)).size, 1);
    const exec = lines.find((l) => l.msg === 'execve');
    assert.ok(exec && exec.tid === 1 && typeof exec.sandboxId === 'string', JSON.stringify(exec));
  });

  it('leaves no stub after a normal exit', async () => {
    const { stubs, exited } = await startSandbox('sleep 0.3; exit 0', 1);
    assert.ok(stubs.length >= 1, 'the sandbox had stubs while running');
    await exited;
    assert.deepEqual(await waitGone(stubs), []);
  });

  it('leaves no stub when the app is SIGKILLed from inside', async () => {
    const { stubs, exited } = await startSandbox('sleep 5 & kill -9 $$', 1);
    assert.equal(await exited, 137);
    assert.deepEqual(await waitGone(stubs), []);
  });

  for (const [what, sig] of [
    ['runsc is SIGKILLed', 'SIGKILL'],
    ['Ctrl-C (SIGINT to runsc)', 'SIGINT'],
    ['the sentry crashes (SIGSEGV)', 'SIGSEGV'],
    ['runsc gets SIGTERM', 'SIGTERM'],
  ] as const) {
    it(`leaves no stub when ${what}`, async () => {
      // The sleeps outlast the test's timeout: only the signal can end the sandbox in time.
      const { child, stubs, exited } = await startSandbox('sleep 1000 & sleep 1000; wait', 3);
      assert.ok(stubs.length >= 3, `expected 3 stubs, saw ${stubs.length}`);
      child.kill(sig);
      await exited;
      assert.deepEqual(await waitGone(stubs), [], `stubs left after ${sig}`);
      assert.deepEqual(stubsOf(child.pid!), []);
    });
  }
});
