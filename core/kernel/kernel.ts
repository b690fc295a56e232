/**
 * Kernel: the sandbox's process table and the operations that span tasks — clone, execve,
 * exit and wait, signal sending, group stop/exit, futexes. One Kernel per sandbox.
 *
 * The syscall table is handed in as data (the kernel never imports handlers), as is the
 * strace hook. All of it runs on the sentry's single JS thread: there are no locks; an
 * operation that must wait parks its task on a promise (Task.waitFor).
 */
import { Vdso } from './vdso';
import type { Platform } from '../plugins/platform';
import { Reg } from '../plugins/platform';
import type { SyscallDef } from '../syscalls/types';
import { ECHILD, EAGAIN, EINVAL, ELOOP, ENOEXEC, EPERM, ESRCH, SysError } from '../abi/errno';
import { MemoryManager, type VmaName } from '../mm/mm';
import type { Mappable } from '../mm/api';
import type { MemoryFile } from '../mm/memfile';
import { MemObject, type Holdable } from '../mm/memobject';
import { execCreds } from './caps';
import { type ExecFile, loadElf, parseElf, parseShebang } from '../loader/elf';
import { Task, type TaskFiles, type TaskFsContext, type TaskState } from './task';
import { RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY, ThreadGroup } from './threadgroup';
import type { Credentials } from './api';
import { FutexTable, type FutexWaiter } from './futex';
import { POLLIN } from '../util/waiter';
import {
  CLD_CONTINUED,
  CLD_EXITED,
  CLD_KILLED,
  CLD_STOPPED,
  SA_NOCLDSTOP,
  SA_NOCLDWAIT,
  SIGCHLD,
  SIGCONT,
  SIGHUP,
  SIGKILL,
  SIGSEGV,
  SI_KERNEL,
  SIG_DFL,
  SIG_IGN,
  STOP_SIGNALS,
  type SigInfo,
  DefaultAction,
  defaultAction,
  sigbit,
} from './signal-defs';
import * as fs from 'node:fs';

export interface KernelLogger {
  debug(o: object, m?: string): void;
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
  child(b: object): KernelLogger;
}

/** What the kernel needs from the VFS to run programs. */
export interface KernelVfs {
  /** Resolve and open `path` for execution with Linux's checks (ENOENT, EACCES, ...). Throws SysError. */
  openForExec(t: Task, path: string): ExecFile;
  /** What mmap(2) needs of fd: throws SysError (EBADF, EACCES, ENODEV). */
  mmapSource(t: Task, fd: number): MmapSource;
}

export interface MmapSource {
  mappable: Mappable;
  readable: boolean;
  writable: boolean;
  /** O_APPEND files cannot be mapped writable-shared. */
  append: boolean;
  name: VmaName;
  /** Kept referenced while private mappings may still fill pages from the file. */
  file: Holdable;
}

/** strace hook (the formatter lives with the syscall table). */
export interface SyscallTracer {
  enter(t: Task, nr: number, def: SyscallDef | undefined): void;
  exit(t: Task, nr: number, ret: number, noReturnValue: boolean): void;
}

export interface KernelOptions {
  platform: Platform;
  mf: MemoryFile;
  log: KernelLogger;
  table: (SyscallDef | undefined)[];
  vfs: KernelVfs;
  tracer?: SyscallTracer;
  hostname?: string;
  /** Report "core dumped" in wait statuses of core-default signals (Linux does when a core is written). */
  coreFlag?: boolean;
  /** Map a vDSO into every process when the platform and CPU allow it (default true). */
  vdso?: boolean;
}

export const CLONE_VM = 0x100,
  CLONE_FS = 0x200,
  CLONE_FILES = 0x400,
  CLONE_SIGHAND = 0x800,
  CLONE_PIDFD = 0x1000,
  CLONE_PTRACE = 0x2000,
  CLONE_VFORK = 0x4000,
  CLONE_PARENT = 0x8000,
  CLONE_THREAD = 0x10000,
  CLONE_NEWNS = 0x20000,
  CLONE_SYSVSEM = 0x40000,
  CLONE_SETTLS = 0x80000,
  CLONE_PARENT_SETTID = 0x100000,
  CLONE_CHILD_CLEARTID = 0x200000,
  CLONE_DETACHED = 0x400000,
  CLONE_UNTRACED = 0x800000,
  CLONE_CHILD_SETTID = 0x01000000,
  CLONE_NEWCGROUP = 0x02000000,
  CLONE_NEWUTS = 0x04000000,
  CLONE_NEWIPC = 0x08000000,
  CLONE_NEWUSER = 0x10000000,
  CLONE_NEWPID = 0x20000000,
  CLONE_NEWNET = 0x40000000,
  CLONE_IO = 0x80000000;

