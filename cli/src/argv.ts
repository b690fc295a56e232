/**
 * Normalises gVisor's Go-style spellings before oclif parses: Go's flag package accepts
 * `-flag`, `-flag=value` and `-flag value` for long flags, and `-flag=false` for booleans.
 * runsc users type `runsc -platform=ptrace -debug do ls`; oclif wants `--platform=ptrace`.
 *
 * Rules:
 * - only known long flags are rewritten; anything else is left for oclif to judge;
 * - nothing after a `--` is touched;
 * - for commands that pass a program through (`do`), the first positional after the
 *   command starts the program: a `--` is inserted before it (so neither our normaliser
 *   nor oclif's help or flag parsing looks at the program's own arguments).
 *
 * Kept free of imports: bin/run.js loads it before oclif.
 */

/** Long flags that take a value (so the next argument is their value, not a command). */
export const VALUE_FLAGS: ReadonlySet<string> = new Set([
  'root',
  'platform',
  'network',
  'rootfs',
  'debug-log',
  'config',
  'log-format',
  'cwd',
  'env',
  'uid',
  'gid',
  'root-dir',
  // the OCI lifecycle commands (runc's spellings; containerd passes --log before the command)
  'log',
  'bundle',
  'pid-file',
  'console-socket',
  'process',
  'user',
  'format',
  'interval',
  'rootless',
  'preserve-fds',
  'runtime',
  // runsc exec
  'cap',
  'additional-gids',
]);

/** Short flags of the OCI commands that take a value (never rewritten, only skipped with their value). */
const SHORT_VALUE_FLAGS: ReadonlySet<string> = new Set(['-b', '-u', '-e', '-p', '-g', '-c']);

/** Boolean long flags; those also in NEGATABLE accept `=false` (rewritten to `--no-x`). */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'debug',
  'strace',
  'json',
  'help',
  'version',
  'no-new-privs',
]);
const NEGATABLE: ReadonlySet<string> = new Set(['debug', 'strace']);

/**
 * Commands whose arguments, after this many positionals, belong to a program and are
 * passed through untouched (`do COMMAND ARGS...`).
 */
export const PASSTHROUGH: Readonly<Record<string, number>> = { do: 0, exec: 1 };

/** `-name`/`--name`/`-name=v` → `{name, value}` when `name` is a known long flag; else undefined. */
function parseLong(arg: string): { name: string; value: string | undefined } | undefined {
  const m = /^--?([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
  if (!m) return undefined;
  const name = m[1];
  if (!VALUE_FLAGS.has(name) && !BOOLEAN_FLAGS.has(name)) return undefined;
  return { name, value: m[2] };
}

/** Rewrites one flag token to oclif's spelling. */
function rewrite(arg: string): string {
  const f = parseLong(arg);
  if (!f) return arg;
  if (BOOLEAN_FLAGS.has(f.name) && f.value !== undefined) {
    const v = f.value.toLowerCase();
    if (['true', '1', 't'].includes(v)) return `--${f.name}`;
    if (NEGATABLE.has(f.name) && ['false', '0', 'f'].includes(v)) return `--no-${f.name}`;
  }
  return f.value === undefined ? `--${f.name}` : `--${f.name}=${f.value}`;
}

/** Whether `arg` is a value-taking flag written without `=value` (so the value is the next argument). */
function takesNext(arg: string): boolean {
  if (SHORT_VALUE_FLAGS.has(arg)) return true;
  const f = parseLong(arg);
  return f !== undefined && VALUE_FLAGS.has(f.name) && f.value === undefined;
}

/** The index in `argv` where a passed-through program starts, or -1 (no passthrough command or no program). */
export function passthroughStart(argv: readonly string[], positionalsBefore: number): number {
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (a.startsWith('-') && a !== '-') {
      if (takesNext(a)) i++;
      continue;
    }
    if (seen === positionalsBefore) return i;
    seen++;
  }
  return -1;
}

/** Rewrites the flags among `tokens` (skipping the values of value-taking flags). */
function rewriteFlags(tokens: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    out.push(t.startsWith('-') ? rewrite(t) : t);
    if (takesNext(t) && i + 1 < tokens.length) out.push(tokens[++i]);
  }
  return out;
}

/** Flags oclif only honours as the very first argument; never moved. */
const FIRST_ONLY: ReadonlySet<string> = new Set(['--help', '-h', '--version']);

/** The normalised argument list for oclif (see the module comment). */
export function normalizeArgv(argv: readonly string[]): string[] {
  // Go-style CLIs take global flags before the command (`runsc -debug do ls`); oclif wants the
  // command first. Flags before the command are moved after it (after `do` itself, or at the
  // end of the other commands' flags, since a topic's subcommand may follow).
  const leading: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...leading, ...argv.slice(i)];
    if (a.startsWith('-') && a !== '-') {
      const r = rewrite(a);
      if (FIRST_ONLY.has(r) && leading.length === 0) return [r, ...argv.slice(i + 1)];
      leading.push(r);
      if (takesNext(a) && i + 1 < argv.length) leading.push(argv[++i]);
      continue;
    }
    // The first positional is the command (or topic).
    const rest = argv.slice(i + 1);
    const before = PASSTHROUGH[a];
    if (before === undefined) {
      const dd = rest.indexOf('--');
      const flags = rewriteFlags(dd === -1 ? rest : rest.slice(0, dd));
      return [a, ...flags, ...leading, ...(dd === -1 ? [] : rest.slice(dd))];
    }
    const start = passthroughStart(rest, before);
    if (start === -1) return [a, ...leading, ...rewriteFlags(rest)];
    return [
      a,
      ...leading,
      ...rewriteFlags(rest.slice(0, start).filter((t) => t !== '--')),
      '--',
      ...rest.slice(start),
    ];
  }
  return leading;
}
