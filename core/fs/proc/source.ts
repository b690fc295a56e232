/**
 * ProcSource: everything procfs shows, as the kernel provides it.
 *
 * procfs lives in core/fs and must not import core/kernel (the kernel imports filesystems,
 * not the reverse), so the live state it renders reaches it through this interface.
 * core/kernel/proc-source.ts implements it over the Kernel; unit tests use a small fake.
 *
 * Contract: every method reads live state at the moment it is called and never caches —
 * procfs calls it when a file is opened (the content is a snapshot taken at open, as
 * Linux's seq_file takes it at the first read) or when a directory is listed or looked
 * up. A process or thread that has gone away is simply absent (`task()` returns null);
 * procfs turns that into ENOENT (or ESRCH for an already-open file of a vanished task).
 *
 * Units: times in nanoseconds (bigint) unless a name says otherwise, memory in bytes,
 * signal sets as 64-bit masks (bit n-1 = signal n), clock ticks are USER_HZ (100).
 */
import type { Credentials, TaskApi } from '../../kernel/api';
import type { FileDescription } from '../../vfs/file';
import type { VirtualDentry } from '../../vfs/mount';

/** One-letter task states as /proc/<pid>/stat shows them. */
export type ProcState = 'R' | 'S' | 'D' | 'T' | 't' | 'Z' | 'X' | 'I';

/** What /proc/<pid>/maps needs of a mapping (mm's Vma has these fields). */
export interface ProcVma {
  readonly start: number;
  readonly end: number;
  /** PROT_READ | PROT_WRITE | PROT_EXEC. */
  readonly prot: number;
  readonly shared: boolean;
  readonly growsDown: boolean;
  /** Offset in the mapped file (pgoff * PAGE_SIZE), 0 for anonymous memory. */
  readonly fileOff: number;
  readonly name: {
    readonly path?: string;
    readonly dev?: number;
    readonly ino?: number;
    readonly special?: string;
  };
  /** mlock(2)ed (VmLck). */
  readonly locked?: boolean;
  /** Resident bytes of the mapping (pages present in its backing object). */
  rss(): number;
}

/** A process's address space. */
export interface ProcMm {
  /** Sorted by address. */
  readonly vmas: readonly ProcVma[];
  readonly brkStart: number;
  readonly brk: number;
  /** Initial stack pointer's neighbourhood (mm->start_stack); 0 when unknown. */
  readonly startStack: number;
  readonly argStart: number;
  readonly argEnd: number;
  readonly envStart: number;
  readonly envEnd: number;
  /** auxv as (type, value) pairs ending with AT_NULL. */
  readonly auxv: readonly number[];
  /** Path of the executable as exec found it ('' when unknown). */
  readonly exePath: string;
  /**
   * Read [addr, addr+len) of the process's memory ignoring protections (as Linux's
   * access_remote_vm with FOLL_FORCE); stops early at an unmapped address and returns
   * what it could read.
   */
  read(addr: number, len: number): Uint8Array;
}

/** An open fd as /proc/<pid>/fd and fdinfo show it. */
export interface ProcFd {
  readonly fd: number;
  readonly file: FileDescription;
  readonly cloexec: boolean;
}

/**
 * A thread (Linux task) and, through it, its thread group. Getters are evaluated when
 * read, so a ProcTask taken at open time describes the task at that moment.
 */
