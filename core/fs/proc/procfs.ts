/**
 * procfs (Linux's fs/proc; gVisor's fsimpl/proc): the process table and system state as
 * files, rendered from a ProcSource (see source.ts) when a file is opened.
 *
 * Tree:
 *   /proc/{meminfo,cpuinfo,uptime,loadavg,stat,version,filesystems,cmdline,swaps}
 *   /proc/{self,thread-self,mounts}          symlinks ("<tgid>", "<tgid>/task/<tid>", "self/mounts")
 *   /proc/sys/{kernel,vm,fs,net/core}/...    sysctls (0644 ones are writable by root and
 *                                            kept per filesystem; hostname/domainname go to the source)
 *   /proc/<pid>/...                          per process (PidDir), listed for every process;
 *   /proc/<tid>/...                          also looked up (not listed) for any thread
 *   /proc/<pid>/task/<tid>/...               per thread
 *
 * Inode numbers: static nodes count from 1 (the root); per-process nodes are computed
 * from (entry kind, pid or tid, fd) so the same file keeps its number across lookups.
 *
 * Liveness: a per-process node holds the id, not the task; every operation looks the
 * task up again, so a node of a process that has gone away reports ENOENT (lookups,
 * opens, readlink) instead of stale data.
 *
 * Magic links (/proc/<pid>/{exe,cwd,root,fd/N}): readlink(t) gives the path; the
 * optional followLink(t) gives the object itself (MagicLink in synth.ts, fdlinks.ts).
 */
import { EACCES, EINVAL, ENOENT, EPERM, ESRCH, SysError } from '../../abi/errno';
import { CAP_SYS_PTRACE, CAP_SYS_RESOURCE, hasCap } from '../../kernel/caps';
import type { Credentials, TaskApi } from '../../kernel/api';
import { DT_DIR, DT_LNK, DT_REG, O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY, S_IFLNK } from '../../vfs/abi';
import type { FileDescription } from '../../vfs/file';
import { DirEntry, Inode, PROC_SUPER_MAGIC } from '../../vfs/inode';
import { pathOf, VirtualDentry } from '../../vfs/mount';
import { fdLinkTarget, fdLinkText, formatFdinfo } from './fdlinks';
import { buildProcNet } from './net';
import {
  CAP_LAST_CAP,
  formatAuxv,
  formatCpuinfo,
  formatLimits,
  formatLoadavg,
  formatMaps,
  formatMeminfo,
  formatMountinfo,
  formatMounts,
  formatProcStat,
  formatSmaps,
  formatStat,
  formatStatm,
  formatStatus,
  formatUptime,
  memRange,
  nsToTicks,
} from './format';
import type { ProcSource, ProcTask } from './source';
import { FileOptions, Generator, SynthDir, SynthFile, SynthFs, SynthLink, Writer } from './synth';

/** What uname(2) reports; /proc/sys/kernel and /proc/version agree with it. */
export const UTS_RELEASE = '4.4.0';
export const UTS_VERSION = '#1 SMP Sun Jan 10 15:06:54 PST 2016';
export const PID_MAX = 4194304;

/** Base of computed inode numbers (static nodes stay below). */
const PID_INO_BASE = 1 << 16;
const TWO22 = 1 << 22;
/** Inode number of per-process entry `kind` of `id` (pid or tid), with `sub` (an fd). */
export function pidIno(kind: number, id: number, sub = 0): number {
  return PID_INO_BASE + (kind * TWO22 + (id % TWO22)) * TWO22 + (sub % TWO22);
}
const KIND_PID_DIR = 0,
  KIND_THREAD_DIR = 1,
  KIND_FD = 2,
  KIND_FDINFO = 3,
  /** Per-process entries: KIND_ENTRY + index; per-thread ones: KIND_THREAD_ENTRY + index. */
  KIND_ENTRY = 8,
  KIND_THREAD_ENTRY = 72,
  KIND_NS = 140,
  KIND_THREAD_NS = 160;

