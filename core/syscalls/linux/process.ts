/** Process and thread lifecycle, ids, credentials, limits and system information syscalls. */
import {
  EAGAIN,
  ECHILD,
  EFAULT,
  EINVAL,
  EPERM,
  ESRCH,
  E2BIG,
  ENAMETOOLONG,
  SysError,
  ENOSYS,
} from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import {
  CLONE_VFORK,
  CLONE_VM,
  WCONTINUED,
  WEXITED,
  WNOHANG,
  WNOWAIT,
  WSTOPPED,
  __WALL,
  __WCLONE,
  __WNOTHREAD,
} from '../../kernel/kernel';
import {
  afterSetfsuid,
  afterSetuid,
  CAP_FULL,
  CAP_SETGID,
  CAP_SETPCAP,
  CAP_SETUID,
  CAP_SYS_ADMIN,
  CAP_SYS_NICE,
  CAP_SYS_RESOURCE,
  capable,
  capBit,
  capValid,
  SECBIT_KEEP_CAPS,
  SECBIT_KEEP_CAPS_LOCKED,
  SECBIT_NO_CAP_AMBIENT_RAISE,
  SECURE_ALL_BITS,
  SECURE_ALL_LOCKS,
} from '../../kernel/caps';
import type { Task } from '../../kernel/task';
import {
  RLIM_INFINITY,
  RLIMIT_NOFILE,
  RLIMIT_STACK,
  RLIM_NLIMITS,
  type ThreadGroup,
} from '../../kernel/threadgroup';
import { Reg } from '../../plugins/platform';
import type { SyscallDef } from '../types';
import { cloneWithPidfd, pidfdTarget } from './pidfd';
import { SIGCHLD } from '../../kernel/signal-defs';
import * as os from 'node:os';
import { randomFillSync } from 'node:crypto';

type A = SyscallArgs;

const MAX_ARG_STRLEN = 131072;
const MAX_ARGS_BYTES = 2 * 1024 * 1024;

/** Read a NULL-terminated array of strings (argv/envp). */
function readStrv(t: Task, addr: number): string[] {
  const out: string[] = [];
  if (!addr) return out;
  let total = 0;
  for (let i = 0; ; i++) {
    const p = t.mm.readU64(addr + i * 8);
    if (!p) break;
    let s: string;
    try {
      s = t.mm.readCString(p, MAX_ARG_STRLEN);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENAMETOOLONG) throw new SysError(E2BIG);
      throw e;
    }
    total += Buffer.byteLength(s) + 1 + 8;
    if (total > MAX_ARGS_BYTES) throw new SysError(E2BIG);
    out.push(s);
  }
  return out;
}

/** clone implements Linux syscall clone(2) (x86-64 argument order: flags, stack, ptid, ctid, tls). */
export function clone(t: Task, a: A) {
  if (a.uint(0) & 0x1000 /* CLONE_PIDFD */)
    return cloneWithPidfd(t, a.uint(0), a.ptr(1), a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(2), true);
  return t.kernel.clone(t, a.uint(0), a.ptr(1), a.ptr(2), a.ptr(3), a.ptr(4));
}

/** clone3 implements Linux syscall clone3(2). */
export function clone3(t: Task, a: A) {
  const size = a.ptr(1);
  if (size < 64 || size > 4096) return -EINVAL;
  const b = Buffer.from(t.mm.copyIn(a.ptr(0), Math.min(size, 88)));
  const flags = Number(b.readBigUInt64LE(0));
  const childTid = Number(b.readBigUInt64LE(16));
  const parentTid = Number(b.readBigUInt64LE(24));
  const exitSignal = Number(b.readBigUInt64LE(32));
  const stack = Number(b.readBigUInt64LE(40));
  const stackSize = Number(b.readBigUInt64LE(48));
  const tls = Number(b.readBigUInt64LE(56));
  if (flags > 0xffffffff || exitSignal > 64) return -EINVAL;
  if ((stack === 0) !== (stackSize === 0)) return -EINVAL;
  if (size >= 72 && b.length >= 72 && b.readBigUInt64LE(64) !== 0n) return -EINVAL; // set_tid unsupported
  const cflags = (flags & ~0xff) | exitSignal;
  const top = stack ? stack + stackSize : 0;
  if (flags & 0x1000 /* CLONE_PIDFD */)
    return cloneWithPidfd(t, cflags, top, parentTid, childTid, tls, Number(b.readBigUInt64LE(8)), false);
  return t.kernel.clone(t, cflags, top, parentTid, childTid, tls);
}

/** fork implements Linux syscall fork(2). */
export function fork(t: Task) {
  return t.kernel.clone(t, SIGCHLD, 0, 0, 0, 0);
}

