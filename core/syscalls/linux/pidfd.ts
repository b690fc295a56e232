/**
 * Process handles and cross-process memory: pidfd_open, pidfd_send_signal, pidfd_getfd
 * (waitid's P_PIDFD and CLONE_PIDFD are in process.ts and Kernel.clone), process_vm_readv
 * and process_vm_writev between processes of the sandbox, and membarrier.
 *
 * membarrier: every app thread of a sandbox runs on one CPU shared with the sentry's
 * tracer (the ptrace platform pins them, see plugins/platform-ptrace/README.md), and a
 * thread only runs again after a full switch through the sentry; so the barrier every
 * command asks for is already implied, and the commands succeed without doing anything.
 * Registration is still tracked per process so PRIVATE_EXPEDITED without registration
 * fails with EPERM as Linux, and MEMBARRIER_CMD_GET_REGISTRATIONS answers.
 */
import { EBADF, EFAULT, EINVAL, EPERM, ESRCH, SysError } from '../../abi/errno';
import { CAP_KILL, CAP_SYS_PTRACE, capable } from '../../kernel/caps';
import { procDirPid } from '../../fs/proc';
import type { SyscallArgs } from '../../kernel/api';
import type { Task } from '../../kernel/task';
import type { ThreadGroup } from '../../kernel/threadgroup';
import { PIDFD_NONBLOCK, PIDFD_THREAD, PidFd, pidfdExited } from '../../fs/anon/pidfd';
import type { MemoryManager } from '../../mm/mm';
import { O_RDWR } from '../../vfs/abi';
import type { FdTable } from '../../vfs/fdtable';
import type { SyscallDef } from '../types';

type A = SyscallArgs;

const PIDFD_SIGNAL_THREAD = 1,
  PIDFD_SIGNAL_PROCESS_GROUP = 4;
const SI_USER = 0,
  SI_TKILL = -6;
const UIO_MAXIOV = 1024;
const PAGE = 4096;

function filesOf(t: Task): FdTable {
  return t.files as unknown as FdTable;
}

/** Make a pidfd for `tg` in t's table (always close-on-exec, as Linux). Wires the exit wake-up. */
export function installPidfd(t: Task, tg: ThreadGroup, flags: number): number {
  const f = new PidFd(tg, O_RDWR | (flags & PIDFD_NONBLOCK));
  if (tg.exitStatus < 0 && !hooked.has(tg)) {
    hooked.add(tg);
    tg.exitHooks.push(() => pidfdExited(tg));
  }
  return filesOf(t).install(f, true);
}
const hooked = new WeakSet<ThreadGroup>();

/** The process a pidfd names: EBADF when fd is not open or not a pidfd. */
export function pidfdTarget(t: Task, fd: number): { tg: ThreadGroup; file: PidFd } {
  const f = filesOf(t).get(fd);
  if (!(f instanceof PidFd)) throw new SysError(EBADF);
  return { tg: f.target as ThreadGroup, file: f };
}

/** PidfdOpen implements Linux syscall pidfd_open(2). */
export function PidfdOpen(t: Task, a: A): number {
  const pid = a.int(0);
  const flags = a.uint(1);
  if (flags & ~(PIDFD_NONBLOCK | PIDFD_THREAD)) return -EINVAL;
  if (pid <= 0) return -EINVAL;
  const tg = t.kernel.tgs.get(pid);
  if (!tg) {
    const th = t.kernel.tasks.get(pid);
    if (!th) return -ESRCH;
    // A thread that is not a group leader: only PIDFD_THREAD names one (not supported).
    return -EINVAL;
  }
  if (tg.reaped) return -ESRCH;
  return installPidfd(t, tg, flags);
}