/** Namespace inode numbers as a fresh Linux boot shows them. */
const NS_LINKS: [string, string][] = [
  ['cgroup', 'cgroup:[4026531835]'],
  ['ipc', 'ipc:[4026531839]'],
  ['mnt', 'mnt:[4026531840]'],
  ['net', 'net:[4026531992]'],
  ['pid', 'pid:[4026531836]'],
  ['pid_for_children', 'pid:[4026531836]'],
  ['time', 'time:[4026531834]'],
  ['time_for_children', 'time:[4026531834]'],
  ['user', 'user:[4026531837]'],
  ['uts', 'uts:[4026531838]'],
];

/** Whether `viewer` may look into `task` (ptrace_may_access, PTRACE_MODE_READ_FSCREDS, simplified). */
export function mayInspect(viewer: Credentials | undefined, task: ProcTask): boolean {
  if (!viewer || hasCap(viewer, CAP_SYS_PTRACE)) return true;
  const c = task.creds;
  return (
    viewer.fsuid === c.uid && viewer.fsuid === c.euid && viewer.fsuid === c.suid && viewer.fsgid === c.gid
  );
}

export class ProcFilesystem extends SynthFs {
  private readonly rootDir: SynthDir;
  /** Values written to writable sysctls (by path under /proc/sys). */
  readonly sysctls = new Map<string, string>();

  constructor(readonly source: ProcSource) {
    super('proc', PROC_SUPER_MAGIC);
    this.rootDir = new ProcRoot(this);
    this.buildRoot(this.rootDir);
  }

  root(): Inode {
    return this.rootDir;
  }

  /** The live task or ENOENT. */
  task(tid: number): ProcTask {
    const t = this.source.task(tid);
    if (!t) throw new SysError(ENOENT);
    return t;
  }

  /** The caller's root directory (paths in links and mounts are relative to it). */
  callerRoot(t?: TaskApi): VirtualDentry | null {
    const c = this.source.caller(t);
    return c ? (this.source.task(c.tid)?.root() ?? null) : null;
  }

  // ---------------------------------------------------------------- static tree