/** vfork implements Linux syscall vfork(2). */
export function vfork(t: Task) {
  return t.kernel.clone(t, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
}

/** execve implements Linux syscall execve(2). */
export function execve(t: Task, a: A) {
  const path = t.mm.readCString(a.ptr(0), 4095);
  const argv = readStrv(t, a.ptr(1));
  const envp = readStrv(t, a.ptr(2));
  return t.kernel.execve(t, path, argv, envp);
}

/** execveat implements Linux syscall execveat(2) for AT_FDCWD-relative and absolute paths. */
export function execveat(t: Task, a: A) {
  const dirfd = a.int(0);
  const path = t.mm.readCString(a.ptr(1), 4095);
  const flags = a.int(4);
  if (flags & ~(0x100 | 0x1000)) return -EINVAL;
  if (path === '' || (dirfd !== -100 && !path.startsWith('/'))) return -ENOSYS;
  return t.kernel.execve(t, path, readStrv(t, a.ptr(2)), readStrv(t, a.ptr(3)));
}

/** exit implements Linux syscall exit(2): only the calling thread ends. */
export function exit(t: Task, a: A) {
  t.exitCode = a.int(0) & 0xff;
  t.exitThread();
  return 0;
}

/** exit_group implements Linux syscall exit_group(2). */
export function exit_group(t: Task, a: A) {
  t.exitCode = a.int(0) & 0xff;
  t.kernel.groupExit(t.tg, (a.int(0) & 0xff) << 8);
  t.exitThread();
  return 0;
}

function waitArgs(pid: number, callerPgid: number): [number, number] {
  if (pid > 0) return [1, pid];
  if (pid === -1) return [0, 0];
  if (pid === 0) return [2, callerPgid];
  return [2, -pid];
}

/** wait4 implements Linux syscall wait4(2). */
export async function wait4(t: Task, a: A): Promise<number> {
  const pid = a.int(0);
  const statusAddr = a.ptr(1);
  const options = a.int(2);
  if (options & ~(WNOHANG | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) return -EINVAL;
  if (pid === -2147483648) return -ESRCH;
  const [idtype, id] = waitArgs(pid, t.tg.pgid);
  const r = await t.kernel.wait(t, idtype, id, options | WEXITED);
  if (typeof r === 'number') return r;
  if (!r) return 0;
  if (statusAddr) t.mm.writeI32(statusAddr, r.status);
  if (a.ptr(3)) t.mm.copyOut(a.ptr(3), encodeRusage(r.userNs ?? 0, r.sysNs ?? 0));
  return r.pid;
}

/** waitid implements Linux syscall waitid(2). */
export async function waitid(t: Task, a: A): Promise<number> {
  const idtype = a.int(0);
  const id = a.int(1);
  const infop = a.ptr(2);
  const options = a.int(3);
  if (options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WCLONE | __WALL))
    return -EINVAL;
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return -EINVAL;
  let it: number,
    iid: number,
    pidfdNonblock = false;
  if (idtype === 0) [it, iid] = [0, 0];
  else if (idtype === 1) {
    if (id <= 0) return -EINVAL;
    [it, iid] = [1, id];
  } else if (idtype === 2) {
    if (id < 0) return -EINVAL;
    [it, iid] = [2, id === 0 ? t.tg.pgid : id];
  } else if (idtype === 3 /* P_PIDFD */) {
    if (id < 0) return -EINVAL;
    const { tg, file } = pidfdTarget(t, id);
    [it, iid, pidfdNonblock] = [1, tg.pid, (file.flags & 0o4000) !== 0 && !(options & WNOHANG)];
  } else return -EINVAL;
  const r = await t.kernel.wait(t, it, iid, pidfdNonblock ? options | WNOHANG : options);
  if (typeof r === 'number') return r;
  if (!r && pidfdNonblock) return -EAGAIN;
  if (infop) {
    const b = Buffer.alloc(128);
    if (r) {
      b.writeInt32LE(SIGCHLD, 0);
      b.writeInt32LE(r.code, 8);
      b.writeInt32LE(r.pid, 16);
      b.writeUInt32LE(r.uid, 20);
      b.writeInt32LE(r.value, 24);
    }
    t.mm.copyOut(infop, b);
  }
  if (a.ptr(4)) t.mm.copyOut(a.ptr(4), encodeRusage(r?.userNs ?? 0, r?.sysNs ?? 0));
  return 0;
}

/** getpid implements Linux syscall getpid(2). */
export function getpid(t: Task) {
  return t.tg.pid;
}
/** getppid implements Linux syscall getppid(2). */
export function getppid(t: Task) {
  return t.tg.parent && t.tg.parent.exitStatus < 0 ? t.tg.parent.pid : 0;
}
/** gettid implements Linux syscall gettid(2). */
export function gettid(t: Task) {
  return t.tid;
}

/** set_tid_address implements Linux syscall set_tid_address(2). */
export function set_tid_address(t: Task, a: A) {
  t.clearChildTid = a.ptr(0);
  return t.tid;
}

/** set_robust_list implements Linux syscall set_robust_list(2). */
export function set_robust_list(t: Task, a: A) {
  if (a.ptr(1) !== 24) return -EINVAL;
  t.robustList = a.ptr(0);
  t.robustListLen = 24;
  return 0;
}

/** get_robust_list implements Linux syscall get_robust_list(2). */
export function get_robust_list(t: Task, a: A) {
  const pid = a.int(0);
  const o = pid === 0 ? t : t.kernel.tasks.get(pid);
  if (!o) return -ESRCH;
  t.mm.writeU64(a.ptr(1), o.robustList);
  t.mm.writeU64(a.ptr(2), 24);
  return 0;
}

function findTg(t: Task, pid: number) {
  if (pid === 0) return t.tg;
  const tg = t.kernel.tgs.get(pid);
  return tg && tg.exitStatus < 0 ? tg : undefined;
}

/** getpgid implements Linux syscall getpgid(2). */
export function getpgid(t: Task, a: A) {
  const tg = findTg(t, a.int(0));
  return tg ? tg.pgid : -ESRCH;
}
/** getpgrp implements Linux syscall getpgrp(2). */
export function getpgrp(t: Task) {
  return t.tg.pgid;
}
/** getsid implements Linux syscall getsid(2). */
export function getsid(t: Task, a: A) {
  const tg = findTg(t, a.int(0));
  return tg ? tg.sid : -ESRCH;
}

/** setpgid implements Linux syscall setpgid(2). */
export function setpgid(t: Task, a: A) {
  const pid = a.int(0) || t.tg.pid;
  let pgid = a.int(1);
  if (pgid < 0) return -EINVAL;
  const tg = t.kernel.tgs.get(pid);
  if (!tg || tg.exitStatus >= 0) return -ESRCH;
  if (tg !== t.tg && tg.parent !== t.tg) return -ESRCH;
  if (tg.parent === t.tg && tg.sid !== t.tg.sid) return -EPERM;
  if (tg.sid === tg.pid) return -EPERM; // session leader
  if (!pgid) pgid = tg.pid;
  if (pgid !== tg.pid) {
    const members = t.kernel.processGroup(pgid);
    if (!members.length || members[0].sid !== t.tg.sid) return -EPERM;
  }
  tg.pgid = pgid;
  return 0;
}

/** setsid implements Linux syscall setsid(2). */
export function setsid(t: Task) {
  const tg = t.tg;
  if (tg.pgid === tg.pid || t.kernel.processGroup(tg.pid).length) return -EPERM;
  tg.sid = tg.pgid = tg.pid;
  return tg.pid;
}

// ---- credentials ----

const NO_ID = 0xffffffff;

/** getuid implements Linux syscall getuid(2). */
export const getuid = (t: Task) => t.creds.uid;
/** geteuid implements Linux syscall geteuid(2). */
export const geteuid = (t: Task) => t.creds.euid;
/** getgid implements Linux syscall getgid(2). */
export const getgid = (t: Task) => t.creds.gid;
/** getegid implements Linux syscall getegid(2). */
export const getegid = (t: Task) => t.creds.egid;

/** Commit new uids: the capability fix-ups of setuid(2)/setreuid(2)/setresuid(2). */
function commitUids(t: Task, uid: number, euid: number, suid: number, fsuid: number) {
  const c = t.creds;
  const old = { uid: c.uid, euid: c.euid, suid: c.suid };
  c.uid = uid;
  c.euid = euid;
  c.suid = suid;
  c.fsuid = fsuid;
  afterSetuid(old, c);
  return 0;
}

/** setuid implements Linux syscall setuid(2). */
export function setuid(t: Task, a: A) {
  const uid = a.uint(0);
  if (uid === NO_ID) return -EINVAL;
  const c = t.creds;
  if (capable(t, CAP_SETUID)) return commitUids(t, uid, uid, uid, uid);
  if (uid === c.uid || uid === c.suid) return commitUids(t, c.uid, uid, c.suid, uid);
  return -EPERM;
}
/** setgid implements Linux syscall setgid(2). */
export function setgid(t: Task, a: A) {
  const gid = a.uint(0);
  if (gid === NO_ID) return -EINVAL;
  const c = t.creds;
  if (capable(t, CAP_SETGID)) c.gid = c.egid = c.sgid = c.fsgid = gid;
  else if (gid === c.gid || gid === c.sgid) c.egid = c.fsgid = gid;
  else return -EPERM;
  return 0;
}

/** setresuid implements Linux syscall setresuid(2). */
export function setresuid(t: Task, a: A) {
  const r = a.uint(0),
    e = a.uint(1),
    s = a.uint(2);
  const c = t.creds;
  const cur = [c.uid, c.euid, c.suid];
  const ok = (v: number) => v === NO_ID || cur.includes(v);
  if (!(ok(r) && ok(e) && ok(s)) && !capable(t, CAP_SETUID)) return -EPERM;
  const ne = e === NO_ID ? c.euid : e;
  return commitUids(t, r === NO_ID ? c.uid : r, ne, s === NO_ID ? c.suid : s, ne);
}
/** setresgid implements Linux syscall setresgid(2). */
export function setresgid(t: Task, a: A) {
  const r = a.uint(0),
    e = a.uint(1),
    s = a.uint(2);
  const c = t.creds;
  const cur = [c.gid, c.egid, c.sgid];
  const ok = (v: number) => v === NO_ID || cur.includes(v);
  if (!(ok(r) && ok(e) && ok(s)) && !capable(t, CAP_SETGID)) return -EPERM;
  if (r !== NO_ID) c.gid = r;
  if (e !== NO_ID) c.egid = e;
  if (s !== NO_ID) c.sgid = s;
  c.fsgid = c.egid;
  return 0;
}
/** setreuid implements Linux syscall setreuid(2). */
export function setreuid(t: Task, a: A) {
  const r = a.uint(0),
    e = a.uint(1);
  const c = t.creds;
  const priv = capable(t, CAP_SETUID);
  if (r !== NO_ID && r !== c.uid && r !== c.euid && !priv) return -EPERM;
  if (e !== NO_ID && e !== c.uid && e !== c.euid && e !== c.suid && !priv) return -EPERM;
  const nr = r === NO_ID ? c.uid : r;
  const ne = e === NO_ID ? c.euid : e;
  // The saved id follows the effective one when the real id is set or the effective one differs from the old real id.
  const ns = r !== NO_ID || (e !== NO_ID && e !== c.uid) ? ne : c.suid;
  return commitUids(t, nr, ne, ns, ne);
}
/** setregid implements Linux syscall setregid(2). */
export function setregid(t: Task, a: A) {
  const r = a.uint(0),
    e = a.uint(1);
  const c = t.creds;
  const priv = capable(t, CAP_SETGID);
  if (r !== NO_ID && r !== c.gid && r !== c.egid && !priv) return -EPERM;
  if (e !== NO_ID && e !== c.gid && e !== c.egid && e !== c.sgid && !priv) return -EPERM;
  const ng = r === NO_ID ? c.gid : r;
  const ne = e === NO_ID ? c.egid : e;
  if (r !== NO_ID || (e !== NO_ID && e !== c.gid)) c.sgid = ne;
  c.gid = ng;
  c.egid = c.fsgid = ne;
  return 0;
}
/** getresuid implements Linux syscall getresuid(2). */
export function getresuid(t: Task, a: A) {
  t.mm.writeU32(a.ptr(0), t.creds.uid);
  t.mm.writeU32(a.ptr(1), t.creds.euid);
  t.mm.writeU32(a.ptr(2), t.creds.suid);
  return 0;
}
/** getresgid implements Linux syscall getresgid(2). */
export function getresgid(t: Task, a: A) {
  t.mm.writeU32(a.ptr(0), t.creds.gid);
  t.mm.writeU32(a.ptr(1), t.creds.egid);
  t.mm.writeU32(a.ptr(2), t.creds.sgid);
  return 0;
}
/** setfsuid implements Linux syscall setfsuid(2): returns the previous fsuid. */
export function setfsuid(t: Task, a: A) {
  const c = t.creds;
  const old = c.fsuid;
  const v = a.uint(0);
  if (v === NO_ID) return old;
  if ([c.uid, c.euid, c.suid, c.fsuid].includes(v) || capable(t, CAP_SETUID)) {
    if (v !== old) {
      c.fsuid = v;
      afterSetfsuid(old, c);
    }
  }
  return old;
}
/** setfsgid implements Linux syscall setfsgid(2). */
export function setfsgid(t: Task, a: A) {
  const c = t.creds;
  const old = c.fsgid;
  const v = a.uint(0);
  if (v === NO_ID) return old;
  if ([c.gid, c.egid, c.sgid, c.fsgid].includes(v) || capable(t, CAP_SETGID)) c.fsgid = v;
  return old;
}
/** getgroups implements Linux syscall getgroups(2). */
export function getgroups(t: Task, a: A) {
  const n = a.int(0);
  const g = t.creds.groups;
  if (n < 0) return -EINVAL;
  if (n === 0) return g.length;
  if (n < g.length) return -EINVAL;
  const b = Buffer.alloc(g.length * 4);
  g.forEach((v, i) => b.writeUInt32LE(v, i * 4));
  t.mm.copyOut(a.ptr(1), b);
  return g.length;
}
/** setgroups implements Linux syscall setgroups(2) (the list is kept sorted, as Linux does). */
export function setgroups(t: Task, a: A) {
  const n = a.int(0);
  if (!capable(t, CAP_SETGID)) return -EPERM;
  if (n < 0 || n > 65536) return -EINVAL;
  const b = Buffer.from(t.mm.copyIn(a.ptr(1), n * 4));
  const g: number[] = [];
  for (let i = 0; i < n; i++) g.push(b.readUInt32LE(i * 4));
  t.creds.groups = g.sort((x, y) => x - y);
  return 0;
}

// ---- capabilities ----

const CAP_V1 = 0x19980330,
  CAP_V2 = 0x20071026,
  CAP_V3 = 0x20080522;

/**
 * Check the header's version: an unknown one is answered with the preferred version
 * written back and EINVAL. Returns the number of 32-bit words per set (1 for v1, 2 after).
 */
function capHeader(t: Task, hdr: number): number {
  const version = t.mm.readU32(hdr);
  if (version === CAP_V1) return 1;
  if (version === CAP_V2 || version === CAP_V3) return 2;
  t.mm.writeU32(hdr, CAP_V3);
  return -EINVAL;
}

/** capget implements Linux syscall capget(2): the sets of the caller or of another process. */
export function capget(t: Task, a: A) {
  const hdr = a.ptr(0),
    data = a.ptr(1);
  const words = capHeader(t, hdr);
  // Without a data pointer it only probes the version: 0 either way (the preferred one is written back).
  if (!data) return 0;
  if (words < 0) return words;
  const pid = t.mm.readI32(hdr + 4);
  if (pid < 0) return -EINVAL;
  let c = t.creds;
  if (pid !== 0 && pid !== t.tid) {
    const o = t.kernel.tasks.get(pid);
    if (!o) return -ESRCH;
    c = o.creds;
  }
  const b = Buffer.alloc(12 * words);
  for (let i = 0; i < words; i++) {
    const shift = BigInt(32 * i);
    b.writeUInt32LE(Number((c.capEff >> shift) & 0xffffffffn), i * 12);
    b.writeUInt32LE(Number((c.capPrm >> shift) & 0xffffffffn), i * 12 + 4);
    b.writeUInt32LE(Number((c.capInh >> shift) & 0xffffffffn), i * 12 + 8);
  }
  t.mm.copyOut(data, b);
  return 0;
}

/** capset implements Linux syscall capset(2) with Linux's rules (cap_capset). */
export function capset(t: Task, a: A) {
  const hdr = a.ptr(0),
    data = a.ptr(1);
  const words = capHeader(t, hdr);
  if (words < 0) return words;
  const pid = t.mm.readI32(hdr + 4);
  if (pid !== 0 && pid !== t.tid) return -EPERM;
  if (!data) return -EFAULT;
  const b = Buffer.from(t.mm.copyIn(data, 12 * words));
  let eff = 0n,
    prm = 0n,
    inh = 0n;
  for (let i = 0; i < words; i++) {
    const shift = BigInt(32 * i);
    eff |= BigInt(b.readUInt32LE(i * 12)) << shift;
    prm |= BigInt(b.readUInt32LE(i * 12 + 4)) << shift;
    inh |= BigInt(b.readUInt32LE(i * 12 + 8)) << shift;
  }
  eff &= CAP_FULL;
  prm &= CAP_FULL;
  inh &= CAP_FULL;
  const c = t.creds;
  const sub = (x: bigint, of: bigint) => (x & ~of) === 0n;
  // New inheritable bits need CAP_SETPCAP unless already permitted; never beyond the bounding set.
  if (!capable(t, CAP_SETPCAP) && !sub(inh, c.capInh | c.capPrm)) return -EPERM;
  if (!sub(inh, c.capInh | c.capBnd)) return -EPERM;
  if (!sub(prm, c.capPrm)) return -EPERM;
  if (!sub(eff, prm)) return -EPERM;
  c.capEff = eff;
  c.capPrm = prm;
  c.capInh = inh;
  c.capAmb &= prm & inh;
  return 0;
}

// ---- limits ----

function rlimOut(t: Task, addr: number, v: [bigint, bigint]) {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(v[0], 0);
  b.writeBigUInt64LE(v[1], 8);
  t.mm.copyOut(addr, b);
}

function setLimit(t: Task, tg: ThreadGroup, r: number, cur: bigint, max: bigint): number {
  if (cur > max) return -EINVAL;
  const old = tg.limits[r];
  if (max > old[1] && !capable(t, CAP_SYS_RESOURCE)) return -EPERM;
  if (r === RLIMIT_NOFILE && max > 1048576n && max !== RLIM_INFINITY) return -EPERM;
  if (r === RLIMIT_NOFILE && max === RLIM_INFINITY) return -EPERM;
  tg.limits[r] = [cur, max];
  // The process's descriptor table allocates below the new soft limit from now on.
  if (r === RLIMIT_NOFILE) for (const task of tg.tasks) task.files.limit = Number(cur);
  return 0;
}

/** getrlimit implements Linux syscall getrlimit(2). */
export function getrlimit(t: Task, a: A) {
  const r = a.uint(0);
  if (r >= RLIM_NLIMITS) return -EINVAL;
  rlimOut(t, a.ptr(1), t.tg.limits[r]);
  return 0;
}
/** setrlimit implements Linux syscall setrlimit(2). */
export function setrlimit(t: Task, a: A) {
  const r = a.uint(0);
  if (r >= RLIM_NLIMITS) return -EINVAL;
  const b = Buffer.from(t.mm.copyIn(a.ptr(1), 16));
  return setLimit(t, t.tg, r, b.readBigUInt64LE(0), b.readBigUInt64LE(8));
}
/** prlimit64 implements Linux syscall prlimit64(2). */
export function prlimit64(t: Task, a: A) {
  const pid = a.int(0);
  const r = a.uint(1);
  if (r >= RLIM_NLIMITS) return -EINVAL;
  const tg = findTg(t, pid);
  if (!tg) return -ESRCH;
  // Another process's limits: same real/effective/saved ids as the caller, or CAP_SYS_RESOURCE.
  const tc = tg.leader?.creds;
  if (tg !== t.tg && tc) {
    const c = t.creds;
    const idMatch =
      c.uid === tc.uid &&
      c.uid === tc.euid &&
      c.uid === tc.suid &&
      c.gid === tc.gid &&
      c.gid === tc.egid &&
      c.gid === tc.sgid;
    if (!idMatch && !capable(t, CAP_SYS_RESOURCE)) return -EPERM;
  }
  const old: [bigint, bigint] = [tg.limits[r][0], tg.limits[r][1]];
  if (a.ptr(2)) {
    const b = Buffer.from(t.mm.copyIn(a.ptr(2), 16));
    const e = setLimit(t, tg, r, b.readBigUInt64LE(0), b.readBigUInt64LE(8));
    if (e) return e;
  }
  if (a.ptr(3)) rlimOut(t, a.ptr(3), old);
  return 0;
}

// ---- system information ----

/** uname implements Linux syscall uname(2). */
export function uname(t: Task, a: A) {
  const b = Buffer.alloc(65 * 6);
  const fields = [
    'Linux',
    t.kernel.hostname,
    '4.4.0',
    '#1 SMP Sun Jan 10 15:06:54 PST 2016',
    'x86_64',
    t.kernel.domainname,
  ];
  fields.forEach((f, i) => b.write(f.slice(0, 64), i * 65, 'latin1'));
  t.mm.copyOut(a.ptr(0), b);
  return 0;
}

/** sethostname implements Linux syscall sethostname(2). */
export function sethostname(t: Task, a: A) {
  if (!capable(t, CAP_SYS_ADMIN)) return -EPERM;
  const n = a.int(1);
  if (n < 0 || n > 64) return -EINVAL;
  t.kernel.hostname = Buffer.from(t.mm.copyIn(a.ptr(0), n)).toString('latin1');
  return 0;
}
/** setdomainname implements Linux syscall setdomainname(2). */
export function setdomainname(t: Task, a: A) {
  if (!capable(t, CAP_SYS_ADMIN)) return -EPERM;
  const n = a.int(1);
  if (n < 0 || n > 64) return -EINVAL;
  t.kernel.domainname = Buffer.from(t.mm.copyIn(a.ptr(0), n)).toString('latin1');
  return 0;
}

/** sysinfo implements Linux syscall sysinfo(2). */
export function sysinfo(t: Task, a: A) {
  const b = Buffer.alloc(112);
  const up = Number((process.hrtime.bigint() - t.kernel.bootNs) / 1000000000n);
  b.writeBigInt64LE(BigInt(up), 0);
  const la = os.loadavg();
  la.forEach((l, i) => b.writeBigUInt64LE(BigInt(Math.round(l * 65536)), 8 + i * 8));
  b.writeBigUInt64LE(BigInt(os.totalmem()), 32);
  b.writeBigUInt64LE(BigInt(os.freemem()), 40);
  b.writeUInt16LE(Math.min(t.kernel.tasks.size, 65535), 80);
  b.writeUInt32LE(1, 104); // mem_unit
  t.mm.copyOut(a.ptr(0), b);
  return 0;
}

/** getrandom implements Linux syscall getrandom(2). */
export function getrandom(t: Task, a: A) {
  const flags = a.uint(2);
  if (flags & ~7) return -EINVAL;
  const len = Math.min(a.ptr(1), 33554431);
  let done = 0;
  for (const v of t.mm.writeViews(a.ptr(0), len)) {
    randomFillSync(v);
    done += v.length;
  }
  return done;
}

/** arch_prctl implements Linux syscall arch_prctl(2). */
export function arch_prctl(t: Task, a: A) {
  const code = a.int(0);
  switch (code) {
    case 0x1002: // ARCH_SET_FS
      if (a.ptr(1) >= 0x800000000000) return -EPERM;
      t.setReg(Reg.FS_BASE, a.ptr(1));
      return 0;
    case 0x1001: // ARCH_SET_GS
      if (a.ptr(1) >= 0x800000000000) return -EPERM;
      t.setReg(Reg.GS_BASE, a.ptr(1));
      return 0;
    case 0x1003: // ARCH_GET_FS
      t.mm.writeU64(a.ptr(1), t.reg(Reg.FS_BASE));
      return 0;
    case 0x1004: // ARCH_GET_GS
      t.mm.writeU64(a.ptr(1), t.reg(Reg.GS_BASE));
      return 0;
    case 0x1011: // ARCH_GET_CPUID
      return 1;
    case 0x1012: // ARCH_SET_CPUID
      return -ENOSYS;
    default:
      return -EINVAL;
  }
}

const PR_SET_PDEATHSIG = 1,
  PR_GET_PDEATHSIG = 2,
  PR_GET_DUMPABLE = 3,
  PR_SET_DUMPABLE = 4,
  PR_GET_KEEPCAPS = 7,
  PR_SET_KEEPCAPS = 8,
  PR_SET_NAME = 15,
  PR_GET_NAME = 16,
  PR_CAPBSET_READ = 23,
  PR_CAPBSET_DROP = 24,
  PR_GET_SECUREBITS = 27,
  PR_SET_SECUREBITS = 28,
  PR_CAP_AMBIENT = 47,
  PR_CAP_AMBIENT_IS_SET = 1,
  PR_CAP_AMBIENT_RAISE = 2,
  PR_CAP_AMBIENT_LOWER = 3,
  PR_CAP_AMBIENT_CLEAR_ALL = 4,
  PR_SET_CHILD_SUBREAPER = 36,
  PR_GET_CHILD_SUBREAPER = 37,
  PR_SET_NO_NEW_PRIVS = 38,
  PR_GET_NO_NEW_PRIVS = 39,
  PR_GET_TIMERSLACK = 30,
  PR_SET_TIMERSLACK = 29,
  PR_SET_MM = 35,
  PR_SET_VMA = 0x53564d41;

/** prctl(PR_CAP_AMBIENT, op, cap, 0, 0): the ambient set. */
function capAmbient(t: Task, a: A): number {
  const c = t.creds;
  const op = a.ptr(1),
    cap = a.ptr(2);
  if (op === PR_CAP_AMBIENT_CLEAR_ALL) {
    if (a.ptr(2) || a.ptr(3) || a.ptr(4)) return -EINVAL;
    c.capAmb = 0n;
    return 0;
  }
  if (!capValid(cap) || a.ptr(3) || a.ptr(4)) return -EINVAL;
  const bit = capBit(cap);
  switch (op) {
    case PR_CAP_AMBIENT_IS_SET:
      return c.capAmb & bit ? 1 : 0;
    case PR_CAP_AMBIENT_RAISE:
      if (!(c.capPrm & bit) || !(c.capInh & bit) || c.securebits & SECBIT_NO_CAP_AMBIENT_RAISE) return -EPERM;
      c.capAmb |= bit;
      return 0;
    case PR_CAP_AMBIENT_LOWER:
      c.capAmb &= ~bit;
      return 0;
    default:
      return -EINVAL;
  }
}

/** prctl implements Linux syscall prctl(2) (the common options). */
export function prctl(t: Task, a: A) {
  const op = a.int(0);
  switch (op) {
    case PR_SET_NAME: {
      const b = t.mm.copyIn(a.ptr(1), 16);
      const z = b.indexOf(0);
      t.comm = Buffer.from(b.subarray(0, z < 0 ? 15 : Math.min(z, 15))).toString('latin1');
      return 0;
    }
    case PR_GET_NAME: {
      const b = Buffer.alloc(16);
      b.write(t.comm.slice(0, 15), 'latin1');
      t.mm.copyOut(a.ptr(1), b);
      return 0;
    }
    case PR_SET_PDEATHSIG:
      if (a.int(1) < 0 || a.int(1) > 64) return -EINVAL;
      t.pdeathSig = a.int(1);
      return 0;
    case PR_GET_PDEATHSIG:
      t.mm.writeI32(a.ptr(1), t.pdeathSig);
      return 0;
    case PR_GET_DUMPABLE:
      return t.tg.dumpable;
    case PR_SET_DUMPABLE:
      if (a.ptr(1) > 1) return -EINVAL;
      t.tg.dumpable = a.ptr(1);
      return 0;
    case PR_GET_KEEPCAPS:
      return t.creds.securebits & SECBIT_KEEP_CAPS ? 1 : 0;
    case PR_SET_KEEPCAPS:
      if (a.ptr(1) > 1) return -EINVAL;
      if (t.creds.securebits & SECBIT_KEEP_CAPS_LOCKED) return -EPERM;
      if (a.ptr(1)) t.creds.securebits |= SECBIT_KEEP_CAPS;
      else t.creds.securebits &= ~SECBIT_KEEP_CAPS;
      return 0;
    case PR_GET_SECUREBITS:
      return t.creds.securebits;
    case PR_SET_SECUREBITS: {
      const old = t.creds.securebits;
      const v = a.ptr(1);
      if (v > 0xffffffff) return -EPERM;
      // No changing a locked bit, no unlocking, no unknown bits, and CAP_SETPCAP for anything.
      if (
        ((old & SECURE_ALL_LOCKS) >> 1) & (old ^ v) ||
        old & SECURE_ALL_LOCKS & ~v ||
        v & ~(SECURE_ALL_LOCKS | SECURE_ALL_BITS) ||
        !capable(t, CAP_SETPCAP)
      )
        return -EPERM;
      t.creds.securebits = v;
      return 0;
    }
    case PR_CAPBSET_READ:
      return capValid(a.ptr(1)) ? (t.creds.capBnd & capBit(a.ptr(1)) ? 1 : 0) : -EINVAL;
    case PR_CAPBSET_DROP:
      if (!capable(t, CAP_SETPCAP)) return -EPERM;
      if (!capValid(a.ptr(1))) return -EINVAL;
      t.creds.capBnd &= ~capBit(a.ptr(1));
      return 0;
    case PR_CAP_AMBIENT:
      return capAmbient(t, a);
    case PR_SET_CHILD_SUBREAPER:
      t.tg.subreaper = a.ptr(1) !== 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      t.mm.writeI32(a.ptr(1), t.tg.subreaper ? 1 : 0);
      return 0;
    case PR_SET_NO_NEW_PRIVS:
      if (a.ptr(1) !== 1 || a.ptr(2) || a.ptr(3) || a.ptr(4)) return -EINVAL;
      t.tg.noNewPrivs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a.ptr(1) || a.ptr(2) || a.ptr(3) || a.ptr(4)) return -EINVAL;
      return t.tg.noNewPrivs ? 1 : 0;
    case PR_GET_TIMERSLACK:
      return 50000;
    case PR_SET_TIMERSLACK:
      return 0;
    case PR_SET_MM:
      return -EPERM;
    case PR_SET_VMA:
      return 0;
    default:
      return -EINVAL;
  }
}

