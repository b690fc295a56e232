/**
 * The Platform plugin API: how application code is run and how its system calls and
 * faults reach the sentry. Implemented by plugins/platform-ptrace and plugins/platform-kvm.
 *
 * Model (as gVisor's pkg/sentry/platform): an AddressSpace is the host-side view of one
 * application memory map; a Context runs one application thread in an AddressSpace.
 *
 * Hot path: the sentry serves most system calls synchronously on the thread that
 * observed the stop. So instead of a Promise per switch, a Context reports each stop by
 * calling its owner's `onStop(reason)` synchronously; the owner either calls `resume()`
 * straight away (fast path, no allocation) or later, after a blocking call settles.
 * Registers live in a per-context preallocated array laid out as Linux's
 * `struct user_regs_struct`, so neither side allocates per system call.
 */

export const Platform = Symbol('Platform');

/** Indices into Context.regs (struct user_regs_struct, x86-64). */
export const enum Reg {
  R15 = 0,
  R14 = 1,
  R13 = 2,
  R12 = 3,
  RBP = 4,
  RBX = 5,
  R11 = 6,
  R10 = 7,
  R9 = 8,
  R8 = 9,
  RAX = 10,
  RCX = 11,
  RDX = 12,
  RSI = 13,
  RDI = 14,
  ORIG_RAX = 15,
  RIP = 16,
  CS = 17,
  EFLAGS = 18,
  RSP = 19,
  SS = 20,
  FS_BASE = 21,
  GS_BASE = 22,
  DS = 23,
  ES = 24,
  FS = 25,
  GS = 26,
}
export const NUM_REGS = 27;
/** Size of the legacy FXSAVE area (struct user_fpregs_struct), the FPU/SSE state. */
export const FPREGS_SIZE = 512;

/** Why a Context stopped. */
export const enum StopReason {
  /** The app executed `syscall`; number in regs[ORIG_RAX] (and RAX), args in RDI..R9. */
  Syscall = 1,
  /** A memory fault: stopInfo.{signo (SIGSEGV/SIGBUS), code, addr, access}. */
  Fault = 2,
  /** A synchronous non-memory signal (SIGILL, SIGFPE, SIGTRAP...): stopInfo.{signo, code, addr}. */
  Signal = 3,
  /** Context.interrupt() was honoured: the app is stopped at an instruction boundary. */
  Interrupt = 4,
  /** The host thread is gone (killed from outside). The context is unusable. */
  Died = 5,
}

/** Memory access kinds, as bits. */
export const enum Access {
  Read = 1,
  Write = 2,
  Exec = 4,
}

export interface StopInfo {
  signo: number;
  code: number;
  /** Faulting address (Number: user addresses fit in 2^53). */
  addr: number;
  /** Access bits when known (0 when the platform cannot tell). */
  access: number;
}

/** Receives stops; implemented by the kernel's Task. Called synchronously by the platform. */
export interface ContextOwner {
  onStop(reason: StopReason): void;
}

/**
 * A host file the sentry holds open read-only (a layer image) whose pages may be mapped
 * into the app directly. `fd` stays open while the object is in use; identity matters
 * (platforms remember per object how they reached the file).
 */
export interface ForeignFile {
  /** -1 once the sentry closed it (mapForeign then returns false). */
  readonly fd: number;
  /** For messages: the host path. */
  readonly name: string;
}

export interface AddressSpace {
  /**
   * Map `length` bytes of the memory file at `fileOffset` at app address `addr` with the
   * given protection (PROT_* bits), replacing anything there. Page aligned.
   */
  mapFile(addr: number, length: number, fileOffset: number, prot: number): void;
  /**
   * Map `length` bytes of a foreign host file at `fileOffset` (page aligned) at `addr`,
   * private and read-only (`prot` never has PROT_WRITE). Present exactly when the platform's
   * capabilities.foreignMappings is true. Returns false when this address space cannot reach
   * the file (nothing mapped; the sentry falls back to a copy in the memory file).
   */
  mapForeign?(addr: number, length: number, file: ForeignFile, fileOffset: number, prot: number): boolean;
  /** Remove host mappings in [addr, addr+length). */
  unmap(addr: number, length: number): void;
  /** Change the host protection of an already-mapped range. */
  protect(addr: number, length: number, prot: number): void;
  /** Release every host resource of this address space. */
  release(): void;
}