export const WNOHANG = 1,
  WUNTRACED = 2,
  WSTOPPED = 2,
  WEXITED = 4,
  WCONTINUED = 8,
  WNOWAIT = 0x01000000,
  __WNOTHREAD = 0x20000000,
  __WALL = 0x40000000,
  __WCLONE = 0x80000000;

export interface WaitResult {
  /** CPU time of the child (ns), for wait4's rusage. */
  userNs?: number;
  sysNs?: number;
  pid: number;
  status: number;
  /** For waitid: CLD_* code and the status/signal value. */
  code: number;
  value: number;
  uid: number;
}

const PID_MAX = 4194304;
const DEFAULT_FPSTATE = (() => {
  const b = new Uint8Array(512);
  const d = new DataView(b.buffer);
  d.setUint16(0, 0x37f, true); // FCW
  d.setUint32(24, 0x1f80, true); // MXCSR
  d.setUint32(28, 0xffff, true); // MXCSR mask
  return b;
})();

/** Resource limits as the host gave them (RLIMIT_NOFILE soft capped at 1024 as a login shell has). */
function hostLimits(): [bigint, bigint][] {
  const l: [bigint, bigint][] = [];
  for (let i = 0; i < 16; i++) l.push([RLIM_INFINITY, RLIM_INFINITY]);
  const names = [
    'Max cpu time',
    'Max file size',
    'Max data size',
    'Max stack size',
    'Max core file size',
    'Max resident set',
    'Max processes',
    'Max open files',
    'Max locked memory',
    'Max address space',
    'Max file locks',
    'Max pending signals',
    'Max msgqueue size',
    'Max nice priority',
    'Max realtime priority',
    'Max realtime timeout',
  ];
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    for (const line of text.split('\n')) {
      const i = names.findIndex((n) => line.startsWith(n));
      if (i < 0) continue;
      const parts = line.slice(26).trim().split(/\s+/);
      const v = (s: string) => (s === 'unlimited' ? RLIM_INFINITY : BigInt(s));
      l[i] = [v(parts[0]), v(parts[1])];
    }
  } catch {
    l[RLIMIT_STACK] = [8n << 20n, RLIM_INFINITY];
  }
  // Node raises its own soft NOFILE limit; programs expect the usual 1024.
  l[RLIMIT_NOFILE] = [l[RLIMIT_NOFILE][1] < 1024n ? l[RLIMIT_NOFILE][1] : 1024n, l[RLIMIT_NOFILE][1]];
  return l;
}

export class Kernel {
  readonly platform: Platform;
  readonly mf: MemoryFile;
  readonly log: KernelLogger;
  readonly table: (SyscallDef | undefined)[];
  readonly vfs: KernelVfs;
  strace: boolean;
  tracer?: SyscallTracer;
  readonly coreFlag: boolean;
  hostname: string;
  domainname = '(none)';
  readonly tasks = new Map<number, Task>();
  readonly tgs = new Map<number, ThreadGroup>();
  private lastPid = 0;
  init: ThreadGroup | null = null;
  readonly futexes = new FutexTable();
  private readonly objIds = new WeakMap<object, number>();
  private nextObjId = 1;
  readonly bootNs = process.hrtime.bigint();
  readonly bootWallMs = Date.now();
  private readonly warnedMissing = new Set<number>();
  readonly defaultLimits = hostLimits();
  /** Resolves with init's wait status when the sandbox's init exits. */
  readonly finished: Promise<number>;
  private finish!: (status: number) => void;
  done = false;

  constructor(o: KernelOptions) {
    this.platform = o.platform;
    this.mf = o.mf;
    this.log = o.log;
    this.table = o.table;
    this.vfs = o.vfs;
    this.tracer = o.tracer;
    this.strace = !!o.tracer;
    this.coreFlag = o.coreFlag ?? false;
    this.hostname = o.hostname ?? 'tsvisor';
    this.finished = new Promise((r) => (this.finish = r));
    if (o.vdso !== false)
      this.vdso = Vdso.create(this.mf, this.log, { hostTsc: this.platform.capabilities?.hostTsc === true });
  }

  /** The vDSO mapped into every process, when this host and platform have one (docs/vdso.md). */
  readonly vdso: Vdso | undefined;

  // ---- ids ----

  private allocPid(): number {
    for (let n = 0; n < PID_MAX; n++) {
      this.lastPid = this.lastPid >= PID_MAX - 1 ? 300 : this.lastPid + 1;
      if (!this.tasks.has(this.lastPid) && !this.tgs.has(this.lastPid)) return this.lastPid;
    }
    throw new SysError(EAGAIN, 'pid space exhausted');
  }