/** personality implements Linux syscall personality(2). */
export function personality(t: Task, a: A) {
  const old = t.personality;
  if (a.uint(0) !== 0xffffffff) t.personality = a.uint(0);
  return old;
}

/** sched_yield implements Linux syscall sched_yield(2). */
export const sched_yield = () => 0;

/** getcpu implements Linux syscall getcpu(2). */
export function getcpu(t: Task, a: A) {
  if (a.ptr(0)) t.mm.writeU32(a.ptr(0), 0);
  if (a.ptr(1)) t.mm.writeU32(a.ptr(1), 0);
  return 0;
}

function affinityTarget(t: Task, pid: number) {
  return pid === 0 ? t : t.kernel.tasks.get(pid);
}

/** sched_getaffinity implements Linux syscall sched_getaffinity(2): the host's online CPUs. */
export function sched_getaffinity(t: Task, a: A) {
  const o = affinityTarget(t, a.int(0));
  if (!o) return -ESRCH;
  const len = a.ptr(1);
  if (len < 8 || len % 8) return -EINVAL;
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(o.cpuAffinity);
  t.mm.copyOut(a.ptr(2), b);
  return 8;
}
/** check_same_owner: the caller's euid is the target's real or effective uid, or it has CAP_SYS_NICE. */
function mayReschedule(t: Task, o: Task): boolean {
  const c = t.creds;
  return c.euid === o.creds.euid || c.euid === o.creds.uid || capable(t, CAP_SYS_NICE);
}

