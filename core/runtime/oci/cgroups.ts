/**
 * linux.resources applied to the sandbox's cgroup: the sandbox process (runsc boot) moves
 * itself into `<controller>/<cgroupsPath>` (cgroup v1, one hierarchy per controller) or
 * `/sys/fs/cgroup/<cgroupsPath>` (v2) before it starts any stub, so every host process of
 * the sandbox is limited. Limits applied: memory.limit, memory.swap (v2: memory.swap.max),
 * pids.limit, cpu.shares/quota/period. When cgroups are not writable the resources are
 * ignored with a warning, as the issue asks. delete removes the cgroups.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = '/sys/fs/cgroup';

export interface Resources {
  memory?: { limit?: number; swap?: number };
  pids?: { limit?: number };
  cpu?: { shares?: number; quota?: number; period?: number };
  [k: string]: unknown;
}

/** The cgroup path for a container: the spec's cgroupsPath (cgroupfs style), else /tsvisor/<id>. */
export function cgroupPath(id: string, cgroupsPath: string | undefined): string {
  if (cgroupsPath && !cgroupsPath.includes(':')) return path.posix.normalize(`/${cgroupsPath}`);
  return `/tsvisor/${id}`;
}

function isV2(): boolean {
  return fs.existsSync(path.join(ROOT, 'cgroup.controllers'));
}

/** What to write, per v1 controller (file → value). */
function v1Writes(r: Resources): Record<string, [string, string][]> {
  const w: Record<string, [string, string][]> = { memory: [], pids: [], cpu: [] };
  if (r.memory?.limit !== undefined) w.memory.push(['memory.limit_in_bytes', String(r.memory.limit)]);
  if (r.pids?.limit !== undefined) w.pids.push(['pids.max', r.pids.limit > 0 ? String(r.pids.limit) : 'max']);
  if (r.cpu?.shares !== undefined) w.cpu.push(['cpu.shares', String(r.cpu.shares)]);
  if (r.cpu?.period !== undefined) w.cpu.push(['cpu.cfs_period_us', String(r.cpu.period)]);
  if (r.cpu?.quota !== undefined) w.cpu.push(['cpu.cfs_quota_us', String(r.cpu.quota)]);
  return w;
}

function v2Writes(r: Resources): [string, string][] {
  const w: [string, string][] = [];
  if (r.memory?.limit !== undefined)
    w.push(['memory.max', r.memory.limit > 0 ? String(r.memory.limit) : 'max']);
  if (r.memory?.swap !== undefined && r.memory.limit !== undefined && r.memory.swap > 0)
    w.push(['memory.swap.max', String(Math.max(0, r.memory.swap - r.memory.limit))]);
  if (r.pids?.limit !== undefined) w.push(['pids.max', r.pids.limit > 0 ? String(r.pids.limit) : 'max']);
  if (r.cpu?.shares !== undefined)
    w.push([
      'cpu.weight',
      String(Math.max(1, Math.min(10000, Math.round(1 + ((r.cpu.shares - 2) * 9999) / 262142)))),
    ]);
  if (r.cpu?.quota !== undefined || r.cpu?.period !== undefined)
    w.push([
      'cpu.max',
      `${r.cpu?.quota !== undefined && r.cpu.quota > 0 ? r.cpu.quota : 'max'} ${r.cpu?.period ?? 100000}`,
    ]);
  return w;
}

/**
 * Puts process `pid` into the container's cgroups with `resources` applied. Returns the
 * cgroup folders created (for removeCgroups), or throws an Error saying what failed.
 */
export function applyCgroups(
  pid: number,
  id: string,
  cgroupsPath: string | undefined,
  r: Resources,
): string[] {
  const rel = cgroupPath(id, cgroupsPath);
  const made: string[] = [];
  const enter = (dir: string, writes: [string, string][]): void => {
    fs.mkdirSync(dir, { recursive: true });
    made.push(dir);
    for (const [file, value] of writes) {
      try {
        fs.writeFileSync(path.join(dir, file), value);
      } catch (e) {
        throw new Error(`cannot set ${path.join(dir, file)} to ${value}: ${(e as Error).message}`);
      }
    }
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  };
  if (isV2()) {
    enter(path.join(ROOT, rel), v2Writes(r));
  } else {
    for (const [ctrl, writes] of Object.entries(v1Writes(r))) {
      const base = path.join(ROOT, ctrl);
      if (!fs.existsSync(path.join(base, 'cgroup.procs'))) {
        if (writes.length) throw new Error(`the ${ctrl} cgroup controller is not mounted at ${base}`);
        continue;
      }
      enter(path.join(base, rel), writes);
    }
  }
  return made;
}

/** Whether any limit is asked for. */
export function hasLimits(r: Resources | undefined): r is Resources {
  return !!r && (r.memory?.limit !== undefined || r.pids?.limit !== undefined || r.cpu !== undefined);
}

/** Removes the cgroup folders (deepest first), retrying while their last processes exit. */
export async function removeCgroups(dirs: string[]): Promise<void> {
  for (const d of [...dirs].reverse()) {
    for (let i = 0; i < 100; i++) {
      try {
        fs.rmdirSync(d);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i === 99) break;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }
}