/** May t act on tg as ptrace's PTRACE_MODE_ATTACH_REALCREDS requires (same uids, or CAP_SYS_PTRACE)? */
function mayAccess(t: Task, tg: ThreadGroup): boolean {
  if (tg === t.tg || capable(t, CAP_SYS_PTRACE)) return true;
  const l = tg.leader;
  if (!l) return false;
  const c = l.creds;
  return [c.uid, c.euid, c.suid].every((u) => u === t.creds.uid) && tg.dumpable !== 0;
}

/** PidfdSendSignal implements Linux syscall pidfd_send_signal(2). */
export function PidfdSendSignal(t: Task, a: A): number {
  const sig = a.int(1);
  const infoAddr = a.ptr(2);
  const flags = a.uint(3);
  // PIDFD_SIGNAL_THREAD, _THREAD_GROUP, _PROCESS_GROUP (Linux 6.9): at most one.
  if (flags & ~7 || (flags & (flags - 1)) !== 0) return -EINVAL;
  // As Linux's pidfd_to_pid, an fd of a /proc/<pid> directory names that process too.
  const procPid = procDirPid(filesOf(t).get(a.int(0))?.inode);
  let tg: ThreadGroup;
  if (procPid !== null) {
    const g = t.kernel.tgs.get(procPid);
    if (!g) return -ESRCH;
    tg = g;
  } else tg = pidfdTarget(t, a.int(0)).tg;
  if (sig < 0 || sig > 64) return -EINVAL;
  let code = SI_USER;
  let info: { pid?: number; uid?: number; value?: bigint } = { pid: t.tg.pid, uid: t.creds.uid };
  if (infoAddr) {
    const b = Buffer.from(t.mm.copyIn(infoAddr, 128));
    if (b.readInt32LE(0) !== sig) return -EINVAL;
    code = b.readInt32LE(8);
    if ((code >= 0 || code === SI_TKILL) && tg !== t.tg) return -EPERM;
    info = { pid: b.readInt32LE(16), uid: b.readUInt32LE(20), value: b.readBigUInt64LE(24) };
  }
  if (tg.reaped || tg.exitStatus >= 0) {
    // A zombie still exists until it is reaped: signals to it succeed and do nothing.
    return tg.reaped ? -ESRCH : 0;
  }
  if (!mayKill(t, tg)) return -EPERM;
  if (!sig) return 0;
  const si = { signo: sig, code, ...info };
  if (flags === PIDFD_SIGNAL_THREAD) {
    const leader = tg.leader;
    if (leader) t.kernel.signalTask(leader, si);
  } else if (flags === PIDFD_SIGNAL_PROCESS_GROUP) {
    for (const g of t.kernel.processGroup(tg.pgid)) if (mayKill(t, g)) t.kernel.signalGroup(g, si);
  } else t.kernel.signalGroup(tg, si);
  return 0;
}

/** kill(2)'s permission rule: CAP_KILL, or the sender's real/effective uid is the target's real/saved uid. */
function mayKill(t: Task, tg: ThreadGroup): boolean {
  if (capable(t, CAP_KILL)) return true;
  const l = tg.leader;
  if (!l) return true;
  return [t.creds.uid, t.creds.euid].some((u) => u === l.creds.uid || u === l.creds.suid);
}

/** PidfdGetfd implements Linux syscall pidfd_getfd(2). */
export function PidfdGetfd(t: Task, a: A): number {
  const targetFd = a.int(1);
  if (a.uint(2) !== 0) return -EINVAL;
  const { tg } = pidfdTarget(t, a.int(0));
  const leader = tg.leader;
  if (tg.exitStatus >= 0 || !leader) return -ESRCH;
  if (!mayAccess(t, tg)) return -EPERM;
  const f = filesOf(leader as Task).get(targetFd);
  if (!f) return -EBADF;
  return filesOf(t).install(f.incRef(), true);
}

const CLONE_PIDFD = 0x1000,
  CLONE_THREAD = 0x10000,
  CLONE_PARENT_SETTID = 0x100000,
  CLONE_DETACHED = 0x400000;

