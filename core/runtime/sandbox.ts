/**
 * Boot a sandbox from an OCI spec: the memory file, the platform, the container's root
 * (the bundle's root.path through directfs under an overlay with a tmpfs upper; with
 * root.readonly the root mount is read-only), the spec's mounts, hostname and process.
 * Used by `runsc boot` (the sandbox process of `runsc create`/`run`).
 *
 * The init process is prepared (its executable found and checked) at boot but created only
 * by start(), so a created container runs nothing of the app until `runsc start`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import type { EffectiveConfig } from '../config/types';
import type { Logger } from '../log/index';
import { EEXIST, ELOOP, ENOENT, SysError } from '../abi/errno';
import { Kernel } from '../kernel/kernel';
import { rootCreds } from '../kernel/caps';
import { containerCreds, type SpecCaps } from './oci/caps';
import type { Task } from '../kernel/task';
import { ThreadGroup } from '../kernel/threadgroup';
import { MemoryManager } from '../mm/mm';
import { MemoryFile } from '../mm/memfile';
import { Platform } from '../plugins/platform';
import { NetworkStack } from '../plugins/network';
import { attachNetworkStack } from '../net/inet';
import { FilesystemType } from '../plugins/filesystem';
import { linuxTable } from '../syscalls/all';
import { StraceFormatter } from '../syscalls/strace';
import { createDoMountNamespace, parseTmpfsData } from '../fs/rootfs';
import { importHostFd } from '../fs/host';
import { Overlay } from '../fs/overlay';
import { Tmpfs } from '../fs/tmpfs';
import { FdTable } from '../vfs/fdtable';
import { FsContext } from '../vfs/fscontext';
import { lookupAt, mkdirAt, openAt } from '../vfs/ops';
import { MountNamespace, VirtualDentry } from '../vfs/mount';
import {
  AT_FDCWD,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  O_CREAT,
  O_TRUNC,
  O_WRONLY,
  S_IFLNK,
  S_IFMT,
} from '../vfs/abi';
import type { Filesystem } from '../vfs/inode';
import type { FileTask } from '../vfs/task';
import type { Credentials } from '../kernel/api';
import { createSandboxContainer, type SandboxContainer } from './sandbox-container';
import { ProcFilesystem } from '../fs/proc';
import { SysFilesystem } from '../fs/sys';
import { makeProcSource } from '../kernel/proc-source';
import { bytes, describe, kernelVfs, resolveCommand } from './do';
import {
  CONTAINERFS_LAYERS,
  RLIMITS,
  containerfsLayers,
  type Spec,
  type SpecMount,
  type SpecProcess,
} from './oci/spec';
import { loadPlugins } from '../plugins/loader';

export interface BootOptions {
  config: EffectiveConfig;
  id: string;
  spec: Spec;
  /** The bundle folder (root.path and bind sources are relative to it). */
  bundle: string;
  log: Logger;
  /** Host fds for the init's stdin, stdout, stderr. */
  stdio: [number, number, number];
}

/** A process to run in the container (init or exec). */
export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
  umask?: number;
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  /** config.json process.capabilities (undefined: none at all, as runc). */
  capabilities?: SpecCaps;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  state: string;
  threads: number;
  cmdline: string;
  startTime: number;
}

export function processFromSpec(p: SpecProcess): ProcessSpec {
  return {
    args: p.args,
    env: p.env ?? [],
    cwd: p.cwd,
    uid: p.user.uid,
    gid: p.user.gid,
    additionalGids: p.user.additionalGids,
    umask: p.user.umask,
    rlimits: p.rlimits,
    noNewPrivileges: p.noNewPrivileges,
    capabilities: p.capabilities,
  };
}

/** A user-facing failure while building the container (bad rootfs, mount, cwd, executable). */
/**
 * The built-in containerfs filesystem type when the config's rootfs is another plugin (the
 * spec's layer annotation asks for it): loaded as if `rootfs: containerfs`, registered in a
 * child container of the sandbox's.
 */
