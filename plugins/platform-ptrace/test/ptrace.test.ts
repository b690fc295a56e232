import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { container } from 'tsyringe';
import { coreNative } from '../../../core/native';
import {
  FPREGS_SIZE,
  Platform,
  Reg,
  StopReason,
  type ContextOwner,
  type PlatformLogger,
} from '../../../core/plugins';
import { manifest, measureGetpidRoundTrip, PtraceAddressSpace, PtraceContext, PtracePlatform } from '..';
import { CODE, CODE_ADDR, DATA_ADDR, RO_ADDR } from './code';

const PAGE = 4096;
const MEM_SIZE = 1 << 20;
const PROT_R = 1;
const PROT_W = 2;
const PROT_X = 4;
// memory file layout
const CODE_OFF = 0x0000;
const DATA_OFF = 0x1000;
const RO_OFF = 0x2000;
const DATA2_OFF = 0x3000;
const CODE2_OFF = 0x4000;

const SIGILL = 4;
const SIGTRAP = 5;
const SIGBUS = 7;
const SIGFPE = 8;
const SIGSEGV = 11;

const silent: PlatformLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Collects stops; tests await them one by one, or install a handler that resumes. */
class Owner implements ContextOwner {
  private readonly pending: StopReason[] = [];
  private readonly waiters: ((r: StopReason) => void)[] = [];
  /** Return true when the stop was dealt with (typically resumed). */
  handler?: (reason: StopReason) => boolean;

  onStop(reason: StopReason): void {
    if (this.handler?.(reason)) return;
    const w = this.waiters.shift();
    if (w) w(reason);
    else this.pending.push(reason);
  }

  next(timeoutMs = 5000): Promise<StopReason> {
    const r = this.pending.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no stop within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((reason) => {
        clearTimeout(t);
        resolve(reason);
      });
    });
  }
}

interface ProcInfo {
  pid: number;
  name: string;
  state: string;
  ppid: number;
  tracer: number;
}

function procInfo(pid: number): ProcInfo | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (k: string): string =>
    /^(\S+):\s*(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(k + ':')) ?? '')?.[2] ?? '';
  return {
    pid,
    name: field('Name'),
    state: field('State').charAt(0),
    ppid: Number(field('PPid')),
    tracer: Number(field('TracerPid')),
  };
}

/** Live (non-zombie) processes that are stubs of this process: named tsvisor-stub, our child or tracee. */
function ourLiveStubs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = procInfo(Number(d));
    if (!p || p.state === 'Z' || p.state === 'X') continue;
    if (p.name === 'tsvisor-stub' && (p.ppid === process.pid || p.tracer === process.pid)) out.push(p);
  }
  return out;
}

function isAlive(pid: number): boolean {
  const p = procInfo(pid);
  return p !== undefined && p.state !== 'Z' && p.state !== 'X';
}

