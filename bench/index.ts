/**
 * The benchmark harness: `npm run bench [-- [--rounds N] [FILTER...]]`.
 *
 * A benchmark is a file bench/<name>.ts whose module exports `benchmark` (or a default
 * export) of type Benchmark: `{ name, description, run(ctx) }`. The harness loads every
 * such module from its own folder, keeps those whose name contains one of the FILTER
 * words (all when none), and calls run(ctx) once. Inside run(), time work with
 *
 *   ctx.measure(caseName, variant, fn)               time fn() (sync or async)
 *   ctx.measureCommand(caseName, variant, argv, opt) time a whole process (spawnSync)
 *
 * Each call runs `ctx.warmup` untimed rounds, then `ctx.rounds` timed ones, and records the
 * best and median wall time under (benchmark, case, variant). A variant is any string; three
 * have a meaning: `native` (the program run directly), `tsvisor` (under our runsc) and
 * `gvisor` (under gVisor's runsc: `ctx.gvisorDo(cmd)` gives its command line,
 * `runsc --network=none --platform=ptrace do CMD`, when /usr/bin/runsc exists). The table
 * prints, per case, each variant's ratio to `native` and to `gvisor` measured in the same
 * run. `ctx.skip(case, variant, why)` records why a variant was not measured; `ctx.note(text)`
 * adds a line under the table. Benchmarks print nothing themselves and assert nothing:
 * timings are reported, never tested.
 *
 * Results also go to bench/results/<time>.json (git-ignored).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type Variant = 'native' | 'tsvisor' | 'gvisor' | (string & {});

export interface Sample {
  benchmark: string;
  case: string;
  variant: Variant;
  /** Wall times of the timed rounds, in milliseconds. */
  times: number[];
  best: number;
  median: number;
  /** Unit of times/best/median: milliseconds unless a benchmark recorded another (record()). */
  unit?: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Exit statuses that count as success (default [0]). */
  okStatus?: number[];
  /** Bytes for stdin. */
  input?: string | Buffer;
}

export interface BenchContext {
  /** Timed rounds per measurement. */
  readonly rounds: number;
  /** Untimed rounds first. */
  readonly warmup: number;
  /** Repository root. */
  readonly repo: string;
  /** The command prefix that runs our runsc: [node, <repo>/bin/run.js]. */
  readonly runsc: readonly string[];
  /** gVisor's runsc binary when installed, else undefined. */
  readonly gvisor: string | undefined;
  /** gVisor's command line for `do CMD` (undefined without gVisor). */
  gvisorDo(cmd: readonly string[]): string[] | undefined;
  measure(caseName: string, variant: Variant, fn: () => unknown): Promise<Sample>;
  measureCommand(
    caseName: string,
    variant: Variant,
    argv: readonly string[],
    opts?: CommandOptions,
  ): Promise<Sample>;
  /**
   * Record values measured by the benchmark itself (e.g. ns per syscall reported by a
   * program that times its own loop), in `unit`; best = lowest.
   */
  record(caseName: string, variant: Variant, values: number[], unit: string): Sample;
  skip(caseName: string, variant: Variant, why: string): void;
  note(text: string): void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void> | void;
}

const REPO = path.resolve(__dirname, '..', '..');
const GVISOR = '/usr/bin/runsc';

function stats(benchmark: string, caseName: string, variant: Variant, times: number[]): Sample {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { benchmark, case: caseName, variant, times, best: sorted[0], median };
}

class Context implements BenchContext {
  readonly repo = REPO;
  readonly runsc = [process.execPath, path.join(REPO, 'bin', 'run.js')];
  readonly gvisor = fs.existsSync(GVISOR) ? GVISOR : undefined;
  readonly samples: Sample[] = [];
  readonly skips: { benchmark: string; case: string; variant: Variant; why: string }[] = [];
  readonly notes: string[] = [];
  benchmark = '';

  constructor(
    readonly rounds: number,
    readonly warmup: number,
  ) {}

  gvisorDo(cmd: readonly string[]): string[] | undefined {
    return this.gvisor ? [this.gvisor, '--network=none', '--platform=ptrace', 'do', ...cmd] : undefined;
  }