async function containerfsType(sc: SandboxContainer, config: EffectiveConfig): Promise<FilesystemType> {
  const loaded = await loadPlugins({ ...config, values: { ...config.values, rootfs: 'containerfs' } });
  const plugin = loaded.plugins.find((p) => p.slot === 'rootfs');
  const child = sc.container.createChildContainer();
  plugin?.manifest.register(child, plugin.options);
  const t = child.isRegistered(FilesystemType)
    ? child.resolveAll<FilesystemType>(FilesystemType).find((f) => f.name === 'containerfs')
    : undefined;
  if (!t)
    throw new ContainerSetupError(
      `annotations.${CONTAINERFS_LAYERS}: the containerfs plugin is not available`,
    );
  return t;
}

export class ContainerSetupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'ContainerSetupError';
  }
}

const ROOT_CREDS: Credentials = rootCreds();

/** The kernel's private helpers exec needs to start a second parentless process (as a setns'd process). */
interface KernelInternals {
  allocPid(): number;
  execInto(t: Task, path: string, argv: string[], envp: string[], first: boolean): void;
  refFiles(f: unknown): void;
}

function creds(p: ProcessSpec): Credentials {
  return containerCreds(p.uid, p.gid, p.additionalGids, p.capabilities);
}

export class Sandbox {
  private initTask: Task | undefined;
  /** The init's stdin description (its terminal's foreground group is kept there). */
  private initStdin: unknown;
  /** The stdin description of each process started by exec (its terminal's foreground group). */
  private readonly execStdin = new Map<number, unknown>();
  private paused = false;
  /** Unregisters the network stack's families (set by boot when there is a stack). */
  private detachNetwork: (() => void) | undefined;
  private constructor(
    readonly id: string,
    readonly kernel: Kernel,
    private readonly sc: SandboxContainer,
    private readonly mf: MemoryFile,
    private readonly root: VirtualDentry,
    private readonly init: ProcessSpec,
    private readonly stdio: [number, number, number],
    readonly log: Logger,
  ) {}

