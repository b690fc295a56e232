/**
 * makeProcSource: the kernel's live state as procfs sees it (core/fs/proc/source.ts).
 *
 * Read-only over Kernel, Task, ThreadGroup and MemoryManager, except for the few
 * writable /proc files: comm (Task.comm), oom_score_adj (kept here, per process) and
 * the hostname/domainname sysctls.
 *
 * Approximations (the kernel does not track these yet):
 *  - CPU time: per thread from the platform (ptrace: the stub thread's host utime/stime);
 *    /proc/<pid>/stat shows the group's. /proc/stat and /proc/uptime still show every
 *    CPU idle (no system-wide accounting).
 *  - Zombies keep no comm or credentials in the kernel once their last thread is gone; this
 *    adapter remembers the last comm/creds it saw for each process (a WeakMap), so a
 *    zombie that procfs never looked at while alive shows an empty name and uid 0.
 *  - mm->start_stack is not recorded: reported as the start of the argv strings.
 *  - Controlling terminal: not tracked; tty_nr 0, tpgid -1.
 *  - "processes" in /proc/stat and the last pid in /proc/loadavg: the highest pid
 *    allocated so far (the kernel has no fork counter).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type {
  ProcFd,
  ProcFsType,
  ProcMemInfo,
  ProcMm,
  ProcSource,
  ProcState,
  ProcTask,
  ProcVma,
} from '../fs/proc/source';
import { EXTENT_SIZE } from '../mm/memfile';
import type { MemoryManager, Vma } from '../mm/mm';
import { FdTable } from '../vfs/fdtable';
import { FsContext } from '../vfs/fscontext';
import type { VirtualDentry } from '../vfs/mount';
import type { Credentials, TaskApi } from './api';
import { rootCreds } from './caps';
import type { Kernel } from './kernel';
import { SIG_DFL, SIG_IGN } from './signal-defs';
import type { Task } from './task';
import type { ThreadGroup } from './threadgroup';

export interface ProcSourceOptions {
  /** CPUs the sandbox has (default: the host's). */
  cpus?: number;
  /** Filesystem types for /proc/filesystems (default: the built-in ones). */
  filesystems?: ProcFsType[];
  /** MemTotal in bytes (default: the smaller of the host's memory and the memory file). */
  memTotal?: number;
}

const DEFAULT_FILESYSTEMS: ProcFsType[] = [
  { name: 'sysfs', nodev: true },
  { name: 'tmpfs', nodev: true },
  { name: 'proc', nodev: true },
  { name: 'devtmpfs', nodev: true },
  { name: 'devpts', nodev: true },
  { name: 'overlay', nodev: true },
  { name: '9p', nodev: true },
];

const PAGE = 4096;
const ROOT_CREDS: Credentials = rootCreds();

/** Resident bytes of a VMA: the part of its object's present extents inside the mapping. */
export function vmaRss(v: Vma): number {
  const ext = v.obj.extents;
  if (ext.size === 0) return 0;
  const lo = v.objOff,
    hi = v.objOff + (v.end - v.start);
  const first = Math.floor(lo / EXTENT_SIZE),
    last = Math.floor((hi - 1) / EXTENT_SIZE);
  let n = 0;
  const add = (idx: number): void => {
    const s = Math.max(lo, idx * EXTENT_SIZE),
      e = Math.min(hi, (idx + 1) * EXTENT_SIZE);
    if (e > s) n += e - s;
  };
  if (last - first + 1 <= ext.size) {
    for (let i = first; i <= last; i++) if (ext.has(i)) add(i);
  } else {
    for (const i of ext.keys()) if (i >= first && i <= last) add(i);
  }
  return Math.ceil(n / PAGE) * PAGE;
}