export interface Context {
  /** The thread's general registers (struct user_regs_struct). The kernel reads and edits them freely while stopped. */
  readonly regs: BigUint64Array;
  /** Details of the last Fault/Signal stop. */
  readonly stopInfo: StopInfo;
  /** The address space this context runs in (changed by execve). */
  readonly addressSpace: AddressSpace;
  /** Run the app thread until its next stop; the stop is reported to the owner's onStop. */
  resume(): void;
  /** Ask a running context to stop soon with StopReason.Interrupt (no effect if already stopped; then the next resume stops at once). */
  interrupt(): void;
  /** Read the FPU/SSE state (FXSAVE layout, FPREGS_SIZE bytes) into `out`. Only while stopped. */
  getFpState(out: Uint8Array): void;
  /** Write the FPU/SSE state. Only while stopped. */
  setFpState(state: Uint8Array): void;
  /** Move this context to another address space (execve). */
  switchAddressSpace(as: AddressSpace): void;
  /** Release the context's host resources (the app thread is gone). */
  release(): void;
  /**
   * CPU time this thread has used running app code (user) and in the host kernel on its
   * behalf (system), in nanoseconds. Optional: a platform that cannot tell omits it.
   */
  cpuTimeNs?(): { user: number; system: number };
}

export interface PlatformCapabilities {
  /** Whether faults carry the access type. */
  readonly faultAccessType: boolean;
  /** Lowest and one-past-highest app address. */
  readonly minUserAddress: number;
  readonly maxUserAddress: number;
  /**
   * The app's `rdtsc` reads the host's TSC unchanged (no offset or scaling), so the sentry's
   * vDSO can compute the time in the app from it (core/kernel/vdso.ts). Absent = false: no
   * vDSO is mapped and clock calls trap.
   */
  readonly hostTsc?: boolean;
  /**
   * AddressSpace.mapForeign exists: read-only private mappings of files in layer images map
   * the image's own pages, not copies in the memory file. Absent = false.
   */
  readonly foreignMappings?: boolean;
}

/** What the sentry hands the platform when it starts. */
export interface PlatformInit {
  /** The memory file (memfd) backing all app memory. Platforms map ranges of it into the app. */
  memoryFd: number;
  /** Structured logger for the platform's own lines. */
  log: PlatformLogger;
  /** Host CPU to co-locate the sentry's tracing thread and the app on (platform may ignore). */
  cpu?: number;
}

export interface PlatformLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Platform {
  readonly name: string;
  readonly capabilities: PlatformCapabilities;
  /** Start the platform (spawn master stubs, open devices). Throws an Error naming the cause and the fix on failure. */
  init(init: PlatformInit): void;
  /** A new, empty address space. */
  newAddressSpace(): AddressSpace;
  /**
   * A new context running in `as`, owned by `owner`. Its registers start zeroed except
   * the segment selectors; the kernel sets them before the first resume().
   */
  newContext(as: AddressSpace, owner: ContextOwner): Context;
  /** Kill every app thread and stub; idempotent. */
  shutdown(): void;
}

/**
 * Argument checks an AddressSpace makes before touching the host (mapFile/unmap/protect):
 * a page-aligned, non-empty range below `max`, and a PROT_* mask. Throw RangeError: a
 * failure is a sentry bug, never the app's doing.
 */
export function checkPageRange(fn: string, addr: number, length: number, max: number): void {
  const PAGE = 4096;
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length <= 0)
    throw new RangeError(
      `${fn}: addr and length must be non-negative integers, length > 0 (got ${addr}, ${length})`,
    );
  if (addr % PAGE !== 0 || length % PAGE !== 0)
    throw new RangeError(
      `${fn}: addr and length must be page aligned (got 0x${addr.toString(16)}, 0x${length.toString(16)})`,
    );
  if (addr + length > max)
    throw new RangeError(
      `${fn}: [0x${addr.toString(16)}, 0x${(addr + length).toString(16)}) is above the app range (max 0x${max.toString(16)})`,
    );
}

export function checkProt(fn: string, prot: number): void {
  if (!Number.isInteger(prot) || prot < 0 || prot > 7)
    throw new RangeError(`${fn}: prot must be a PROT_READ|PROT_WRITE|PROT_EXEC mask (got ${prot})`);
}