  /** Builds the sandbox; nothing of the app runs until start(). */
  static async boot(o: BootOptions): Promise<Sandbox> {
    const spec = o.spec;
    if (!spec.process) throw new ContainerSetupError('config.json has no process to run');
    const sc = await createSandboxContainer(o.config, { sandboxId: o.id, log: o.log });
    const log = sc.log;
    const mf = new MemoryFile();
    let detachNetwork: (() => void) | undefined;
    try {
      const types = sc.container.isRegistered(FilesystemType)
        ? sc.container.resolveAll<FilesystemType>(FilesystemType)
        : [];
      // The root's lower layer: the host directory root.path through the gofer plugin, in
      // its directfs mode (default: the sentry reads the host itself) or 9p (served by the
      // sandbox's runsc gofer). Writable bind mounts are always served by the gofer, written
      // through to the host (directfs only reads), as Docker volumes need. ONE gofer process
      // serves every such mount (a connection each): the mounts are collected first.
      const goferOpts = o.config.values.rootfs === 'gofer' ? (o.config.pluginOptions.gofer ?? {}) : {};
      const rootMode = goferOpts.mode === '9p' ? '9p' : 'directfs';
      const lowerType = types.find((t) => t.name === rootMode);
      if (!lowerType)
        throw new ContainerSetupError(
          `rootfs plugin "${o.config.values.rootfs}" provides no "${rootMode}" filesystem, which containers need`,
        );
      const goferType = types.find((t) => t.name === '9p');
      const noOverlay = rootMode === '9p' && goferOpts.overlay === 'none';
      // Layer images named by the spec's annotation are the root instead of root.path; they
      // are opened (and mapped) here, before the platform starts anything.
      const layers = containerfsLayers(spec, o.bundle);
      const rootPath = layers ? undefined : path.resolve(o.bundle, spec.root!.path);
      const served = goferSources(spec, o.bundle, {
        root: rootMode === '9p' && goferOpts.server === undefined ? rootPath : undefined,
        rootWritable: noOverlay,
        rootIs9p: rootMode === '9p',
        has9p: goferType !== undefined,
      });
      const group =
        served.length > 0
          ? { sources: served.map((x) => x.dir), writable: served.map((x) => x.writable) }
          : undefined;
      let lower: Filesystem;
      if (layers) {
        const cfs = types.find((t) => t.name === 'containerfs') ?? (await containerfsType(sc, o.config));
        try {
          lower = await cfs.mount('/', { mf, layers, field: `annotations.${CONTAINERFS_LAYERS}` });
        } catch (e) {
          throw new ContainerSetupError((e as Error).message);
        }
      } else {
        if (!rootPath || !fs.statSync(rootPath, { throwIfNoEntry: false })?.isDirectory())
          throw new ContainerSetupError(`root.path: ${rootPath} is not a directory`);
        lower = await lowerType.mount(rootPath, { ...goferOpts, mf, log, group });
      }
      const platform = sc.container.resolve<Platform>(Platform);
      platform.init({ memoryFd: mf.fd, log });
      detachNetwork = await attachSpecNetwork(sc, spec, log);
      const kernel = new Kernel({
        platform,
        mf,
        log,
        table: linuxTable(),
        vfs: kernelVfs(),
        tracer: o.config.values.strace ? new StraceFormatter(log) : undefined,
        hostname: spec.hostname ?? o.id.slice(0, 63),
      });
      if (spec.domainname) kernel.domainname = spec.domainname;
      const cpus = os.cpus().length;
      const { ns, root } = createDoMountNamespace({
        mf,
        lower,
        procfs: () => new ProcFilesystem(makeProcSource(kernel, { cpus })),
        sysfs: () => new SysFilesystem({ cpus }),
        keepTmpMode: true,
        // gofer overlay: none — the container's root is written through to root.path.
        noOverlay: noOverlay && !layers,
      });
      const pre = {
        files: new FdTable(),
        fs: new FsContext(root, root),
        creds: ROOT_CREDS,
      } as unknown as FileTask;
      for (const [i, m] of (spec.mounts ?? []).entries())
        await mountOne(ns, pre, m, `mounts[${i}]`, {
          mf,
          lowerType,
          goferType,
          group,
          bundle: o.bundle,
          log,
        });
      if (spec.root!.readonly) ns.root.flags |= MS_RDONLY;
      const init = processFromSpec(spec.process);
      const sb = new Sandbox(o.id, kernel, sc, mf, root, init, o.stdio, log);
      sb.detachNetwork = detachNetwork;
      // Check now that the program exists and the cwd is usable, so create reports it.
      sb.prepare(init);
      return sb;
    } catch (e) {
      detachNetwork?.();
      await sc.dispose().catch(() => undefined);
      mf.close();
      throw e;
    }
  }

  /** Resolves with init's wait status when it exits. */
  get finished(): Promise<number> {
    return this.kernel.finished;
  }

  get started(): boolean {
    return this.initTask !== undefined;
  }

  private prepare(p: ProcessSpec): { path: string; fsc: FsContext; argv: string[]; env: string[] } {
    const fsc = new FsContext(this.root, this.root);
    if (p.umask !== undefined) fsc.umask = p.umask & 0o777;
    const c = creds(p);
    const pre = { files: new FdTable(), fs: fsc, creds: c } as unknown as FileTask;
    try {
      fsc.cwd = lookupAt(pre, AT_FDCWD, bytes(p.cwd), true);
    } catch (e) {
      throw new ContainerSetupError(`process.cwd: cannot use ${p.cwd} in the container: ${describe(e)}`);
    }
    const argv = p.args.map(bytes);
    const env = p.env.map(bytes);
    const found = resolveCommand(pre, argv[0], env);
    if (!found)
      throw new ContainerSetupError(`exec: "${p.args[0]}": executable file not found in $PATH`, 127);
    return { path: found, fsc, argv, env };
  }

  private files(stdio: readonly number[], own: boolean): FdTable {
    const files = new FdTable();
    files.limit = Number(this.kernel.defaultLimits[7][0]);
    stdio.forEach((fd, i) => files.installAt(i, importHostFd(fd, { isTty: tty.isatty(fd), own }), false));
    return files;
  }