/**
 * clone/clone3 with CLONE_PIDFD: the child is created as usual, then a pidfd for it
 * (close-on-exec) is installed in the parent's table and its number stored as an int at
 * `pidfdAddr` (clone's parent_tid, clone3's args.pidfd). `legacy`: clone(2), where
 * CLONE_PARENT_SETTID would share that field (EINVAL). Pidfds of threads (CLONE_THREAD,
 * Linux 6.9) are not supported: EINVAL.
 */
export function cloneWithPidfd(
  t: Task,
  flags: number,
  stack: number,
  ptid: number,
  ctid: number,
  tls: number,
  pidfdAddr: number,
  legacy: boolean,
): number | Promise<number> {
  if (flags & (CLONE_THREAD | CLONE_DETACHED)) return -EINVAL;
  if (legacy && flags & CLONE_PARENT_SETTID) return -EINVAL;
  t.mm.writeI32(pidfdAddr, -1); // EFAULT before anything is created
  const r = t.kernel.clone(t, flags & ~CLONE_PIDFD, stack, ptid, ctid, tls);
  const finish = (pid: number): number => {
    const tg = t.kernel.tgs.get(pid);
    if (tg) t.mm.writeI32(pidfdAddr, installPidfd(t, tg, 0));
    return pid;
  };
  return typeof r === 'number' ? finish(r) : r.then(finish);
}

// ---------------------------------------------------------------- process_vm_readv / writev

interface Iov {
  base: number;
  len: number;
}

function readIovecs(t: Task, addr: number, cnt: number): Iov[] {
  const out: Iov[] = [];
  if (cnt === 0) return out;
  const raw = t.mm.copyIn(addr, cnt * 16);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = Number(dv.getBigUint64(i * 16, true));
    const len = dv.getBigInt64(i * 16 + 8, true);
    if (len < 0n) throw new SysError(EINVAL);
    total += Number(len);
    if (total > 0x7fffffff) throw new SysError(EINVAL);
    out.push({ base, len: Number(len) });
  }
  return out;
}

/**
 * Copy between the caller's local iovecs and the target's remote ones. The remote side
 * is walked page by page with the target's protections (a read needs PROT_READ, a write
 * PROT_WRITE), and the transfer stops at the first remote page that faults; the count
 * copied so far is returned, or EFAULT when nothing was.
 */
function processVm(t: Task, a: A, write: boolean): number {
  const pid = a.int(0);
  const lcnt = a.ptr(2);
  const rcnt = a.ptr(4);
  if (a.ptr(5) !== 0) return -EINVAL;
  if (lcnt > UIO_MAXIOV || rcnt > UIO_MAXIOV) return -EINVAL;
  const local = readIovecs(t, a.ptr(1), lcnt);
  const remote = readIovecs(t, a.ptr(3), rcnt);
  const tg = pid > 0 ? t.kernel.tgs.get(pid) : undefined;
  const th = tg ? undefined : t.kernel.tasks.get(pid);
  const target = tg ?? th?.tg;
  if (!target || target.exitStatus >= 0) return -ESRCH;
  const mm: MemoryManager | null = target.mm;
  if (!mm) return -ESRCH;
  if (!mayAccess(t, target)) return -EPERM;
  // Local segments (EFAULT if the caller's own buffers are bad).
  const lsegs: Uint8Array[] = [];
  for (const l of local)
    if (l.len)
      for (const v of write ? t.mm.readViews(l.base, l.len) : t.mm.writeViews(l.base, l.len)) lsegs.push(v);
  let li = 0;
  let loff = 0;
  let done = 0;
  for (const r of remote) {
    let addr = r.base;
    let left = r.len;
    while (left > 0 && li < lsegs.length) {
      const chunk = Math.min(left, PAGE - (addr % PAGE));
      let views: Uint8Array[];
      try {
        views = write ? mm.writeViews(addr, chunk) : mm.readViews(addr, chunk);
      } catch (e) {
        if (e instanceof SysError) return done > 0 ? done : -EFAULT;
        throw e;
      }
      for (const v of views) {
        let voff = 0;
        while (voff < v.length && li < lsegs.length) {
          const ls = lsegs[li];
          const n = Math.min(v.length - voff, ls.length - loff);
          if (write) v.set(ls.subarray(loff, loff + n), voff);
          else ls.set(v.subarray(voff, voff + n), loff);
          voff += n;
          loff += n;
          done += n;
          if (loff === ls.length) {
            li++;
            loff = 0;
          }
        }
      }
      addr += chunk;
      left -= chunk;
    }
  }
  return done;
}

