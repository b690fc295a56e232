/**
 * Helpers for the OCI suites: a busybox bundle (Debian's busybox-static), running runsc and
 * runc with their output in files (a sandbox process inherits the caller's stdio, so pipes
 * would stay open after `create` returns, as with runc), and cleanup that kills every
 * sandbox a state folder knows of.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec, type Spec } from '../../core/runtime/oci/spec';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(REPO, 'bin', 'run.js');
export const BUSYBOX = '/bin/busybox';

export function haveBusybox(): boolean {
  return fs.existsSync(BUSYBOX);
}

/** runc is installed and usable (it needs root). */
export function haveRunc(): boolean {
  return isRoot() && (fs.existsSync('/usr/sbin/runc') || fs.existsSync('/usr/bin/runc'));
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

const APPLETS = [
  'sh',
  'sleep',
  'echo',
  'true',
  'false',
  'cat',
  'ls',
  'ps',
  'id',
  'pwd',
  'env',
  'kill',
  'seq',
  'stty',
  'mkdir',
  'grep',
  'hostname',
];

/** A bundle folder with rootfs/bin/busybox (+ applet links) and a config.json running `args`. */
export function makeBundle(dir: string, args: string[], edit?: (s: Spec) => void): string {
  fs.mkdirSync(path.join(dir, 'rootfs', 'bin'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'rootfs', 'tmp'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'rootfs', 'etc'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'rootfs', 'etc', 'group'), 'root:x:0:\n');
  const bb = path.join(dir, 'rootfs', 'bin', 'busybox');
  if (!fs.existsSync(bb)) fs.copyFileSync(BUSYBOX, bb);
  fs.chmodSync(bb, 0o755);
  for (const a of APPLETS) {
    const l = path.join(dir, 'rootfs', 'bin', a);
    if (!fs.existsSync(l)) fs.symlinkSync('busybox', l);
  }
  const spec = defaultSpec(args, false);
  edit?.(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` with stdout/stderr in files; resolves at its exit (not at the close of its stdio). */
export function runTo(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-io-'));
  const outF = path.join(dir, 'out'),
    errF = path.join(dir, 'err'),
    inF = path.join(dir, 'in');
  fs.writeFileSync(inF, opts.stdin ?? '');
  const fin = fs.openSync(inF, 'r'),
    fout = fs.openSync(outF, 'w'),
    ferr = fs.openSync(errF, 'w');
  return new Promise<Result>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? os.tmpdir(),
      stdio: [fin, fout, ferr],
      env: opts.env ?? cleanEnv(),
    });
    for (const fd of [fin, fout, ferr]) fs.closeSync(fd);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      const r = {
        code: sig ? 128 + (os.constants.signals[sig] ?? 0) : code,
        stdout: fs.readFileSync(outF, 'utf8'),
        stderr: fs.readFileSync(errF, 'utf8'),
      };
      fs.rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
}

export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('RUNSC_') && !k.startsWith('TSVISOR_')) env[k] = v;
  return env;
}

/** `runsc --root ROOT args...` */
export function runsc(
  root: string,
  args: string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<Result> {
  return runTo(process.execPath, [BIN, '--root', root, ...args], opts);
}

/** `runc --root ROOT args...` */
export function runc(
  root: string,
  args: string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<Result> {
  return runTo('runc', ['--root', root, ...args], opts);
}

/** The message of runc's `level=error msg="..."` line. */
export function runcMessage(stderr: string): string {
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(stderr);
  return m ? JSON.parse(`"${m[1]}"`) : stderr.trim();
}

/** Kills every sandbox recorded under `root` and removes the folder. */
export async function cleanupRoot(root: string, runscTool = true): Promise<void> {
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) {
    const st = path.join(root, name, 'state.json');
    if (!fs.existsSync(st)) continue;
    if (runscTool) await runsc(root, ['delete', '--force', name]).catch(() => undefined);
    try {
      const rec = JSON.parse(fs.readFileSync(st, 'utf8')) as { pid: number };
      if (rec.pid > 0) process.kill(rec.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
}

/** Deletes every runc container under `root` (runc delete --force) and removes the folder. */
export async function cleanupRuncRoot(root: string): Promise<void> {
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root))
    await runc(root, ['delete', '--force', name]).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 50));
  }
}