/** sched_setaffinity implements Linux syscall sched_setaffinity(2) (recorded; the sentry schedules). */
export function sched_setaffinity(t: Task, a: A) {
  const o = affinityTarget(t, a.int(0));
  if (!o) return -ESRCH;
  if (!mayReschedule(t, o)) return -EPERM;
  const len = Math.min(a.ptr(1), 8);
  const b = Buffer.alloc(8);
  Buffer.from(t.mm.copyIn(a.ptr(2), len)).copy(b);
  const m = b.readBigUInt64LE(0) & BigInt((1 << os.cpus().length) - 1);
  if (!m) return -EINVAL;
  o.cpuAffinity = m;
  return 0;
}
/** sched_getscheduler implements Linux syscall sched_getscheduler(2). */
export function sched_getscheduler(t: Task, a: A) {
  return affinityTarget(t, a.int(0)) ? 0 : -ESRCH;
}
/** sched_getparam implements Linux syscall sched_getparam(2). */
export function sched_getparam(t: Task, a: A) {
  if (!affinityTarget(t, a.int(0))) return -ESRCH;
  t.mm.writeI32(a.ptr(1), 0);
  return 0;
}
/** sched_setscheduler implements Linux syscall sched_setscheduler(2): SCHED_OTHER/BATCH/IDLE only. */
export function sched_setscheduler(t: Task, a: A) {
  const o = affinityTarget(t, a.int(0));
  if (!o) return -ESRCH;
  const policy = a.int(1) & ~0x40000000;
  if (policy === 0 || policy === 3 || policy === 5) {
    if (t.mm.readI32(a.ptr(2)) !== 0) return -EINVAL;
    return mayReschedule(t, o) ? 0 : -EPERM;
  }
  if (policy === 1 || policy === 2) return -EPERM;
  return -EINVAL;
}
/** sched_setparam implements Linux syscall sched_setparam(2). */
export function sched_setparam(t: Task, a: A) {
  if (!affinityTarget(t, a.int(0))) return -ESRCH;
  return t.mm.readI32(a.ptr(1)) === 0 ? 0 : -EINVAL;
}
/** sched_get_priority_max implements Linux syscall sched_get_priority_max(2). */
export function sched_get_priority_max(_t: Task, a: A) {
  const p = a.int(0);
  return p === 1 || p === 2 ? 99 : p === 0 || p === 3 || p === 5 ? 0 : -EINVAL;
}
/** sched_get_priority_min implements Linux syscall sched_get_priority_min(2). */
export function sched_get_priority_min(_t: Task, a: A) {
  const p = a.int(0);
  return p === 1 || p === 2 ? 1 : p === 0 || p === 3 || p === 5 ? 0 : -EINVAL;
}

