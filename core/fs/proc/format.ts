/**
 * Text of procfs files, byte for byte as Linux prints them (fs/proc/array.c,
 * task_mmu.c, meminfo.c, stat.c, proc_namespace.c, base.c). Pure functions of a
 * ProcSource's data, so unit tests can check every line.
 *
 * Byte strings: paths are latin1 strings whose char codes are the bytes (see
 * core/vfs/inode.ts); the result is encoded with latin1 by the caller.
 */
import {
  major,
  minor,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_RELATIME,
} from '../../vfs/abi';
import type { Dentry, Mount } from '../../vfs/mount';
import { pathOf, VirtualDentry } from '../../vfs/mount';
import type { ProcMemInfo, ProcMm, ProcState, ProcTask, ProcVma } from './source';

/** USER_HZ: clock ticks per second in /proc (AT_CLKTCK). */
export const CLK_TCK = 100;
export const PAGE_SIZE = 4096;
/** Capabilities as Linux 5.9+ knows them (CAP_CHECKPOINT_RESTORE = 40). */
export { CAP_LAST_CAP } from '../../kernel/caps';
const RLIM_INFINITY = 2n ** 64n - 1n;
const ULONG_MAX = '18446744073709551615';

const PROT_READ = 1,
  PROT_WRITE = 2,
  PROT_EXEC = 4;

/** Task flags: PF_RANDOMIZE for every user task, PF_EXITING once it is dead. */
const PF_EXITING = 0x4,
  PF_RANDOMIZE = 0x400000;

export const STATE_NAMES: Record<ProcState, string> = {
  R: 'R (running)',
  S: 'S (sleeping)',
  D: 'D (disk sleep)',
  T: 'T (stopped)',
  t: 't (tracing stop)',
  X: 'X (dead)',
  Z: 'Z (zombie)',
  I: 'I (idle)',
};

/** ns -> clock ticks. */
export function nsToTicks(ns: bigint): number {
  return Number(ns / BigInt(1e9 / CLK_TCK));
}

const isStack = (v: ProcVma): boolean => v.growsDown || v.name.special === '[stack]';
const isFile = (v: ProcVma): boolean => v.name.path !== undefined && v.name.path !== '';

/** Memory statistics shared by status, statm and stat. */
export interface MmStats {
  vmSize: number;
  vmLck: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  vmData: number;
  vmStk: number;
  vmExe: number;
  vmLib: number;
  startCode: number;
  endCode: number;
  startData: number;
  endData: number;
}

/**
 * Text and data bounds: the executable's own mappings (text = its executable ones, data
 * = its writable ones). RSS classes: anonymous private memory is RssAnon, file mappings
 * RssFile, shared anonymous memory RssShmem.
 */
export function mmStats(mm: ProcMm): MmStats {
  const s: MmStats = {
    vmSize: 0,
    vmLck: 0,
    rssAnon: 0,
    rssFile: 0,
    rssShmem: 0,
    vmData: 0,
    vmStk: 0,
    vmExe: 0,
    vmLib: 0,
    startCode: 0,
    endCode: 0,
    startData: 0,
    endData: 0,
  };
  let execBytes = 0;
  for (const v of mm.vmas) {
    const len = v.end - v.start;
    s.vmSize += len;
    if (v.locked) s.vmLck += len;
    const rss = v.rss();
    if (isFile(v)) s.rssFile += rss;
    else if (v.shared) s.rssShmem += rss;
    else s.rssAnon += rss;
    if (isStack(v)) s.vmStk += len;
    else if (v.prot & PROT_WRITE && !v.shared) s.vmData += len;
    if (v.prot & PROT_EXEC) execBytes += len;
    if (mm.exePath && v.name.path === mm.exePath) {
      if (v.prot & PROT_EXEC) {
        if (!s.startCode || v.start < s.startCode) s.startCode = v.start;
        if (v.end > s.endCode) s.endCode = v.end;
      } else if (v.prot & PROT_WRITE) {
        if (!s.startData || v.start < s.startData) s.startData = v.start;
        if (v.end > s.endData) s.endData = v.end;
      }
    }
  }
  s.vmExe = s.endCode - s.startCode;
  s.vmLib = Math.max(0, execBytes - s.vmExe);
  if (!s.startData) s.startData = s.endData = mm.brkStart;
  return s;
}

