/**
 * The KVM platform: application code runs in a KVM virtual machine whose guest has no
 * kernel on the system-call path. A `syscall` reaches a landing page that loads from an
 * MMIO "doorbell" (one exit per system call); exceptions reach tiny IDT stubs that exit
 * with `out`; page-table changes are guest stores (kvm_pvm shadow paging). Design,
 * layout and machine code: docs/kvm.md; host findings: research/pvm-kvm.md.
 *
 * Every vCPU runs on the Node main thread (KVM_RUN is synchronous there, bounded by a
 * time slice), as the ptrace platform's tracer does: one thread hop per system call would
 * cost more than the whole KVM round trip on these hosts (research/ptrace-node.md).
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
  type Platform,
  type PlatformCapabilities,
  type PlatformInit,
  type PlatformLogger,
  type StopInfo,
} from '../../../core/plugins';
import {
  CMD_ENTRY,
  CMD_MAX,
  CMD_OFF,
  DOORBELL_GPA,
  FLUSH_STUB_OFF,
  IDT_OFF,
  KMEM_GPA,
  KMEM_SIZE,
  KVA,
  KVA_HI,
  LANDING_VA,
  MAX_USER_ADDRESS,
  MAX_VCPUS,
  POOL_OFF,
  STAR,
  USER_CS,
  USER_DS,
  kva,
  vcpuAddresses,
  writeKernelImage,
  writeVcpuArea,
  type EntryMode,
} from './layout';
import { kvmNative, stopInfoArray, type KvmNative, type KvmProbe, type KvmStats } from './native';
import { BumpPool, PageTables } from './pagetables';

/** Options of the KVM platform (the `kvm:` block of the config). */
export interface KvmOptions {
  /** Longest time one event-loop turn runs app code, in ms (default 2). */
  sliceMs?: number;
}

const PAGE = 4096;
const PROT_WRITE = 2;
/**
 * mapFile ranges up to this size (the sentry's fault extent) are faulted into the host
 * mapping at once: KVM's shadow MMU then fills up to 8 neighbouring pages per guest fault
 * instead of taking one host fault per 4 KiB page (it prefetches only host-present pages).
 */
const POPULATE_MAX = 64 * 1024;

/** Why the platform cannot start here, and what to do instead. */
export function unusableError(why: string): Error {
  return new Error(
    `kvm platform: ${why}. Run with --platform=ptrace (or set "platform: ptrace" in the config) to use the ptrace platform instead.`,
  );
}

/** One application address space: guest page tables in kernel memory. */
export class KvmAddressSpace implements AddressSpace {
  readonly tables: PageTables;
  private releasedFlag = false;

  constructor(
    private readonly platform: KvmPlatform,
    u32: Uint32Array,
    pool: BumpPool,
    mode: EntryMode,
  ) {
    this.tables = new PageTables(u32, pool, mode);
  }

  get released(): boolean {
    return this.releasedFlag;
  }

  mapFile(addr: number, length: number, fileOffset: number, prot: number): void {
    this.check('mapFile');
    checkPageRange('mapFile', addr, length, MAX_USER_ADDRESS);
    if (!Number.isSafeInteger(fileOffset) || fileOffset < 0 || fileOffset % PAGE !== 0)
      throw new RangeError(
        `mapFile: fileOffset must be a page-aligned non-negative integer (got ${fileOffset})`,
      );
    if (fileOffset + length > this.platform.memSize)
      throw new RangeError(
        `mapFile: [0x${fileOffset.toString(16)}, +0x${length.toString(16)}) is beyond the memory file (0x${this.platform.memSize.toString(16)} bytes)`,
      );
    checkProt('mapFile', prot);
    this.platform.memoryMapped(fileOffset, length, prot);
    this.tables.map(addr, length, fileOffset, prot);
  }

  unmap(addr: number, length: number): void {
    this.check('unmap');
    checkPageRange('unmap', addr, length, MAX_USER_ADDRESS);
    this.tables.unmap(addr, length);
  }

  protect(addr: number, length: number, prot: number): void {
    this.check('protect');
    checkPageRange('protect', addr, length, MAX_USER_ADDRESS);
    checkProt('protect', prot);
    this.tables.protect(addr, length, prot);
  }

  release(): void {
    if (this.releasedFlag) return;
    this.releasedFlag = true;
    this.tables.release();
  }

