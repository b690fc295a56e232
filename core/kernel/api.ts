/**
 * The task as seen by syscall handlers and filesystems (implemented by kernel/Task).
 * Kept as an interface so VFS and file syscalls can be written and unit-tested against a
 * tiny fake task.
 */
import type { UserMemory } from '../mm/api';
import type { WaitQueue } from '../util/waiter';

export interface Credentials {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  suid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  groups: number[];
  /** Capability sets (bit N = capability N; see kernel/caps.ts). */
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capBnd: bigint;
  capAmb: bigint;
  /** SECBIT_* flags (prctl PR_SET_SECUREBITS, PR_SET_KEEPCAPS). */
  securebits: number;
}

/** Results of TaskApi.block(). */
export const BLOCK_READY = 0;

/** Typed access to the six syscall argument registers (rdi, rsi, rdx, r10, r8, r9). */
export interface SyscallArgs {
  /** As a signed 32-bit int (fds, flags, modes). */
  int(i: number): number;
  /** As an unsigned 32-bit int. */
  uint(i: number): number;
  /** As a Number (pointers, sizes; exact below 2^53, larger values saturate to >= 2^53). */
  ptr(i: number): number;
  /** As a signed 64-bit value converted to Number (offsets). */
  i64(i: number): number;
  /** Raw 64-bit value. */
  big(i: number): bigint;
}

export interface TaskApi {
  /** Thread id and thread-group id in the sandbox's PID namespace. */
  readonly tid: number;
  readonly tgid: number;
  readonly mem: UserMemory;
  readonly creds: Credentials;
  /**
   * Wait until `q` is notified with an event in `mask`, a signal interrupts the task, or
   * the timeout (ns, relative; undefined = forever) expires. Resolves BLOCK_READY (0),
   * -ERESTARTSYS when interrupted (the dispatcher turns it into EINTR or a restart per
   * SA_RESTART), or -ETIMEDOUT.
   */
  block(q: WaitQueue, mask: number, timeoutNs?: number): Promise<number>;
  /** True if a signal is pending that would interrupt a blocking call. */
  interrupted(): boolean;
  /** Send a signal to this task (SIGPIPE on EPIPE, SIGXFSZ). */
  sendSignal(signo: number): void;
}

/** A syscall handler: returns the result (negative errno on failure), or a Promise of it when it blocks. */
export type SyscallHandler<T extends TaskApi = TaskApi> = (t: T, a: SyscallArgs) => number | Promise<number>;