/** ProcessVmReadv implements Linux syscall process_vm_readv(2). */
export function ProcessVmReadv(t: Task, a: A): number {
  return processVm(t, a, false);
}

/** ProcessVmWritev implements Linux syscall process_vm_writev(2). */
export function ProcessVmWritev(t: Task, a: A): number {
  return processVm(t, a, true);
}

// ---------------------------------------------------------------- membarrier

export const MEMBARRIER_CMD_QUERY = 0,
  MEMBARRIER_CMD_GLOBAL = 1,
  MEMBARRIER_CMD_GLOBAL_EXPEDITED = 2,
  MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 4,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED = 8,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 16,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 32,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 64,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 128,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 256,
  MEMBARRIER_CMD_GET_REGISTRATIONS = 512,
  MEMBARRIER_CMD_FLAG_CPU = 1;
const SUPPORTED = 0x3ff;

/** Registrations per address space (Linux keeps them in the mm). */
const registrations = new WeakMap<object, number>();

/** Membarrier implements Linux syscall membarrier(2). */
export function Membarrier(t: Task, a: A): number {
  const cmd = a.int(0);
  const flags = a.uint(1);
  if (cmd === MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) {
    if (flags & ~MEMBARRIER_CMD_FLAG_CPU) return -EINVAL;
  } else if (flags !== 0) return -EINVAL;
  const key = t.mm;
  const reg = registrations.get(key) ?? 0;
  const need = (register: number): number => (reg & register ? 0 : -EPERM);
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
      return SUPPORTED;
    case MEMBARRIER_CMD_GLOBAL:
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
      return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
      return need(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE:
      return need(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE);
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ:
      return need(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ:
      registrations.set(key, reg | cmd);
      return 0;
    case MEMBARRIER_CMD_GET_REGISTRATIONS:
      return reg;
    default:
      return -EINVAL;
  }
}

export const pidfdSyscalls: SyscallDef<Task>[] = [
  {
    nr: 434,
    name: 'pidfd_open',
    handler: PidfdOpen,
    support: 'partial',
    note: 'PIDFD_THREAD on a non-leader thread gives EINVAL',
    args: ['int', 'hex'],
  },
  {
    nr: 424,
    name: 'pidfd_send_signal',
    handler: PidfdSendSignal,
    support: 'partial',
    note: '/proc/<pid> directory fds are not accepted as pidfds',
    args: ['fd', 'signal', 'ptr', 'hex'],
  },
  { nr: 438, name: 'pidfd_getfd', handler: PidfdGetfd, support: 'full', args: ['fd', 'fd', 'hex'] },
  {
    nr: 310,
    name: 'process_vm_readv',
    handler: ProcessVmReadv,
    support: 'full',
    note: 'processes of the same sandbox',
    args: ['int', 'ptr', 'uint', 'ptr', 'uint', 'hex'],
  },
  {
    nr: 311,
    name: 'process_vm_writev',
    handler: ProcessVmWritev,
    support: 'full',
    note: 'processes of the same sandbox',
    args: ['int', 'ptr', 'uint', 'ptr', 'uint', 'hex'],
  },
  {
    nr: 324,
    name: 'membarrier',
    handler: Membarrier,
    support: 'full',
    note: 'app threads share one CPU under ptrace pinning, so every barrier is implied; registrations are tracked',
    args: ['int', 'hex', 'int'],
  },
];