/** sched_rr_get_interval implements Linux syscall sched_rr_get_interval(2): the CFS-like 100 ms slice. */
export function sched_rr_get_interval(t: Task, a: A) {
  if (a.int(0) < 0) return -EINVAL;
  if (!affinityTarget(t, a.int(0))) return -ESRCH;
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(100000000n, 8);
  t.mm.copyOut(a.ptr(1), b);
  return 0;
}

/** getpriority implements Linux syscall getpriority(2) (returns 20 - nice). */
export function getpriority(t: Task, a: A) {
  const which = a.int(0),
    who = a.int(1);
  if (which !== 0) return which === 1 || which === 2 ? 20 : -EINVAL;
  const o = who === 0 ? t : t.kernel.tasks.get(who);
  return o ? 20 - o.niceValue : -ESRCH;
}
/** setpriority implements Linux syscall setpriority(2). */
export function setpriority(t: Task, a: A) {
  const which = a.int(0),
    who = a.int(1);
  let nice = Math.max(-20, Math.min(19, a.int(2)));
  if (which !== 0) return which === 1 || which === 2 ? 0 : -EINVAL;
  const o = who === 0 ? t : t.kernel.tasks.get(who);
  if (!o) return -ESRCH;
  // Another user's process needs CAP_SYS_NICE; so does lowering the nice value below RLIMIT_NICE's floor.
  const c = t.creds,
    oc = o.creds;
  if (oc.uid !== c.euid && oc.euid !== c.euid && !capable(t, CAP_SYS_NICE)) return -EPERM;
  const nicelim = o.tg.limits[RLIMIT_NICE]?.[0] ?? 0n;
  if (nice < o.niceValue && BigInt(20 - nice) > nicelim && !capable(t, CAP_SYS_NICE)) return -EACCES_;
  for (const x of o.tg.tasks) x.niceValue = nice;
  nice = 0;
  return nice;
}
const EACCES_ = 13;
const RLIMIT_NICE = 13;

