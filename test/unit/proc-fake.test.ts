/**
 * A fake ProcSource for the procfs unit tests (exported for proc-format/proc-fs tests),
 * plus a sanity test of the fake itself.
 */
import * as assert from 'node:assert/strict';
import type { Credentials, TaskApi } from '../../core/kernel/api';
import { makeCreds } from '../../core/kernel/caps';
import type {
  ProcFd,
  ProcFsType,
  ProcMemInfo,
  ProcMm,
  ProcSource,
  ProcState,
  ProcTask,
  ProcVma,
} from '../../core/fs/proc/source';
import type { VirtualDentry } from '../../core/vfs/mount';

export const RLIM_INF = 2n ** 64n - 1n;

export function creds(uid: number, gid = uid, groups: number[] = []): Credentials {
  return makeCreds(uid, gid, groups);
}

export function vma(
  start: number,
  end: number,
  prot: number,
  o: Partial<ProcVma> & { rssBytes?: number } = {},
): ProcVma {
  const rssBytes = o.rssBytes ?? 0;
  return {
    start,
    end,
    prot,
    shared: o.shared ?? false,
    growsDown: o.growsDown ?? false,
    fileOff: o.fileOff ?? 0,
    name: o.name ?? {},
    locked: o.locked ?? false,
    rss: () => rssBytes,
  };
}

export class FakeMm implements ProcMm {
  vmas: ProcVma[] = [];
  brkStart = 0x600000;
  brk = 0x621000;
  startStack = 0x7ffffffde000;
  argStart = 0x7ffffffdf000;
  argEnd = 0;
  envStart = 0;
  envEnd = 0;
  auxv: number[] = [6, 4096, 0, 0];
  exePath = '/bin/busybox';
  /** Bytes at argStart: argv then envp. */
  mem: Buffer = Buffer.alloc(0);
  setArgs(argv: string[], envp: string[]): void {
    const a = Buffer.from(argv.map((x) => x + '\0').join(''), 'latin1');
    const e = Buffer.from(envp.map((x) => x + '\0').join(''), 'latin1');
    this.mem = Buffer.concat([a, e]);
    this.argEnd = this.envStart = this.argStart + a.length;
    this.envEnd = this.envStart + e.length;
  }
  read(addr: number, len: number): Uint8Array {
    const off = addr - this.argStart;
    if (off < 0 || off >= this.mem.length) return new Uint8Array(0);
    return this.mem.subarray(off, Math.min(this.mem.length, off + len));
  }
}

export class FakeProcTask implements ProcTask {
  comm = 'sh';
  state: ProcState = 'S';
  zombie = false;
  ppid = 0;
  pgid: number;
  sid: number;
  ttyNr = 0;
  tpgid = -1;
  creds: Credentials = creds(0);
  startNs = 1_500_000_000n;
  utime = 0;
  stime = 0;
  cutime = 0;
  cstime = 0;
  nice = 0;
  exitSignal = 17;
  exitCode = 0;
  cpusAllowed = 3n;
  sigPending = 0n;
  sigSharedPending = 0n;
  sigBlocked = 0n;
  sigIgnored = 0n;
  sigCaught = 0n;
  sigQueued = 0;
  limits: [bigint, bigint][] = Array.from({ length: 16 }, () => [RLIM_INF, RLIM_INF] as [bigint, bigint]);
  noNewPrivs = false;
  umask = 0o022;
  oomScoreAdj = 0;
  voluntarySwitches = 0;
  involuntarySwitches = 0;
  mm: FakeMm | null = new FakeMm();
  files: ProcFd[] | null = [];
  fdTableSize = 64;
  rootVd: VirtualDentry | null = null;
  cwdVd: VirtualDentry | null = null;
  threadIds: number[];

  constructor(
    readonly tid: number,
    readonly tgid = tid,
  ) {
    this.pgid = tgid;
    this.sid = tgid;
    this.threadIds = [tid];
  }
  threads(): number[] {
    return this.threadIds;
  }
  setComm(name: string): void {
    this.comm = name;
  }
  setOomScoreAdj(v: number): void {
    this.oomScoreAdj = v;
  }
  fds(): ProcFd[] | null {
    return this.files;
  }
  fd(n: number): ProcFd | null {
    return this.files?.find((f) => f.fd === n) ?? null;
  }
  root(): VirtualDentry | null {
    return this.rootVd;
  }
  cwd(): VirtualDentry | null {
    return this.cwdVd;
  }
}

export class FakeProcSource implements ProcSource {
  readonly tasks = new Map<number, FakeProcTask>();
  /** The task /proc/self names when no TaskApi is passed. */
  callerTid = 1;
  host = 'sandbox';
  domain = '(none)';
  ncpu = 2;
  cpuinfoText = '';
  mem: ProcMemInfo = {
    total: 1 << 30,
    free: 768 << 20,
    available: 900 << 20,
    buffers: 0,
    cached: 132 << 20,
    shmem: 4 << 20,
    anon: 100 << 20,
    mapped: 20 << 20,
    swapTotal: 0,
    swapFree: 0,
  };

  add(t: FakeProcTask): FakeProcTask {
    this.tasks.set(t.tid, t);
    return t;
  }
  pids(): number[] {
    return [...this.tasks.values()]
      .filter((t) => t.tid === t.tgid)
      .map((t) => t.tid)
      .sort((a, b) => a - b);
  }
  task(tid: number): ProcTask | null {
    return this.tasks.get(tid) ?? null;
  }
  caller(t?: TaskApi): { tid: number; tgid: number } | null {
    if (t) return { tid: t.tid, tgid: t.tgid };
    const c = this.tasks.get(this.callerTid);
    return c ? { tid: c.tid, tgid: c.tgid } : null;
  }
  forks(): number {
    return 42;
  }
  lastPid(): number {
    return 42;
  }
  uptimeNs(): bigint {
    return 12_345_678_901n;
  }
  bootTimeSec(): number {
    return 1700000000;
  }
  cpus(): number {
    return this.ncpu;
  }
  hostCpuinfo(): string {
    return this.cpuinfoText;
  }
  memInfo(): ProcMemInfo {
    return this.mem;
  }
  loadavg(): [number, number, number] {
    return [0.5, 0.25, 0.125];
  }
  hostname(): string {
    return this.host;
  }
  setHostname(n: string): void {
    this.host = n;
  }
  domainname(): string {
    return this.domain;
  }
  bootId(): string {
    return '0f2c6b8e-7c43-4a3a-9b1e-3a4f1f0c2d11';
  }
  filesystems(): ProcFsType[] {
    return [
      { name: 'sysfs', nodev: true },
      { name: 'proc', nodev: true },
      { name: 'ext4', nodev: false },
    ];
  }
}

describe('proc: the fake ProcSource', () => {
  it('lists thread-group leaders only and finds any thread', () => {
    const s = new FakeProcSource();
    s.add(new FakeProcTask(1));
    s.add(new FakeProcTask(7, 1));
    s.add(new FakeProcTask(3));
    assert.deepEqual(s.pids(), [1, 3]);
    assert.equal(s.task(7)?.tgid, 1);
    assert.deepEqual(s.caller(), { tid: 1, tgid: 1 });
  });
});
