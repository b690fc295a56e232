/**
 * The ptrace platform: application code runs in stub processes under PTRACE_SYSEMU, so
 * each system call the app makes stops the thread before the host runs it and is served
 * by the sentry instead. See ../README.md for the design; research/ptrace-node.md for
 * the measurements behind the event-loop and CPU-pinning choices.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  NUM_REGS,
  Reg,
  StopReason,
  checkPageRange,
  checkProt,
  type AddressSpace,
  type Context,
  type ContextOwner,
  type ForeignFile,
  type Platform,
  type PlatformCapabilities,
  type PlatformInit,
  type PlatformLogger,
  type StopInfo,
} from '../../../core/plugins';
import { injectedCallError } from './errors';
import { ptraceNative, stopInfoArray, type PtraceNative } from './native';

/** Options of the ptrace platform (the `ptrace:` block of the config). */
export interface PtraceOptions {
  /**
   * Pin the Node main thread (the tracer) and every stub thread to one CPU. Co-location
   * avoids a cross-CPU wake-up per system call (measured 5-6x on VMs); the price is that
   * all app code of the sandbox shares that one CPU. Default true.
   */
  pin?: boolean;
  /** The CPU to pin to; default PlatformInit.cpu, else the CPU the main thread is on at init(). */
  cpu?: number;
  /** Longest time one event-loop turn spends collecting stops, in ms (default 2). */
  drainBudgetMs?: number;
  /**
   * How long a drain waits (yielding the CPU) for the next stop before it lets the event
   * loop sleep until SIGCHLD, in µs (default 100). Longer catches more stops on the fast
   * path; unpinned, the wait is a busy loop on the sentry's CPU.
   */
  spinUs?: number;
}

const PAGE = 4096;
const SYS_mmap = 9;
const SYS_mprotect = 10;
const SYS_munmap = 11;
const SYS_clone = 56;
const SYS_close = 3;
const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;
const MAP_PRIVATE = 0x02;
const PROT_WRITE = 2;
const SYS_prctl = 157;
const SIGKILL = 9;
const SIGCHLD = 17;
const PR_SET_PDEATHSIG = 1;
const MAP_SHARED = 0x01;
const MAP_FIXED = 0x10;
const CLONE_VM = 0x100;
const CLONE_FS = 0x200;
const CLONE_FILES = 0x400;
const CLONE_SIGHAND = 0x800;
const CLONE_PARENT = 0x8000;
const CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000;
/** A new address space: fork of the master, a child of Node (so PDEATHSIG ties it to us). */
const NEW_PROCESS_FLAGS = CLONE_PARENT | SIGCHLD;
/** A new app thread inside a stub. */
const NEW_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
const SEGMENT_REGS: readonly number[] = [Reg.CS, Reg.SS, Reg.DS, Reg.ES, Reg.FS, Reg.GS];

function noop(): void {}

function readMmapMinAddr(): number {
  try {
    const v = Number(fs.readFileSync('/proc/sys/vm/mmap_min_addr', 'utf8').trim());
    if (Number.isSafeInteger(v) && v >= 0) return Math.max(PAGE, Math.ceil(v / PAGE) * PAGE);
  } catch {
    // fall through to the kernel default
  }
  return 0x10000;
}

/** One application address space: a stub process whose leader thread is its control thread. */
export class PtraceAddressSpace implements AddressSpace {
  /** Contexts whose thread lives in this stub. */
  readonly contexts = new Set<PtraceContext>();
  private releasedFlag = false;

  /** @param pid the stub process (its leader is the control thread used for injections). */
  constructor(
    private readonly platform: PtracePlatform,
    readonly pid: number,
  ) {}

  get released(): boolean {
    return this.releasedFlag;
  }

  mapFile(addr: number, length: number, fileOffset: number, prot: number): void {
    this.check('mapFile');
    checkPageRange('mapFile', addr, length, this.platform.capabilities.maxUserAddress);
    if (!Number.isSafeInteger(fileOffset) || fileOffset < 0 || fileOffset % PAGE !== 0)
      throw new RangeError(
        `mapFile: fileOffset must be a page-aligned non-negative integer (got ${fileOffset})`,
      );
    checkProt('mapFile', prot);
    const n = this.platform.native;
    const r = n.inject(
      this.pid,
      SYS_mmap,
      addr,
      length,
      prot,
      MAP_SHARED | MAP_FIXED,
      n.stubMemFd,
      fileOffset,
    );
    if (r !== addr) throw injectedCallError('mmap', r, this.pid);
  }

