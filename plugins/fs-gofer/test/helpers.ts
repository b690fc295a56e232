/** Test helpers: run `runsc gofer --listen` as a child process on a tree. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
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