  private buildRoot(r: SynthDir): void {
    const src = this.source;
    const stat = (name: string, gen: Generator, opts?: FileOptions): void => {
      r.file(name, gen, opts).chmodable = true;
    };
    stat('cmdline', () => `BOOT_IMAGE=/vmlinuz-${UTS_RELEASE}-tsvisor quiet\n`);
    stat('cpuinfo', () => formatCpuinfo(src.hostCpuinfo(), src.cpus()));
    stat('filesystems', () =>
      src
        .filesystems()
        .map((f) => `${f.nodev ? 'nodev' : ''}\t${f.name}\n`)
        .join(''),
    );
    stat('loadavg', () => {
      const { running, total } = this.counts();
      return formatLoadavg(src.loadavg(), running, total, src.lastPid());
    });
    stat('meminfo', () => formatMeminfo(src.memInfo()));
    stat('stat', () => this.procStat());
    stat('swaps', () => 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
    stat('uptime', () => {
      const up = src.uptimeNs();
      return formatUptime(up, up * BigInt(src.cpus()));
    });
    stat(
      'version',
      () => `Linux version ${UTS_RELEASE} (tsvisor@tsvisor) (gcc version 5.4.0) ${UTS_VERSION}\n`,
    );
    r.slink('mounts', 'self/mounts');
    r.slink('self', (t) => {
      const c = src.caller(t);
      if (!c) throw new SysError(ENOENT);
      return String(c.tgid);
    });
    r.slink('thread-self', (t) => {
      const c = src.caller(t);
      if (!c) throw new SysError(ENOENT);
      return `${c.tgid}/task/${c.tid}`;
    });
    this.buildSys(r.dir('sys'));
    buildProcNet(r.dir('net'));
  }

  private buildSys(sys: SynthDir): void {
    const src = this.source;
    const kernel = sys.dir('kernel');
    this.sysctl(
      kernel,
      'kernel/hostname',
      () => src.hostname(),
      src.setHostname ? (v) => src.setHostname!(v.slice(0, 64)) : undefined,
    );
    this.sysctl(
      kernel,
      'kernel/domainname',
      () => src.domainname(),
      src.setDomainname ? (v) => src.setDomainname!(v.slice(0, 64)) : undefined,
    );
    this.sysctl(kernel, 'kernel/ostype', 'Linux');
    this.sysctl(kernel, 'kernel/osrelease', UTS_RELEASE);
    this.sysctl(kernel, 'kernel/version', UTS_VERSION);
    this.sysctl(kernel, 'kernel/pid_max', String(PID_MAX), 'int');
    this.sysctl(kernel, 'kernel/threads-max', '126000', 'int');
    this.sysctl(kernel, 'kernel/ngroups_max', '65536');
    this.sysctl(kernel, 'kernel/cap_last_cap', String(CAP_LAST_CAP));
    this.sysctl(kernel, 'kernel/overflowuid', '65534', 'int');
    this.sysctl(kernel, 'kernel/overflowgid', '65534', 'int');
    this.sysctl(kernel, 'kernel/shmmax', '18446744073692774399', 'int');
    this.sysctl(kernel, 'kernel/shmall', '18446744073692774399', 'int');
    this.sysctl(kernel, 'kernel/shmmni', '4096', 'int');
    const random = kernel.dir('random');
    this.sysctl(random, 'kernel/random/boot_id', () => src.bootId());
    this.sysctl(random, 'kernel/random/uuid', () => globalThis.crypto.randomUUID());
    this.sysctl(random, 'kernel/random/entropy_avail', '256');
    this.sysctl(random, 'kernel/random/poolsize', '256');
    const vm = sys.dir('vm');
    this.sysctl(vm, 'vm/overcommit_memory', '0', 'int');
    this.sysctl(vm, 'vm/overcommit_ratio', '50', 'int');
    this.sysctl(vm, 'vm/max_map_count', '65530', 'int');
    this.sysctl(vm, 'vm/mmap_min_addr', '65536', 'int');
    this.sysctl(vm, 'vm/swappiness', '60', 'int');
    const fs = sys.dir('fs');
    this.sysctl(fs, 'fs/file-max', '9223372036854775807', 'int');
    this.sysctl(fs, 'fs/nr_open', '1048576', 'int');
    this.sysctl(fs, 'fs/pipe-max-size', '1048576', 'int');
    const core = sys.dir('net').dir('core');
    this.sysctl(core, 'net/core/somaxconn', '4096', 'int');
  }

  /**
   * A /proc/sys entry. `value`: a constant or getter (read-only: 0444, open for writing
   * is EACCES even for root), or with `kind` 'int'/'string' or a setter: 0644, root may
   * write (ints are validated; the value is kept in this filesystem).
   */
  private sysctl(
    dir: SynthDir,
    path: string,
    value: string | (() => string),
    set?: 'int' | 'string' | ((v: string) => void),
  ): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const get = typeof value === 'string' ? () => this.sysctls.get(path) ?? value : value;
    const gen = (): string => get() + '\n';
    if (!set) {
      dir.file(name, gen, { denyWriteOpen: true });
      return;
    }
    const write: Writer = (_t, data, off) => {
      if (off > 0) return data.length;
      let v = Buffer.from(data).toString('latin1');
      const nl = v.indexOf('\n');
      if (nl >= 0) v = v.slice(0, nl);
      if (set === 'int') {
        v = v.trim();
        if (!/^-?\d+$/.test(v)) throw new SysError(EINVAL);
        this.sysctls.set(path, v);
      } else if (set === 'string') this.sysctls.set(path, v);
      else set(v);
      return data.length;
    };
    dir.file(name, gen, { mode: 0o644, write });
  }

