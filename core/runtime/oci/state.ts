/**
 * The state directory (`--root`, default /var/run/tsvisor): one folder per container,
 *   <root>/<id>/state.json     what runsc knows (written atomically: temp file + rename)
 *   <root>/<id>/control.sock   the sandbox's control socket (JSON lines, see rpc.ts)
 *   <root>/<id>/exit.json      the init process's wait status, written by the sandbox as it ends
 *   <root>/<id>.lock           held (O_EXCL) while one runsc call works on the container
 *
 * The lock is a file created with O_EXCL holding the holder's pid; a lock whose holder is
 * dead is stale and is taken over. The sandbox's liveness is its pid plus the process start
 * time (field 22 of /proc/<pid>/stat), so a recycled pid is not mistaken for the sandbox.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  /** Host pid of the sandbox process (runsc boot); 0 before it exists. */
  pid: number;
  /** The sandbox process's start time (clock ticks since boot), to detect a recycled pid. */
  pidStart: number;
  /** What the last lifecycle call set; `stopped` is also derived from the sandbox being gone. */
  status: Status;
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** The config.json as validated at create (hooks and process run from it). */
  configPath: string;
}

/** The OCI state (runtime.md "State"), as `runsc state` prints it. */
export interface OciState {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export class StateError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOENT' | 'EEXIST' | 'EBUSY' | 'EINVAL' | 'ESTATE',
  ) {
    super(message);
    this.name = 'StateError';
  }
}

const ID_RE = /^[\w+.-]+$/;

export function checkId(id: string): void {
  if (!id) throw new StateError('container id cannot be empty', 'EINVAL');
  if (!ID_RE.test(id) || id === '.' || id === '..' || id.length > 1024)
    throw new StateError(`invalid container id format: ${id}`, 'EINVAL');
}

/** Start time of `pid` (field 22 of /proc/pid/stat), or undefined when there is no such process or it is a zombie. */
export function processStart(pid: number): number | undefined {
  if (!(pid > 0)) return undefined;
  let s: string;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return Number(rest[19]);
}

export function isAlive(pid: number, start: number): boolean {
  const s = processStart(pid);
  return s !== undefined && (start === 0 || s === start);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }
  socketPath(id: string): string {
    return path.join(this.dir(id), 'control.sock');
  }
  exitPath(id: string): string {
    return path.join(this.dir(id), 'exit.json');
  }
  private statePath(id: string): string {
    return path.join(this.dir(id), 'state.json');
  }

  ensureRoot(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
  }

  /**
   * Runs `fn` holding the container's lock. Concurrent calls wait (polling every 10 ms) up
   * to `timeoutMs`; a lock whose holder process is gone is taken over.
   */
  async withLock<T>(id: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
    checkId(id);
    this.ensureRoot();
    const lock = path.join(this.root, `${id}.lock`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const fd = fs.openSync(
          lock,
          fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
          0o600,
        );
        fs.writeSync(fd, `${process.pid} ${processStart(process.pid) ?? 0}\n`);
        fs.closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: string[] = [];
      try {
        holder = fs.readFileSync(lock, 'utf8').trim().split(' ');
      } catch {
        continue; // released between our open and read
      }
      const [hp, hs] = holder.map(Number);
      if (holder.length === 2 && !isAlive(hp, hs)) {
        // Stale: remove it only if it is still the same stale file (rename is atomic).
        const tomb = `${lock}.stale.${process.pid}`;
        try {
          fs.renameSync(lock, tomb);
          const again = fs.readFileSync(tomb, 'utf8').trim();
          if (again === holder.join(' ')) fs.rmSync(tomb, { force: true });
          else fs.renameSync(tomb, lock); // someone else's fresh lock: put it back
        } catch {
          /* raced; try again */
        }
        continue;
      }
      if (Date.now() > deadline)
        throw new StateError(`container ${id} is locked by runsc process ${hp} (${lock})`, 'EBUSY');
      await new Promise((r) => setTimeout(r, 10));
    }
    try {
      return await fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  exists(id: string): boolean {
    return fs.existsSync(this.statePath(id));
  }

  /** Creates the container's folder; EEXIST if it is there already. */
  createDir(id: string): void {
    checkId(id);
    this.ensureRoot();
    try {
      fs.mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw new StateError('container with given ID already exists', 'EEXIST');
      throw e;
    }
  }

  write(rec: ContainerRecord): void {
    const file = this.statePath(rec.id);
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(rec));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }

  /** The record, or a StateError ENOENT "container does not exist" (runc's message). */
  read(id: string): ContainerRecord {
    checkId(id);
    let text: string;
    try {
      text = fs.readFileSync(this.statePath(id), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new StateError('container does not exist', 'ENOENT');
      throw e;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  /** The status now: the recorded one while the sandbox lives, `stopped` once it is gone. */
  status(rec: ContainerRecord): Status {
    if (rec.status === 'stopped') return 'stopped';
    if (rec.pid > 0 && isAlive(rec.pid, rec.pidStart)) return rec.status;
    return rec.status === 'creating' && rec.pid === 0 ? 'creating' : 'stopped';
  }

  ociState(rec: ContainerRecord, ociVersion: string): OciState {
    const status = this.status(rec);
    const st: OciState = {
      ociVersion,
      id: rec.id,
      pid: status === 'stopped' ? 0 : rec.pid,
      status,
      bundle: rec.bundle,
      rootfs: rec.rootfs,
      created: rec.created,
      owner: rec.owner,
    };
    if (Object.keys(rec.annotations).length) st.annotations = rec.annotations;
    return st;
  }

  /** The init's wait status written by the sandbox as it ended, if any. */
  exitStatus(id: string): number | undefined {
    try {
      return (JSON.parse(fs.readFileSync(this.exitPath(id), 'utf8')) as { status: number }).status;
    } catch {
      return undefined;
    }
  }

  remove(id: string): void {
    checkId(id);
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Ids of every container folder with a state.json. */
  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
    }
    return names.filter((n) => ID_RE.test(n) && fs.existsSync(this.statePath(n))).sort();
  }

  /** Waits (polling) until the sandbox process is gone, up to timeoutMs; returns whether it is. */
  static waitGone(pid: number, start: number, timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    while (isAlive(pid, start)) {
      if (Date.now() > deadline) return false;
      sleepMs(10);
    }
    return true;
  }
}