  objectId(o: object): number {
    let id = this.objIds.get(o);
    if (id === undefined) {
      id = this.nextObjId++;
      this.objIds.set(o, id);
    }
    return id;
  }

  // ---- starting the first process ----

  /**
   * Create pid 1 running `path` and start it. Errors from exec (ENOENT, EACCES, ENOEXEC...)
   * are thrown as SysError before anything runs.
   */
  startInit(o: {
    path: string;
    argv: string[];
    envp: string[];
    creds: Credentials;
    files: TaskFiles;
    fs: TaskFsContext;
    /** Start with no_new_privs set (before the first execve). */
    noNewPrivs?: boolean;
  }): Task {
    const pid = this.allocPid();
    const tg = new ThreadGroup(pid, null, this.defaultLimits, Date.now());
    tg.noNewPrivs = o.noNewPrivs === true;
    const as = this.platform.newAddressSpace();
    const mm = new MemoryManager(this.mf, as);
    tg.mm = mm;
    const t = new Task(this, tg, pid, mm, o.creds, o.files, o.fs);
    this.refFiles(o.files);
    t.attachContext(this.platform.newContext(as, t));
    tg.tasks.add(t);
    this.tasks.set(pid, t);
    this.tgs.set(pid, tg);
    this.init = tg;
    try {
      this.execInto(t, o.path, o.argv, o.envp, true);
    } catch (e) {
      this.tasks.delete(pid);
      this.tgs.delete(pid);
      t.ctx.release();
      mm.decUsers();
      throw e;
    }
    t.start();
    return t;
  }

  // ---- execve ----

  /** execve(2) for task t. Returns 0 (registers replaced) or throws SysError before the point of no return. */
  execve(t: Task, path: string, argv: string[], envp: string[]): number {
    this.execInto(t, path, argv, envp, false);
    t.skipReturn = true;
    return 0;
  }

  private execInto(t: Task, path: string, argv: string[], envp: string[], first: boolean): void {
    let file = this.vfs.openForExec(t, path);
    let filename = path;
    const execfn = path;
    // #! scripts, nested up to Linux's depth (BINPRM_MAX_RECURSION = 4).
    for (let depth = 0; ; depth++) {
      const head = new Uint8Array(256);
      const n = file.pread(head, 0);
      const sb = parseShebang(head.subarray(0, n));
      if (!sb) break;
      if (depth >= 4) throw new SysError(ELOOP, 'too many levels of #! interpreters');
      argv = [sb.interp, ...(sb.arg !== undefined ? [sb.arg] : []), filename, ...argv.slice(1)];
      file.decRef();
      file = this.vfs.openForExec(t, sb.interp);
      filename = sb.interp;
    }
    const info = parseElf(file);
    // The credentials the new program runs with (set-ID bits of the program itself, never
    // of a #! script; capabilities per capabilities(7)); committed at the point of no return.
    const next = execCreds(t.creds, file.ids, t.tg.noNewPrivs);
    let interp: { file: ExecFile; info: ReturnType<typeof parseElf> } | undefined;
    if (info.interp) {
      const f = this.vfs.openForExec(t, info.interp);
      const ii = parseElf(f);
      if (ii.interp) throw new SysError(ENOEXEC, 'interpreter has an interpreter');
      interp = { file: f, info: ii };
    }
    // Build the new address space; nothing of the old one is touched until it is complete.
    // From here on (Linux's point of no return), a bad segment kills the new image with
    // SIGSEGV rather than failing execve.
    const as = this.platform.newAddressSpace();
    const mm = new MemoryManager(this.mf, as);
    let entry = 0,
      sp = 0;
    let loadError: unknown;
    try {
      const stackTop = Math.min(this.platform.capabilities.maxUserAddress, 0x7ffffffff000) - 0x10000;
      ({ entry, sp } = loadElf(
        mm,
        file,
        info,
        interp,
        {
          argv,
          envp,
          execfn,
          uid: next.creds.uid,
          euid: next.creds.euid,
          gid: next.creds.gid,
          egid: next.creds.egid,
          secure: next.secure,
        },
        stackTop,
        undefined,
        this.vdso,
      ));
    } catch (e) {
      if (!(e instanceof SysError)) {
        mm.decUsers();
        file.decRef();
        interp?.file.decRef();
        throw e;
      }
      loadError = e;
    }
    // The mappings hold their own references now.
    file.decRef();
    interp?.file.decRef();
    mm.exePath = file.path;
    // Point of no return.
    const tg = t.tg;
    t.creds = next.creds;
    if (next.secure) t.pdeathSig = 0;
    // A program running with ids other than its real ones is not dumpable (suid_dumpable 0).
    tg.dumpable = next.creds.euid !== next.creds.uid || next.creds.egid !== next.creds.gid ? 0 : 1;
    if (!first) {
      for (const o of [...tg.tasks]) if (o !== t) this.reapThreadNow(o);
      if (t.tid !== tg.pid) {
        this.tasks.delete(t.tid);
        t.tid = tg.pid;
        this.tasks.set(t.tid, t);
      }
      // mm_release: clear_child_tid.
      if (t.clearChildTid) {
        try {
          t.mm.writeU32(t.clearChildTid, 0);
          this.futexWake(t, t.clearChildTid, 1, false);
        } catch {
          /* ignored */
        }
        t.clearChildTid = 0;
      }
      t.ctx.switchAddressSpace(as);
      const old = t.mm;
      t.mm = mm;
      tg.mm = mm;
      old.decUsers();
      // Handlers reset (ignored ones stay ignored); a shared handler table is unshared.
      tg.sighand = tg.sighand.clone();
      for (let s = 1; s <= 64; s++) {
        const a = tg.sighand.actions[s];
        if (a.handler !== SIG_IGN)
          tg.sighand.actions[s] = { handler: SIG_DFL, flags: 0, restorer: 0, mask: 0n };
        else a.flags = 0;
      }
      t.altStack = { sp: 0, size: 0, flags: 2 };
      t.files.closeOnExec();
      if (t.vforkParent) this.releaseVfork(t);
    } else {
      t.ctx.switchAddressSpace(as);
      const old = t.mm;
      t.mm = mm;
      tg.mm = mm;
      old.decUsers();
    }
    const base = execfn.split('/').pop() ?? execfn;
    t.comm = base.slice(0, 15);
    const r = t.regs;
    const cs = r[Reg.CS],
      ss = r[Reg.SS],
      ds = r[Reg.DS],
      es = r[Reg.ES];
    r.fill(0n);
    r[Reg.CS] = cs;
    r[Reg.SS] = ss;
    r[Reg.DS] = ds;
    r[Reg.ES] = es;
    r[Reg.EFLAGS] = 0x202n;
    t.setReg(Reg.RIP, entry);
    t.setReg(Reg.RSP, sp);
    t.ctx.setFpState(DEFAULT_FPSTATE);
    this.log.debug({ tid: t.tid, path, argv }, 'execve');
    if (loadError) {
      this.log.debug(
        { tid: t.tid, path, err: String(loadError) },
        'execve: bad segments after the point of no return; SIGSEGV',
      );
      this.groupExit(tg, SIGSEGV);
    }
  }