export interface ProcTask {
  readonly tid: number;
  /** Thread-group id (the process's pid). */
  readonly tgid: number;
  /** Thread ids of the group, ascending (empty for a zombie process). */
  threads(): number[];
  /** Command name (at most 15 bytes). */
  readonly comm: string;
  /** Set the command name (writes to /proc/<pid>/comm by a thread of the same group). */
  setComm?(name: string): void;
  readonly state: ProcState;
  /** True once the whole thread group has exited and awaits its parent's wait. */
  readonly zombie: boolean;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  /** Controlling terminal (new_encode_dev) and its foreground group; 0 and -1 without one. */
  readonly ttyNr: number;
  readonly tpgid: number;
  readonly creds: Credentials;
  /** Start time since boot. */
  readonly startNs: bigint;
  /** CPU time in clock ticks (this thread for per-thread files; the group for /proc/<pid>). */
  readonly utime: number;
  readonly stime: number;
  /** Reaped children's CPU time, in clock ticks. */
  readonly cutime: number;
  readonly cstime: number;
  readonly nice: number;
  readonly exitSignal: number;
  /** Wait status once exited, else 0. */
  readonly exitCode: number;
  /** CPU affinity mask. */
  readonly cpusAllowed: bigint;
  /** Pending (this thread), shared-pending (group), blocked, ignored and caught signals. */
  readonly sigPending: bigint;
  readonly sigSharedPending: bigint;
  readonly sigBlocked: bigint;
  readonly sigIgnored: bigint;
  readonly sigCaught: bigint;
  /** Signals queued to this task's user (SigQ numerator). */
  readonly sigQueued: number;
  /** Resource limits [soft, hard] by RLIMIT_* index (RLIM_INFINITY = 2^64-1). */
  readonly limits: readonly (readonly [bigint, bigint])[];
  readonly noNewPrivs: boolean;
  readonly umask: number;
  readonly oomScoreAdj: number;
  setOomScoreAdj?(v: number): void;
  /** Voluntary / involuntary context switches (0 when not counted). */
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  /** The address space, or null (zombie, exited). */
  readonly mm: ProcMm | null;
  /** Open fds in ascending order, or null when the task has no fd table any more. */
  fds(): ProcFd[] | null;
  /** One fd, or null. */
  fd(n: number): ProcFd | null;
  /** Size of the fd table (FDSize). */
  readonly fdTableSize: number;
  /** Root and working directory, or null (zombie). */
  root(): VirtualDentry | null;
  cwd(): VirtualDentry | null;
}

/** Memory totals for /proc/meminfo, in bytes. */
export interface ProcMemInfo {
  total: number;
  free: number;
  available: number;
  buffers: number;
  cached: number;
  /** Shared memory and tmpfs data. */
  shmem: number;
  /** Private anonymous memory of all processes. */
  anon: number;
  /** File-backed mapped memory. */
  mapped: number;
  swapTotal: number;
  swapFree: number;
}

/** A filesystem type for /proc/filesystems. */
export interface ProcFsType {
  name: string;
  /** Needs no block device ("nodev" column). */
  nodev: boolean;
}

export interface ProcSource {
  // ---- processes ----
  /** Thread-group ids of every process (running, stopped or zombie), ascending. */
  pids(): number[];
  /** Thread `tid` (any thread of any process, or a zombie process's leader), or null. */
  task(tid: number): ProcTask | null;
  /**
   * The calling task for /proc/self and /proc/thread-self. `t` is the caller when the VFS
   * passes it; without it the source returns the task whose syscall is being served, or
   * null when it cannot tell.
   */
  caller(t?: TaskApi): { tid: number; tgid: number } | null;
  /** Tasks created since boot (/proc/stat "processes"). */
  forks(): number;
  /** Most recently allocated pid (/proc/loadavg). */
  lastPid(): number;

  // ---- system ----
  /** Time since the sandbox booted. */
  uptimeNs(): bigint;
  /** Boot time, seconds since the epoch (/proc/stat btime). */
  bootTimeSec(): number;
  /** Number of CPUs the sandbox has (cpu0 .. cpuN-1). */
  cpus(): number;
  /** The host's /proc/cpuinfo text (procfs keeps the first `cpus()` entries). */
  hostCpuinfo(): string;
  memInfo(): ProcMemInfo;
  /** 1, 5 and 15 minute load averages. */
  loadavg(): [number, number, number];
  hostname(): string;
  setHostname?(name: string): void;
  domainname(): string;
  setDomainname?(name: string): void;
  /** A UUID fixed for the sandbox's life (/proc/sys/kernel/random/boot_id). */
  bootId(): string;
  /** Registered filesystem types. */
  filesystems(): ProcFsType[];
}