/** /proc/<pid>/stat (52 fields, do_task_stat). */
export function formatStat(t: ProcTask, viewerMayRead: boolean): string {
  const mm = t.mm;
  const st = mm ? mmStats(mm) : null;
  const rss = st ? (st.rssAnon + st.rssFile + st.rssShmem) / PAGE_SIZE : 0;
  const rsslim = t.limits[5]?.[0] ?? RLIM_INFINITY;
  const threads = Math.max(1, t.threads().length);
  const sig = (m: bigint): string => String(m & 0x7fffffffn);
  const perm = !!(mm && viewerMayRead);
  const f: (string | number)[] = [
    t.tid,
    `(${t.comm})`,
    t.state,
    t.ppid,
    t.pgid,
    t.sid,
    t.ttyNr,
    t.tpgid,
    PF_RANDOMIZE | (t.state === 'Z' || t.state === 'X' ? PF_EXITING : 0),
    0, // minflt
    0, // cminflt
    0, // majflt
    0, // cmajflt
    t.utime,
    t.stime,
    t.cutime,
    t.cstime,
    20 + t.nice, // priority (prio - MAX_RT_PRIO)
    t.nice,
    threads,
    0, // itrealvalue
    nsToTicks(t.startNs),
    st ? st.vmSize : 0,
    rss,
    rsslim === RLIM_INFINITY ? ULONG_MAX : rsslim.toString(),
    mm ? (perm ? st!.startCode : 1) : 0,
    mm ? (perm ? st!.endCode : 1) : 0,
    perm ? mm!.startStack : 0,
    0, // kstkesp
    0, // kstkeip
    sig(t.sigPending | t.sigSharedPending),
    sig(t.sigBlocked),
    sig(t.sigIgnored),
    sig(t.sigCaught),
    0, // wchan
    0, // nswap
    0, // cnswap
    t.exitSignal,
    0, // processor
    0, // rt_priority
    0, // policy (SCHED_OTHER)
    0, // delayacct_blkio_ticks
    0, // guest_time
    0, // cguest_time
    perm ? st!.startData : 0,
    perm ? st!.endData : 0,
    perm ? mm!.brkStart : 0,
    perm ? mm!.argStart : 0,
    perm ? mm!.argEnd : 0,
    perm ? mm!.envStart : 0,
    perm ? mm!.envEnd : 0,
    viewerMayRead ? t.exitCode : 0,
  ];
  return f.join(' ') + '\n';
}

/** /proc/<pid>/statm (pages): size resident shared text lib data dt. */
export function formatStatm(t: ProcTask): string {
  const mm = t.mm;
  if (!mm) return '0 0 0 0 0 0 0\n';
  const s = mmStats(mm);
  const p = (b: number): number => Math.floor(b / PAGE_SIZE);
  const resident = s.rssAnon + s.rssFile + s.rssShmem;
  return `${p(s.vmSize)} ${p(resident)} ${p(s.rssFile + s.rssShmem)} ${Math.ceil(s.vmExe / PAGE_SIZE)} 0 ${p(s.vmData + s.vmStk)} 0\n`;
}

function hex16(m: bigint): string {
  return BigInt.asUintN(64, m).toString(16).padStart(16, '0');
}
function kb(label: string, bytes: number): string {
  return `${label}\t${String(Math.floor(bytes / 1024)).padStart(8)} kB\n`;
}

/**
 * A bitmap as Linux's "%*pb": hex, in 32-bit groups separated by commas, the first group
 * only as wide as `nbits` needs.
 */
export function bitmapHex(mask: bigint, nbits: number): string {
  const groups: string[] = [];
  for (let lo = 0; lo < nbits; lo += 32) {
    const width = Math.min(32, nbits - lo);
    const v = (mask >> BigInt(lo)) & ((1n << BigInt(width)) - 1n);
    groups.unshift(v.toString(16).padStart(Math.ceil(width / 4), '0'));
  }
  return groups.join(',');
}