  /** Starts the init process (runsc start). */
  start(): void {
    if (this.initTask) throw new Error('the container has already been started');
    const p = this.init;
    const { path: exe, fsc, argv, env } = this.prepare(p);
    for (const r of p.rlimits ?? [])
      this.kernel.defaultLimits[RLIMITS[r.type]] = [BigInt(r.soft), BigInt(r.hard)];
    const files = this.files(this.stdio, false);
    this.initStdin = files.get(0);
    try {
      this.initTask = this.kernel.startInit({
        path: exe,
        argv,
        envp: env,
        creds: creds(p),
        files,
        fs: fsc,
        noNewPrivs: p.noNewPrivileges === true,
      });
    } catch (e) {
      throw new ContainerSetupError(`exec ${p.args[0]}: ${describe(e)}`, 126);
    }
  }

  /**
   * A new process in the running container (runsc exec): no parent inside the sandbox, in
   * init's session. `stdio` host fds are owned by the process's files from here on.
   * Returns its pid and a promise of its wait status.
   */
  exec(p: ProcessSpec, stdio: number[]): { pid: number; exited: Promise<number> } {
    if (!this.kernel.init || this.kernel.done) throw new Error('container not running');
    const { path: exe, fsc, argv, env } = this.prepare(p);
    const k = this.kernel as unknown as KernelInternals;
    const pid = k.allocPid();
    const tg = new ThreadGroup(pid, null, this.kernel.init.limits, Date.now());
    tg.sid = this.kernel.init.sid;
    tg.pgid = pid;
    for (const r of p.rlimits ?? []) tg.limits[RLIMITS[r.type]] = [BigInt(r.soft), BigInt(r.hard)];
    // Before execve, which must not grant a no_new_privs process anything.
    if (p.noNewPrivileges) tg.noNewPrivs = true;
    const as = this.kernel.platform.newAddressSpace();
    const mm = new MemoryManager(this.mf, as);
    tg.mm = mm;
    const files = this.files(stdio, true);
    // Task's constructor is the kernel's; the import is type-only above to keep this file's deps small.
    const TaskCtor = (this.kernel.init.leader ?? [...this.kernel.init.tasks][0]).constructor as new (
      ...a: unknown[]
    ) => Task;
    const t = new TaskCtor(this.kernel, tg, pid, mm, creds(p), files, fsc);
    k.refFiles(files);
    t.attachContext(this.kernel.platform.newContext(as, t));
    tg.tasks.add(t);
    this.kernel.tasks.set(pid, t);
    this.kernel.tgs.set(pid, tg);
    this.execStdin.set(pid, files.get(0));
    const exited = new Promise<number>((resolve) =>
      tg.exitHooks.push(() =>
        queueMicrotask(() => {
          this.execStdin.delete(pid);
          resolve(tg.exitStatus);
        }),
      ),
    );
    try {
      k.execInto(t, exe, argv, env, true);
    } catch (e) {
      this.kernel.tasks.delete(pid);
      this.kernel.tgs.delete(pid);
      t.ctx.release();
      mm.decUsers();
      throw new ContainerSetupError(`exec ${p.args[0]}: ${describe(e)}`, 126);
    }
    t.start();
    return { pid, exited };
  }

  /** Sends `signo` to init, or with `all` to every process (runsc kill [--all]). */
  signal(signo: number, all: boolean): void {
    const init = this.kernel.init;
    if (!init || this.kernel.done) throw new Error('container not running');
    const info = { signo, code: 0, pid: 0, uid: 0 };
    if (signo === 0) return;
    if (!all) {
      this.kernel.signalGroup(init, info);
      return;
    }
    for (const tg of [...this.kernel.tgs.values()]) {
      if (tg.exitStatus < 0) this.kernel.signalGroup(tg, info);
    }
  }

  /**
   * A terminal signal (SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP) for the terminal's
   * foreground process group as the sandbox knows it (its TIOCSPGRP), else init's group.
   */
  signalForeground(signo: number): void {
    const init = this.kernel.init;
    if (!init || this.kernel.done) return;
    const stdin = this.initStdin as unknown as { tty?: { fgPgrp: number } | null } | undefined;
    const pg = stdin?.tty?.fgPgrp || init.pgid;
    if (this.kernel.signalProcesses('pgrp', pg, signo) === 0)
      this.kernel.signalGroup(init, { signo, code: 0x80 });
  }

