/**
 * The OCI lifecycle operations behind runsc create/start/state/kill/delete/wait/exec/ps/
 * pause/resume, independent of the command line. Error messages follow runc's wording
 * ("container does not exist", "container with given ID already exists", ...) and every
 * failure exits 1, as runc's do (docs/oci.md lists them and how they were measured).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeCgroups } from './cgroups';
import { runHooks } from './hooks';
import { call, RpcError, UnreachableError } from './rpc';
import { loadSpec, OCI_VERSION, type Spec } from './spec';
import { isAlive, processStart, StateError, StateStore, type ContainerRecord, type OciState } from './state';
import type { ProcessInfo, ProcessSpec } from '../sandbox';

/** A lifecycle error for a person: printed as `runsc: <message>`, exit status 1 unless given. */
export class OciError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'OciError';
  }
}

/** The env variable whose value tells an internal runsc process (boot, exec helper) what it is. */
export const INTERNAL_ENV = 'TSVISOR_INTERNAL';

/** `bin/run.js` of this build, to start runsc boot. */
export function runscScript(): string {
  return path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'run.js');
}

/** SIGTERM, TERM, 15 → 15; throws `unknown signal "X"` as runc does. */
export function parseSignal(s: string): number {
  const sigs = os.constants.signals as Record<string, number>;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 0 && n <= 64) return n;
    throw new OciError(`unknown signal "${s}"`);
  }
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  const m = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (m) return name.startsWith('SIGRTMIN') ? 34 + Number(m[1] ?? 0) : 64 - Number(m[1] ?? 0);
  if (name in sigs) return sigs[name];
  throw new OciError(`unknown signal "${s}"`);
}

/** Translates a StateError into runc's message. */
function rethrow(e: unknown): never {
  if (e instanceof StateError) throw new OciError(e.message);
  throw e;
}

export function readRecord(store: StateStore, id: string): ContainerRecord {
  try {
    return store.read(id);
  } catch (e) {
    return rethrow(e);
  }
}

function readSpec(rec: ContainerRecord): Spec {
  return JSON.parse(fs.readFileSync(rec.configPath, 'utf8')) as Spec;
}

export function stateOf(store: StateStore, rec: ContainerRecord): OciState {
  return store.ociState(rec, OCI_VERSION);
}

export interface CreateOptions {
  store: StateStore;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** `runsc run` without --detach: a terminal container may use runsc's own terminal. */
  foreground?: boolean;
  /** Global flags to hand the sandbox process (--platform, --debug, ...). */
  bootArgs: string[];
  /** Logs what happens (debug). */
  log?: (msg: string, obj?: Record<string, unknown>) => void;
}