  private check(fn: string): void {
    if (this.releasedFlag) throw new Error(`${fn}: address space was released`);
    this.platform.checkRunning(fn);
  }
}

/** One application thread: a vCPU with its registers in `regs`. */
export class KvmContext implements Context {
  readonly regs = new BigUint64Array(NUM_REGS);
  readonly stopInfo: StopInfo = { signo: 0, code: 0, addr: 0, access: 0 };
  /** Running from the owner's point of view (resumed, stop not yet reported). */
  running = false;
  /** regs[] holds what the kernel wants (set at each reported stop, cleared once run). */
  fromStop = true;
  pendingInterrupt = false;
  dead = false;
  released = false;

  constructor(
    private readonly platform: KvmPlatform,
    public space: KvmAddressSpace,
    readonly owner: ContextOwner,
    readonly slot: number,
  ) {}

  get addressSpace(): AddressSpace {
    return this.space;
  }

  /**
   * CPU time of this thread: the time its vCPU spent in KVM_RUN (app code and the host's
   * handling of its exits; the host does not split it into user and system).
   */
  cpuTimeNs(): { user: number; system: number } {
    if (this.released || !this.platform.isRunning) return { user: 0, system: 0 };
    return { user: this.platform.native.runNs(this.slot), system: 0 };
  }

  resume(): void {
    if (this.running) throw new Error(`resume: context (vCPU ${this.slot}) is already running`);
    if (this.released) throw new Error('resume: context was released');
    this.platform.checkRunning('resume');
    this.running = true;
    this.platform.enqueue(this);
  }

  interrupt(): void {
    if (this.released || this.dead) return;
    this.pendingInterrupt = true;
  }

  getFpState(out: Uint8Array): void {
    this.checkStopped('getFpState');
    this.platform.native.getFpState(this.slot, out);
  }

  setFpState(state: Uint8Array): void {
    this.checkStopped('setFpState');
    this.platform.native.setFpState(this.slot, state);
  }