  /**
   * A terminal signal from the terminal of the process `pid` started by exec: for that
   * terminal's foreground process group as the sandbox knows it (TIOCSPGRP on the
   * process's stdin), else the process's own group.
   */
  signalExecForeground(pid: number, signo: number): void {
    if (this.kernel.done) return;
    const stdin = this.execStdin.get(pid) as { tty?: { fgPgrp: number } | null } | undefined;
    if (!stdin) return;
    const pg = stdin.tty?.fgPgrp || this.kernel.tgs.get(pid)?.pgid || pid;
    this.kernel.signalProcesses('pgrp', pg, signo);
  }

  /** The processes inside (runsc ps). */
  ps(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (const tg of this.kernel.tgs.values()) {
      if (tg.exitStatus >= 0 && !tg.zombie) continue;
      const lead = tg.leader ?? [...tg.tasks][0];
      out.push({
        pid: tg.pid,
        ppid: tg.parent?.pid ?? 0,
        uid: lead?.creds.uid ?? 0,
        comm: lead?.comm ?? '',
        state: tg.zombie ? 'Z' : tg.stopSignal ? 'T' : 'S',
        threads: tg.tasks.size,
        cmdline: cmdline(lead),
        startTime: tg.startTime,
      });
    }
    return out.sort((a, b) => a.pid - b.pid);
  }

  /**
   * Freezes every process (runsc pause): each group is held stopped at its next return to
   * user space, without the SIGCHLD/wait report a SIGSTOP would give its parent.
   */
  pause(): void {
    this.paused = true;
    for (const tg of this.kernel.tgs.values()) {
      if (tg.exitStatus >= 0 || tg.stopSignal) continue;
      tg.stopSignal = 19;
      for (const t of tg.tasks) if (t.state === 'user' || t.state === 'blocked') t.kick();
    }
  }

