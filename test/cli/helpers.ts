/** Test helpers: temporary folders and running the real CLI (`node bin/run.js`, after the build). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (this file runs from dist/test/cli). */
export const REPO = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(REPO, 'bin', 'run.js');
/** Source folder of the third-party plugin fixtures. */
export const FIXTURES = path.join(REPO, 'test', 'fixtures', 'plugins');

/**
 * Temporary folders removed by cleanup(). Use one per suite:
 * `const tmp = new TempDirs(); after(() => tmp.cleanup());`
 */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'tsvisor-test-'): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** A new folder holding `files` (name → content); returns its path. */
  withFiles(files: Record<string, string>): string {
    const d = this.make();
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
      fs.writeFileSync(path.join(d, name), content);
    }
    return d;
  }

  cleanup(): void {
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** The environment without RUNSC_* variables, so the host's settings never leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('RUNSC_') && k !== 'TSVISOR_INTERNAL') env[k] = v;
  return { ...env, ...extra };
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/run.js ...args` and waits for it. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? os.tmpdir(),
    env: cleanEnv(opts.env),
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
