/**
 * The OCI runtime spec's config.json: the types runsc uses, the default config `runsc spec`
 * writes, and validation that names the JSON path of every invalid field
 * (`process.args`, `mounts[2].destination`, `hooks.poststart[0].path`...).
 *
 * Unknown properties are ignored, as the spec requires of runtimes; fields the spec defines
 * are checked for type and range, and for the values this runtime understands.
 */
import { resolve as resolvePath } from 'node:path';
import { CAP_NAMES } from '../../kernel/caps';

export const OCI_VERSION = '1.0.2';

export interface SpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}
export interface SpecRlimit {
  type: string;
  soft: number;
  hard: number;
}
export interface SpecProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: Partial<Record<CapSet, string[]>>;
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}
export type CapSet = 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient';
export interface SpecMount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
}
export interface SpecHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}
export const HOOK_KINDS = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookKind = (typeof HOOK_KINDS)[number];
export interface SpecNamespace {
  type: string;
  path?: string;
}
export interface Spec {
  ociVersion: string;
  process?: SpecProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: SpecMount[];
  hooks?: Partial<Record<HookKind, SpecHook[]>>;
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: SpecNamespace[];
    uidMappings?: { containerID: number; hostID: number; size: number }[];
    gidMappings?: { containerID: number; hostID: number; size: number }[];
    resources?: Record<string, unknown>;
    cgroupsPath?: string;
    sysctl?: Record<string, string>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A config.json that does not satisfy the spec; `problems` lists each bad field with its path. */
export class SpecError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(
      `${file}: ${problems.length === 1 ? 'invalid field' : `${problems.length} invalid fields`}: ${problems
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ')}`,
    );
    this.name = 'SpecError';
  }
}

/** The mount types a container may ask for (cgroup/cgroup2 are served as empty read-only directories). */
export const MOUNT_TYPES = [
  'bind',
  'rbind',
  'tmpfs',
  'proc',
  'sysfs',
  'devpts',
  'mqueue',
  'cgroup',
  'cgroup2',
  'none',
];
export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** The config.json `runsc spec` writes: `sh` in ./rootfs with a terminal, as `runc spec`. */
export function defaultSpec(args: string[] = ['sh'], terminal = true): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runsc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

type Problems = { path: string; message: string }[];

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : JSON.stringify(v);

class Checker {
  readonly problems: Problems = [];
  bad(path: string, message: string): void {
    this.problems.push({ path, message });
  }
  obj(v: unknown, path: string, required = false): v is Record<string, unknown> {
    if (v === undefined) {
      if (required) this.bad(path, 'is required (an object)');
      return false;
    }
    if (!isObj(v)) {
      this.bad(path, `must be an object, not ${describe(v)}`);
      return false;
    }
    return true;
  }
  str(v: unknown, path: string, required = false): v is string {
    if (v === undefined) {
      if (required) this.bad(path, 'is required (a string)');
      return false;
    }
    if (typeof v !== 'string') {
      this.bad(path, `must be a string, not ${describe(v)}`);
      return false;
    }
    return true;
  }
  bool(v: unknown, path: string): void {
    if (v !== undefined && typeof v !== 'boolean')
      this.bad(path, `must be true or false, not ${describe(v)}`);
  }
  int(v: unknown, path: string, min: number, max: number, required = false): v is number {
    if (v === undefined) {
      if (required) this.bad(path, `is required (an integer from ${min} to ${max})`);
      return false;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.bad(path, `must be an integer from ${min} to ${max}, not ${describe(v)}`);
      return false;
    }
    return true;
  }
  strArray(v: unknown, path: string, required = false, each?: (s: string, p: string) => void): v is string[] {
    if (v === undefined) {
      if (required) this.bad(path, 'is required (an array of strings)');
      return false;
    }
    if (!Array.isArray(v)) {
      this.bad(path, `must be an array of strings, not ${describe(v)}`);
      return false;
    }
    let ok = true;
    v.forEach((s, i) => {
      if (typeof s !== 'string') {
        this.bad(`${path}[${i}]`, `must be a string, not ${describe(s)}`);
        ok = false;
      } else each?.(s, `${path}[${i}]`);
    });
    return ok;
  }
  arr(v: unknown, path: string): v is unknown[] {
    if (v === undefined) return false;
    if (!Array.isArray(v)) {
      this.bad(path, `must be an array, not ${describe(v)}`);
      return false;
    }
    return true;
  }
  absPath(v: unknown, path: string, required = false): void {
    if (this.str(v, path, required) && !v.startsWith('/'))
      this.bad(path, `must be an absolute path, not ${describe(v)}`);
  }
  env(v: unknown, path: string): void {
    this.strArray(v, path, false, (s, p) => {
      if (s.indexOf('=') <= 0) this.bad(p, `must be NAME=VALUE, not ${describe(s)}`);
    });
  }
}