  /** Running and total thread counts. */
  private counts(): { running: number; total: number; blocked: number } {
    let running = 0,
      total = 0;
    for (const pid of this.source.pids()) {
      const leader = this.source.task(pid);
      if (!leader) continue;
      for (const tid of leader.threads()) {
        const t = tid === pid ? leader : this.source.task(tid);
        if (!t) continue;
        total++;
        if (t.state === 'R') running++;
      }
    }
    return { running, total, blocked: 0 };
  }

  private procStat(): string {
    const src = this.source;
    const up = nsToTicks(src.uptimeNs());
    const perCpu: number[][] = [];
    let utime = 0,
      stime = 0;
    for (const pid of src.pids()) {
      const t = src.task(pid);
      if (t) {
        utime += t.utime + t.cutime;
        stime += t.stime + t.cstime;
      }
    }
    const n = src.cpus();
    for (let i = 0; i < n; i++) {
      const u = Math.floor(utime / n),
        s = Math.floor(stime / n);
      perCpu.push([u, 0, s, Math.max(0, up - u - s), 0, 0, 0, 0, 0, 0]);
    }
    const { running, blocked } = this.counts();
    return formatProcStat({
      perCpu,
      ctxt: 0,
      btime: src.bootTimeSec(),
      processes: src.forks(),
      running: Math.max(1, running),
      blocked,
    });
  }
}

// ---------------------------------------------------------------- /proc itself

class ProcRoot extends SynthDir {
  constructor(readonly proc: ProcFilesystem) {
    super(proc, proc.allocIno(), 0o555, {
      lookup: (name) => {
        const id = parseId(name);
        if (id < 0 || !proc.source.task(id)) return null;
        return new PidDir(proc, id, false);
      },
      list: () =>
        proc.source
          .pids()
          .map((pid) => ({ name: String(pid), ino: pidIno(KIND_PID_DIR, pid), type: DT_DIR })),
    });
  }
  protected override nlink(): number {
    return super.nlink() + this.proc.source.pids().length;
  }
}

/** A canonical decimal id ("12", not "012" or "+12"), or -1. */
function parseId(name: string): number {
  if (!/^[1-9]\d{0,9}$/.test(name)) return -1;
  const n = Number(name);
  return n < 2 ** 31 ? n : -1;
}

// ---------------------------------------------------------------- per-process nodes

/** The task a per-process node is about, and whether it is a task/<tid> node. */
interface Owner {
  readonly proc: ProcFilesystem;
  /** pid for /proc/<pid>/..., tid for /proc/<pid>/task/<tid>/... */
  readonly id: number;
  readonly thread: boolean;
}

function ownerTask(o: Owner): ProcTask {
  return o.proc.task(o.id);
}
function ownerUid(o: Owner): number {
  return o.proc.source.task(o.id)?.creds.euid ?? 0;
}
function ownerGid(o: Owner): number {
  return o.proc.source.task(o.id)?.creds.egid ?? 0;
}

/** Directory /proc/<pid>, /proc/<pid>/task/<tid> (thread = true). */
/** The process a /proc/<pid> directory inode stands for (pidfd_send_signal accepts its fd), or null. */
export function procDirPid(inode: unknown): number | null {
  return inode instanceof PidDir && !inode.owner.thread ? inode.owner.id : null;
}

class PidDir extends SynthDir {
  readonly owner: Owner;
  constructor(proc: ProcFilesystem, id: number, thread: boolean) {
    super(proc, pidIno(thread ? KIND_THREAD_DIR : KIND_PID_DIR, id), 0o555);
    this.owner = { proc, id, thread };
    buildPidEntries(this, this.owner);
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
  override lookup(name: string): Inode | null {
    if (!this.owner.proc.source.task(this.owner.id)) return null;
    return super.lookup(name);
  }
  /** False once the process is gone (a dentry cache may then drop this node; see docs/proc.md). */
  revalidate(): boolean {
    return this.owner.proc.source.task(this.owner.id) !== null;
  }
  override readdir(): DirEntry[] {
    if (!this.owner.proc.source.task(this.owner.id)) return [];
    return super.readdir();
  }
  override open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    ownerTask(this.owner);
    return super.open(t, flags, vd);
  }
}