class MmView implements ProcMm {
  readonly vmas: ProcVma[];
  constructor(private readonly mm: MemoryManager) {
    this.vmas = mm.vmas.map((v) => ({
      start: v.start,
      end: v.end,
      prot: v.prot,
      shared: v.shared,
      growsDown: v.growsDown,
      fileOff: v.fileOff,
      name: v.name,
      locked: v.locked,
      rss: () => vmaRss(v),
    }));
  }
  get brkStart(): number {
    return this.mm.brkStart;
  }
  get brk(): number {
    return this.mm.brk;
  }
  get startStack(): number {
    return this.mm.argStart - (this.mm.argStart % 16);
  }
  get argStart(): number {
    return this.mm.argStart;
  }
  get argEnd(): number {
    return this.mm.argEnd;
  }
  get envStart(): number {
    return this.mm.envStart;
  }
  get envEnd(): number {
    return this.mm.envEnd;
  }
  get auxv(): readonly number[] {
    return this.mm.auxv;
  }
  get exePath(): string {
    return this.mm.exePath;
  }
  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    // Page by page so an unmapped page ends the read instead of failing it.
    while (done < len) {
      const n = Math.min(len - done, PAGE - ((addr + done) % PAGE));
      let views: Uint8Array[];
      try {
        views = this.mm.forceViews(addr + done, n);
      } catch {
        break;
      }
      for (const v of views) {
        out.set(v, done);
        done += v.length;
      }
    }
    return out.subarray(0, done);
  }
}

/** Remembered per process so zombies keep their name and owner. */
interface Remembered {
  comm: string;
  creds: Credentials;
}