/** A bitmap as Linux's "%*pbl": ranges "0-3,5". */
export function bitmapList(mask: bigint, nbits: number): string {
  const out: string[] = [];
  let i = 0;
  while (i < nbits) {
    if (!((mask >> BigInt(i)) & 1n)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < nbits && (mask >> BigInt(j + 1)) & 1n) j++;
    out.push(i === j ? `${i}` : `${i}-${j}`);
    i = j + 1;
  }
  return out.join(',');
}

/** /proc/<pid>/status (task_state, task_mem, task_sig, task_cap, cpuset). */
export function formatStatus(t: ProcTask, cpus: number): string {
  const c = t.creds;
  let s = '';
  s += `Name:\t${escapeComm(t.comm)}\n`;
  s += `Umask:\t${t.umask.toString(8).padStart(4, '0')}\n`;
  s += `State:\t${STATE_NAMES[t.state]}\n`;
  s += `Tgid:\t${t.tgid}\n`;
  s += `Ngid:\t0\n`;
  s += `Pid:\t${t.tid}\n`;
  s += `PPid:\t${t.ppid}\n`;
  s += `TracerPid:\t0\n`;
  s += `Uid:\t${c.uid}\t${c.euid}\t${c.suid}\t${c.fsuid}\n`;
  s += `Gid:\t${c.gid}\t${c.egid}\t${c.sgid}\t${c.fsgid}\n`;
  s += `FDSize:\t${t.fdTableSize}\n`;
  s += `Groups:\t${c.groups.join(' ')} \n`;
  s += `NStgid:\t${t.tgid}\nNSpid:\t${t.tid}\nNSpgid:\t${t.pgid}\nNSsid:\t${t.sid}\n`;
  const mm = t.mm;
  if (mm) {
    const m = mmStats(mm);
    const rss = m.rssAnon + m.rssFile + m.rssShmem;
    s += kb('VmPeak:', m.vmSize);
    s += kb('VmSize:', m.vmSize);
    s += kb('VmLck:', m.vmLck);
    s += kb('VmPin:', 0);
    s += kb('VmHWM:', rss);
    s += kb('VmRSS:', rss);
    s += kb('RssAnon:', m.rssAnon);
    s += kb('RssFile:', m.rssFile);
    s += kb('RssShmem:', m.rssShmem);
    s += kb('VmData:', m.vmData);
    s += kb('VmStk:', m.vmStk);
    s += kb('VmExe:', m.vmExe);
    s += kb('VmLib:', m.vmLib);
    // Page tables: one 4 KiB page per 2 MiB of address space in use, plus the top levels.
    s += kb('VmPTE:', (Math.ceil(m.vmSize / (2 << 20)) + 3) * 4096);
    s += kb('VmSwap:', 0);
    s += kb('HugetlbPages:', 0);
  }
  s += `CoreDumping:\t0\n`;
  s += `THP_enabled:\t0\n`;
  s += `Threads:\t${Math.max(1, t.threads().length)}\n`;
  const sigLim = t.limits[11]?.[0] ?? 0n;
  s += `SigQ:\t${t.sigQueued}/${sigLim === RLIM_INFINITY ? ULONG_MAX : sigLim}\n`;
  s += `SigPnd:\t${hex16(t.sigPending)}\n`;
  s += `ShdPnd:\t${hex16(t.sigSharedPending)}\n`;
  s += `SigBlk:\t${hex16(t.sigBlocked)}\n`;
  s += `SigIgn:\t${hex16(t.sigIgnored)}\n`;
  s += `SigCgt:\t${hex16(t.sigCaught)}\n`;
  s += `CapInh:\t${hex16(c.capInh)}\n`;
  s += `CapPrm:\t${hex16(c.capPrm)}\n`;
  s += `CapEff:\t${hex16(c.capEff)}\n`;
  s += `CapBnd:\t${hex16(c.capBnd)}\n`;
  s += `CapAmb:\t${hex16(c.capAmb)}\n`;
  s += `NoNewPrivs:\t${t.noNewPrivs ? 1 : 0}\n`;
  s += `Seccomp:\t0\n`;
  s += `Seccomp_filters:\t0\n`;
  s += `Speculation_Store_Bypass:\tthread vulnerable\n`;
  s += `SpeculationIndirectBranch:\tconditional enabled\n`;
  const allowed = t.cpusAllowed & ((1n << BigInt(cpus)) - 1n);
  s += `Cpus_allowed:\t${bitmapHex(allowed, cpus)}\n`;
  s += `Cpus_allowed_list:\t${bitmapList(allowed, cpus)}\n`;
  s += `Mems_allowed:\t${bitmapHex(1n, 1024)}\n`;
  s += `Mems_allowed_list:\t0\n`;
  s += `voluntary_ctxt_switches:\t${t.voluntarySwitches}\n`;
  s += `nonvoluntary_ctxt_switches:\t${t.involuntarySwitches}\n`;
  return s;
}

