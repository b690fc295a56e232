/** Test helpers: run `runsc gofer --listen` as a child process on a tree. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (this file runs from dist/plugins/fs-gofer/test). */
export const REPO = path.resolve(__dirname, '..', '..', '..', '..');
export const BIN = path.join(REPO, 'bin', 'run.js');

export interface RunningGofer {
  proc: ChildProcess;
  host: string;
  port: number;
  /** Everything the gofer wrote to stderr so far. */
  stderr(): string;
  /** Exit status once it has exited (null while running). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** SIGTERM, then SIGKILL after 2 s; resolves when it is gone. */
  stop(): Promise<void>;
}

/** Starts `node bin/run.js gofer --listen 127.0.0.1:0 --root-dir root ...extra` and waits for its port. */
export function startGofer(root: string, extra: string[] = []): Promise<RunningGofer> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('RUNSC_') && k !== 'TSVISOR_INTERNAL') env[k] = v;
  const proc = spawn(
    process.execPath,
    [BIN, 'gofer', '--listen', '127.0.0.1:0', '--root-dir', root, ...extra],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  let out = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const gone = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`runsc gofer did not report its port within 20 s; stderr: ${err}`));
    }, 20_000);
    let ready = false;
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`runsc gofer exited (${code}) before listening; stderr: ${err}`));
    });
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening on (\S+):(\d+)$/m.exec(out);
      if (!m) return;
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      resolve({
        proc,
        host: m[1],
        port: Number(m[2]),
        stderr: () => err,
        exited: () => exit,
        stop: async () => {
          if (exit) return;
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
          await gone;
          clearTimeout(t);
        },
      });
    });
  });
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

/** Every path (relative, '/'-separated) below root, depth first, with lstat. */
export function walkTree(root: string, rel = ''): { rel: string; st: fs.Stats }[] {
  const out: { rel: string; st: fs.Stats }[] = [];
  for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(path.join(root, r));
    out.push({ rel: r, st });
    if (st.isDirectory()) out.push(...walkTree(root, r));
  }
  return out;
}

export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `runsc --config cfg do ...args`; `done` resolves at exit. */
export function runscDo(
  cfg: string,
  args: string[],
): { proc: ChildProcess; done: Promise<Done>; out: () => string } {
  const proc = spawn(process.execPath, [BIN, '--config', cfg, 'do', ...args], {
    cwd: os.tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Done>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { proc, done, out: () => stdout };
}

/** Pids of processes whose parent is `ppid` and whose command line contains every word of `words`. */
export function childrenMatching(ppid: number, words: string[]): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const pp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (pp !== ppid) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (words.every((w) => cmd.includes(w))) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A root tree for the sandbox: busybox at /usr/bin (with /bin -> usr/bin as on the host), passwd, group. */
export function makeRootTree(dir: string): void {
  fs.mkdirSync(path.join(dir, 'usr', 'bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'usr', 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'usr', 'bin', 'busybox'), 0o755);
  fs.symlinkSync('usr/bin', path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'etc'));
  for (const f of ['passwd', 'group']) fs.copyFileSync(`/etc/${f}`, path.join(dir, 'etc', f));
  for (const d of ['tmp', 'dev', 'proc', 'sys']) fs.mkdirSync(path.join(dir, d));
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  // Data to compare: a few sizes around the 9P message size, a deep path, links.
  const data = path.join(dir, 'data');
  fs.mkdirSync(path.join(data, 'a', 'b', 'c'), { recursive: true });
  const sizes = [0, 1, 4095, 4096, 65536, (1 << 20) - 24, (1 << 20) + 1, 3_000_000];
  sizes.forEach((n, i) => fs.writeFileSync(path.join(data, `f${i}`), bytes(n, i + 1)));
  fs.writeFileSync(path.join(data, 'a', 'b', 'c', 'deep.txt'), 'deep\n');
  fs.symlinkSync('a/b/c/deep.txt', path.join(data, 'link'));
  fs.symlinkSync('/etc/passwd', path.join(data, 'abs-link'));
  fs.chmodSync(path.join(data, 'f1'), 0o600);
}

/** Debian's diod (a 9P2000.L server), exporting `tree` on a loopback port once it accepts connections. */
export async function startDiod(tree: string): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn('/usr/sbin/diod', ['-f', '-n', '-e', tree, '-l', `127.0.0.1:${port}`, '-L', 'stderr'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return { proc, port };
    if (i > 100 || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`diod did not start: ${err}`);
    }
    await sleep(50);
  }
}