const U32 = 0xffffffff;
const U64 = Number.MAX_SAFE_INTEGER;

function checkProcess(c: Checker, p: unknown, path: string): void {
  if (!c.obj(p, path, true)) return;
  c.bool(p.terminal, `${path}.terminal`);
  if (c.obj(p.consoleSize, `${path}.consoleSize`)) {
    c.int(p.consoleSize.height, `${path}.consoleSize.height`, 0, 0xffff, true);
    c.int(p.consoleSize.width, `${path}.consoleSize.width`, 0, 0xffff, true);
  }
  if (c.obj(p.user, `${path}.user`, true)) {
    c.int(p.user.uid, `${path}.user.uid`, 0, U32, true);
    c.int(p.user.gid, `${path}.user.gid`, 0, U32, true);
    c.int(p.user.umask, `${path}.user.umask`, 0, 0o777);
    if (c.arr(p.user.additionalGids, `${path}.user.additionalGids`))
      p.user.additionalGids.forEach((g, i) => c.int(g, `${path}.user.additionalGids[${i}]`, 0, U32));
    if (p.user.username !== undefined) c.str(p.user.username, `${path}.user.username`);
  }
  if (c.strArray(p.args, `${path}.args`, true) && p.args.length === 0)
    c.bad(`${path}.args`, 'must name the program to run (it is empty)');
  c.env(p.env, `${path}.env`);
  c.absPath(p.cwd, `${path}.cwd`, true);
  if (c.obj(p.capabilities, `${path}.capabilities`)) {
    for (const [k, v] of Object.entries(p.capabilities)) {
      const cp = `${path}.capabilities.${k}`;
      if (!['bounding', 'effective', 'inheritable', 'permitted', 'ambient'].includes(k)) continue;
      c.strArray(v, cp, false, (s, sp) => {
        if (!CAP_NAMES.includes(s)) c.bad(sp, `unknown capability ${describe(s)} (expected CAP_...)`);
      });
    }
  }
  if (c.arr(p.rlimits, `${path}.rlimits`)) {
    const seen = new Set<string>();
    p.rlimits.forEach((r, i) => {
      const rp = `${path}.rlimits[${i}]`;
      if (!c.obj(r, rp)) return;
      if (c.str(r.type, `${rp}.type`, true)) {
        if (!(r.type in RLIMITS))
          c.bad(
            `${rp}.type`,
            `unknown rlimit ${describe(r.type)} (expected one of ${Object.keys(RLIMITS).join(', ')})`,
          );
        else if (seen.has(r.type)) c.bad(`${rp}.type`, `${r.type} is given twice`);
        seen.add(r.type);
      }
      const s = c.int(r.soft, `${rp}.soft`, 0, U64, true);
      const h = c.int(r.hard, `${rp}.hard`, 0, U64, true);
      if (s && h && (r.soft as number) > (r.hard as number))
        c.bad(`${rp}.soft`, `must not exceed hard (${String(r.hard)}), is ${String(r.soft)}`);
    });
  }
  c.bool(p.noNewPrivileges, `${path}.noNewPrivileges`);
  c.str(p.apparmorProfile, `${path}.apparmorProfile`);
  c.int(p.oomScoreAdj, `${path}.oomScoreAdj`, -1000, 1000);
  c.str(p.selinuxLabel, `${path}.selinuxLabel`);
}