  switchAddressSpace(as: AddressSpace): void {
    if (this.released) throw new Error('switchAddressSpace: context was released');
    if (this.running) throw new Error('switchAddressSpace: context is running');
    if (!(as instanceof KvmAddressSpace)) throw new TypeError('switchAddressSpace: not a kvm address space');
    this.space = as;
    // A new program starts with the initial FPU/SSE/AVX state, as after execve on Linux.
    this.platform.native.resetFpState(this.slot);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.running = false;
    this.platform.releaseContext(this);
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

/** The KVM Platform. One per process (KVM VM and its memory file mapping). */
export class KvmPlatform implements Platform {
  readonly name = 'kvm';
  /** hostTsc is set by init(): true on a PVM host (see there). */
  capabilities: PlatformCapabilities = {
    faultAccessType: true,
    minUserAddress: 0x10000,
    maxUserAddress: MAX_USER_ADDRESS,
  };
  /** @internal */ native!: KvmNative;
  /** @internal */ memSize = 0;
  /** The host's entry path, from the probe. */
  mode: EntryMode = 'pvm';
  probeResult?: KvmProbe;

  private state = PlatformState.New;
  private log?: PlatformLogger;
  private u32!: Uint32Array;
  private kmem!: ArrayBuffer;
  /** vCPU slots below this have their GDT/TSS written. */
  private vcpuAreas = 0;
  private pool!: BumpPool;
  private readonly sliceUs: number;
  private readonly contexts: (KvmContext | undefined)[] = [];
  private queue: KvmContext[] = [];
  private drainScheduled = false;
  private draining = false;
  private immediate?: NodeJS.Immediate;
  private ownerError: unknown = undefined;
  /** MADV_POPULATE_* works here (cleared at the first EINVAL: an older kernel). */
  private populateOk = true;

  constructor(options: KvmOptions = {}) {
    const slice = options.sliceMs ?? 2;
    if (!(slice > 0 && slice <= 1000))
      throw new RangeError(`kvm.sliceMs must be in (0, 1000] (got ${slice})`);
    this.sliceUs = Math.round(slice * 1000);
  }

  get isRunning(): boolean {
    return this.state === PlatformState.Running;
  }

  init(init: PlatformInit): void {
    if (this.state !== PlatformState.New) throw new Error('kvm platform: init() may be called once');
    if (!Number.isInteger(init.memoryFd) || init.memoryFd < 0)
      throw new TypeError(`kvm platform: memoryFd must be an open fd (got ${init.memoryFd})`);
    let native: KvmNative;
    try {
      native = kvmNative();
    } catch (e) {
      throw unusableError(`the native addon did not load (${(e as Error).message})`);
    }
    const probe = native.probe();
    this.probeResult = probe;
    if (!probe.kvm) throw unusableError(`/dev/kvm is not usable (${probe.error ?? 'unknown reason'})`);
    if (!probe.syncRegs || !probe.immediateExit)
      throw unusableError('this KVM lacks KVM_CAP_SYNC_REGS or KVM_CAP_IMMEDIATE_EXIT');
    this.mode = probe.pvm ? 'pvm' : 'hw';
    // On kvm_pvm the app's user code runs on the host CPU and `rdtsc` reads the host's TSC
    // unchanged (checked: the vDSO suite gives Linux's answers), so the sentry's vDSO works
    // and clock calls need no exit (~85 µs each here). On VMX/SVM, KVM offsets the guest
    // TSC (it starts near 0), so clock calls keep trapping there.
    this.capabilities = { ...this.capabilities, hostTsc: this.mode === 'pvm' };
    if (this.mode === 'hw')
      init.log.warn(
        { vendor: probe.vendor },
        'kvm platform: standard VMX/SVM host; the supervisor landing path is untested (docs/kvm.md)',
      );
    // TSVISOR_KVM_CR2=sregs: read the fault address with KVM_GET_SREGS (A/B measurements).
    const cr2InStub = process.env.TSVISOR_KVM_CR2 !== 'sregs';
    const size = memFileSize(init.memoryFd);
    this.memSize = size;
    let kmem: ArrayBuffer;
    try {
      kmem = native.createVm(
        init.memoryFd,
        size,
        {
          kmemGpa: KMEM_GPA,
          kmemSize: KMEM_SIZE,
          kva: KVA,
          doorbellGpa: DOORBELL_GPA,
          landingVa: LANDING_VA,
          idtKva: kva(IDT_OFF),
          flushKva: kva(FLUSH_STUB_OFF),
          cmdKva: kva(CMD_OFF),
          userDoorbell: this.mode === 'pvm',
          cr2InStub,
        },
        stopInfoArray,
      );
    } catch (e) {
      throw unusableError(`creating the VM failed: ${(e as Error).message}`);
    }
    this.native = native;
    this.log = init.log;
    writeKernelImage(kmem, this.mode, cr2InStub);
    this.u32 = new Uint32Array(kmem);
    this.kmem = kmem;
    this.pool = new BumpPool(this.u32, POOL_OFF, KMEM_SIZE, (off, len) => native.discardKmem(off, len));
    this.state = PlatformState.Running;
    this.log.info({ mode: this.mode, vendor: probe.vendor, memSize: size }, 'kvm platform started');
  }

  newAddressSpace(): KvmAddressSpace {
    this.checkRunning('newAddressSpace');
    return new KvmAddressSpace(this, this.u32, this.pool, this.mode);
  }

  newContext(as: AddressSpace, owner: ContextOwner): KvmContext {
    this.checkRunning('newContext');
    if (!(as instanceof KvmAddressSpace)) throw new TypeError('newContext: not a kvm address space');
    if (typeof owner?.onStop !== 'function')
      throw new TypeError('newContext: owner must have onStop(reason)');
    let slot = 0;
    while (slot < this.contexts.length && this.contexts[slot]) slot++;
    if (slot >= MAX_VCPUS)
      throw new Error(`kvm platform: at most ${MAX_VCPUS} app threads at once (one vCPU each)`);
    if (slot >= this.vcpuAreas) {
      writeVcpuArea(this.kmem, slot);
      this.vcpuAreas = slot + 1;
    }
    const a = vcpuAddresses(slot);
    const ctx = new KvmContext(this, as, owner, slot);
    const regs = ctx.regs;
    const got = this.native.createVcpu(regs, a.gdt, a.tss, a.stackTop, STAR, LANDING_VA);
    if (got !== slot) {
      this.native.releaseVcpu(got);
      throw new Error(`kvm platform: vCPU slot mismatch (expected ${slot}, got ${got})`);
    }
    regs[Reg.CS] = BigInt(USER_CS);
    regs[Reg.SS] = BigInt(USER_DS);
    this.contexts[slot] = ctx;
    return ctx;
  }

  shutdown(): void {
    if (this.state === PlatformState.Shut) return;
    const wasRunning = this.state === PlatformState.Running;
    this.state = PlatformState.Shut;
    if (!wasRunning) return;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    for (const ctx of this.contexts) {
      if (!ctx) continue;
      ctx.dead = true;
      ctx.running = false;
    }
    this.contexts.length = 0;
    this.queue = [];
    this.native.armSlice(0);
    const stats = this.native.stats(true);
    this.native.destroyVm();
    this.log?.info({ retiredTablePages: this.pool.retired, ...stats }, 'kvm platform shut down');
    writeStats(stats);
  }

  // ---- internals shared with contexts and address spaces ----

  /** @internal */
  checkRunning(fn: string): void {
    if (this.state !== PlatformState.Running)
      throw new Error(
        `${fn}: kvm platform is ${this.state === PlatformState.New ? 'not initialised' : 'shut down'}`,
      );
  }

  /**
   * @internal The sentry maps [fileOffset, +length) of the memory file: its memory slots
   * must exist before a page table points there, and small ranges are pre-faulted on the
   * host (see POPULATE_MAX).
   */
  memoryMapped(fileOffset: number, length: number, prot: number): void {
    let populate: 0 | 1 | 2 = 0;
    if (length <= POPULATE_MAX && prot !== 0 && this.populateOk && !process.env.TSVISOR_KVM_NO_POPULATE)
      populate = prot & PROT_WRITE ? 2 : 1;
    const err = this.native.mapped(fileOffset, length, populate);
    if (err === 0) return;
    if (err === 22) this.populateOk = false;
    // ENOMEM and friends: the app's own fault will report it; populating is only a hint.
    this.log?.debug({ fileOffset, length, errno: err }, 'kvm platform: populating guest memory failed');
  }

  /** @internal */
  enqueue(ctx: KvmContext): void {
    this.queue.push(ctx);
    if (!this.draining) this.scheduleDrain();
  }

  /** @internal */
  releaseContext(ctx: KvmContext): void {
    if (this.contexts[ctx.slot] !== ctx) return;
    this.contexts[ctx.slot] = undefined;
    if (this.state === PlatformState.Running) this.native.releaseVcpu(ctx.slot);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.state !== PlatformState.Running) return;
    this.drainScheduled = true;
    this.immediate = setImmediate(this.drain);
  }

  /**
   * Runs queued contexts on the main thread for at most one time slice. Each stop is
   * reported synchronously to the owner (which usually resumes at once, re-queueing the
   * context). A context whose slice ended goes to the back of the queue.
   */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    this.immediate = undefined;
    if (this.draining || this.state !== PlatformState.Running) return;
    this.draining = true;
    const native = this.native;
    const start = performance.now();
    // The drain ends itself at the first stop after 3/4 of the slice, before the timer
    // fires: a timer that cuts a KVM_RUN short costs the host an extra exit in the middle
    // of a system call (measured: one per drain, ~2.5 µs per getpid on average). The
    // timer still bounds a vCPU that runs the whole slice without a stop.
    const budgetMs = (this.sliceUs / 1000) * 0.75;
    native.armSlice(this.sliceUs);
    try {
      while (this.queue.length > 0 && this.state === PlatformState.Running) {
        const ctx = this.queue.shift()!;
        if (!ctx.running || ctx.released) continue;
        if (ctx.dead) {
          this.report(ctx, StopReason.Died);
        } else if (ctx.pendingInterrupt && (ctx.fromStop || native.fetchRegs(ctx.slot))) {
          // (fetchRegs is false while the vCPU is inside a CPL0 stub: run on until it is out.)
          ctx.pendingInterrupt = false;
          ctx.fromStop = true;
          this.report(ctx, StopReason.Interrupt);
        } else {
          const stop = this.runOnce(ctx);
          if (stop === 0) this.queue.push(ctx);
          else this.report(ctx, stop);
        }
        if (performance.now() - start >= budgetMs) break;
      }
    } finally {
      if (this.state === PlatformState.Running) native.armSlice(0);
      this.draining = false;
    }
    if (this.state !== PlatformState.Running) return;
    if (this.queue.length > 0) this.scheduleDrain();
    const err = this.ownerError;
    if (err !== undefined) {
      this.ownerError = undefined;
      throw err;
    }
  };