class TaskView implements ProcTask {
  constructor(
    private readonly src: KernelProcSource,
    /** The thread, or null for a process whose threads are all gone (zombie). */
    private readonly t: Task | null,
    private readonly tg: ThreadGroup,
    readonly tid: number,
  ) {
    if (t) src.remember(tg, { comm: t.comm, creds: t.creds });
  }
  get tgid(): number {
    return this.tg.pid;
  }
  threads(): number[] {
    return [...this.tg.tasks].map((x) => x.tid).sort((a, b) => a - b);
  }
  get comm(): string {
    return this.t ? this.t.comm : (this.src.remembered(this.tg)?.comm ?? '');
  }
  setComm(name: string): void {
    if (this.t) this.t.comm = name;
  }
  get zombie(): boolean {
    return this.tg.zombie || (this.tg.exitStatus >= 0 && this.tg.tasks.size === 0);
  }
  get state(): ProcState {
    if (!this.t || this.zombie) return 'Z';
    switch (this.t.state) {
      case 'blocked':
        return 'S';
      case 'stopped':
        return 'T';
      case 'dead':
        return 'Z';
      default:
        return 'R';
    }
  }
  get ppid(): number {
    return this.tg.parent?.pid ?? 0;
  }
  get pgid(): number {
    return this.tg.pgid;
  }
  get sid(): number {
    return this.tg.sid;
  }
  get ttyNr(): number {
    return 0;
  }
  get tpgid(): number {
    return -1;
  }
  get creds(): Credentials {
    return this.t ? this.t.creds : (this.src.remembered(this.tg)?.creds ?? ROOT_CREDS);
  }
  get startNs(): bigint {
    if (this.t) return this.t.startNs > this.src.kernel.bootNs ? this.t.startNs - this.src.kernel.bootNs : 0n;
    return BigInt(Math.max(0, this.tg.startTime - this.src.kernel.bootWallMs)) * 1000000n;
  }
  /** A process (tid = pid) shows its whole group's time, another thread its own. */
  private cpu(): { user: number; system: number } {
    return this.t && this.tid !== this.tg.pid ? this.t.cpuTime() : this.tg.cpuTime();
  }
  // CPU times in clock ticks (USER_HZ), from the platform's per-thread accounting.
  get utime(): number {
    return Math.floor(this.cpu().user / 1e7);
  }
  get stime(): number {
    return Math.floor(this.cpu().system / 1e7);
  }
  get cutime(): number {
    return Math.floor(this.tg.childUserNs / 1e7);
  }
  get cstime(): number {
    return Math.floor(this.tg.childSysNs / 1e7);
  }
  get nice(): number {
    return this.t?.niceValue ?? 0;
  }
  get exitSignal(): number {
    return this.tg.exitSignal;
  }
  get exitCode(): number {
    return this.tg.exitStatus >= 0 ? this.tg.exitStatus : 0;
  }
  get cpusAllowed(): bigint {
    return this.t?.cpuAffinity ?? (1n << BigInt(this.src.cpus())) - 1n;
  }
  get sigPending(): bigint {
    return this.t?.pending.mask ?? 0n;
  }
  get sigSharedPending(): bigint {
    return this.tg.sharedPending.mask;
  }
  get sigBlocked(): bigint {
    return this.t?.sigmask ?? 0n;
  }
  private handlerMask(pred: (h: number) => boolean): bigint {
    let m = 0n;
    const a = this.tg.sighand.actions;
    for (let s = 1; s <= 64; s++) if (a[s] && pred(a[s].handler)) m |= 1n << BigInt(s - 1);
    return m;
  }
  get sigIgnored(): bigint {
    return this.handlerMask((h) => h === SIG_IGN);
  }
  get sigCaught(): bigint {
    return this.handlerMask((h) => h !== SIG_IGN && h !== SIG_DFL);
  }
  get sigQueued(): number {
    let n = this.tg.sharedPending.queue.length;
    for (const x of this.tg.tasks) n += x.pending.queue.length;
    return n;
  }
  get limits(): readonly (readonly [bigint, bigint])[] {
    return this.tg.limits;
  }
  get noNewPrivs(): boolean {
    return this.tg.noNewPrivs;
  }
  get umask(): number {
    const f = this.t?.fs;
    return f instanceof FsContext ? f.umask : 0o022;
  }
  get oomScoreAdj(): number {
    return this.src.oomAdj.get(this.tg) ?? 0;
  }
  setOomScoreAdj(v: number): void {
    this.src.oomAdj.set(this.tg, v);
  }
  get voluntarySwitches(): number {
    return 0;
  }
  get involuntarySwitches(): number {
    return 0;
  }
  get mm(): ProcMm | null {
    if (!this.t || this.zombie) return null;
    const mm = this.tg.mm ?? this.t.mm;
    return mm ? new MmView(mm) : null;
  }
  private table(): FdTable | null {
    const f = this.t?.files;
    return f instanceof FdTable && !this.zombie ? f : null;
  }
  fds(): ProcFd[] | null {
    const tab = this.table();
    if (!tab) return null;
    const out: ProcFd[] = [];
    for (const [fd, file] of tab.entries()) out.push({ fd, file, cloexec: tab.getCloexec(fd) });
    return out;
  }
  fd(n: number): ProcFd | null {
    const tab = this.table();
    const file = tab?.get(n);
    return tab && file ? { fd: n, file, cloexec: tab.getCloexec(n) } : null;
  }
  get fdTableSize(): number {
    const tab = this.table();
    let max = -1;
    if (tab) for (const [fd] of tab.entries()) max = fd;
    let n = 64;
    while (n <= max) n *= 2;
    return n;
  }
  private fsContext(): FsContext | null {
    const f = this.t?.fs;
    return f instanceof FsContext && !this.zombie ? f : null;
  }
  root(): VirtualDentry | null {
    return this.fsContext()?.root ?? null;
  }
  cwd(): VirtualDentry | null {
    return this.fsContext()?.cwd ?? null;
  }
}

class KernelProcSource implements ProcSource {
  readonly oomAdj = new WeakMap<ThreadGroup, number>();
  private readonly seen = new WeakMap<ThreadGroup, Remembered>();
  private readonly boot = randomUUID();
  private cpuinfo: string | null = null;
  private readonly ncpu: number;

  constructor(
    readonly kernel: Kernel,
    private readonly opts: ProcSourceOptions,
  ) {
    this.ncpu = Math.max(1, opts.cpus ?? os.cpus().length);
  }

  remember(tg: ThreadGroup, r: Remembered): void {
    this.seen.set(tg, r);
  }
  remembered(tg: ThreadGroup): Remembered | undefined {
    return this.seen.get(tg);
  }