/** struct rusage (144 bytes) with the given CPU times (ns); other fields 0 but ru_maxrss. */
export function encodeRusage(userNs: number, sysNs: number, maxRssKb = 0): Buffer {
  const b = Buffer.alloc(144);
  const tv = (ns: number, off: number) => {
    b.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), off);
    b.writeBigInt64LE(BigInt(Math.floor((ns % 1e9) / 1e3)), off + 8);
  };
  tv(userNs, 0);
  tv(sysNs, 16);
  b.writeBigInt64LE(BigInt(maxRssKb), 32);
  return b;
}

function rssKb(t: Task): number {
  let extents = 0;
  const seen = new Set<object>();
  for (const v of t.mm.vmas)
    if (!seen.has(v.obj)) {
      seen.add(v.obj);
      extents += v.obj.extents.size;
    }
  return extents * 64;
}

/** getrusage implements Linux syscall getrusage(2): CPU times from the platform; maxrss estimated. */
export function getrusage(t: Task, a: A) {
  const who = a.int(0);
  let c: { user: number; system: number };
  if (who === 0) c = t.tg.cpuTime();
  else if (who === 1) c = t.cpuTime();
  else if (who === -1) c = { user: t.tg.childUserNs, system: t.tg.childSysNs };
  else return -EINVAL;
  t.mm.copyOut(a.ptr(1), encodeRusage(c.user, c.system, who === -1 ? 0 : rssKb(t)));
  return 0;
}

