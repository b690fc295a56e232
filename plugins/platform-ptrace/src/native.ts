/**
 * The ptrace platform's native addon (plugins/platform-ptrace/native): a flat surface of
 * host mechanics. Every function must be called from the Node main thread (the tracer).
 * Failures throw Errors whose message names the host call, errno and pid, with
 * `syscall`, `errno`, `code` and `pid` properties.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon } from '../../../core/native';

export interface PtraceNative {
  /** Maps the stub code page in this process (idempotent); returns its address. */
  setupStub(): number;
  /** Forks the master stub (its own session/process group); `cpu` -1 = no affinity. Returns its pid (= pgid). */
  spawnMaster(memFd: number, cpu: number): number;
  /**
   * Runs one system call in a stopped stub thread and returns rax (negative errno on failure).
   * For clone/fork, the new task is auto-attached and left stopped; the result is its id.
   */
  inject(
    tid: number,
    nr: number,
    a0?: number,
    a1?: number,
    a2?: number,
    a3?: number,
    a4?: number,
    a5?: number,
  ): number;
  /** Registers a stopped app thread with its register array (filled from the thread); returns the slot. */
  register(tid: number, tgid: number, regs: BigUint64Array): number;
  /** Forgets a slot (no host calls). */
  unregister(slot: number): void;
  /** Stops (if running), ends and reaps the slot's thread, then frees the slot. */
  releaseThread(slot: number): void;
  /** Ends the slot's (stopped) thread and points the slot at another stopped thread. */
  retarget(slot: number, tid: number, tgid: number): void;
  /** Where [signo, code, addr, access] of Fault/Signal stops are written. */
  setInfo(info: Float64Array): void;
  /** PTRACE_SETREGS from the slot's array + PTRACE_SYSEMU. Returns 0, or 5 (Died) if the thread is gone. */
  resume(slot: number): number;
  /** Next stop of the group as (slot << 3) | StopReason, or 0 if none within spinUs. */
  poll(pgid: number, spinUs: number): number;
  /** Sends the interrupt signal to a running slot; false if it is not running. */
  interrupt(slot: number): boolean;
  getFpRegs(slot: number, out: Uint8Array): void;
  setFpRegs(slot: number, state: Uint8Array): void;
  /** SIGKILLs one stub process and reaps all its threads. */
  killProcess(pid: number): void;
  /** SIGKILLs a whole process group of stubs and reaps them. */
  killGroup(pgid: number): void;
  /** Pins the calling thread to `cpu` (saving its previous mask once). */
  pin(cpu: number): void;
  /** Restores the mask saved by pin(). */
  unpin(): void;
  currentCpu(): number;
  /** The memory file's fd number inside every stub. */
  readonly stubMemFd: number;
  /** The host signal used for Context.interrupt(). */
  readonly interruptSignal: number;
}

/** [signo, code, addr, access] of the last Fault/Signal stop, shared by all platforms of this process. */
export const stopInfoArray = new Float64Array(4);

let cached: PtraceNative | undefined;

/** Loads the addon (once). */
export function ptraceNative(): PtraceNative {
  if (cached) return cached;
  // Compiled: <repo>/dist/plugins/platform-ptrace/src -> <repo>/plugins/platform-ptrace/native.
  // Run from a package whose src/ sits beside native/: <plugin>/src -> <plugin>/native.
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', '..', 'plugins', 'platform-ptrace', 'native'),
    path.resolve(__dirname, '..', 'native'),
  ];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'binding.gyp'))) ?? candidates[0];
  const native = loadAddon<PtraceNative>(dir, 'tsvisor_ptrace');
  native.setInfo(stopInfoArray);
  cached = native;
  return native;
}
