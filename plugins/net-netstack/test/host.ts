/** Helpers for tests that talk to the host kernel through a TAP device. */
import { spawn, execFileSync } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (the stack must keep running on the event loop meanwhile). */
export function run(cmd: string, args: string[], timeoutMs = 60_000, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}

/** Debian's python (the PATH python3 may be a pyenv shim). */
export function python(script: string, timeoutMs = 60_000): Promise<RunResult> {
  return run('/usr/bin/python3', ['-c', script], timeoutMs);
}

/** Synchronous `ip ...` for set-up/tear-down (no stack traffic involved). */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export function canUseTap(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (TAP devices)';
  try {
    execFileSync('test', ['-c', '/dev/net/tun']);
  } catch {
    return 'no /dev/net/tun';
  }
  return undefined;
}
