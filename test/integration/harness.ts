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
        // RUNSC_CONFIG passes through so a suite can run under another config (gofer.mode: 9p).
        env: {
          PATH: process.env.PATH ?? BASE_ENV.PATH,
          HOME: '/root',
          ...(process.env.RUNSC_CONFIG ? { RUNSC_CONFIG: process.env.RUNSC_CONFIG } : {}),
        },
        timeout: o.timeoutMs ?? 60000,
        killSignal: 'SIGKILL',
      },
    ),
  );
}

/** Directory for compiled fixtures (per source hash; rebuilt when the source changes). */
const BIN_DIR = path.join(os.tmpdir(), 'tsvisor-test-bin');

/** Compile test/integration/c/<name>.c; mode 'static', 'static-pie' or 'dynamic' (glibc, PIE). Returns the binary path. */
export function buildC(name: string, mode: 'static' | 'static-pie' | 'dynamic' = 'static'): string {
  const src = path.join(CSRC, `${name}.c`);
  const hash = createHash('sha256').update(fs.readFileSync(src)).update(mode).digest('hex').slice(0, 12);
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const out = path.join(BIN_DIR, `${name}-${mode}-${hash}`);
  if (fs.existsSync(out)) return out;
  const flags = mode === 'static' ? ['-static'] : mode === 'static-pie' ? ['-static-pie', '-fPIE'] : [];
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

/** Every stub process on the host (comm tsvisor-stub*), as pids. */
export function stubProcesses(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('tsvisor-stub')) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Stub processes left behind: a stub (comm tsvisor-stub*) whose parent is no longer a
 * Node sentry (stubs are children of the sentry; an orphan is re-parented to init).
 * Stubs of other sandboxes still running have a live node parent and are not counted.
 */
export function leftoverProcesses(): string[] {
  const out: string[] = [];
  const comm = (pid: string) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const c = comm(d);
      if (!c.startsWith('tsvisor-stub')) continue;
      const ppid = /PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))![1];
      let parent = '';
      try {
        parent = comm(ppid);
      } catch {
        parent = '';
      }
      if (parent !== 'node' && !parent.startsWith('tsvisor-stub'))
        out.push(`${d} ${c} (parent ${ppid} ${parent})`);
    } catch {
      /* gone */
    }
  }
  return out;
}