  pids(): number[] {
    const out: number[] = [];
    for (const [pid, tg] of this.kernel.tgs) if (!tg.reaped) out.push(pid);
    return out.sort((a, b) => a - b);
  }

  task(tid: number): ProcTask | null {
    const t = this.kernel.tasks.get(tid);
    if (t && t.state !== 'dead') return new TaskView(this, t, t.tg, tid);
    const tg = this.kernel.tgs.get(tid);
    // A process whose leader thread is gone (zombie, or exited before its other threads).
    if (tg && !tg.reaped) return new TaskView(this, null, tg, tid);
    return null;
  }

  caller(t?: TaskApi): { tid: number; tgid: number } | null {
    if (t) return { tid: t.tid, tgid: t.tgid };
    // Without the caller: the task whose syscall is being served is the one in 'kernel' state
    // (the sentry serves one syscall at a time on its thread).
    let found: Task | null = null;
    for (const x of this.kernel.tasks.values()) {
      if (x.state !== 'kernel') continue;
      if (found) return null;
      found = x;
    }
    return found ? { tid: found.tid, tgid: found.tgid } : null;
  }

  private maxPid(): number {
    const k = this.kernel as unknown as { lastPid?: unknown };
    if (typeof k.lastPid === 'number') return k.lastPid;
    let m = 0;
    for (const tid of this.kernel.tasks.keys()) m = Math.max(m, tid);
    for (const pid of this.kernel.tgs.keys()) m = Math.max(m, pid);
    return m;
  }
  forks(): number {
    return this.maxPid();
  }
  lastPid(): number {
    return this.maxPid();
  }

  uptimeNs(): bigint {
    return process.hrtime.bigint() - this.kernel.bootNs;
  }
  bootTimeSec(): number {
    return Math.floor(this.kernel.bootWallMs / 1000);
  }
  cpus(): number {
    return this.ncpu;
  }
  hostCpuinfo(): string {
    if (this.cpuinfo === null) {
      try {
        this.cpuinfo = fs.readFileSync('/proc/cpuinfo', 'latin1');
      } catch {
        this.cpuinfo = '';
      }
    }
    return this.cpuinfo;
  }

  memInfo(): ProcMemInfo {
    const mf = this.kernel.mf;
    const total = this.opts.memTotal ?? Math.min(os.totalmem(), mf.maxBytes);
    const used = Math.min(total, mf.allocatedBytes);
    let anon = 0,
      mapped = 0,
      shmem = 0;
    const mms = new Set<MemoryManager>();
    for (const tg of this.kernel.tgs.values()) if (tg.mm) mms.add(tg.mm);
    for (const mm of mms)
      for (const v of mm.vmas) {
        const r = vmaRss(v);
        if (v.name.path) mapped += r;
        else if (v.shared) shmem += r;
        else anon += r;
      }
    anon = Math.min(anon, used);
    const free = total - used;
    const cached = Math.max(0, used - anon);
    return {
      total,
      free,
      available: free + cached,
      buffers: 0,
      cached,
      shmem: Math.min(shmem, cached),
      anon,
      mapped,
      swapTotal: 0,
      swapFree: 0,
    };
  }

  loadavg(): [number, number, number] {
    const l = os.loadavg();
    return [l[0], l[1], l[2]];
  }
  hostname(): string {
    return this.kernel.hostname;
  }
  setHostname(name: string): void {
    this.kernel.hostname = name;
  }
  domainname(): string {
    return this.kernel.domainname;
  }
  setDomainname(name: string): void {
    this.kernel.domainname = name;
  }
  bootId(): string {
    return this.boot;
  }
  filesystems(): ProcFsType[] {
    return this.opts.filesystems ?? DEFAULT_FILESYSTEMS;
  }
}

/** The procfs view of `kernel`: `new ProcFilesystem(makeProcSource(kernel))`. */
export function makeProcSource(kernel: Kernel, opts: ProcSourceOptions = {}): ProcSource {
  return new KernelProcSource(kernel, opts);
}