function checkMount(c: Checker, m: unknown, path: string): void {
  if (!c.obj(m, path)) return;
  c.absPath(m.destination, `${path}.destination`, true);
  const opts = c.strArray(m.options, `${path}.options`) ? (m.options as string[]) : [];
  const isBind = opts.includes('bind') || opts.includes('rbind');
  if (c.str(m.type, `${path}.type`)) {
    if (!MOUNT_TYPES.includes(m.type))
      c.bad(
        `${path}.type`,
        `mount type ${describe(m.type)} is not supported (supported: ${MOUNT_TYPES.join(', ')})`,
      );
  } else if (m.type === undefined && !isBind) {
    c.bad(`${path}.type`, 'is required unless options include "bind" or "rbind"');
  }
  if (c.str(m.source, `${path}.source`) && (m.type === 'bind' || m.type === 'rbind' || isBind)) {
    if (m.source === '') c.bad(`${path}.source`, 'a bind mount needs a source path');
  } else if (m.source === undefined && (m.type === 'bind' || isBind)) {
    c.bad(`${path}.source`, 'is required for a bind mount');
  }
}

function checkHooks(c: Checker, h: unknown, path: string): void {
  if (!c.obj(h, path)) return;
  for (const [kind, list] of Object.entries(h)) {
    if (!(HOOK_KINDS as readonly string[]).includes(kind)) continue;
    const kp = `${path}.${kind}`;
    if (!c.arr(list, kp)) continue;
    list.forEach((hook, i) => {
      const hp = `${kp}[${i}]`;
      if (!c.obj(hook, hp)) return;
      c.absPath(hook.path, `${hp}.path`, true);
      c.strArray(hook.args, `${hp}.args`);
      c.env(hook.env, `${hp}.env`);
      c.int(hook.timeout, `${hp}.timeout`, 1, 0x7fffffff);
    });
  }
}

function checkLinux(c: Checker, l: unknown, path: string): void {
  if (!c.obj(l, path)) return;
  if (c.arr(l.namespaces, `${path}.namespaces`)) {
    const seen = new Set<string>();
    l.namespaces.forEach((ns, i) => {
      const np = `${path}.namespaces[${i}]`;
      if (!c.obj(ns, np)) return;
      if (c.str(ns.type, `${np}.type`, true)) {
        if (!NAMESPACE_TYPES.includes(ns.type))
          c.bad(
            `${np}.type`,
            `unknown namespace ${describe(ns.type)} (expected one of ${NAMESPACE_TYPES.join(', ')})`,
          );
        else if (seen.has(ns.type)) c.bad(`${np}.type`, `namespace ${ns.type} is given twice`);
        seen.add(ns.type);
      }
      c.absPath(ns.path, `${np}.path`);
    });
  }
  for (const k of ['uidMappings', 'gidMappings']) {
    const v = l[k];
    if (!c.arr(v, `${path}.${k}`)) continue;
    v.forEach((m, i) => {
      const mp = `${path}.${k}[${i}]`;
      if (!c.obj(m, mp)) return;
      c.int(m.containerID, `${mp}.containerID`, 0, U32, true);
      c.int(m.hostID, `${mp}.hostID`, 0, U32, true);
      c.int(m.size, `${mp}.size`, 1, U32, true);
    });
  }
  c.obj(l.resources, `${path}.resources`);
  c.str(l.cgroupsPath, `${path}.cgroupsPath`);
  if (c.obj(l.sysctl, `${path}.sysctl`))
    for (const [k, v] of Object.entries(l.sysctl)) c.str(v, `${path}.sysctl.${k}`);
  c.strArray(l.maskedPaths, `${path}.maskedPaths`);
  c.strArray(l.readonlyPaths, `${path}.readonlyPaths`);
}

/**
 * The annotation naming the container's root as containerfs layer images: a JSON list of
 * image files, bottom layer first, each absolute or relative to the bundle folder. With it,
 * the layers (under a writable tmpfs upper) are the root and root.path is not used.
 */