/** Name: escapes as proc_task_name(escape=true): '\n' -> "\\n", '\\' -> "\\\\". */
function escapeComm(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

// ---------------------------------------------------------------- maps

/** The name column of a maps line ('' for none). */
function vmaName(v: ProcVma, mm: ProcMm): string {
  if (v.name.path) return v.name.path.replace(/\n/g, '\\012');
  if (v.name.special) return v.name.special;
  if (!v.shared && mm.brkStart && v.start <= mm.brk && v.end >= mm.brkStart && v.start >= mm.brkStart)
    return '[heap]';
  if (isStack(v)) return '[stack]';
  return '';
}

/** One maps line (show_map_vma), without the newline. */
export function mapsLine(v: ProcVma, mm: ProcMm): string {
  const perms =
    (v.prot & PROT_READ ? 'r' : '-') +
    (v.prot & PROT_WRITE ? 'w' : '-') +
    (v.prot & PROT_EXEC ? 'x' : '-') +
    // [vvar] is shared with the sentry internally but, like Linux's special mapping, not VM_SHARED.
    (v.shared && v.name.special !== '[vvar]' ? 's' : 'p');
  const file = isFile(v);
  const dev = file ? (v.name.dev ?? 0) : 0;
  const off = file ? v.fileOff : 0;
  const head =
    `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} ${hex(off, 8)} ` +
    `${hex(major(dev), 2)}:${hex(minor(dev), 2)} ${file ? (v.name.ino ?? 0) : 0} `;
  const name = vmaName(v, mm);
  if (!name) return head;
  // seq_setwidth(25 + 6 * sizeof(void *) - 1) then seq_pad(' ').
  return head.padEnd(72) + ' ' + name;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** /proc/<pid>/maps. */
export function formatMaps(mm: ProcMm | null): string {
  if (!mm) return '';
  let s = '';
  for (const v of mm.vmas) s += mapsLine(v, mm) + '\n';
  return s;
}

/** /proc/<pid>/smaps: each maps line followed by its memory statistics. */
export function formatSmaps(mm: ProcMm | null): string {
  if (!mm) return '';
  let s = '';
  const line = (label: string, bytes: number): string =>
    `${label.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB\n`;
  for (const v of mm.vmas) {
    const size = v.end - v.start;
    const rss = v.rss();
    const anon = !isFile(v) && !v.shared ? rss : 0;
    s += mapsLine(v, mm) + '\n';
    s += line('Size:', size);
    s += line('KernelPageSize:', 4096);
    s += line('MMUPageSize:', 4096);
    s += line('Rss:', rss);
    s += line('Pss:', rss);
    s += line('Shared_Clean:', 0);
    s += line('Shared_Dirty:', v.shared ? rss : 0);
    s += line('Private_Clean:', 0);
    s += line('Private_Dirty:', v.shared ? 0 : rss);
    s += line('Referenced:', rss);
    s += line('Anonymous:', anon);
    s += line('LazyFree:', 0);
    s += line('AnonHugePages:', 0);
    s += line('ShmemPmdMapped:', 0);
    s += line('FilePmdMapped:', 0);
    s += line('Shared_Hugetlb:', 0);
    s += line('Private_Hugetlb:', 0);
    s += line('Swap:', 0);
    s += line('SwapPss:', 0);
    s += line('Locked:', v.locked ? rss : 0);
    s += `${'THPeligible:'.padEnd(16)}0\n`;
    const fl: string[] = [];
    if (v.prot & PROT_READ) fl.push('rd');
    if (v.prot & PROT_WRITE) fl.push('wr');
    if (v.prot & PROT_EXEC) fl.push('ex');
    if (v.shared) fl.push('sh');
    fl.push('mr', 'mw', 'me');
    if (v.shared) fl.push('ms');
    if (isStack(v)) fl.push('gd');
    if (v.locked) fl.push('lo');
    if (!v.shared && v.prot & PROT_WRITE) fl.push('ac');
    s += `VmFlags: ${fl.map((f) => f + ' ').join('')}\n`;
  }
  return s;
}

// ---------------------------------------------------------------- limits

const LIMITS: [string, string][] = [
  ['Max cpu time', 'seconds'],
  ['Max file size', 'bytes'],
  ['Max data size', 'bytes'],
  ['Max stack size', 'bytes'],
  ['Max core file size', 'bytes'],
  ['Max resident set', 'bytes'],
  ['Max processes', 'processes'],
  ['Max open files', 'files'],
  ['Max locked memory', 'bytes'],
  ['Max address space', 'bytes'],
  ['Max file locks', 'locks'],
  ['Max pending signals', 'signals'],
  ['Max msgqueue size', 'bytes'],
  ['Max nice priority', ''],
  ['Max realtime priority', ''],
  ['Max realtime timeout', 'us'],
];

/** /proc/<pid>/limits (proc_pid_limits). */
export function formatLimits(limits: readonly (readonly [bigint, bigint])[]): string {
  let s = `${'Limit'.padEnd(25)} ${'Soft Limit'.padEnd(20)} ${'Hard Limit'.padEnd(20)} ${'Units'.padEnd(10)}\n`;
  const v = (x: bigint): string => (x === RLIM_INFINITY ? 'unlimited' : x.toString()).padEnd(20);
  LIMITS.forEach(([name, unit], i) => {
    const [soft, hard] = limits[i] ?? [RLIM_INFINITY, RLIM_INFINITY];
    s += `${name.padEnd(25)} ${v(soft)} ${v(hard)} `;
    s += unit ? `${unit.padEnd(10)}\n` : '\n';
  });
  return s;
}

// ---------------------------------------------------------------- mounts

/** mangle(): escape space, tab, newline and backslash as octal. */
export function mangle(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** Per-mount options (show_mnt_opts with the ro/rw of the mount). */
export function mountFlagsOptions(flags: number): string {
  const o = [flags & MS_RDONLY ? 'ro' : 'rw'];
  if (flags & MS_NOSUID) o.push('nosuid');
  if (flags & MS_NODEV) o.push('nodev');
  if (flags & MS_NOEXEC) o.push('noexec');
  if (flags & MS_NOATIME) o.push('noatime');
  if (flags & MS_NODIRATIME) o.push('nodiratime');
  if (flags & MS_RELATIME) o.push('relatime');
  return o.join(',');
}

/** The filesystem's own options without a leading rw/ro ("size=...,mode=..."). */
function superOptions(m: Mount): string[] {
  const o = m.fs.options ? m.fs.options() : 'rw';
  return o.split(',').filter((x) => x !== '' && x !== 'rw' && x !== 'ro');
}

/** Where mount `m` is, as seen from `root`; null when it is outside that root. */
function mountPoint(m: Mount, root: VirtualDentry): string | null {
  if (m === root.mount && m.root === root.dentry) return '/';
  const at = m.parent && m.point ? new VirtualDentry(m.parent, m.point) : new VirtualDentry(m, m.root);
  const { path, reachable } = pathOf(at, root);
  return reachable ? path : null;
}

/** Path of dentry `d` inside its filesystem (mountinfo's 4th field). */
function pathInFs(d: Dentry): string {
  const parts: string[] = [];
  for (let x: Dentry | null = d; x && x.parent; x = x.parent) parts.push(x.name);
  return '/' + parts.reverse().join('/');
}

/** Mounts visible from `root`, parents first; the part of the tree below `root` only. */
function visibleMounts(root: VirtualDentry): { m: Mount; point: string }[] {
  const out: { m: Mount; point: string }[] = [];
  for (const m of root.mount.ns.all()) {
    if (m.parent === null && m !== root.mount.ns.root) continue; // detached
    const point = mountPoint(m, root);
    if (point !== null) out.push({ m, point });
  }
  return out;
}

/** /proc/<pid>/mounts (show_vfsmnt). */
export function formatMounts(root: VirtualDentry | null): string {
  if (!root) return '';
  let s = '';
  for (const { m, point } of visibleMounts(root)) {
    const opts = [mountFlagsOptions(m.flags), ...superOptions(m)].join(',');
    s += `${mangle(m.source || 'none')} ${mangle(point)} ${m.fs.typeName} ${opts} 0 0\n`;
  }
  return s;
}

/** /proc/<pid>/mountinfo (show_mountinfo). */
export function formatMountinfo(root: VirtualDentry | null): string {
  if (!root) return '';
  let s = '';
  for (const { m, point } of visibleMounts(root)) {
    const parentId = m.parent ? m.parent.id : m.id;
    const dev = m.fs.dev;
    const superOpts = [m.flags & MS_RDONLY ? 'ro' : 'rw', ...superOptions(m)].join(',');
    s +=
      `${m.id} ${parentId} ${major(dev)}:${minor(dev)} ${mangle(pathInFs(m.root))} ${mangle(point)} ` +
      `${mountFlagsOptions(m.flags)} - ${m.fs.typeName} ${mangle(m.source || 'none')} ${superOpts}\n`;
  }
  return s;
}

// ---------------------------------------------------------------- system files

function kbLine(label: string, bytes: number): string {
  return `${(label + ':').padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB\n`;
}

/** /proc/meminfo (meminfo_proc_show; 4.4's fields). */
export function formatMeminfo(m: ProcMemInfo): string {
  const active = Math.floor((m.anon + m.cached) / 2);
  const rows: [string, number][] = [
    ['MemTotal', m.total],
    ['MemFree', m.free],
    ['MemAvailable', m.available],
    ['Buffers', m.buffers],
    ['Cached', m.cached],
    ['SwapCached', 0],
    ['Active', active],
    ['Inactive', m.anon + m.cached - active],
    ['Active(anon)', Math.floor(m.anon / 2)],
    ['Inactive(anon)', m.anon - Math.floor(m.anon / 2)],
    ['Active(file)', Math.floor(m.cached / 2)],
    ['Inactive(file)', m.cached - Math.floor(m.cached / 2)],
    ['Unevictable', 0],
    ['Mlocked', 0],
    ['SwapTotal', m.swapTotal],
    ['SwapFree', m.swapFree],
    ['Dirty', 0],
    ['Writeback', 0],
    ['AnonPages', m.anon],
    ['Mapped', m.mapped],
    ['Shmem', m.shmem],
    ['Slab', 0],
    ['SReclaimable', 0],
    ['SUnreclaim', 0],
    ['KernelStack', 0],
    ['PageTables', 0],
    ['NFS_Unstable', 0],
    ['Bounce', 0],
    ['WritebackTmp', 0],
    ['CommitLimit', Math.floor(m.total / 2) + m.swapTotal],
    ['Committed_AS', m.total - m.free],
    ['VmallocTotal', 34359738367 * 1024],
    ['VmallocUsed', 0],
    ['VmallocChunk', 0],
    ['HardwareCorrupted', 0],
    ['AnonHugePages', 0],
    ['CmaTotal', 0],
    ['CmaFree', 0],
  ];
  let s = '';
  for (const [k, v] of rows) s += kbLine(k, v);
  s += `HugePages_Total:${'0'.padStart(8)}\nHugePages_Free:${'0'.padStart(9)}\nHugePages_Rsvd:${'0'.padStart(9)}\nHugePages_Surp:${'0'.padStart(9)}\n`;
  s += kbLine('Hugepagesize', 2048 * 1024);
  s += kbLine('DirectMap4k', 0);
  s += kbLine('DirectMap2M', m.total);
  return s;
}

/** "%lu.%02lu" of a duration in ns. */
export function secHundredths(ns: bigint): string {
  const cs = ns / 10000000n;
  return `${cs / 100n}.${(cs % 100n).toString().padStart(2, '0')}`;
}

/** /proc/uptime: uptime and summed idle time of all CPUs. */
export function formatUptime(uptimeNs: bigint, idleNs: bigint): string {
  return `${secHundredths(uptimeNs)} ${secHundredths(idleNs)}\n`;
}

/** /proc/loadavg. */
export function formatLoadavg(
  l: [number, number, number],
  running: number,
  total: number,
  lastPid: number,
): string {
  const f = (x: number): string => (Math.round(x * 100) / 100).toFixed(2);
  return `${f(l[0])} ${f(l[1])} ${f(l[2])} ${running}/${total} ${lastPid}\n`;
}

/** /proc/stat. CPU times are in clock ticks: [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice]. */
export function formatProcStat(o: {
  perCpu: number[][];
  ctxt: number;
  btime: number;
  processes: number;
  running: number;
  blocked: number;
}): string {
  const total = new Array(10).fill(0);
  for (const c of o.perCpu) c.forEach((v, i) => (total[i] += v));
  let s = `cpu  ${total.join(' ')}\n`;
  o.perCpu.forEach((c, i) => (s += `cpu${i} ${c.join(' ')}\n`));
  s += `intr 0\n`;
  s += `ctxt ${o.ctxt}\n`;
  s += `btime ${o.btime}\n`;
  s += `processes ${o.processes}\n`;
  s += `procs_running ${o.running}\n`;
  s += `procs_blocked ${o.blocked}\n`;
  s += `softirq 0 0 0 0 0 0 0 0 0 0 0\n`;
  return s;
}

/**
 * /proc/cpuinfo: the host's entries for the first `cpus` processors (blocks separated by
 * a blank line), renumbered, with "siblings" and "cpu cores" saying `cpus`.
 */
export function formatCpuinfo(host: string, cpus: number): string {
  const blocks = host.split(/\n\n+/).filter((b) => /^processor\s*:/m.test(b));
  if (!blocks.length) {
    let s = '';
    for (let i = 0; i < cpus; i++)
      s += `processor\t: ${i}\nvendor_id\t: unknown\nmodel name\t: unknown\nflags\t\t:\n\n`;
    return s;
  }
  const out: string[] = [];
  for (let i = 0; i < cpus; i++) {
    let b = blocks[i % blocks.length];
    b = b.replace(/^(processor\s*:\s*)\d+/m, `$1${i}`);
    b = b.replace(/^(siblings\s*:\s*)\d+/m, `$1${cpus}`);
    b = b.replace(/^(cpu cores\s*:\s*)\d+/m, `$1${cpus}`);
    b = b.replace(/^(core id\s*:\s*)\d+/m, `$1${i}`);
    b = b.replace(/^(apicid\s*:\s*)\d+/m, `$1${i}`);
    b = b.replace(/^(initial apicid\s*:\s*)\d+/m, `$1${i}`);
    b = b.replace(/^(physical id\s*:\s*)\d+/m, `$10`);
    out.push(b.replace(/\n+$/, '') + '\n\n');
  }
  return out.join('');
}

/** /proc/<pid>/cmdline and environ: the bytes of [start, end) (empty without memory). */
export function memRange(mm: ProcMm | null, start: number, end: number): Uint8Array {
  if (!mm || end <= start) return new Uint8Array(0);
  return mm.read(start, end - start);
}

/** /proc/<pid>/auxv: the (type, value) pairs as native 64-bit words. */
export function formatAuxv(mm: ProcMm | null): Uint8Array {
  if (!mm) return new Uint8Array(0);
  const b = Buffer.alloc(mm.auxv.length * 8);
  mm.auxv.forEach((v, i) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), i * 8));
  return b;
}