  /** Remove a thread at once (de_thread in exec): its host thread is killed, no exit notification. */
  private reapThreadNow(o: Task): void {
    o.state = 'dead';
    o.tg.tasks.delete(o);
    this.tasks.delete(o.tid);
    o.ctx.release();
    this.unrefFiles(o.files);
  }

  /** Users of each fd table (CLONE_FILES shares one); the last user closes every fd. */
  private readonly filesUsers = new Map<TaskFiles, number>();
  refFiles(f: TaskFiles): void {
    this.filesUsers.set(f, (this.filesUsers.get(f) ?? 0) + 1);
  }
  private unrefFiles(f: TaskFiles): void {
    const n = (this.filesUsers.get(f) ?? 1) - 1;
    if (n > 0) this.filesUsers.set(f, n);
    else {
      this.filesUsers.delete(f);
      f.releaseAll();
    }
  }

  // ---- clone ----

  clone(
    t: Task,
    flags: number,
    stack: number,
    ptid: number,
    ctid: number,
    tls: number,
  ): number | Promise<number> {
    if (flags & CLONE_THREAD && !(flags & CLONE_SIGHAND)) throw new SysError(EINVAL);
    if (flags & CLONE_SIGHAND && !(flags & CLONE_VM)) throw new SysError(EINVAL);
    if (
      flags &
      (CLONE_NEWUSER |
        CLONE_NEWPID |
        CLONE_NEWNET |
        CLONE_NEWNS |
        CLONE_NEWUTS |
        CLONE_NEWIPC |
        CLONE_NEWCGROUP)
    )
      throw new SysError(EPERM, 'namespaces inside the sandbox are not supported');
    if (flags & CLONE_THREAD && flags & CLONE_PARENT) throw new SysError(EINVAL);
    const pid = this.allocPid();
    let tg: ThreadGroup;
    const ptg = t.tg;
    if (flags & CLONE_THREAD) tg = ptg;
    else {
      const parent = flags & CLONE_PARENT ? (ptg.parent ?? ptg) : ptg;
      tg = new ThreadGroup(pid, parent, ptg.limits, Date.now());
      tg.pgid = ptg.pgid;
      tg.sid = ptg.sid;
      tg.exitSignal = flags & 0xff;
      tg.sighand = flags & CLONE_SIGHAND ? ptg.sighand : ptg.sighand.clone();
      tg.noNewPrivs = ptg.noNewPrivs;
      parent.children.add(tg);
    }
    let mm: MemoryManager;
    let as = t.ctx.addressSpace;
    if (flags & CLONE_VM) {
      mm = t.mm;
      if (!(flags & CLONE_THREAD)) mm.incUsers();
    } else {
      as = this.platform.newAddressSpace();
      mm = t.mm.fork(as);
    }
    if (!(flags & CLONE_THREAD)) tg.mm = mm;
    const files: TaskFiles = flags & CLONE_FILES ? t.files : t.files.fork();
    // POSIX record locks belong to the process that owns the table.
    if (!(flags & CLONE_FILES) && 'owner' in files) (files as { owner: number }).owner = tg.pid;
    this.refFiles(files);
    const fsc: TaskFsContext = flags & CLONE_FS ? t.fs : t.fs.fork();
    const c = new Task(this, tg, pid, mm, { ...t.creds, groups: [...t.creds.groups] }, files, fsc);
    c.attachContext(this.platform.newContext(as, c));
    c.regs.set(t.regs);
    c.setReg(Reg.RAX, 0);
    if (stack) c.setReg(Reg.RSP, stack);
    if (flags & CLONE_SETTLS) c.setReg(Reg.FS_BASE, tls);
    c.sigmask = t.sigmask;
    c.comm = t.comm;
    c.personality = t.personality;
    c.cpuAffinity = t.cpuAffinity;
    if (!(flags & CLONE_VM) || flags & CLONE_VFORK) c.altStack = { ...t.altStack };
    t.ctx.getFpState(t.fpScratch);
    c.ctx.setFpState(t.fpScratch);
    tg.tasks.add(c);
    this.tasks.set(pid, c);
    if (!(flags & CLONE_THREAD)) this.tgs.set(pid, tg);
    if (flags & CLONE_PARENT_SETTID) t.mm.writeI32(ptid, pid);
    if (flags & CLONE_CHILD_SETTID) c.mm.writeI32(ctid, pid);
    if (flags & CLONE_CHILD_CLEARTID) c.clearChildTid = ctid;
    this.log.debug({ tid: t.tid, child: pid, flags: '0x' + flags.toString(16) }, 'clone');
    if (flags & CLONE_VFORK) {
      c.vforkParent = t;
      return t
        .waitFor((wake) => {
          tg.vforkDone = () => wake(pid);
          c.start();
          return () => {
            tg.vforkDone = null;
          };
        })
        .then((v) => (v < 0 ? pid : v));
    }
    c.start();
    return pid;
  }