/** A file under /proc/<pid>: content from the live task, owned by its euid. */
class PidFile extends SynthFile {
  constructor(
    readonly owner: Owner,
    ino: number,
    gen: Generator,
    opts: FileOptions,
  ) {
    super(owner.proc, ino, gen, { writeErrno: EINVAL, ...opts });
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
  protected override checkOpen(): void {
    ownerTask(this.owner);
  }
}

/** A symlink under /proc/<pid>. */
class PidLink extends SynthLink {
  constructor(
    readonly owner: Owner,
    ino: number,
    target: (t?: TaskApi) => string,
    follow: ((t: TaskApi) => VirtualDentry | null) | null,
    private readonly linkMode: (() => number) | null = null,
  ) {
    super(owner.proc, ino, target, follow);
  }
  override get mode(): number {
    return S_IFLNK | (this.linkMode ? this.linkMode() : 0o777);
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
  protected override size(): number {
    return this.linkMode ? 64 : 0;
  }
}

/** The caller's credentials, when it is known. */
function callerCreds(proc: ProcFilesystem, t?: TaskApi): Credentials | undefined {
  if (t) return t.creds;
  const c = proc.source.caller();
  return c ? proc.source.task(c.tid)?.creds : undefined;
}

/** Check that the caller may follow/read a link into `task`. */
function checkInspect(proc: ProcFilesystem, task: ProcTask, t?: TaskApi): void {
  if (!mayInspect(callerCreds(proc, t), task)) throw new SysError(EACCES);
}

/** Entries of /proc/<pid> (and, without 'task', of /proc/<pid>/task/<tid>), in Linux's order. */
function buildPidEntries(dir: PidDir, o: Owner): void {
  const proc = o.proc;
  let kind = o.thread ? KIND_THREAD_ENTRY : KIND_ENTRY;
  const ino = (): number => pidIno(kind++, o.id);
  const file = (
    name: string,
    gen: (task: ProcTask, t: TaskApi) => string | Uint8Array,
    opts: FileOptions = {},
  ): void => {
    dir.add(name, new PidFile(o, ino(), (t) => gen(ownerTask(o), t), opts));
  };
  const link = (
    name: string,
    target: (task: ProcTask, t?: TaskApi) => string,
    follow: ((task: ProcTask, t: TaskApi) => VirtualDentry | null) | null,
  ): void => {
    dir.add(
      name,
      new PidLink(
        o,
        ino(),
        (t) => {
          const task = ownerTask(o);
          checkInspect(proc, task, t);
          return target(task, t);
        },
        follow
          ? (t) => {
              const task = ownerTask(o);
              checkInspect(proc, task, t);
              return follow(task, t);
            }
          : null,
      ),
    );
  };
  const vdLink = (which: 'cwd' | 'root'): void =>
    link(
      which,
      (task, t) => {
        const vd = task[which]();
        if (!vd) throw new SysError(ENOENT);
        const root = proc.callerRoot(t) ?? task.root() ?? vd;
        const { path } = pathOf(vd, root);
        return vd.dentry.dead ? path + ' (deleted)' : path;
      },
      (task) => {
        const vd = task[which]();
        if (!vd) throw new SysError(ENOENT);
        return vd;
      },
    );

  if (!o.thread) {
    const taskIno = ino();
    dir.add('task', new TaskDir(o, taskIno));
  } else kind++;
  dir.add('fd', new FdDir(o, ino(), false));
  dir.add('fdinfo', new FdDir(o, ino(), true));
  dir.add('ns', new NsDir(o, ino()));
  file('environ', (task) => memRange(task.mm, task.mm?.envStart ?? 0, task.mm?.envEnd ?? 0), { mode: 0o400 });
  file('auxv', (task) => formatAuxv(task.mm), { mode: 0o400 });
  file('status', (task) => formatStatus(task, proc.source.cpus()));
  file('limits', (task) => formatLimits(task.limits));
  file('comm', (task) => task.comm + '\n', {
    mode: 0o644,
    write: (t, data) => {
      const task = proc.source.task(o.id);
      if (!task) throw new SysError(ESRCH);
      if (task.tgid !== t.tgid || !task.setComm) throw new SysError(EINVAL);
      task.setComm(Buffer.from(data.subarray(0, 15)).toString('latin1'));
      return data.length;
    },
  });
  file('cmdline', (task) => memRange(task.mm, task.mm?.argStart ?? 0, task.mm?.argEnd ?? 0));
  file('stat', (task, t) => formatStat(task, mayInspect(t.creds, task)));
  file('statm', (task) => formatStatm(task));
  file('maps', (task, t) => {
    checkInspect(proc, task, t);
    return formatMaps(task.mm);
  });
  vdLink('cwd');
  vdLink('root');
  link(
    'exe',
    (task) => {
      if (!task.mm || !task.mm.exePath) throw new SysError(ENOENT);
      return task.mm.exePath;
    },
    null,
  );
  file('mounts', (task) => formatMounts(task.root()));
  file('mountinfo', (task) => formatMountinfo(task.root()));
  file('smaps', (task, t) => {
    checkInspect(proc, task, t);
    return formatSmaps(task.mm);
  });
  file('cgroup', () => '0::/\n');
  // The sandbox is one user namespace with the identity mapping, as the initial namespace
  // shows it: the maps are already written (EPERM), setgroups stays "allow".
  const idmap = `${'0'.padStart(10)} ${'0'.padStart(10)} ${'4294967295'.padStart(10)}\n`;
  const mapFile = (name: string) =>
    file(name, () => idmap, {
      mode: 0o644,
      write: () => {
        throw new SysError(EPERM);
      },
    });
  mapFile('uid_map');
  mapFile('gid_map');
  file('setgroups', () => 'allow\n', {
    mode: 0o644,
    write: (_t, data) => {
      const v = Buffer.from(data).toString('latin1').trim();
      if (v === 'allow') return data.length;
      throw new SysError(v === 'deny' ? EPERM : EINVAL);
    },
  });
  file('oom_score', () => '0\n');
  file('oom_score_adj', (task) => `${task.oomScoreAdj}\n`, {
    mode: 0o644,
    write: (t, data) => {
      const task = proc.source.task(o.id);
      if (!task) throw new SysError(ESRCH);
      const s = Buffer.from(data).toString('latin1').trim();
      if (!/^[+-]?\d+$/.test(s)) throw new SysError(EINVAL);
      const v = Number(s);
      if (v < -1000 || v > 1000) throw new SysError(EINVAL);
      if (v < task.oomScoreAdj && !hasCap(t.creds, CAP_SYS_RESOURCE)) throw new SysError(EACCES);
      task.setOomScoreAdj?.(v);
      return data.length;
    },
  });
}

/** /proc/<pid>/task: one directory per thread. */
class TaskDir extends SynthDir {
  constructor(
    readonly owner: Owner,
    ino: number,
  ) {
    super(owner.proc, ino, 0o555, {
      lookup: (name) => {
        const tid = parseId(name);
        const task = owner.proc.source.task(owner.id);
        if (tid < 0 || !task || !task.threads().includes(tid)) return null;
        return new PidDir(owner.proc, tid, true);
      },
      list: () => {
        const task = owner.proc.source.task(owner.id);
        return (task ? task.threads() : []).map((tid) => ({
          name: String(tid),
          ino: pidIno(KIND_THREAD_DIR, tid),
          type: DT_DIR,
        }));
      },
    });
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
  protected override nlink(): number {
    return 2 + (this.owner.proc.source.task(this.owner.id)?.threads().length ?? 0);
  }
}

/** Access-mode bits of an fd link: lr-x------, l-wx------ or lrwx------. */
function fdLinkMode(f: FileDescription): number {
  const acc = f.flags & O_ACCMODE;
  return acc === O_RDONLY ? 0o500 : acc === O_WRONLY ? 0o300 : acc === O_RDWR ? 0o700 : 0o700;
}

/** /proc/<pid>/fd (symlinks) or /proc/<pid>/fdinfo (files). */
class FdDir extends SynthDir {
  constructor(
    readonly owner: Owner,
    ino: number,
    readonly info: boolean,
  ) {
    super(owner.proc, ino, info ? 0o555 : 0o500, {
      lookup: (name) => {
        const fd = parseFd(name);
        const task = owner.proc.source.task(owner.id);
        if (fd < 0 || !task || !task.fd(fd)) return null;
        return info ? fdInfoNode(owner, fd) : fdLinkNode(owner, fd);
      },
      list: () => {
        const task = owner.proc.source.task(owner.id);
        const fds = task?.fds() ?? [];
        return fds.map(({ fd }) => ({
          name: String(fd),
          ino: pidIno(info ? KIND_FDINFO : KIND_FD, owner.id, fd),
          type: info ? DT_REG : DT_LNK,
        }));
      },
    });
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
  protected override size(): number {
    return this.info ? 0 : (this.owner.proc.source.task(this.owner.id)?.fds()?.length ?? 0);
  }
  override open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const task = ownerTask(this.owner);
    checkInspect(this.owner.proc, task, t);
    return super.open(t, flags, vd);
  }
}

function parseFd(name: string): number {
  if (name === '0') return 0;
  const n = parseId(name);
  return n;
}

/** The live fd or ENOENT. */
function liveFd(o: Owner, fd: number) {
  const f = ownerTask(o).fd(fd);
  if (!f) throw new SysError(ENOENT);
  return f;
}

/** Whether fd `fd` of the owner is still open (revalidation of fd/ and fdinfo/ entries). */
function fdStillOpen(o: Owner, fd: number): boolean {
  return !!o.proc.source.task(o.id)?.fd(fd);
}

function fdLinkNode(o: Owner, fd: number): PidLink {
  const proc = o.proc;
  const node = new PidLink(
    o,
    pidIno(KIND_FD, o.id, fd),
    (t) => {
      checkInspect(proc, ownerTask(o), t);
      return fdLinkText(liveFd(o, fd).file, proc.callerRoot(t) ?? ownerTask(o).root());
    },
    (t) => {
      checkInspect(proc, ownerTask(o), t);
      return fdLinkTarget(liveFd(o, fd).file);
    },
    () => {
      const f = proc.source.task(o.id)?.fd(fd);
      return f ? fdLinkMode(f.file) : 0o500;
    },
  );
  return Object.assign(node, { revalidate: () => fdStillOpen(o, fd) });
}

function fdInfoNode(o: Owner, fd: number): PidFile {
  const node = new PidFile(
    o,
    pidIno(KIND_FDINFO, o.id, fd),
    () => {
      const f = liveFd(o, fd);
      return formatFdinfo(f.file, f.cloexec);
    },
    { mode: 0o444 },
  );
  return Object.assign(node, { revalidate: () => fdStillOpen(o, fd) });
}

/** /proc/<pid>/ns: namespace links (text only; the walker follows none of them). */
class NsDir extends SynthDir {
  constructor(
    readonly owner: Owner,
    ino: number,
  ) {
    super(owner.proc, ino, 0o511);
    const base = owner.thread ? KIND_THREAD_NS : KIND_NS;
    NS_LINKS.forEach(([name, text], i) => {
      this.add(name, new PidLink(owner, pidIno(base + i, owner.id), () => text, null));
    });
  }
  override get uid(): number {
    return ownerUid(this.owner);
  }
  override get gid(): number {
    return ownerGid(this.owner);
  }
}