/** Writes `pid` to `file` atomically (as runc: the number, no newline). */
export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}`);
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, abs);
}

/**
 * Starts a detached child (runsc boot, or the exec helper) and waits for the one JSON line
 * it writes on fd 3 when ready ({ok:true,...} or {error, exitCode}).
 */
export function spawnReady(
  args: string[],
  env: NodeJS.ProcessEnv,
  inheritStdio = true,
): Promise<{ pid: number; ready: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runscScript(), ...args], {
      detached: true,
      env,
      // Without inheritStdio (a terminal goes to a console socket instead), the child holds
      // none of our stdio: a caller reading our output to its end must not wait for it.
      stdio: inheritStdio
        ? ['inherit', 'inherit', 'inherit', 'pipe']
        : ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    let buf = '';
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      (pipe as unknown as { destroy(): void }).destroy();
      child.unref();
      settle(() =>
        msg.error
          ? reject(new OciError(String(msg.error), typeof msg.exitCode === 'number' ? msg.exitCode : 1))
          : resolve({ pid: child.pid!, ready: msg }),
      );
    });
    child.on('error', (e) =>
      settle(() => reject(new OciError(`cannot start the sandbox process: ${e.message}`))),
    );
    child.on('exit', (code, sig) =>
      settle(() =>
        reject(
          new OciError(
            `the sandbox process ended before it was ready (${sig ? `signal ${sig}` : `status ${code}`}); run with --debug --debug-log FILE for its log`,
          ),
        ),
      ),
    );
  });
}

export async function create(o: CreateOptions): Promise<ContainerRecord> {
  const { store, id } = o;
  const bundle = path.resolve(o.bundle);
  return store.withLock(id, async () => {
    if (store.exists(id)) throw new OciError('container with given ID already exists');
    let spec: Spec;
    try {
      spec = loadSpec(bundle, (p) => fs.readFileSync(p, 'utf8'));
    } catch (e) {
      throw new OciError((e as Error).message);
    }
    if (spec.process?.terminal && !o.consoleSocket && !o.foreground)
      throw new OciError('cannot allocate tty if runc will detach without setting console socket');
    if (!spec.process?.terminal && o.consoleSocket)
      throw new OciError('cannot use console socket if runc will not detach or allocate tty');
    try {
      store.createDir(id);
    } catch (e) {
      rethrow(e);
    }
    const configPath = path.join(store.dir(id), 'config.json');
    fs.writeFileSync(configPath, JSON.stringify(spec));
    const rec: ContainerRecord = {
      id,
      bundle,
      rootfs: path.resolve(bundle, spec.root!.path),
      pid: 0,
      pidStart: 0,
      status: 'creating',
      created: new Date().toISOString(),
      owner: os.userInfo().username,
      annotations: spec.annotations ?? {},
      configPath,
    };
    store.write(rec);
    let pid = 0;
    try {
      const args = ['boot', ...o.bootArgs, '--root', store.root, '--bundle', bundle];
      if (o.consoleSocket) args.push('--console-socket', path.resolve(o.consoleSocket));
      args.push(id);
      const r = await spawnReady(args, { ...process.env, [INTERNAL_ENV]: 'boot' }, !o.consoleSocket);
      pid = r.pid;
      rec.pid = pid;
      rec.pidStart = processStart(pid) ?? 0;
      rec.status = 'created';
      store.write(rec);
      const st = stateOf(store, rec);
      await runHooks(spec, 'prestart', st);
      await runHooks(spec, 'createRuntime', st);
      await runHooks(spec, 'createContainer', st);
      if (o.pidFile) writePidFile(o.pidFile, pid);
      return rec;
    } catch (e) {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await waitGone(pid, 5000);
      }
      store.remove(id);
      throw e instanceof OciError ? e : new OciError((e as Error).message);
    }
  });
}

export async function waitGone(pid: number, timeoutMs: number, start = 0): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, start)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Calls the sandbox; a sandbox that is gone reads as "container not running". */
export async function rpc<T>(store: StateStore, id: string, method: string, params?: unknown): Promise<T> {
  try {
    return await call<T>(store.socketPath(id), method, params);
  } catch (e) {
    if (e instanceof UnreachableError) throw new OciError('container not running');
    if (e instanceof RpcError) throw new OciError(e.message);
    throw e;
  }
}

export async function start(store: StateStore, id: string): Promise<void> {
  await store.withLock(id, async () => {
    const rec = readRecord(store, id);
    const status = store.status(rec);
    if (status === 'running') throw new OciError('cannot start an already running container');
    if (status === 'paused') throw new OciError('cannot start an already paused container');
    if (status === 'stopped') throw new OciError('cannot start a container that has stopped');
    if (status !== 'created') throw new OciError(`cannot start a container in the ${status} state`);
    const spec = readSpec(rec);
    await runHooks(spec, 'startContainer', stateOf(store, rec)).catch((e: Error) => {
      throw new OciError(e.message);
    });
    await rpc(store, id, 'start');
    rec.status = 'running';
    store.write(rec);
    await runHooks(spec, 'poststart', stateOf(store, rec)).catch(() => undefined);
  });
}

export async function kill(store: StateStore, id: string, signo: number, all: boolean): Promise<void> {
  const rec = readRecord(store, id);
  const status = store.status(rec);
  if (status === 'stopped' || status === 'creating') throw new OciError('container not running');
  if (status === 'created') {
    // Nothing of the app runs yet: a signal that would end it ends the sandbox.
    if (signo === 0) return;
    if (await rpc<boolean>(store, id, 'started').catch(() => false)) {
      await rpc(store, id, 'kill', { signal: signo, all });
      return;
    }
    process.kill(rec.pid, 'SIGKILL');
    return;
  }
  await rpc(store, id, 'kill', { signal: signo, all });
}

/** runsc wait: the init's exit status (code, or 128+N for signal N). */
export async function wait(store: StateStore, id: string): Promise<number> {
  const rec = readRecord(store, id);
  if (store.status(rec) !== 'stopped') {
    try {
      const st = await call<number>(store.socketPath(id), 'wait');
      return statusCode(st);
    } catch (e) {
      if (e instanceof RpcError) throw new OciError(e.message);
      // The sandbox went away while we waited: fall through to what it left.
    }
    await waitGone(rec.pid, 10_000, rec.pidStart);
  }
  const st = store.exitStatus(id);
  if (st === undefined) return 128 + 9; // the sandbox was killed before its init ended
  return statusCode(st);
}

/** A Linux wait status as a shell reports it: the code, or 128+N when killed by signal N. */
export function statusCode(st: number): number {
  const sig = st & 0x7f;
  return sig ? 128 + sig : (st >> 8) & 0xff;
}

export async function deleteContainer(store: StateStore, id: string, force: boolean): Promise<void> {
  await store.withLock(id, async () => {
    let rec: ContainerRecord;
    try {
      rec = store.read(id);
    } catch (e) {
      if (force && e instanceof StateError && e.code === 'ENOENT') {
        store.remove(id); // a folder without state.json (a crash during create)
        return;
      }
      return rethrow(e);
    }
    const status = store.status(rec);
    if ((status === 'running' || status === 'paused') && !force)
      throw new OciError(`cannot delete container ${id} that is not stopped: ${status}`);
    // A running sandbox gets to tear itself down first (netstack gives a network namespace
    // its addresses back; `run` deletes right after wait, while it does): every process in
    // it is killed, which ends the sandbox; the SIGKILL below is for one that lingers.
    if (status === 'running' && rec.pid > 0 && isAlive(rec.pid, rec.pidStart)) {
      await rpc(store, id, 'kill', { signal: 9, all: true }).catch(() => undefined);
      await waitGone(rec.pid, 5_000, rec.pidStart);
    }
    if (status !== 'stopped' && rec.pid > 0 && isAlive(rec.pid, rec.pidStart)) {
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      if (!(await waitGone(rec.pid, 10_000, rec.pidStart)))
        throw new OciError(`container ${id}: the sandbox process ${rec.pid} did not die after SIGKILL`);
    }
    let spec: Spec | undefined;
    try {
      spec = readSpec(rec);
    } catch {
      spec = undefined;
    }
    const st = { ...stateOf(store, rec), status: 'stopped' as const, pid: 0 };
    try {
      const dirs = JSON.parse(fs.readFileSync(path.join(store.dir(id), 'cgroups.json'), 'utf8')) as string[];
      await removeCgroups(dirs);
    } catch {
      /* no cgroups were made */
    }
    store.remove(id);
    if (spec) await runHooks(spec, 'poststop', st).catch(() => undefined);
  });
}

export interface ExecResult {
  pid: number;
}

/** Starts `p` in the running container with the stdio of host process `stdioPid`. */
export async function exec(
  store: StateStore,
  id: string,
  p: ProcessSpec,
  stdioPid: number,
  consoleSocket?: string,
  consoleSize?: { height: number; width: number },
): Promise<ExecResult> {
  const rec = readRecord(store, id);
  const status = store.status(rec);
  if (status !== 'running')
    throw new OciError(status === 'created' ? 'cannot exec in a created container' : 'container not running');
  return rpc<ExecResult>(store, id, 'exec', { process: p, stdioPid, consoleSocket, consoleSize });
}

export async function ps(store: StateStore, id: string): Promise<ProcessInfo[]> {
  const rec = readRecord(store, id);
  if (store.status(rec) === 'stopped') throw new OciError('container not running');
  return rpc<ProcessInfo[]>(store, id, 'ps');
}

export async function pause(store: StateStore, id: string, on: boolean): Promise<void> {
  await store.withLock(id, async () => {
    const rec = readRecord(store, id);
    const status = store.status(rec);
    if (on && status !== 'running') throw new OciError('container not running');
    if (!on && status !== 'paused') throw new OciError('container not paused');
    await rpc(store, id, on ? 'pause' : 'resume');
    rec.status = on ? 'paused' : 'running';
    store.write(rec);
  });
}