  private releaseVfork(c: Task): void {
    c.vforkParent = null;
    const f = c.tg.vforkDone;
    c.tg.vforkDone = null;
    f?.();
  }

  // ---- exit ----

  /** exit_group(2) / fatal signal: every thread of tg exits with wait status `status`. */
  groupExit(tg: ThreadGroup, status: number): void {
    if (tg.groupExiting >= 0) return;
    tg.groupExiting = status;
    tg.stopSignal = 0;
    for (const o of [...tg.tasks]) if (o.state !== 'kernel') o.kick();
  }

  /** Called by Task.exitThread. */
  taskExited(t: Task, _was: TaskState): void {
    const tg = t.tg;
    tg.tasks.delete(t);
    if (this.tasks.get(t.tid) === t && t.tid !== tg.pid) this.tasks.delete(t.tid);
    if (t.vforkParent) this.releaseVfork(t);
    t.ctx.release();
    this.unrefFiles(t.files);
    if (tg.tasks.size > 0) return;
    // The whole thread group is gone. Its wait status: the group exit's, or the leader's exit code.
    tg.exitStatus = tg.groupExiting >= 0 ? tg.groupExiting : ((tg.leaderExitCode ?? t.exitCode) & 0xff) << 8;
    tg.mm?.decUsers();
    tg.mm = null;
    tg.realTimer.handle?.clear();
    this.tasks.delete(tg.pid);
    this.tgExited(tg);
  }