  /** Foreign files this stub holds: sentry object -> the stub's fd (-1: cannot be had). */
  private readonly foreignFds = new Map<ForeignFile, number>();

  mapForeign(addr: number, length: number, file: ForeignFile, fileOffset: number, prot: number): boolean {
    this.check('mapForeign');
    checkPageRange('mapForeign', addr, length, this.platform.capabilities.maxUserAddress);
    if (!Number.isSafeInteger(fileOffset) || fileOffset < 0 || fileOffset % PAGE !== 0)
      throw new RangeError(
        `mapForeign: fileOffset must be a page-aligned non-negative integer (got ${fileOffset})`,
      );
    checkProt('mapForeign', prot);
    if (prot & PROT_WRITE)
      throw new RangeError(`mapForeign: ${file.name} is mapped read-only (prot ${prot})`);
    const fd = this.foreignFd(file);
    if (fd < 0) return false;
    const n = this.platform.native;
    const r = n.inject(this.pid, SYS_mmap, addr, length, prot, MAP_PRIVATE | MAP_FIXED, fd, fileOffset);
    if (r !== addr) throw injectedCallError(`mmap of ${file.name}`, r, this.pid);
    return true;
  }

  /**
   * The stub's own descriptor for `file`, taken once from the sentry with pidfd_getfd (the
   * stub may access the sentry: same user, and it is the sentry's child). -1 when the host
   * refuses (old kernel, LSM): the caller copies instead.
   */
  private foreignFd(file: ForeignFile): number {
    let fd = this.foreignFds.get(file);
    if (fd !== undefined) return fd;
    if (file.fd < 0) return -1; // closed by the sentry
    const n = this.platform.native;
    const pidfd = n.inject(this.pid, SYS_pidfd_open, process.pid, 0);
    if (pidfd < 0) fd = pidfd;
    else {
      fd = n.inject(this.pid, SYS_pidfd_getfd, pidfd, file.fd, 0);
      n.inject(this.pid, SYS_close, pidfd);
    }
    if (fd < 0) {
      this.platform.logger?.warn(
        { file: file.name, stub: this.pid, errno: -fd },
        'ptrace: a stub cannot take the layer image from the sentry; its pages are copied instead',
      );
      fd = -1;
    }
    this.foreignFds.set(file, fd);
    return fd;
  }

  unmap(addr: number, length: number): void {
    this.check('unmap');
    checkPageRange('unmap', addr, length, this.platform.capabilities.maxUserAddress);
    const r = this.platform.native.inject(this.pid, SYS_munmap, addr, length);
    if (r !== 0) throw injectedCallError('munmap', r, this.pid);
  }

  protect(addr: number, length: number, prot: number): void {
    this.check('protect');
    checkPageRange('protect', addr, length, this.platform.capabilities.maxUserAddress);
    checkProt('protect', prot);
    const r = this.platform.native.inject(this.pid, SYS_mprotect, addr, length, prot);
    if (r !== 0) throw injectedCallError('mprotect', r, this.pid);
  }

  /** Kills the stub process. Contexts still in it die (running ones report StopReason.Died). */
  release(): void {
    if (this.releasedFlag) return;
    this.releasedFlag = true;
    this.platform.forgetSpace(this);
    for (const ctx of this.contexts) ctx.markDead();
    if (this.platform.isRunning) this.platform.native.killProcess(this.pid);
  }

  /** A new host thread in this stub, stopped; returns its tid. */
  cloneThread(): number {
    this.check('newContext');
    const tid = this.platform.native.inject(this.pid, SYS_clone, NEW_THREAD_FLAGS, 0, 0, 0, 0, 0);
    if (tid <= 0) throw injectedCallError('clone', tid, this.pid);
    return tid;
  }

  /** Ends a stopped thread of this stub that no context owns. */
  discardThread(tid: number): void {
    const n = this.platform.native;
    n.releaseThread(n.register(tid, this.pid, new BigUint64Array(NUM_REGS)));
  }

  /** Marks the address space gone (platform shutdown; the process is already killed). */
  markReleased(): void {
    this.releasedFlag = true;
  }