/** times implements Linux syscall times(2) (clock ticks, USER_HZ 100). */
export function times(t: Task, a: A) {
  const tick = (ns: number) => BigInt(Math.floor(ns / 1e7));
  if (a.ptr(0)) {
    const c = t.tg.cpuTime();
    const b = Buffer.alloc(32);
    b.writeBigInt64LE(tick(c.user), 0);
    b.writeBigInt64LE(tick(c.system), 8);
    b.writeBigInt64LE(tick(t.tg.childUserNs), 16);
    b.writeBigInt64LE(tick(t.tg.childSysNs), 24);
    t.mm.copyOut(a.ptr(0), b);
  }
  // Ticks since an arbitrary point: the sandbox's boot (plus an offset, as Linux's INITIAL_JIFFIES wrap).
  return Number((process.hrtime.bigint() - t.kernel.bootNs) / 10000000n) + 4294937296;
}

/** rseq: not supported; glibc falls back cleanly on ENOSYS. */

export const processSyscalls: SyscallDef<Task>[] = [
  {
    nr: 56,
    name: 'clone',
    handler: clone,
    support: 'partial',
    note: 'new namespaces (CLONE_NEW*) give EPERM',
    args: ['hex', 'ptr', 'ptr', 'ptr', 'ptr'],
  },
  {
    nr: 435,
    name: 'clone3',
    handler: clone3,
    support: 'partial',
    note: 'set_tid, CLONE_INTO_CGROUP and CLONE_PIDFD with CLONE_THREAD give EINVAL',
    args: ['ptr', 'uint'],
  },
  { nr: 57, name: 'fork', handler: fork, support: 'full', args: [] },
  { nr: 58, name: 'vfork', handler: vfork, support: 'full', args: [] },
  { nr: 59, name: 'execve', handler: execve, support: 'full', args: ['path', 'strv', 'ptr'] },
  {
    nr: 322,
    name: 'execveat',
    handler: execveat,
    support: 'partial',
    note: 'only AT_FDCWD or absolute paths',
    args: ['fd', 'path', 'strv', 'ptr', 'hex'],
  },
  { nr: 60, name: 'exit', handler: exit, support: 'full', args: ['int'] },
  { nr: 231, name: 'exit_group', handler: exit_group, support: 'full', args: ['int'] },
  {
    nr: 61,
    name: 'wait4',
    handler: wait4,
    support: 'partial',
    note: 'rusage has CPU times only',
    args: ['int', 'ptr', 'hex', 'ptr'],
  },
  {
    nr: 247,
    name: 'waitid',
    handler: waitid,
    support: 'partial',
    note: 'rusage has CPU times only',
    args: ['int', 'int', 'ptr', 'hex', 'ptr'],
  },
  { nr: 39, name: 'getpid', handler: getpid, support: 'full', args: [] },
  { nr: 110, name: 'getppid', handler: getppid, support: 'full', args: [] },
  { nr: 186, name: 'gettid', handler: gettid, support: 'full', args: [] },
  { nr: 218, name: 'set_tid_address', handler: set_tid_address, support: 'full', args: ['ptr'] },
  {
    nr: 273,
    name: 'set_robust_list',
    handler: set_robust_list,
    support: 'partial',
    note: 'robust futexes owned by a dying thread get FUTEX_OWNER_DIED and a wake-up; PI futexes are not woken',
    args: ['ptr', 'uint'],
  },
  {
    nr: 274,
    name: 'get_robust_list',
    handler: get_robust_list,
    support: 'full',
    args: ['int', 'ptr', 'ptr'],
  },
  { nr: 121, name: 'getpgid', handler: getpgid, support: 'full', args: ['int'] },
  { nr: 111, name: 'getpgrp', handler: getpgrp, support: 'full', args: [] },
  { nr: 124, name: 'getsid', handler: getsid, support: 'full', args: ['int'] },
  { nr: 109, name: 'setpgid', handler: setpgid, support: 'full', args: ['int', 'int'] },
  { nr: 112, name: 'setsid', handler: setsid, support: 'full', args: [] },
  { nr: 102, name: 'getuid', handler: getuid, support: 'full', args: [] },
  { nr: 107, name: 'geteuid', handler: geteuid, support: 'full', args: [] },
  { nr: 104, name: 'getgid', handler: getgid, support: 'full', args: [] },
  { nr: 108, name: 'getegid', handler: getegid, support: 'full', args: [] },
  { nr: 105, name: 'setuid', handler: setuid, support: 'full', args: ['int'] },
  { nr: 106, name: 'setgid', handler: setgid, support: 'full', args: ['int'] },
  { nr: 117, name: 'setresuid', handler: setresuid, support: 'full', args: ['int', 'int', 'int'] },
  { nr: 119, name: 'setresgid', handler: setresgid, support: 'full', args: ['int', 'int', 'int'] },
  { nr: 113, name: 'setreuid', handler: setreuid, support: 'full', args: ['int', 'int'] },
  { nr: 114, name: 'setregid', handler: setregid, support: 'full', args: ['int', 'int'] },
  { nr: 118, name: 'getresuid', handler: getresuid, support: 'full', args: ['ptr', 'ptr', 'ptr'] },
  { nr: 120, name: 'getresgid', handler: getresgid, support: 'full', args: ['ptr', 'ptr', 'ptr'] },
  { nr: 122, name: 'setfsuid', handler: setfsuid, support: 'full', args: ['int'] },
  { nr: 123, name: 'setfsgid', handler: setfsgid, support: 'full', args: ['int'] },
  { nr: 115, name: 'getgroups', handler: getgroups, support: 'full', args: ['int', 'ptr'] },
  { nr: 116, name: 'setgroups', handler: setgroups, support: 'full', args: ['int', 'ptr'] },
  {
    nr: 125,
    name: 'capget',
    handler: capget,
    support: 'full',
    args: ['ptr', 'ptr'],
  },
  {
    nr: 126,
    name: 'capset',
    handler: capset,
    support: 'partial',
    note: 'no file capabilities (security.capability is not consulted by execve)',
    args: ['ptr', 'ptr'],
  },
  { nr: 97, name: 'getrlimit', handler: getrlimit, support: 'full', args: ['int', 'ptr'] },
  {
    nr: 160,
    name: 'setrlimit',
    handler: setrlimit,
    support: 'partial',
    note: 'only RLIMIT_NOFILE and RLIMIT_STACK are enforced',
    args: ['int', 'ptr'],
  },
  {
    nr: 302,
    name: 'prlimit64',
    handler: prlimit64,
    support: 'partial',
    note: 'only RLIMIT_NOFILE and RLIMIT_STACK are enforced',
    args: ['int', 'int', 'ptr', 'ptr'],
  },
  { nr: 63, name: 'uname', handler: uname, support: 'full', args: ['ptr'] },
  { nr: 170, name: 'sethostname', handler: sethostname, support: 'full', args: ['ptr', 'int'] },
  { nr: 171, name: 'setdomainname', handler: setdomainname, support: 'full', args: ['ptr', 'int'] },
  { nr: 99, name: 'sysinfo', handler: sysinfo, support: 'full', args: ['ptr'] },
  { nr: 318, name: 'getrandom', handler: getrandom, support: 'full', args: ['ptr', 'uint', 'hex'] },
  {
    nr: 158,
    name: 'arch_prctl',
    handler: arch_prctl,
    support: 'partial',
    note: 'ARCH_SET_CPUID not supported',
    args: ['hex', 'ptr'],
  },
  {
    nr: 157,
    name: 'prctl',
    handler: prctl,
    support: 'partial',
    note: 'common options only (name, pdeathsig, dumpable, subreaper, no_new_privs, keepcaps, securebits, capability bounding and ambient sets)',
    args: ['int', 'ptr', 'ptr', 'ptr', 'ptr'],
  },
  {
    nr: 135,
    name: 'personality',
    handler: personality,
    support: 'partial',
    note: 'recorded, no effect',
    args: ['hex'],
  },
  { nr: 24, name: 'sched_yield', handler: sched_yield, support: 'full', args: [] },
  {
    nr: 309,
    name: 'getcpu',
    handler: getcpu,
    support: 'partial',
    note: 'always CPU 0, node 0',
    args: ['ptr', 'ptr', 'ptr'],
  },
  {
    nr: 204,
    name: 'sched_getaffinity',
    handler: sched_getaffinity,
    support: 'full',
    args: ['int', 'uint', 'ptr'],
  },
  {
    nr: 203,
    name: 'sched_setaffinity',
    handler: sched_setaffinity,
    support: 'partial',
    note: 'recorded; the sentry places threads',
    args: ['int', 'uint', 'ptr'],
  },
  { nr: 145, name: 'sched_getscheduler', handler: sched_getscheduler, support: 'full', args: ['int'] },
  { nr: 143, name: 'sched_getparam', handler: sched_getparam, support: 'full', args: ['int', 'ptr'] },
  {
    nr: 144,
    name: 'sched_setscheduler',
    handler: sched_setscheduler,
    support: 'partial',
    note: 'real-time policies give EPERM',
    args: ['int', 'int', 'ptr'],
  },
  {
    nr: 142,
    name: 'sched_setparam',
    handler: sched_setparam,
    support: 'partial',
    note: 'priority 0 only',
    args: ['int', 'ptr'],
  },
  {
    nr: 148,
    name: 'sched_rr_get_interval',
    handler: sched_rr_get_interval,
    support: 'partial',
    note: 'a fixed 100 ms slice',
    args: ['int', 'ptr'],
  },
  {
    nr: 146,
    name: 'sched_get_priority_max',
    handler: sched_get_priority_max,
    support: 'full',
    args: ['int'],
  },
  {
    nr: 147,
    name: 'sched_get_priority_min',
    handler: sched_get_priority_min,
    support: 'full',
    args: ['int'],
  },
  {
    nr: 140,
    name: 'getpriority',
    handler: getpriority,
    support: 'partial',
    note: 'process groups and users report nice 0',
    args: ['int', 'int'],
  },
  {
    nr: 141,
    name: 'setpriority',
    handler: setpriority,
    support: 'partial',
    note: 'recorded per process; no scheduling effect',
    args: ['int', 'int', 'int'],
  },
  {
    nr: 98,
    name: 'getrusage',
    handler: getrusage,
    support: 'partial',
    note: 'CPU times and an estimated ru_maxrss; fault, I/O and context-switch counts are 0',
    args: ['int', 'ptr'],
  },
  { nr: 100, name: 'times', handler: times, support: 'full', args: ['ptr'] },
  {
    nr: 334,
    name: 'rseq',
    support: 'none',
    note: 'ENOSYS; glibc falls back to plain getcpu',
    args: ['ptr', 'uint', 'hex', 'hex'],
  },
];

export { EAGAIN, ECHILD, EFAULT, RLIMIT_STACK };