  private tgExited(tg: ThreadGroup): void {
    for (const hook of tg.exitHooks.splice(0)) hook();
    const initTg = this.init;
    // Reparent children to init (or the nearest subreaper).
    for (const c of tg.children) {
      let reaper = tg.parent;
      while (reaper && !reaper.subreaper) reaper = reaper.parent;
      const np = reaper && reaper.exitStatus < 0 ? reaper : initTg && initTg !== tg ? initTg : null;
      c.parent = np;
      if (np) {
        np.children.add(c);
        if (c.zombie) np.childEvents.notify(1);
      }
      if (c.exitStatus < 0) this.killOrphanedPgrp(c, tg);
    }
    tg.children.clear();
    this.killOrphanedPgrp(tg, tg.parent);
    if (tg === initTg) {
      this.log.debug({ pid: tg.pid, status: tg.exitStatus }, 'init exited; stopping the sandbox');
      for (const o of [...this.tgs.values()]) if (o !== tg && o.exitStatus < 0) this.groupExit(o, SIGKILL);
      this.done = true;
      this.finish(tg.exitStatus);
      return;
    }
    const parent = tg.parent;
    if (!parent) {
      this.tgs.delete(tg.pid);
      return;
    }
    const act = parent.sighand.actions[SIGCHLD];
    const autoreap =
      tg.exitSignal === SIGCHLD && (act.handler === SIG_IGN || (act.flags & SA_NOCLDWAIT) !== 0);
    if (autoreap) {
      parent.children.delete(tg);
      this.tgs.delete(tg.pid);
    } else tg.zombie = true;
    const st = tg.exitStatus;
    const killed = (st & 0x7f) !== 0;
    if (tg.exitSignal)
      this.signalGroup(parent, {
        signo: tg.exitSignal,
        code: killed ? (st & 0x80 ? 3 : CLD_KILLED) : CLD_EXITED,
        pid: tg.pid,
        uid: tg.leader?.creds.uid ?? 0,
        status: killed ? st & 0x7f : (st >> 8) & 0xff,
      });
    parent.childEvents.notify(1);
  }

  // ---- wait ----

  /**
   * Find a child of t's group matching (idtype, id) with a reportable state.
   * idtype: 0 P_ALL, 1 P_PID, 2 P_PGID. Returns null when none is ready; throws ECHILD when none matches.
   */
  tryWait(t: Task, idtype: number, id: number, options: number): WaitResult | null {
    const tg = t.tg;
    let matched = false;
    for (const c of tg.children) {
      if (idtype === 1 && c.pid !== id) continue;
      if (idtype === 2 && c.pgid !== id) continue;
      // __WCLONE selects "clone" children (exit signal other than SIGCHLD); __WALL selects all.
      const isClone = c.exitSignal !== SIGCHLD;
      if (!(options & __WALL) && !!(options & __WCLONE) !== isClone) continue;
      matched = true;
      if (c.zombie && options & WEXITED) {
        const st = c.exitStatus;
        if (!(options & WNOWAIT)) {
          c.zombie = false;
          c.reaped = true;
          tg.children.delete(c);
          this.tgs.delete(c.pid);
          tg.childUserNs += c.deadUserNs + c.childUserNs;
          tg.childSysNs += c.deadSysNs + c.childSysNs;
        }
        const killed = (st & 0x7f) !== 0;
        return {
          pid: c.pid,
          status: st,
          code: killed ? (st & 0x80 ? 3 : CLD_KILLED) : CLD_EXITED,
          value: killed ? st & 0x7f : (st >> 8) & 0xff,
          uid: 0,
          userNs: c.deadUserNs + c.childUserNs,
          sysNs: c.deadSysNs + c.childSysNs,
        };
      }
      if (c.stopReport && options & WSTOPPED) {
        const sig = c.stopReport;
        if (!(options & WNOWAIT)) c.stopReport = 0;
        return { pid: c.pid, status: (sig << 8) | 0x7f, code: CLD_STOPPED, value: sig, uid: 0 };
      }
      if (c.continueReport && options & WCONTINUED) {
        if (!(options & WNOWAIT)) c.continueReport = false;
        return { pid: c.pid, status: 0xffff, code: CLD_CONTINUED, value: SIGCONT, uid: 0 };
      }
    }
    if (!matched) throw new SysError(ECHILD);
    return null;
  }

  /** Blocking wait: resolves a result, null for WNOHANG with nothing ready, or a negative errno. */
  async wait(t: Task, idtype: number, id: number, options: number): Promise<WaitResult | null | number> {
    while (true) {
      const r = this.tryWait(t, idtype, id, options);
      if (r || options & WNOHANG) return r;
      const v = await t.block(t.tg.childEvents, 1);
      if (v < 0) return v;
    }
  }

  // ---- signals ----

  /** Send a signal to one task (tkill/tgkill, faults, SIGPIPE). */
  signalTask(t: Task, info: SigInfo): void {
    if (t.state === 'dead') return;
    if (!this.prepareSignal(t.tg, info)) return;
    if (info.signo === SIGKILL) return;
    if (!t.pending.add(info)) return;
    t.tg.signalQueue.notify(POLLIN);
    if (!(t.sigmask & sigbit(info.signo))) t.kick();
  }