function tasks(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('platform-ptrace', function () {
  this.timeout(30000);
  let fd = -1;
  let mem: Uint8Array;
  let platform: PtracePlatform;

  function standardSpace(): PtraceAddressSpace {
    const as = platform.newAddressSpace() as PtraceAddressSpace;
    as.mapFile(CODE_ADDR, PAGE, CODE_OFF, PROT_R | PROT_X);
    as.mapFile(DATA_ADDR, PAGE, DATA_OFF, PROT_R | PROT_W);
    as.mapFile(RO_ADDR, PAGE, RO_OFF, PROT_R);
    return as;
  }

  function start(ctx: PtraceContext, routine: string): void {
    ctx.regs[Reg.RIP] = BigInt(CODE_ADDR + CODE.at[routine]);
    ctx.regs[Reg.RSP] = BigInt(DATA_ADDR + PAGE);
    ctx.resume();
  }

  function u64(off: number): bigint {
    return new DataView(mem.buffer).getBigUint64(off, true);
  }

  beforeEach(() => {
    const core = coreNative();
    fd = core.memfdCreate('tsvisor-ptrace-test', MEM_SIZE);
    mem = new Uint8Array(core.mapShared(fd, 0, MEM_SIZE, true));
    mem.set(CODE.bytes, CODE_OFF);
    platform = new PtracePlatform();
    platform.init({ memoryFd: fd, log: silent });
  });

  afterEach(() => {
    platform.shutdown();
    coreNative().closeFd(fd);
  });

  it('places the stub at the top of the address space and pins by default', () => {
    const caps = platform.capabilities;
    assert.equal(caps.faultAccessType, false);
    assert.ok(caps.minUserAddress >= PAGE);
    assert.ok(caps.maxUserAddress <= 0x7fffffffe000 && caps.maxUserAddress > 0x7f0000000000);
    assert.ok(platform.pinnedCpu >= 0);
    const master = procInfo(platform.masterPid)!;
    assert.equal(master.name, 'tsvisor-stub');
    assert.equal(master.tracer, process.pid);
    const maps = fs.readFileSync(`/proc/${platform.masterPid}/maps`, 'utf8').trim().split('\n');
    assert.equal(maps.length, 2, maps.join('\n'));
    assert.deepEqual(fs.readdirSync(`/proc/${platform.masterPid}/fd`), ['3']);
  });

  it('puts stubs in fresh network, IPC, UTS and mount namespaces (as root)', function () {
    if (process.getuid?.() !== 0) this.skip();
    const as = platform.newAddressSpace() as PtraceAddressSpace;
    for (const ns of ['net', 'ipc', 'uts', 'mnt']) {
      const mine = fs.readlinkSync(`/proc/self/ns/${ns}`);
      assert.notEqual(fs.readlinkSync(`/proc/${platform.masterPid}/ns/${ns}`), mine, `master stub ${ns}`);
      assert.notEqual(fs.readlinkSync(`/proc/${as.pid}/ns/${ns}`), mine, `address-space stub ${ns}`);
    }
  });

  it('stops at a syscall with its number and arguments; the app sees the rax the sentry sets', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    assert.equal(ctx.regs[Reg.CS], 0x33n);
    assert.equal(ctx.regs[Reg.SS], 0x2bn);
    assert.equal(ctx.regs[Reg.RAX], 0n);
    start(ctx, 'basic');
    assert.equal(await owner.next(), StopReason.Syscall);
    const r = ctx.regs;
    assert.equal(r[Reg.ORIG_RAX], 39n);
    assert.equal(r[Reg.RAX], 39n);
    assert.deepEqual(
      [r[Reg.RDI], r[Reg.RSI], r[Reg.RDX], r[Reg.R10], r[Reg.R8], r[Reg.R9]],
      [11n, 22n, 33n, 44n, 55n, 66n],
    );
    assert.equal(ctx.regs32[Reg.ORIG_RAX * 2], 39);
    r[Reg.RAX] = 4242n;
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(r[Reg.ORIG_RAX], 231n);
    assert.equal(r[Reg.RDI], 4242n);
    assert.equal(u64(DATA_OFF), 4242n);
    // exit_group was not run by the host: the thread is still there.
    assert.ok(tasks(as.pid).includes(ctx.tid));
    assert.ok(isAlive(as.pid));
  });

  it('never runs the app system calls on the host', async () => {
    const as = standardSpace();
    mem.set(Buffer.from('XXXXXXXX'), DATA_OFF);
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    ctx.regs[Reg.R12] = BigInt(as.pid);
    start(ctx, 'hostnot');
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.ORIG_RAX], 1n); // write(3, data, 8)
    assert.equal(ctx.regs[Reg.RDI], 3n);
    ctx.regs[Reg.RAX] = 8n;
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.ORIG_RAX], 62n); // kill(stub pid, SIGKILL)
    assert.equal(ctx.regs[Reg.RDI], BigInt(as.pid));
    ctx.regs[Reg.RAX] = 0n;
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.ORIG_RAX], 231n);
    // The memory file (fd 3 in the stub) was not written at offset 0, and the stub lives.
    assert.deepEqual(mem.subarray(0, 8), CODE.bytes.subarray(0, 8));
    assert.ok(isAlive(as.pid));
  });

  it('reports memory faults with signal, code, address and (for fetches) access', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    const si = ctx.stopInfo;
    start(ctx, 'loadfault');
    assert.equal(await owner.next(), StopReason.Fault);
    assert.deepEqual({ ...si }, { signo: SIGSEGV, code: 1 /* SEGV_MAPERR */, addr: 0x10000000, access: 0 });
    assert.equal(ctx.regs[Reg.RIP], BigInt(CODE_ADDR + CODE.at.loadfault));

    start(ctx, 'storero');
    assert.equal(await owner.next(), StopReason.Fault);
    assert.deepEqual({ ...si }, { signo: SIGSEGV, code: 2 /* SEGV_ACCERR */, addr: RO_ADDR, access: 0 });

    start(ctx, 'jmpnx');
    assert.equal(await owner.next(), StopReason.Fault);
    assert.deepEqual({ ...si }, { signo: SIGSEGV, code: 2, addr: DATA_ADDR, access: 4 /* Exec */ });
    assert.equal(ctx.regs[Reg.RIP], BigInt(DATA_ADDR));

    // protect() and unmap() change what the app sees.
    as.protect(RO_ADDR, PAGE, PROT_R | PROT_W);
    ctx.regs[Reg.RAX] = 0x1234n;
    start(ctx, 'storero'); // the store succeeds now; execution runs on into jmpnx
    assert.equal(await owner.next(), StopReason.Fault);
    assert.equal(si.addr, DATA_ADDR);
    assert.equal(u64(RO_OFF), 0x1234n);
    as.unmap(RO_ADDR, PAGE);
    start(ctx, 'storero');
    assert.equal(await owner.next(), StopReason.Fault);
    assert.deepEqual({ ...si }, { signo: SIGSEGV, code: 1, addr: RO_ADDR, access: 0 });

    // A page of the memory file beyond its end: SIGBUS.
    as.mapFile(0x500000, PAGE, 2 * MEM_SIZE, PROT_R);
    start(ctx, 'busload');
    assert.equal(await owner.next(), StopReason.Fault);
    assert.deepEqual({ ...si }, { signo: SIGBUS, code: 2 /* BUS_ADRERR */, addr: 0x500000, access: 0 });
  });

  it('reports SIGILL, SIGTRAP and SIGFPE as Signal stops without delivering them', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    const si = ctx.stopInfo;
    start(ctx, 'undef');
    assert.equal(await owner.next(), StopReason.Signal);
    assert.deepEqual(
      { ...si },
      { signo: SIGILL, code: 2 /* ILL_ILLOPN */, addr: CODE_ADDR + CODE.at.undef, access: 0 },
    );
    start(ctx, 'brk');
    assert.equal(await owner.next(), StopReason.Signal);
    assert.equal(si.signo, SIGTRAP);
    assert.equal(ctx.regs[Reg.RIP], BigInt(CODE_ADDR + CODE.at.brk + 1));
    start(ctx, 'divz');
    assert.equal(await owner.next(), StopReason.Signal);
    assert.equal(si.signo, SIGFPE);
    assert.equal(si.code, 1 /* FPE_INTDIV */);
    // The thread survived all three.
    ctx.regs[Reg.RDI] = 7n;
    start(ctx, 'exit');
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.RDI], 7n);
  });

  it('runs several address spaces and several threads per address space concurrently', async () => {
    const as1 = standardSpace();
    const as2 = platform.newAddressSpace() as PtraceAddressSpace;
    as2.mapFile(CODE_ADDR, PAGE, CODE_OFF, PROT_R | PROT_X);
    as2.mapFile(DATA_ADDR, PAGE, DATA2_OFF, PROT_R | PROT_W); // same address, other memory
    const spaces = [as1, as1, as1, as2, as2];
    const N = 300;
    const ctxs: PtraceContext[] = [];
    const exits: bigint[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    // Each thread's first getpid is held (as a blocking system call would be) until all
    // of them have made one: no thread can finish before every other has run.
    const held: PtraceContext[] = [];
    spaces.forEach((as, i) => {
      let first = true;
      const owner: ContextOwner = {
        onStop(reason) {
          const ctx = ctxs[i];
          assert.equal(reason, StopReason.Syscall);
          if (ctx.regs32[Reg.ORIG_RAX * 2] === 39) {
            ctx.regs[Reg.RAX] = BigInt(i + 1);
            if (first) {
              first = false;
              held.push(ctx);
              if (held.length === spaces.length) setTimeout(() => held.forEach((c) => c.resume()), 5);
              return;
            }
            ctx.resume();
          } else {
            exits[i] = ctx.regs[Reg.RDI];
            if (Object.keys(exits).length === spaces.length) done();
          }
        },
      };
      ctxs.push(platform.newContext(as, owner));
    });
    assert.equal(tasks(as1.pid).length, 4); // control thread + 3
    assert.equal(tasks(as2.pid).length, 3);
    ctxs.forEach((ctx, i) => {
      ctx.regs[Reg.R12] = BigInt(N);
      ctx.regs[Reg.R13] = BigInt(DATA_ADDR + 8 * i);
      start(ctx, 'loop');
    });
    await finished;
    exits.forEach((rdi, i) => assert.equal(rdi, BigInt(N * (i + 1))));
    for (let i = 0; i < 5; i++)
      assert.equal(u64((i < 3 ? DATA_OFF : DATA2_OFF) + 8 * i), BigInt(N * (i + 1)));
  });

  it('interrupts a spinning thread without blocking the event loop, and honours a pending interrupt', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    start(ctx, 'spin');
    await delay(100);
    clearInterval(timer);
    assert.ok(ticks >= 5, `timers starved while the app spins (${ticks} ticks)`);
    ctx.interrupt();
    assert.equal(await owner.next(), StopReason.Interrupt);
    assert.equal(ctx.regs[Reg.RIP], BigInt(CODE_ADDR + CODE.at.spin));
    // Interrupt while stopped: the next resume reports Interrupt without running the app.
    ctx.regs[Reg.RIP] = BigInt(CODE_ADDR + CODE.at.exit);
    ctx.interrupt();
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Interrupt);
    assert.equal(ctx.regs[Reg.RIP], BigInt(CODE_ADDR + CODE.at.exit));
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.ORIG_RAX], 231n);
  });

  it('keeps app state intact under interrupts racing with system calls', async () => {
    const as = standardSpace();
    const N = 20000;
    let interrupts = 0;
    let result: bigint | undefined;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const owner: ContextOwner = {
      onStop(reason) {
        if (reason === StopReason.Interrupt) {
          interrupts++;
          ctx.resume();
          return;
        }
        assert.equal(reason, StopReason.Syscall);
        if (ctx.regs32[Reg.ORIG_RAX * 2] === 39) {
          ctx.regs[Reg.RAX] = 3n;
          ctx.resume();
        } else {
          result = ctx.regs[Reg.RDI];
          done();
        }
      },
    };
    const ctx = platform.newContext(as, owner);
    ctx.regs[Reg.R12] = BigInt(N);
    ctx.regs[Reg.R13] = BigInt(DATA_ADDR);
    let requests = 0;
    const timer = setInterval(() => {
      requests++;
      ctx.interrupt();
    }, 1);
    start(ctx, 'loop');
    await finished;
    clearInterval(timer);
    // Each request ends in an Interrupt stop or is satisfied by the system call stop that
    // beat the signal (the late signal is then swallowed): never more stops than requests.
    assert.equal(result, BigInt(3 * N));
    assert.ok(requests > 0 && interrupts <= requests, `${interrupts} interrupts for ${requests} requests`);
  });

  it('does not deliver host signals sent to a stub from outside', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    start(ctx, 'spin');
    await delay(20);
    process.kill(as.pid, 'SIGTERM');
    process.kill(as.pid, 'SIGSEGV');
    await delay(50);
    assert.ok(isAlive(as.pid));
    ctx.interrupt();
    assert.equal(await owner.next(), StopReason.Interrupt);
  });

  it('round-trips the FPU/SSE state and starts contexts with a clean one', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    const fx = new Uint8Array(FPREGS_SIZE);
    ctx.getFpState(fx);
    const dv = new DataView(fx.buffer);
    assert.equal(dv.getUint16(0, true), 0x37f, 'FCW');
    assert.equal(dv.getUint32(24, true), 0x1f80, 'MXCSR');
    assert.ok(
      fx.subarray(160, 416).every((b) => b === 0),
      'XMM registers leak host state',
    );
    const a = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const b = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 - i);
    fx.set(a, 160); // xmm0
    ctx.setFpState(fx);
    mem.set(b, DATA_OFF + 0x10);
    start(ctx, 'fp');
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.deepEqual(mem.subarray(DATA_OFF, DATA_OFF + 16), a);
    const out = new Uint8Array(FPREGS_SIZE);
    ctx.getFpState(out);
    assert.deepEqual(out.subarray(176, 192), b); // xmm1
    assert.throws(() => ctx.getFpState(new Uint8Array(16)), /512/);
  });

  it('moves a context to another address space (execve) and releases threads and stubs', async () => {
    const as1 = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as1, owner);
    start(ctx, 'basic');
    assert.equal(await owner.next(), StopReason.Syscall);
    const oldTid = ctx.tid;
    mem.set(CODE.bytes.subarray(CODE.at.getuid, CODE.at.getuid + 7), CODE2_OFF);
    const as2 = platform.newAddressSpace() as PtraceAddressSpace;
    as2.mapFile(CODE_ADDR, PAGE, CODE2_OFF, PROT_R | PROT_X);
    ctx.switchAddressSpace(as2);
    assert.equal(ctx.addressSpace, as2);
    assert.notEqual(ctx.tid, oldTid);
    assert.deepEqual(tasks(as1.pid), [as1.pid]);
    ctx.regs[Reg.RIP] = BigInt(CODE_ADDR);
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Syscall);
    assert.equal(ctx.regs[Reg.ORIG_RAX], 102n);

    // release(): the thread goes, then the whole stub.
    const other = platform.newContext(as2, new Owner());
    assert.equal(tasks(as2.pid).length, 3);
    other.release();
    assert.equal(tasks(as2.pid).length, 2);
    as1.release();
    assert.equal(isAlive(as1.pid), false);
    assert.throws(() => as1.mapFile(CODE_ADDR, PAGE, 0, PROT_R), /released/);
  });

  it('reports Died for a thread killed from outside or whose address space is released', async () => {
    const as = standardSpace();
    const owner = new Owner();
    const ctx = platform.newContext(as, owner);
    start(ctx, 'spin');
    await delay(10);
    process.kill(as.pid, 'SIGKILL');
    assert.equal(await owner.next(), StopReason.Died);
    ctx.resume();
    assert.equal(await owner.next(), StopReason.Died);
    ctx.release();

    const as2 = standardSpace();
    const ctx2 = platform.newContext(as2, owner);
    start(ctx2, 'spin');
    await delay(10);
    as2.release();
    assert.equal(await owner.next(), StopReason.Died);
    ctx2.release();
    // The platform still works.
    const as3 = standardSpace();
    const ctx3 = platform.newContext(as3, owner);
    start(ctx3, 'basic');
    assert.equal(await owner.next(), StopReason.Syscall);
  });

  it('validates arguments and names host errors', () => {
    const as = standardSpace();
    assert.throws(() => as.mapFile(CODE_ADDR + 1, PAGE, 0, PROT_R), RangeError);
    assert.throws(() => as.mapFile(CODE_ADDR, PAGE, 0, 8), RangeError);
    assert.throws(
      () => as.mapFile(platform.capabilities.maxUserAddress, PAGE, 0, PROT_R),
      /above the app range/,
    );
    assert.throws(
      () => as.protect(0x7000000000, PAGE, PROT_R),
      (e: Error & { errno?: number; pid?: number }) =>
        /mprotect/.test(e.message) && /ENOMEM/.test(e.message) && e.errno === 12 && e.pid === as.pid,
    );
    const ctx = platform.newContext(as, new Owner());
    start(ctx, 'spin');
    assert.throws(() => ctx.resume(), /already running/);
    assert.throws(() => ctx.getFpState(new Uint8Array(FPREGS_SIZE)), /running/);
  });

  it('leaves no stub behind after shutdown', async () => {
    const as1 = standardSpace();
    const as2 = standardSpace();
    const owner = new Owner();
    start(platform.newContext(as1, owner), 'spin');
    start(platform.newContext(as1, owner), 'spin');
    platform.newContext(as2, owner);
    const listeners = process.listenerCount('SIGCHLD');
    assert.equal(ourLiveStubs().length, 3);
    platform.shutdown();
    platform.shutdown(); // idempotent
    assert.deepEqual(ourLiveStubs(), []);
    for (const pid of [platform.masterPid, as1.pid, as2.pid]) assert.equal(procInfo(pid), undefined);
    assert.equal(process.listenerCount('SIGCHLD'), listeners - 1);
  });

  it('leaves no stub behind when the Node process owning it is SIGKILLed', async () => {
    const dist = path.resolve(__dirname, '..');
    const script = `
      const { PtracePlatform } = require(${JSON.stringify(path.join(dist, 'index.js'))});
      const { coreNative } = require(${JSON.stringify(path.resolve(dist, '..', '..', 'core', 'native', 'index.js'))});
      const fd = coreNative().memfdCreate('t', 65536);
      new Uint8Array(coreNative().mapShared(fd, 0, 65536, true)).set([0xeb, 0xfe]);
      const log = { debug() {}, info() {}, warn() {}, error() {} };
      const p = new PtracePlatform({ pin: false });
      p.init({ memoryFd: fd, log });
      const a = p.newAddressSpace(), b = p.newAddressSpace();
      a.mapFile(0x400000, 4096, 0, 5);
      const c = p.newContext(a, { onStop() {} });
      c.regs[16] = 0x400000n;
      c.resume();
      p.newContext(b, { onStop() {} });
      console.log(JSON.stringify([p.masterPid, a.pid, b.pid]));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const pids = JSON.parse(line) as number[];
    for (const pid of pids) {
      assert.equal(procInfo(pid)?.name, 'tsvisor-stub');
      assert.equal(procInfo(pid)?.tracer, child.pid);
    }
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 5000;
    while (pids.some(isAlive) && Date.now() < deadline) await delay(20);
    assert.deepEqual(pids.filter(isAlive), []);
  });

  it('registers as the Platform in a tsyringe container and measures a getpid round trip', async () => {
    assert.equal(manifest.kind, 'platform');
    assert.equal(manifest.name, 'ptrace');
    const child = container.createChildContainer();
    manifest.register(child, { pin: false });
    assert.ok(child.resolve(Platform) instanceof PtracePlatform);
    const us = await measureGetpidRoundTrip(2000);
    assert.ok(Number.isFinite(us) && us > 0, String(us));
  });
});