  private check(fn: string): void {
    if (this.releasedFlag) throw new Error(`${fn}: address space (stub ${this.pid}) was released`);
    this.platform.checkRunning(fn);
  }
}

/** One application thread: a host thread in a stub, with its registers in `regs`. */
export class PtraceContext implements Context {
  readonly regs = new BigUint64Array(NUM_REGS);
  /**
   * The same registers as 32-bit halves (little endian: low half of reg i at [2*i]), for
   * reading small values (the system call number, arguments) without allocating BigInts.
   */
  readonly regs32 = new Uint32Array(this.regs.buffer);
  readonly stopInfo: StopInfo = { signo: 0, code: 0, addr: 0, access: 0 };
  /** The host thread id (changes with switchAddressSpace). */
  tid: number;
  /** The addon slot; -1 once the platform has dropped it. */
  slot = -1;
  /** Running from the owner's point of view (resumed, stop not yet reported). */
  running = false;
  /** A stop to report without running the thread (pending interrupt, known death); 0 if none. */
  queued = 0;
  pendingInterrupt = false;
  dead = false;
  released = false;

  constructor(
    private readonly platform: PtracePlatform,
    private space: PtraceAddressSpace,
    readonly owner: ContextOwner,
    tid: number,
  ) {
    this.tid = tid;
  }

  get addressSpace(): AddressSpace {
    return this.space;
  }