  /** Send a signal to a thread group (kill), waking a thread that does not block it. */
  signalGroup(tg: ThreadGroup, info: SigInfo): void {
    if (tg.exitStatus >= 0 || tg.tasks.size === 0) return;
    if (!this.prepareSignal(tg, info)) return;
    if (info.signo === SIGKILL) return;
    if (!tg.sharedPending.add(info)) return;
    tg.signalQueue.notify(POLLIN);
    const bit = sigbit(info.signo);
    let target: Task | undefined;
    for (const o of tg.tasks)
      if (!(o.sigmask & bit)) {
        target = o;
        if (o.state === 'blocked' || o.state === 'user') break;
      }
    target?.kick();
  }

  /** Group-wide effects at send time. Returns false when the signal is discarded. */
  private prepareSignal(tg: ThreadGroup, info: SigInfo): boolean {
    const sig = info.signo;
    if (tg.groupExiting >= 0) return false;
    if (sig === SIGKILL) {
      this.groupExit(tg, SIGKILL);
      return true;
    }
    if (sig === SIGCONT) {
      tg.sharedPending.discard(STOP_SIGNALS);
      for (const o of tg.tasks) o.pending.discard(STOP_SIGNALS);
      if (tg.stopSignal) {
        tg.stopSignal = 0;
        tg.continueReport = true;
        tg.stopReport = 0;
        const p = tg.parent;
        if (p) {
          p.childEvents.notify(1);
          if (!(p.sighand.actions[SIGCHLD].flags & SA_NOCLDSTOP))
            this.signalGroup(p, { signo: SIGCHLD, code: CLD_CONTINUED, pid: tg.pid, status: SIGCONT });
        }
        for (const o of tg.tasks) if (o.state === 'stopped') o.kick();
      }
    } else if (STOP_SIGNALS & sigbit(sig)) {
      tg.sharedPending.discard(sigbit(SIGCONT));
      for (const o of tg.tasks) o.pending.discard(sigbit(SIGCONT));
    }
    // Ignored signals are discarded at send time unless blocked by every thread (Linux sig_ignored).
    const act = tg.sighand.actions[sig];
    const ignored =
      act.handler === SIG_IGN || (act.handler === SIG_DFL && defaultAction(sig) === DefaultAction.Ignore);
    if (ignored) {
      let blockedByAll = true;
      for (const o of tg.tasks) if (!(o.sigmask & sigbit(sig))) blockedByAll = false;
      if (!blockedByAll || act.handler === SIG_IGN) return false;
    }
    return true;
  }

  /** Default action of a stop signal: the whole group stops; the parent is told. */
  groupStop(tg: ThreadGroup, sig: number): void {
    if (tg.groupExiting >= 0) return;
    tg.stopSignal = sig;
    tg.stopReport = sig;
    tg.continueReport = false;
    for (const o of tg.tasks) if (o.state === 'user' || o.state === 'blocked') o.kick();
    const p = tg.parent;
    if (p) {
      p.childEvents.notify(1);
      if (!(p.sighand.actions[SIGCHLD].flags & SA_NOCLDSTOP))
        this.signalGroup(p, { signo: SIGCHLD, code: CLD_STOPPED, pid: tg.pid, status: sig });
    }
  }

  noteStopped(t: Task): void {
    this.log.debug({ tid: t.tid, sig: t.tg.stopSignal }, 'task stopped');
  }

  /** Thread groups in a process group. */
  processGroup(pgid: number): ThreadGroup[] {
    const out: ThreadGroup[] = [];
    for (const tg of this.tgs.values()) if (tg.pgid === pgid && tg.exitStatus < 0) out.push(tg);
    return out;
  }

  /**
   * Whether process group `pgid` is orphaned (POSIX; Linux's will_become_orphaned_pgrp): no
   * member has a parent in another group of the same session. The sandbox's init counts
   * as no parent, as Linux's global init does. An empty group is orphaned.
   */
  isPgrpOrphaned(pgid: number): boolean {
    for (const tg of this.processGroup(pgid)) {
      const p = tg.parent;
      if (!p || p.pid === 1 || p.exitStatus >= 0) continue;
      if (p.pgid !== pgid && p.sid === tg.sid) return false;
    }
    return true;
  }

  /** Run `fn` when session leader `sid` exits (the terminal layer's disassociate_ctty). */
  onSessionLeaderExit(sid: number, fn: () => void): void {
    const tg = this.tgs.get(sid);
    if (tg && tg.sid === sid && tg.exitStatus < 0) tg.exitHooks.push(fn);
  }

  /**
   * POSIX: when an exit leaves a process group orphaned while some of its members are
   * stopped, the group gets SIGHUP then SIGCONT (Linux's kill_orphaned_pgrp). `tg` is the
   * member whose outside parent went away (itself exiting, or a child of the exiting
   * process); `parent` is that parent.
   */
  private killOrphanedPgrp(tg: ThreadGroup, parent: ThreadGroup | null): void {
    if (!parent || parent.pgid === tg.pgid || parent.sid !== tg.sid) return;
    const members = this.processGroup(tg.pgid);
    if (!members.some((m) => m.stopSignal) || !this.isPgrpOrphaned(tg.pgid)) return;
    this.signalProcesses('pgrp', tg.pgid, SIGHUP);
    this.signalProcesses('pgrp', tg.pgid, SIGCONT);
  }

