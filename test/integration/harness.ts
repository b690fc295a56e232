/**
 * Integration-test harness: build C fixtures with gcc at test time, run a command natively
 * and under `runsc do`, and compare stdout, stderr and exit status.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const RUNSC = path.join(REPO, 'bin', 'run.js');
const CSRC = path.join(REPO, 'test', 'integration', 'c');

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit status as a shell reports it: the code, or 128+N when killed by signal N. */
  status: number;
}

function toResult(r: SpawnSyncReturns<Buffer>): RunResult {
  if (r.error) throw r.error;
  const sigs = os.constants.signals as Record<string, number>;
  const status = r.status ?? (r.signal ? 128 + sigs[r.signal] : -1);
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), status };
}

export interface RunOpts {
  input?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

const BASE_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
  LANG: 'C',
  HOME: '/root',
  TERM: 'dumb',
};

export function runNative(argv: string[], o: RunOpts = {}): RunResult {
  return toResult(
    spawnSync(argv[0], argv.slice(1), {
      input: o.input ?? '',
      cwd: o.cwd ?? '/',
      env: { ...BASE_ENV, ...o.env },
      timeout: o.timeoutMs ?? 60000,
      killSignal: 'SIGKILL',
    }),
  );
}

export function runSandbox(argv: string[], o: RunOpts & { flags?: string[] } = {}): RunResult {
  const env = { ...BASE_ENV, ...o.env };
  const envFlags = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return toResult(
    spawnSync(
      process.execPath,
      [RUNSC, 'do', ...(o.flags ?? []), '--cwd', o.cwd ?? '/', ...envFlags, '--', ...argv],
      {
        input: o.input ?? '',
        cwd: REPO,
        env: { PATH: process.env.PATH ?? BASE_ENV.PATH, HOME: '/root' },
        timeout: o.timeoutMs ?? 60000,
        killSignal: 'SIGKILL',
      },
    ),
  );
}

/** Directory for compiled fixtures (per source hash; rebuilt when the source changes). */
const BIN_DIR = path.join(os.tmpdir(), 'tsvisor-test-bin');

/** Compile test/integration/c/<name>.c; mode 'static' or 'static-pie'. Returns the binary path. */
export function buildC(name: string, mode: 'static' | 'static-pie' = 'static'): string {
  const src = path.join(CSRC, `${name}.c`);
  const hash = createHash('sha256').update(fs.readFileSync(src)).update(mode).digest('hex').slice(0, 12);
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const out = path.join(BIN_DIR, `${name}-${mode}-${hash}`);
  if (fs.existsSync(out)) return out;
  const flags = mode === 'static' ? ['-static'] : ['-static-pie', '-fPIE'];
  const r = spawnSync('gcc', ['-O1', '-g0', '-pthread', ...flags, '-o', out + '.tmp', src], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`gcc failed for ${name} (${mode}):\n${r.stderr}`);
  fs.renameSync(out + '.tmp', out);
  return out;
}

export function haveBusybox(): boolean {
  return fs.existsSync('/bin/busybox');
}

/** Host pids whose command line mentions tsvisor's stub or boot processes. */
export function leftoverProcesses(): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm.startsWith('tsvisor-stub')) out.push(`${d} ${comm}`);
    } catch {
      /* gone */
    }
  }
  return out;
}