  /** CPU time of the host thread, from /proc/<stub>/task/<tid>/stat (utime, stime: clock ticks). */
  cpuTimeNs(): { user: number; system: number } {
    try {
      const st = fs.readFileSync(`/proc/${this.space.pid}/task/${this.tid}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat; f[0] is field 3.
      return { user: Number(f[11]) * TICK_NS, system: Number(f[12]) * TICK_NS };
    } catch {
      return { user: 0, system: 0 };
    }
  }

  resume(): void {
    const p = this.platform;
    if (this.running) throw new Error(`resume: context (thread ${this.tid}) is already running`);
    if (this.released) throw new Error('resume: context was released');
    p.checkRunning('resume');
    this.running = true;
    p.runningCount++;
    if (!p.refed) p.ref();
    if (this.dead) {
      p.enqueue(this, StopReason.Died);
      return;
    }
    if (this.pendingInterrupt) {
      this.pendingInterrupt = false;
      p.enqueue(this, StopReason.Interrupt);
      return;
    }
    if (p.native.resume(this.slot) !== 0) {
      this.dead = true;
      p.enqueue(this, StopReason.Died);
      return;
    }
    if (!p.draining) p.scheduleDrain();
  }

  interrupt(): void {
    if (this.released || this.dead) return;
    if (!this.running) {
      this.pendingInterrupt = true;
      return;
    }
    if (this.queued !== 0) return; // a stop is already on its way
    this.platform.native.interrupt(this.slot);
  }

  getFpState(out: Uint8Array): void {
    this.checkStopped('getFpState');
    this.platform.native.getFpRegs(this.slot, out);
  }

  setFpState(state: Uint8Array): void {
    this.checkStopped('setFpState');
    this.platform.native.setFpRegs(this.slot, state);
  }

  /**
   * Moves this context to a new thread in `as` (execve) and ends its old thread. The
   * registers array is kept as is (the kernel sets it for the new program); the FPU/SSE
   * state is the fresh thread's init state, as after execve on Linux.
   */
  switchAddressSpace(as: AddressSpace): void {
    if (this.released) throw new Error('switchAddressSpace: context was released');
    if (this.running) throw new Error('switchAddressSpace: context is running');
    if (!(as instanceof PtraceAddressSpace))
      throw new TypeError('switchAddressSpace: not a ptrace address space');
    if (as === this.space) return;
    const tid = as.cloneThread();
    try {
      this.platform.native.retarget(this.slot, tid, as.pid);
    } catch (e) {
      as.discardThread(tid);
      throw e;
    }
    this.space.contexts.delete(this);
    as.contexts.add(this);
    this.space = as;
    this.tid = tid;
    this.dead = false;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const p = this.platform;
    if (this.running) {
      this.running = false;
      p.runningCount--;
    }
    this.queued = 0;
    this.space.contexts.delete(this);
    const slot = this.slot;
    this.slot = -1;
    if (slot >= 0) {
      p.forgetSlot(slot);
      if (p.isRunning) p.native.releaseThread(slot);
    }
    p.updateRef();
  }

  /** The thread is gone (its stub was killed); a running context reports Died. */
  markDead(): void {
    if (this.dead) return;
    this.dead = true;
    if (this.running && this.queued === 0) this.platform.enqueue(this, StopReason.Died);
  }

  private checkStopped(fn: string): void {
    if (this.released) throw new Error(`${fn}: context was released`);
    if (this.running) throw new Error(`${fn}: context is running`);
    this.platform.checkRunning(fn);
  }
}

const enum PlatformState {
  New,
  Running,
  Shut,
}

/** Nanoseconds per clock tick (USER_HZ = 100 on x86-64 Linux). */
const TICK_NS = 10_000_000;

/** The ptrace Platform. One instance traces from the thread that calls init() (the Node main thread). */
export class PtracePlatform implements Platform {
  readonly name = 'ptrace';
  /** @internal */ native!: PtraceNative;
  /** @internal */ runningCount = 0;
  /** @internal */ refed = false;
  /** @internal */ draining = false;

  private state = PlatformState.New;
  private caps?: PlatformCapabilities;
  private pgid = 0;
  private cpu = -1;
  private pinned = false;
  private log?: PlatformLogger;
  /** @internal For address spaces' log lines. */
  get logger(): PlatformLogger | undefined {
    return this.log;
  }
  private readonly budgetUs: number;
  private readonly spinUs: number;
  private readonly contexts: (PtraceContext | undefined)[] = [];
  private readonly spaces = new Set<PtraceAddressSpace>();
  private queue: PtraceContext[] = [];
  private queueHead = 0;
  private drainScheduled = false;
  private immediate?: NodeJS.Immediate;
  private keepAlive?: NodeJS.Timeout;
  private ownerError: unknown = undefined;
  private readonly onSigchld = (): void => this.scheduleDrain();

  constructor(private readonly options: PtraceOptions = {}) {
    const budget = options.drainBudgetMs ?? 2;
    if (!(budget > 0 && budget <= 1000))
      throw new RangeError(`ptrace.drainBudgetMs must be in (0, 1000] (got ${budget})`);
    if (options.cpu !== undefined && !(Number.isInteger(options.cpu) && options.cpu >= 0))
      throw new RangeError(`ptrace.cpu must be a non-negative integer (got ${options.cpu})`);
    this.budgetUs = Math.round(budget * 1000);
    const spin = options.spinUs ?? 100;
    if (!(Number.isInteger(spin) && spin >= 0 && spin <= 1_000_000))
      throw new RangeError(`ptrace.spinUs must be an integer in [0, 1000000] (got ${spin})`);
    this.spinUs = spin;
  }

  get capabilities(): PlatformCapabilities {
    // The stub page sits at the top of the address space; the app owns everything below.
    this.caps ??= {
      faultAccessType: false,
      minUserAddress: readMmapMinAddr(),
      maxUserAddress: ptraceNative().setupStub(),
      // Stubs are ordinary host processes: rdtsc is not trapped and reads the host TSC.
      hostTsc: true,
      // Stubs can take a file from the sentry (pidfd_getfd) and mmap it (mapForeign).
      foreignMappings: true,
    };
    return this.caps;
  }

  /** The master stub's pid, which is also the process group of every stub. */
  get masterPid(): number {
    return this.pgid;
  }

  /** The CPU the tracer and stubs are pinned to, or -1. */
  get pinnedCpu(): number {
    return this.pinned ? this.cpu : -1;
  }

  get isRunning(): boolean {
    return this.state === PlatformState.Running;
  }

  init(init: PlatformInit): void {
    if (this.state !== PlatformState.New) throw new Error('ptrace platform: init() may be called once');
    if (!Number.isInteger(init.memoryFd) || init.memoryFd < 0)
      throw new TypeError(`ptrace platform: memoryFd must be an open fd (got ${init.memoryFd})`);
    const native = ptraceNative();
    this.native = native;
    this.log = init.log;
    const stub = this.capabilities.maxUserAddress;
    if (this.options.pin ?? true) {
      const cpu = this.options.cpu ?? init.cpu ?? native.currentCpu();
      try {
        native.pin(cpu);
      } catch (e) {
        throw new Error(
          `ptrace platform: cannot pin the sentry thread to CPU ${cpu} (${(e as Error).message}); ` +
            'set ptrace.cpu to a CPU this process may run on, or ptrace.pin: false',
        );
      }
      this.cpu = cpu;
      this.pinned = true;
    }
    try {
      this.pgid = native.spawnMaster(init.memoryFd, this.pinned ? this.cpu : -1);
      this.checkMasterEmpty(stub);
    } catch (e) {
      if (this.pgid > 0) native.killGroup(this.pgid);
      if (this.pinned) native.unpin();
      this.pinned = false;
      this.state = PlatformState.Shut;
      throw e;
    }
    process.on('SIGCHLD', this.onSigchld);
    // Signal handles are unref'd: this timer keeps Node alive while app code runs.
    this.keepAlive = setInterval(noop, 0x7fffffff);
    this.keepAlive.unref();
    this.state = PlatformState.Running;
    this.log.info(
      { master: this.pgid, cpu: this.pinnedCpu, stub: '0x' + stub.toString(16) },
      'ptrace platform started',
    );
  }

  newAddressSpace(): AddressSpace {
    this.checkRunning('newAddressSpace');
    const n = this.native;
    const pid = n.inject(this.pgid, SYS_clone, NEW_PROCESS_FLAGS, 0, 0, 0, 0, 0);
    if (pid <= 0) throw injectedCallError('clone', pid, this.pgid);
    // The fork is a child of Node (CLONE_PARENT): dies with the sentry thread.
    const r = n.inject(pid, SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (r !== 0) {
      n.killProcess(pid);
      throw injectedCallError('prctl(PR_SET_PDEATHSIG)', r, pid);
    }
    const as = new PtraceAddressSpace(this, pid);
    this.spaces.add(as);
    return as;
  }

  newContext(as: AddressSpace, owner: ContextOwner): PtraceContext {
    this.checkRunning('newContext');
    if (!(as instanceof PtraceAddressSpace)) throw new TypeError('newContext: not a ptrace address space');
    if (typeof owner?.onStop !== 'function')
      throw new TypeError('newContext: owner must have onStop(reason)');
    const tid = as.cloneThread();
    const ctx = new PtraceContext(this, as, owner, tid);
    try {
      ctx.slot = this.native.register(tid, as.pid, ctx.regs);
    } catch (e) {
      as.discardThread(tid);
      throw e;
    }
    // Zero everything but the segment selectors the kernel gave the thread.
    const regs = ctx.regs;
    for (let i = 0; i < NUM_REGS; i++) if (!SEGMENT_REGS.includes(i)) regs[i] = 0n;
    this.contexts[ctx.slot] = ctx;
    as.contexts.add(ctx);
    return ctx;
  }

  shutdown(): void {
    if (this.state === PlatformState.Shut) return;
    const wasRunning = this.state === PlatformState.Running;
    this.state = PlatformState.Shut;
    if (!wasRunning) return;
    process.removeListener('SIGCHLD', this.onSigchld);
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.drainScheduled = false;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.refed = false;
    let error: unknown;
    try {
      this.native.killGroup(this.pgid);
    } catch (e) {
      error = e;
    }
    for (const ctx of this.contexts) {
      if (!ctx) continue;
      this.native.unregister(ctx.slot);
      ctx.slot = -1;
      ctx.dead = true;
      ctx.running = false;
      ctx.queued = 0;
    }
    this.contexts.length = 0;
    this.queue = [];
    this.queueHead = 0;
    this.runningCount = 0;
    for (const as of this.spaces) as.markReleased();
    this.spaces.clear();
    if (this.pinned) this.native.unpin();
    this.pinned = false;
    this.log?.info({ master: this.pgid }, 'ptrace platform shut down');
    if (error) throw error;
  }

  // ---- internals shared with contexts and address spaces ----

  /** @internal */
  checkRunning(fn: string): void {
    if (this.state !== PlatformState.Running)
      throw new Error(
        `${fn}: ptrace platform is ${this.state === PlatformState.New ? 'not initialised' : 'shut down'}`,
      );
  }

  /** @internal */
  ref(): void {
    this.refed = true;
    this.keepAlive?.ref();
  }

  /** @internal */
  updateRef(): void {
    const want = this.runningCount > 0;
    if (want === this.refed) return;
    this.refed = want;
    if (want) this.keepAlive?.ref();
    else this.keepAlive?.unref();
  }

  /** @internal Report `reason` for a context from the next drain, without running it. */
  enqueue(ctx: PtraceContext, reason: StopReason): void {
    ctx.queued = reason;
    this.queue.push(ctx);
    if (!this.draining) this.scheduleDrain();
  }

  /** @internal */
  forgetSlot(slot: number): void {
    this.contexts[slot] = undefined;
  }

  /** @internal */
  forgetSpace(as: PtraceAddressSpace): void {
    this.spaces.delete(as);
  }

  /** @internal */
  scheduleDrain(): void {
    if (this.drainScheduled || this.state !== PlatformState.Running) return;
    this.drainScheduled = true;
    this.immediate = setImmediate(this.drain);
  }

  /**
   * Collects stops for at most the drain budget: each stop is reported synchronously to
   * its owner (which usually resumes at once). Between empty waitpid calls the addon
   * yields the CPU to the co-located tracee. If stops kept coming when the budget ran
   * out, the next drain is scheduled with setImmediate (so timers and I/O get their
   * turn); if none came within spinUs, the loop sleeps until the next SIGCHLD.
   */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    this.immediate = undefined;
    if (this.draining || this.state !== PlatformState.Running) return;
    this.draining = true;
    const native = this.native;
    const pgid = this.pgid;
    const budgetUs = this.budgetUs;
    const start = performance.now();
    let busy = false;
    try {
      for (;;) {
        if (this.queueHead < this.queue.length) {
          this.deliverQueued();
          continue;
        }
        if (this.runningCount === 0 || this.state !== PlatformState.Running) break;
        const leftUs = budgetUs - (performance.now() - start) * 1000;
        if (leftUs <= 0) {
          busy = true;
          break;
        }
        const r = native.poll(pgid, Math.min(this.spinUs, Math.floor(leftUs)));
        if (r === 0) break; // nothing for a while: sleep until SIGCHLD
        this.dispatch(r);
      }
    } finally {
      this.draining = false;
    }
    if (this.state !== PlatformState.Running) return;
    if (busy || this.queueHead < this.queue.length) this.scheduleDrain();
    this.updateRef();
    const err = this.ownerError;
    if (err !== undefined) {
      this.ownerError = undefined;
      throw err;
    }
  };

  private dispatch(r: number): void {
    const kind = r & 7;
    const ctx = this.contexts[r >>> 3];
    if (ctx === undefined || !ctx.running) return;
    ctx.running = false;
    this.runningCount--;
    if (kind === StopReason.Fault || kind === StopReason.Signal) {
      const info = stopInfoArray;
      const si = ctx.stopInfo;
      si.signo = info[0];
      si.code = info[1];
      si.addr = info[2];
      si.access = info[3];
    } else if (kind === StopReason.Died) {
      ctx.dead = true;
    }
    this.callOwner(ctx, kind);
  }

  private deliverQueued(): void {
    const ctx = this.queue[this.queueHead++];
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    const reason = ctx.queued;
    if (reason === 0 || !ctx.running) return;
    ctx.queued = 0;
    ctx.running = false;
    this.runningCount--;
    this.callOwner(ctx, reason);
  }

  private callOwner(ctx: PtraceContext, reason: StopReason): void {
    try {
      ctx.owner.onStop(reason);
    } catch (e) {
      this.log?.error({ err: e, tid: ctx.tid, reason }, 'ContextOwner.onStop threw');
      if (this.ownerError === undefined) this.ownerError = e;
    }
  }

  /** The master must own nothing but the stub page and the kernel's vsyscall page. */
  private checkMasterEmpty(stub: number): void {
    const maps = fs.readFileSync(`/proc/${this.pgid}/maps`, 'utf8').trim().split('\n');
    const stubRange = `${stub.toString(16)}-${(stub + PAGE).toString(16)}`;
    const extra = maps.filter((l) => l && !l.startsWith(stubRange) && !l.endsWith('[vsyscall]'));
    if (extra.length > 0)
      throw new Error(`ptrace platform: master stub kept mappings besides the stub: ${extra.join('; ')}`);
  }
}