  /**
   * Terminal job control for a process outside the terminal's foreground group (Linux's
   * __tty_check_change): 'ignore' when `signo` is blocked or ignored by the caller,
   * 'orphaned' when its group is orphaned, otherwise `signo` goes to the caller's whole
   * group and the answer is 'signalled' (the call restarts once the group continues).
   */
  ttyJobControl(t: Task, signo: number): 'ignore' | 'orphaned' | 'signalled' {
    const act = t.tg.sighand.actions[signo];
    if (t.sigmask & sigbit(signo) || act.handler === SIG_IGN) return 'ignore';
    if (this.isPgrpOrphaned(t.tg.pgid)) return 'orphaned';
    this.signalProcesses('pgrp', t.tg.pgid, signo);
    return 'signalled';
  }

  /**
   * Send `signo` from the kernel (SI_KERNEL, as Linux's kill_pgrp(..., priv=1)) to process
   * `id` (`by` 'pid') or to every process of group `id` ('pgrp'); the terminal layer uses it
   * (SIGINT/SIGQUIT/SIGTSTP, SIGWINCH, SIGHUP). Returns how many processes were found.
   */
  signalProcesses(by: 'pid' | 'pgrp', id: number, signo: number): number {
    const one = this.tgs.get(id);
    const tgs = by === 'pgrp' ? this.processGroup(id) : one && one.exitStatus < 0 ? [one] : [];
    if (signo > 0) for (const tg of tgs) this.signalGroup(tg, { signo, code: SI_KERNEL });
    return tgs.length;
  }

  // ---- futex ----

  futexKey(t: Task, addr: number, priv: boolean): string {
    if (!priv) {
      const v = t.mm.findVma(addr);
      if (v && v.shared) return `o${this.objectId(v.obj)}:${v.objOff + (addr - v.start)}`;
    }
    return `m${this.objectId(t.mm)}:${addr}`;
  }

  futexWait(
    t: Task,
    addr: number,
    val: number,
    timeoutNs: number | undefined,
    bitset: number,
    priv: boolean,
  ): number | Promise<number> {
    if (addr % 4) throw new SysError(EINVAL);
    const cur = t.mm.readU32(addr);
    if (cur !== val >>> 0) return -EAGAIN;
    const w: FutexWaiter = { key: this.futexKey(t, addr, priv), bitset, wake: null, next: null, prev: null };
    return t.waitFor((wake) => {
      w.wake = () => wake(0);
      this.futexes.enqueue(w);
      return () => {
        this.futexes.remove(w);
      };
    }, timeoutNs);
  }

  futexWake(t: Task, addr: number, n: number, priv: boolean, bitset = 0xffffffff): number {
    return this.futexes.wake(this.futexKey(t, addr, priv), n, bitset);
  }

  // ---- misc ----

  /** One line per task: tid, pid, state, last syscall (for --debug diagnostics). */
  describeTasks(): string[] {
    const out: string[] = [];
    for (const t of this.tasks.values())
      out.push(
        `tid=${t.tid} pid=${t.tg.pid} comm=${t.comm} state=${t.state} lastSyscall=${t.lastSyscall} syscalls=${t.syscalls}`,
      );
    return out;
  }

  missingSyscall(t: Task, nr: number): number {
    if (!this.strace && !this.warnedMissing.has(nr)) {
      this.warnedMissing.add(nr);
      this.log.info(
        { tid: t.tid, syscall: nr, name: this.table[nr]?.name },
        'unsupported syscall: returning ENOSYS',
      );
    }
    return -38;
  }

  straceEnter(t: Task, nr: number, def: SyscallDef | undefined): void {
    this.tracer?.enter(t, nr, def);
  }
  straceExit(t: Task, nr: number, ret: number, noRet: boolean): void {
    this.tracer?.exit(t, nr, ret, noRet);
  }

  /** Kill everything (sandbox teardown). */
  shutdown(): void {
    for (const tg of this.tgs.values()) {
      tg.realTimer.handle?.clear();
      for (const t of tg.tasks) t.state = 'dead';
    }
    this.platform.shutdown();
    this.vdso?.dispose();
  }

  /** A fresh anonymous object (for MAP_SHARED|MAP_ANONYMOUS, SysV shm). */
  newObject(): MemObject {
    return new MemObject(this.mf);
  }
}

export { ESRCH };