  /** One KVM_RUN of ctx (after the page-table stores its address space owes, if any). */
  private runOnce(ctx: KvmContext): number {
    const t = ctx.space.tables;
    t.live = true;
    let flush = 0;
    try {
      t.compactPending();
      if (t.pending.size > CMD_MAX)
        throw new Error(
          `${t.pending.size} page-table changes at once (the flush buffer holds ${CMD_MAX}); unmap or protect in smaller pieces`,
        );
      if (t.pending.size > 0) flush = this.writeFlush(t);
      const stop = this.native.run(ctx.slot, ctx.fromStop, t.cr3, flush);
      if (flush > 0) t.pending.clear();
      ctx.fromStop = false;
      if (stop === StopReason.Died && stopInfoArray[6] === -1) {
        this.log?.error(
          { vcpu: ctx.slot, mode: this.mode, cpl: stopInfoArray[7] },
          `kvm platform: this host runs system calls at CPL ${stopInfoArray[7]}, not as the probe (${this.mode}) said; use --platform=ptrace`,
        );
        ctx.dead = true;
      } else if (stop === StopReason.Died) {
        const i = stopInfoArray;
        this.log?.error(
          {
            vcpu: ctx.slot,
            exitReason: i[6],
            detail: '0x' + i[7].toString(16),
            rip: '0x' + i[2].toString(16),
          },
          'kvm platform: unexpected vCPU exit; the app thread is lost',
        );
        ctx.dead = true;
      }
      return stop;
    } catch (e) {
      this.log?.error({ vcpu: ctx.slot, err: (e as Error).message }, 'kvm platform: running the vCPU failed');
      ctx.dead = true;
      return StopReason.Died;
    }
  }