  async measure(caseName: string, variant: Variant, fn: () => unknown): Promise<Sample> {
    for (let i = 0; i < this.warmup; i++) await fn();
    const times: number[] = [];
    for (let i = 0; i < this.rounds; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const s = stats(this.benchmark, caseName, variant, times);
    this.samples.push(s);
    return s;
  }

  measureCommand(
    caseName: string,
    variant: Variant,
    argv: readonly string[],
    opts: CommandOptions = {},
  ): Promise<Sample> {
    const ok = opts.okStatus ?? [0];
    const spawnOpts: SpawnSyncOptions = {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      input: opts.input,
    };
    return this.measure(caseName, variant, () => {
      const r = spawnSync(argv[0], argv.slice(1), spawnOpts);
      if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
      if (r.status === null || !ok.includes(r.status)) {
        throw new Error(
          `${argv.join(' ')}: exit ${r.status ?? `signal ${r.signal}`}: ${String(r.stderr ?? '')
            .trim()
            .slice(0, 500)}`,
        );
      }
    });
  }

  record(caseName: string, variant: Variant, values: number[], unit: string): Sample {
    const s = { ...stats(this.benchmark, caseName, variant, values), unit };
    this.samples.push(s);
    return s;
  }

  skip(caseName: string, variant: Variant, why: string): void {
    this.skips.push({ benchmark: this.benchmark, case: caseName, variant, why });
  }

  note(text: string): void {
    this.notes.push(`${this.benchmark}: ${text}`);
  }
}

/**
 * Builds bench/c/NAME.c (static, -O2) into the temp dir once, again when the source is
 * newer, and returns the program's path.
 */
export function buildBenchC(repo: string, name: string): string {
  const out = path.join(os.tmpdir(), `tsvisor-bench-${name}`);
  const src = path.join(repo, 'bench', 'c', `${name}.c`);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const r = spawnSync('gcc', ['-O2', '-static', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${name}.c: ${r.stderr}`);
  }
  return out;
}

/** Runs a measuring program and returns the numbers it prints, one per line. */
export function programValues(argv: string[]): number[] {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').slice(0, 300)}`);
  return r.stdout
    .trim()
    .split('\n')
    .map(Number)
    .filter((n) => Number.isFinite(n));
}

/** Every benchmark module beside this file. */
export function discover(dir: string = __dirname): Benchmark[] {
  const out: Benchmark[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.js') || f === 'index.js') continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, f)) as { benchmark?: Benchmark; default?: Benchmark };
    const b = mod.benchmark ?? mod.default;
    if (b && typeof b.run === 'function' && typeof b.name === 'string') out.push(b);
  }
  return out;
}

const fmt = (v: number, unit = 'ms'): string =>
  `${v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)} ${unit}`;

/** The results table: one row per (benchmark, case, variant). */
export function table(samples: readonly Sample[]): string {
  const rows: string[][] = [['benchmark', 'case', 'variant', 'best', 'median', 'x native', 'x gvisor']];
  for (const s of samples) {
    const peer = (v: string) =>
      samples.find((o) => o.benchmark === s.benchmark && o.case === s.case && o.variant === v);
    const ratio = (v: string) => {
      const p = peer(v);
      return p ? `${(s.median / p.median).toFixed(2)}` : '-';
    };
    rows.push([
      s.benchmark,
      s.case,
      s.variant,
      fmt(s.best, s.unit),
      fmt(s.median, s.unit),
      ratio('native'),
      ratio('gvisor'),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

function parseArgs(argv: string[]): { rounds: number; warmup: number; filters: string[] } {
  let rounds = 20;
  let warmup = 2;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (v: string | undefined, flag: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(v)}`);
      return n;
    };
    if (a === '--rounds') rounds = num(argv[++i], '--rounds');
    else if (a.startsWith('--rounds=')) rounds = num(a.slice(9), '--rounds');
    else if (a === '--warmup') warmup = num(argv[++i], '--warmup');
    else if (a.startsWith('--'))
      throw new Error(`unknown option ${a}; usage: npm run bench -- [--rounds N] [--warmup N] [FILTER...]`);
    else filters.push(a);
  }
  return { rounds, warmup, filters };
}

async function main(): Promise<number> {
  const { rounds, warmup, filters } = parseArgs(process.argv.slice(2));
  const all = discover();
  const chosen = filters.length ? all.filter((b) => filters.some((f) => b.name.includes(f))) : all;
  if (chosen.length === 0) {
    process.stderr.write(
      `no benchmark matches ${filters.join(' ')}; there are: ${all.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const ctx = new Context(rounds, warmup);
  let failed = 0;
  for (const b of chosen) {
    ctx.benchmark = b.name;
    process.stderr.write(`bench: ${b.name}: ${b.description} (${rounds} rounds)\n`);
    try {
      await b.run(ctx);
    } catch (e) {
      failed++;
      ctx.note(`FAILED: ${(e as Error).message}`);
    }
  }
  process.stdout.write(`${table(ctx.samples)}\n`);
  for (const s of ctx.skips)
    process.stdout.write(`skipped ${s.benchmark}/${s.case}/${s.variant}: ${s.why}\n`);
  for (const n of ctx.notes) process.stdout.write(`${n}\n`);
  const dir = path.join(REPO, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ rounds, warmup, samples: ctx.samples, skips: ctx.skips, notes: ctx.notes }, null, 2),
  );
  process.stdout.write(`results: ${path.relative(REPO, file)}\n`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      process.stderr.write(`bench: ${e.message}\n`);
      process.exitCode = 2;
    },
  );
}