  resume(): void {
    this.paused = false;
    for (const tg of this.kernel.tgs.values()) {
      if (tg.stopSignal !== 19 || tg.stopReport) continue;
      tg.stopSignal = 0;
      for (const t of tg.tasks) if (t.state === 'stopped') t.kick();
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resource figures for runsc events --stats. */
  stats(): { pids: number; cpuUserNs: number; cpuSysNs: number; memoryBytes: number } {
    let user = 0,
      sys = 0;
    for (const tg of this.kernel.tgs.values()) {
      user += tg.deadUserNs + tg.childUserNs;
      sys += tg.deadSysNs + tg.childSysNs;
      for (const t of tg.tasks) {
        const c = t.cpuTime();
        user += c.user;
        sys += c.system;
      }
    }
    return { pids: this.ps().length, cpuUserNs: user, cpuSysNs: sys, memoryBytes: this.mf.allocatedBytes };
  }

  /** Kills everything and releases the platform, plugins and memory file. */
  async dispose(): Promise<void> {
    try {
      this.kernel.shutdown();
    } finally {
      this.detachNetwork?.();
      this.detachNetwork = undefined;
      await this.sc.dispose();
      this.mf.close();
    }
  }
}

/**
 * The container's network namespace from the spec, as runc reads it: a network entry with a
 * path is that namespace, one without a path a fresh namespace ('new'), and no entry the
 * namespace runsc runs in (undefined).
 */
export function specNetns(spec: Spec): string | undefined {
  const n = spec.linux?.namespaces?.find((x) => x.type === 'network');
  if (!n) return undefined;
  return n.path ? n.path : 'new';
}

/** Resolves, initialises and attaches the configured network stack in the spec's namespace. */
async function attachSpecNetwork(
  sc: SandboxContainer,
  spec: Spec,
  log: Logger,
): Promise<(() => void) | undefined> {
  if (!sc.container.isRegistered(NetworkStack)) return undefined;
  const stack = sc.container.resolve<NetworkStack>(NetworkStack);
  const netns = specNetns(spec);
  const sysctl = Object.fromEntries(
    Object.entries(spec.linux?.sysctl ?? {}).filter(([k]) => k.startsWith('net.')),
  );
  try {
    await stack.init({ log, netns, sysctl });
  } catch (e) {
    throw new ContainerSetupError(
      `linux.namespaces: network${netns ? ` ${netns}` : ''}: ${(e as Error).message ?? String(e)}`,
    );
  }
  return attachNetworkStack(stack);
}

/** The process's arguments from its memory (as /proc/<pid>/cmdline), else its comm. */
function cmdline(t: Task | undefined): string {
  const mm = t?.tg.mm;
  if (mm && mm.argEnd > mm.argStart) {
    try {
      const b = mm.copyIn(mm.argStart, Math.min(mm.argEnd - mm.argStart, 4096));
      const s = Buffer.from(b).toString('utf8').replace(/\0+$/, '');
      if (s) return s.split('\0').join(' ');
    } catch {
      /* unreadable: fall back */
    }
  }
  return t?.comm ?? '';
}

interface MountCtx {
  mf: MemoryFile;
  lowerType: FilesystemType;
  /** The 9p type (served by the sandbox's runsc gofer), for writable bind mounts; absent: overlay them. */
  goferType?: FilesystemType;
  /** The directories the sandbox's one gofer serves (goferSources), passed to every 9p mount. */
  group?: { sources: string[]; writable: boolean[] };
  bundle: string;
  log: Logger;
}

function isBindMount(m: SpecMount): boolean {
  const opts = m.options ?? [];
  return m.type === 'bind' || m.type === 'rbind' || opts.includes('bind') || opts.includes('rbind');
}

/**
 * The host directories this container mounts with the 9p type, as mountOne decides, and
 * whether the sandbox writes each: the root (given when it is 9p; written with overlay
 * none), every writable directory bind mount (when the 9p type exists) and, when the root is
 * 9p, the read-only ones too (read only). One runsc gofer serves them all.
 */
function goferSources(
  spec: Spec,
  bundle: string,
  o: { root: string | undefined; rootWritable: boolean; rootIs9p: boolean; has9p: boolean },
): { dir: string; writable: boolean }[] {
  const out = o.root ? [{ dir: o.root, writable: o.rootWritable }] : [];
  for (const m of spec.mounts ?? []) {
    if (!isBindMount(m)) continue;
    const src = path.resolve(bundle, m.source ?? '');
    if (!fs.statSync(src, { throwIfNoEntry: false })?.isDirectory()) continue;
    const ro = (mountFlags(m.options ?? []) & MS_RDONLY) !== 0;
    if (!ro && o.has9p) out.push({ dir: src, writable: true });
    else if (o.rootIs9p) out.push({ dir: src, writable: false });
  }
  return out;
}

/** Creates every missing directory of `dest` (as root, in the writable overlay). */
/**
 * Makes the directories of `dest` inside the container's root, resolving symlink components
 * inside the root as runc's securejoin does (an absolute link text restarts at the root, `..`
 * stops at it), so a mount point behind a link lands inside the root. Returns the resolved
 * path (no symlink components left).
 */
function ensurePath(pre: FileTask, dest: string): string {
  const todo = dest.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const cur = `/${[...done, part].join('/')}`;
    let vd: VirtualDentry | null = null;
    try {
      vd = lookupAt(pre, AT_FDCWD, bytes(cur), false);
    } catch (e) {
      if (!(e instanceof SysError && e.errno === ENOENT)) throw e;
    }
    if (vd && (vd.inode.mode & S_IFMT) === S_IFLNK) {
      if (++links > 40) throw new SysError(ELOOP);
      const text = Buffer.from(vd.inode.readlink!(), 'latin1').toString('utf8');
      if (text.startsWith('/')) done.length = 0;
      todo.unshift(...text.split('/').filter(Boolean));
      continue;
    }
    if (!vd) {
      try {
        mkdirAt(pre, AT_FDCWD, bytes(cur), 0o755);
      } catch (e) {
        if (!(e instanceof SysError && e.errno === EEXIST)) throw e;
      }
    }
    done.push(part);
  }
  return `/${done.join('/')}`;
}

/** Destinations the base namespace already has with the same kind of filesystem. */
const BUILT_IN: Record<string, string[]> = {
  '/proc': ['proc'],
  '/sys': ['sysfs'],
  '/dev': ['tmpfs', 'devtmpfs'],
  '/dev/pts': ['devpts'],
  '/dev/shm': ['tmpfs'],
};

function mountFlags(opts: readonly string[]): number {
  let f = 0;
  for (const o of opts) {
    if (o === 'ro') f |= MS_RDONLY;
    else if (o === 'nosuid') f |= MS_NOSUID;
    else if (o === 'nodev') f |= MS_NODEV;
    else if (o === 'noexec') f |= MS_NOEXEC;
  }
  return f;
}

async function mountOne(
  ns: MountNamespace,
  pre: FileTask,
  m: SpecMount,
  where: string,
  c: MountCtx,
): Promise<void> {
  const opts = m.options ?? [];
  const isBind = isBindMount(m);
  const type = isBind ? 'bind' : (m.type ?? 'none');
  const dest = path.posix.normalize(m.destination);
  if (!isBind && BUILT_IN[dest]?.includes(type)) return;
  const flags = mountFlags(opts);
  const fail = (msg: string): never => {
    throw new ContainerSetupError(`${where} (${type} at ${dest}): ${msg}`);
  };
  let fsys: Filesystem;
  if (isBind) {
    const src = path.resolve(c.bundle, m.source ?? '');
    const st = fs.statSync(src, { throwIfNoEntry: false });
    if (!st) return fail(`source ${src} does not exist`);
    if (!st.isDirectory()) {
      // A file bind mount (/etc/hosts, /etc/resolv.conf): copied into the container's root
      // at create; later changes on either side are not seen by the other.
      copyFileIn(pre, src, dest, fail);
      return;
    }
    if (!(flags & MS_RDONLY) && c.goferType) {
      // Writes reach the host directory through the gofer (a connection of this mount's
      // own), revalidated on use (the host may change it too: gVisor's --file-access-mounts=shared).
      try {
        fsys = await c.goferType.mount(src, {
          mf: c.mf,
          log: c.log,
          overlay: 'none',
          fileAccess: 'shared',
          group: c.group,
        });
      } catch (e) {
        return fail(describe(e));
      }
    } else {
      const lower = await c.lowerType.mount(src, { mf: c.mf, log: c.log, group: c.group });
      fsys =
        flags & MS_RDONLY
          ? lower
          : new Overlay({ upper: new Tmpfs({ mf: c.mf, mode: st.mode & 0o7777 }), lower });
    }
  } else if (type === 'tmpfs' || type === 'mqueue') {
    fsys = new Tmpfs({
      mf: c.mf,
      mode: 0o1777,
      ...parseTmpfsData(opts.join(',')),
      ...coveredMode(pre, dest, type),
    });
  } else if (type === 'cgroup' || type === 'cgroup2') {
    fsys = new Tmpfs({ mf: c.mf, mode: 0o555, size: 0 });
  } else if (type === 'proc' || type === 'sysfs' || type === 'devpts') {
    return fail('only supported at its usual place (/proc, /sys, /dev/pts)');
  } else return fail(`mount type ${type} is not supported`);
  try {
    const at = lookupAt(pre, AT_FDCWD, bytes(ensurePath(pre, dest)), false);
    ns.mount(fsys, at, flags, m.source ?? type);
  } catch (e) {
    fail(describe(e));
  }
}

/** runc gives a tmpfs the mode of the directory it is mounted on, when that exists (over any mode= option). */
function coveredMode(pre: FileTask, dest: string, type: string): { mode?: number } {
  if (type !== 'tmpfs') return {};
  try {
    const vd = lookupAt(pre, AT_FDCWD, bytes(dest), true);
    return (vd.inode.mode & 0o170000) === 0o040000 ? { mode: vd.inode.mode & 0o7777 } : {};
  } catch {
    return {};
  }
}

function copyFileIn(pre: FileTask, src: string, dest: string, fail: (m: string) => never): void {
  try {
    ensurePath(pre, path.posix.dirname(dest));
    const data = fs.readFileSync(src);
    const opened = openAt(pre, AT_FDCWD, bytes(dest), { flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644 });
    if (opened instanceof Promise) throw new Error('asynchronous open');
    const f = opened;
    try {
      const r = f.write(pre as never, [data], 0);
      if (typeof r === 'number' && r < 0) throw new SysError(-r);
    } finally {
      f.decRef();
    }
  } catch (e) {
    fail(`cannot copy ${src} into the container: ${describe(e)}`);
  }
}