export const CONTAINERFS_LAYERS = 'dev.tsvisor.containerfs.layers';

function layerListProblem(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `must be a JSON list of layer image paths: ${(e as Error).message}`;
  }
  if (!Array.isArray(v) || !v.length)
    return `must be a non-empty JSON list of layer image paths, not ${text}`;
  const i = v.findIndex((x) => typeof x !== 'string' || x === '' || x.includes('\0'));
  if (i >= 0) return `entry ${i} must be a non-empty path, not ${JSON.stringify(v[i])}`;
  return undefined;
}

/**
 * The layer images the spec's CONTAINERFS_LAYERS annotation names (resolved against the
 * bundle), or undefined without it. The spec was validated (validateSpec), so the list is
 * well-formed.
 */
export function containerfsLayers(spec: Spec, bundle: string): string[] | undefined {
  const text = spec.annotations?.[CONTAINERFS_LAYERS];
  if (text === undefined) return undefined;
  const problem = layerListProblem(text);
  if (problem)
    throw new SpecError('config.json', [{ path: `annotations.${CONTAINERFS_LAYERS}`, message: problem }]);
  return (JSON.parse(text) as string[]).map((p) => resolvePath(bundle, p));
}

/**
 * Checks a parsed config.json. `needProcess`: `create` needs a process (the spec makes it
 * optional only for runtimes that get it later). Throws SpecError listing every bad field.
 */
export function validateSpec(raw: unknown, file = 'config.json', needProcess = true): Spec {
  const c = new Checker();
  if (!isObj(raw))
    throw new SpecError(file, [{ path: '(top level)', message: `must be an object, not ${describe(raw)}` }]);
  if (c.str(raw.ociVersion, 'ociVersion', true) && !/^1\.\d+\.\d+/.test(raw.ociVersion))
    c.bad('ociVersion', `must be a 1.x.y version, not ${describe(raw.ociVersion)}`);
  if (needProcess || raw.process !== undefined) checkProcess(c, raw.process, 'process');
  if (c.obj(raw.root, 'root', true)) {
    if (c.str(raw.root.path, 'root.path', true) && raw.root.path === '')
      c.bad('root.path', 'must not be empty');
    c.bool(raw.root.readonly, 'root.readonly');
  }
  c.str(raw.hostname, 'hostname');
  c.str(raw.domainname, 'domainname');
  if (c.arr(raw.mounts, 'mounts')) raw.mounts.forEach((m, i) => checkMount(c, m, `mounts[${i}]`));
  checkHooks(c, raw.hooks, 'hooks');
  if (c.obj(raw.annotations, 'annotations')) {
    for (const [k, v] of Object.entries(raw.annotations)) c.str(v, `annotations.${k}`);
    const layers = raw.annotations[CONTAINERFS_LAYERS];
    if (typeof layers === 'string') {
      const problem = layerListProblem(layers);
      if (problem) c.bad(`annotations.${CONTAINERFS_LAYERS}`, problem);
    }
  }
  checkLinux(c, raw.linux, 'linux');
  if (c.problems.length) throw new SpecError(file, c.problems);
  return raw as Spec;
}

/** Reads and validates `<bundle>/config.json`; errors name the file and, for bad JSON, the position. */
export function loadSpec(bundle: string, readFile: (p: string) => string): Spec {
  const file = `${bundle.replace(/\/+$/, '')}/config.json`;
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError(file, [
      {
        path: '(file)',
        message: code === 'ENOENT' ? 'no such file (is --bundle the bundle folder?)' : String(e),
      },
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SpecError(file, [{ path: '(file)', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return validateSpec(raw, file);
}

/** Checks an OCI process object (runsc exec --process FILE); errors name `process.<field>`. */
export function validateProcess(raw: unknown, file: string): SpecProcess {
  const c = new Checker();
  checkProcess(c, raw, 'process');
  if (c.problems.length) throw new SpecError(file, c.problems);
  return raw as SpecProcess;
}
