/**
 * Micro-measurements of the KVM platform's hot path, for the bench suite: app code that
 * calls getpid n times (each answered with 4242 and checked by the app), then exit_group.
 * Timings belong in bench/, never in tests.
 */
import { coreNative } from '../../../core/native';
import { Reg, StopReason, type PlatformLogger } from '../../../core/plugins';
import { KvmPlatform, type KvmContext, type KvmOptions } from './platform';

const PAGE = 4096;
const CODE_ADDR = 0x400000;
const PROT_READ = 1;
const PROT_EXEC = 4;
const SYS_getpid = 39;
const SYS_exit_group = 231;
const MEM_SIZE = 2 ** 24;

// r12 = n (set through the registers)
//  0: mov eax, 39 ; syscall ; cmp eax, 4242 ; jne bad ; dec r12 ; jnz 0
// 13: xor edi, edi ; mov eax, 231 ; syscall          (exit_group(0))
// 1c: bad: mov edi, 1 ; mov eax, 231 ; syscall       (exit_group(1))
const GETPID_LOOP = [
  0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x3d, 0x92, 0x10, 0x00, 0x00, 0x75, 0x0e, 0x49, 0xff, 0xcc, 0x75,
  0xed, 0x31, 0xff, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00,
  0x00, 0x00, 0x0f, 0x05,
];

const silent: PlatformLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface KvmGetpidTimes {
  /** µs per round trip through the whole platform (stop reported to JS, resumed from JS). */
  platformUs: number;
  /** µs per round trip answered in C inside the addon (the host's floor for this design). */
  floorUs: number;
  /** Of platformUs: median and mean µs from the exit's return to the answering KVM_RUN (the JS/N-API share). */
  gapMedianUs: number;
  gapMeanUs: number;
  /** Of the n JS-answered system calls: how many took the fast path (one KVM_RUN, no register ioctls) and how many did not. */
  roundTrips: number;
  slowResumes: number;
}

/**
 * Runs n getpid round trips through the platform (JS owner answers each) and n more
 * answered in C, on a fresh platform over a private memory file. Throws if the app saw a
 * wrong result or the platform failed.
 */
export async function measureGetpidRoundTrip(n: number, options: KvmOptions = {}): Promise<KvmGetpidTimes> {
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`n must be a positive integer (got ${n})`);
  const core = coreNative();
  const fd = core.memfdCreate('tsvisor-kvm-measure', MEM_SIZE);
  const platform = new KvmPlatform(options);
  try {
    platform.init({ memoryFd: fd, log: silent });
    const mem = new Uint8Array(core.mapShared(fd, 0, PAGE, true));
    mem.set(GETPID_LOOP, 0);
    const as = platform.newAddressSpace();
    as.mapFile(CODE_ADDR, PAGE, 0, PROT_READ | PROT_EXEC);
    return await new Promise<KvmGetpidTimes>((resolve, reject) => {
      let seen = 0;
      let t0 = 0;
      let platformUs = 0;
      let floor = NaN;
      let gapMedianUs = NaN;
      let gapMeanUs = NaN;
      let roundTrips = 0;
      let slowResumes = 0;
      const owner = {
        onStop(reason: StopReason): void {
          try {
            if (reason !== StopReason.Syscall) throw new Error(`unexpected stop ${reason}`);
            const nr = Number(ctx.regs[Reg.ORIG_RAX]);
            if (nr === SYS_exit_group) {
              if (ctx.regs[Reg.RDI] !== 0n) throw new Error('the app saw a wrong getpid result');
              resolve({ platformUs, floorUs: floor, gapMedianUs, gapMeanUs, roundTrips, slowResumes });
              return;
            }
            if (nr !== SYS_getpid) throw new Error(`unexpected syscall ${nr}`);
            seen++;
            if (seen === 1) {
              platform.native.stats(true);
              t0 = performance.now();
            }
            if (seen === n + 1) {
              platformUs = ((performance.now() - t0) * 1000) / n;
              const st = platform.native.stats(true);
              gapMedianUs = st.gapMedianNs / 1000;
              gapMeanUs = st.roundTrips > 0 ? st.gapNs / st.roundTrips / 1000 : NaN;
              roundTrips = st.roundTrips;
              slowResumes = st.slowResumes;
              // Now n more, answered in C: this stop and n - 1 after it; stops at the n-th.
              const ns = platform.native.spinSyscalls(ctx.slot, n, 4242);
              if (ns < 0) throw new Error('spinSyscalls: an exit other than a system call');
              floor = ns / n / 1000;
            }
            ctx.regs[Reg.RAX] = 4242n;
            ctx.resume();
          } catch (e) {
            reject(e as Error);
          }
        },
      };
      const ctx: KvmContext = platform.newContext(as, owner);
      ctx.regs[Reg.RIP] = BigInt(CODE_ADDR);
      ctx.regs[Reg.R12] = BigInt(2 * n + 2);
      ctx.regs[Reg.EFLAGS] = 0x202n;
      ctx.resume();
    });
  } finally {
    platform.shutdown();
    core.closeFd(fd);
  }
}
