/**
 * The KVM platform's native addon (plugins/platform-kvm/native): VM, memory slots, vCPUs,
 * KVM_RUN. Every function must be called from the Node main thread. Failures throw
 * Errors naming the host call and errno (`syscall`, `errno` properties).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon } from '../../../core/native';

export interface KvmProbe {
  /** /dev/kvm opened and speaks the expected API. */
  kvm: boolean;
  /** Why not, when kvm is false. */
  error?: string;
  apiVersion?: number;
  /** The kvm_pvm module is loaded (a PVM host: guest CPL0 is emulated, shadow paging). */
  pvm: boolean;
  /** Hardware virtualization visible to this machine's CPUID. */
  vendor: 'vmx' | 'svm' | 'none';
  syncRegs?: number;
  immediateExit?: number;
  userMemory?: number;
}

export interface KvmLayoutArgs {
  kmemGpa: number;
  kmemSize: number;
  kva: bigint;
  doorbellGpa: number;
  /** User VA of the landing page: a doorbell load from anywhere else is the app's own access. */
  landingVa: number;
  idtKva: bigint;
  flushKva: bigint;
  cmdKva: bigint;
  /** The doorbell load runs in user mode (PVM host) rather than at CPL0 after `syscall` (VMX/SVM). */
  userDoorbell: boolean;
  /** The page-fault stub pushes rax and exits with CR2 in rax (layout.ts vectorStub); else CR2 is read with KVM_GET_SREGS. */
  cr2InStub: boolean;
}

/** The platform's own share of system-call round trips (see KvmNative.stats). */
export interface KvmStats {
  /** System calls answered on the fast path (only rax changed). */
  roundTrips: number;
  /** Sum, minimum, median and 90th percentile (0.25 µs resolution) of the time from each one's exit to the KVM_RUN that answered it. */
  gapNs: number;
  gapMinNs: number;
  gapMedianNs: number;
  gapP90Ns: number;
  gapP99Ns: number;
  /** Round trips whose gap exceeded 20 µs (event-loop turns, GC, host preemption). */
  gapsOver20us: number;
  /** System calls answered on the slow path (registers set with ioctls). */
  slowResumes: number;
  /** KVM_RUN calls cut short by the time-slice signal (each costs the host an extra exit). */
  preempts: number;
}

export interface KvmNative {
  probe(): KvmProbe;
  /** Creates the VM (one per process) with the memory file at GPA 0; returns kernel memory. */
  createVm(memFd: number, memSize: number, layout: KvmLayoutArgs, info: Float64Array): ArrayBuffer;
  /** Closes every vCPU and the VM. Idempotent. */
  destroyVm(): void;
  /** A vCPU (new or reused) bound to `regs`; returns its slot (the lowest free one). */
  createVcpu(
    regs: BigUint64Array,
    gdtKva: bigint,
    tssKva: bigint,
    stackTop: bigint,
    star: bigint,
    lstar: number,
  ): number;
  releaseVcpu(slot: number): void;
  /**
   * Runs the slot's vCPU until its next stop: a StopReason, or 0 when the time slice ended
   * (still running). fromStop: regs[] is authoritative. flush: page-table command entries
   * to apply (guest stores) first.
   */
  run(slot: number, fromStop: boolean, cr3: number, flush: number): number;
  /** Copies the vCPU's registers into its regs[] (after a time slice); false (nothing copied) while it is inside a CPL0 stub. */
  fetchRegs(slot: number): boolean;
  /** Arms (us > 0) or disarms the time-slice timer. */
  armSlice(us: number): void;
  getFpState(slot: number, out: Uint8Array): void;
  /** Puts the FPU/SSE/AVX state in its initial state (execve). */
  resetFpState(slot: number): void;
  setFpState(slot: number, state: Uint8Array): void;
  /** Nanoseconds the slot's vCPU spent in KVM_RUN since its context was created. */
  runNs(slot: number): number;
  /**
   * The host floor of the syscall path: answers the next n doorbell exits with `rax` in C
   * (the vCPU must be stopped at a syscall); returns elapsed ns, or -1 on another exit.
   */
  spinSyscalls(slot: number, n: number, rax: number): number;
  /** Process-wide round-trip statistics since the last reset (reset: clear them after reading). */
  stats(reset?: boolean): KvmStats;
  /** KVM_RUN calls made by the slot's vCPU. */
  exits(slot: number): number;
  /**
   * The sentry maps [off, off + len) of the memory file into the app: registers the
   * memory slots covering it (the file is registered in chunks, on first use), then with
   * populate 1 (read) or 2 (write) faults its pages into the addon's mapping
   * (MADV_POPULATE_*), so KVM's shadow-paging faults can prefetch them. Returns 0 or the
   * populate errno; throws if KVM refuses a memory slot.
   */
  mapped(off: number, len: number, populate: 0 | 1 | 2): number;
  /** Returns kernel-memory pages to the host (they read back as zeros). */
  discardKmem(off: number, len: number): void;
}

/** [signo, code, addr, access, vector, errcode, exitReason, detail] of the last stop. */
export const stopInfoArray = new Float64Array(8);

let cached: KvmNative | undefined;

/** Loads the addon (once). */
export function kvmNative(): KvmNative {
  if (cached) return cached;
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', '..', 'plugins', 'platform-kvm', 'native'),
    path.resolve(__dirname, '..', 'native'),
  ];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'binding.gyp'))) ?? candidates[0];
  cached = loadAddon<KvmNative>(dir, 'tsvisor_kvm');
  return cached;
}