  /** Copies queued guest stores into the command buffer (at most CMD_MAX); returns how many. */
  private writeFlush(t: PageTables): number {
    const u32 = this.u32;
    let k = CMD_OFF / 4;
    let n = 0;
    for (const [entryOff, va] of t.pending) {
      if (n === CMD_MAX) break;
      u32[k] = entryOff;
      u32[k + 1] = KVA_HI;
      u32[k + 2] = u32[entryOff / 4]; // the entry's current value
      u32[k + 3] = u32[entryOff / 4 + 1];
      u32[k + 4] = va % 2 ** 32;
      u32[k + 5] = Math.floor(va / 2 ** 32);
      k += CMD_ENTRY / 4;
      n++;
    }
    return n;
  }

  private report(ctx: KvmContext, reason: StopReason): void {
    ctx.running = false;
    if (reason === StopReason.Fault || reason === StopReason.Signal) {
      const i = stopInfoArray;
      const si = ctx.stopInfo;
      si.signo = i[0];
      si.code = i[1];
      si.addr = i[2];
      si.access = i[3];
      if (reason === StopReason.Signal || si.addr >= MAX_USER_ADDRESS || process.env.KVM_DEBUG_FAULTS)
        this.log?.debug(
          {
            vcpu: ctx.slot,
            vector: i[4],
            errcode: i[5],
            addr: '0x' + si.addr.toString(16),
            rip: '0x' + ctx.regs[Reg.RIP].toString(16),
            cs: ctx.regs[Reg.CS],
            pte: JSON.stringify(ctx.space.tables.lookup(si.addr - (si.addr % 4096))),
            pending: ctx.space.tables.pending.size,
          },
          'kvm platform: exception in app code',
        );
    }
    ctx.fromStop = true;
    try {
      ctx.owner.onStop(reason);
    } catch (e) {
      this.log?.error({ err: e, vcpu: ctx.slot, reason }, 'ContextOwner.onStop threw');
      if (this.ownerError === undefined) this.ownerError = e;
    }
  }
}

/**
 * With TSVISOR_KVM_STATS=FILE in the environment, appends the round-trip statistics as
 * one JSON line to FILE at shutdown (for bench/kvm.ts; a failure to write is ignored).
 */
function writeStats(stats: KvmStats): void {
  const file = process.env.TSVISOR_KVM_STATS;
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify(stats) + '\n');
  } catch {
    // Statistics are best effort: never fail a shutdown for them.
  }
}

/** Size of the memory file (its mapping must cover it). */
function memFileSize(fd: number): number {
  const size = fs.fstatSync(fd).size;
  if (!(size > 0)) throw unusableError(`the memory file (fd ${fd}) is empty`);
  return size;
}
