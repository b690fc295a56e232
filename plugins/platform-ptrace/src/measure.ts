/**
 * Micro-measurement of the platform's hot path, for the bench suite: app code that calls
 * getpid n times (each answered by the "sentry" with 4242 and checked by the app), then
 * exit_group. Timings belong in bench/, never in tests.
 */
import { coreNative } from '../../../core/native';
import { Reg, StopReason, type PlatformLogger } from '../../../core/plugins';
import { PtracePlatform, type PtraceContext, type PtraceOptions } from './platform';

const PAGE = 4096;
const CODE_ADDR = 0x400000;
const PROT_READ = 1;
const PROT_EXEC = 4;
const SYS_getpid = 39;
const SYS_exit_group = 231;

// r12 = n (set through the registers)
// 0:  b8 27 00 00 00   mov eax, 39        ; getpid
// 5:  0f 05            syscall
// 7:  3d 92 10 00 00   cmp eax, 4242
// c:  75 0e            jne bad
// e:  49 ff cc         dec r12
// 11: 75 ed            jnz 0
// 13: 31 ff            xor edi, edi
// 15: b8 e7 00 00 00   mov eax, 231       ; exit_group(0)
// 1a: 0f 05            syscall
// 1c: bf 01 00 00 00   bad: mov edi, 1
// 21: b8 e7 00 00 00   mov eax, 231       ; exit_group(1)
// 26: 0f 05            syscall
const GETPID_LOOP = [
  0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x3d, 0x92, 0x10, 0x00, 0x00, 0x75, 0x0e, 0x49, 0xff, 0xcc, 0x75,
  0xed, 0x31, 0xff, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00,
  0x00, 0x00, 0x0f, 0x05,
];

const silent: PlatformLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Runs `n` getpid round trips (app syscall -> stop -> sentry sets rax -> resume) on a
 * fresh platform and returns the wall time per stop in microseconds (n + 1 stops: the
 * final exit_group included). `options` as for PtracePlatform (e.g. `{ pin: false }`).
 */
export async function measureGetpidRoundTrip(n: number, options: PtraceOptions = {}): Promise<number> {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`measureGetpidRoundTrip: n must be a positive integer (got ${n})`);
  const core = coreNative();
  const fd = core.memfdCreate('tsvisor-getpid-bench', PAGE);
  const platform = new PtracePlatform(options);
  try {
    new Uint8Array(core.mapShared(fd, 0, PAGE, true)).set(GETPID_LOOP);
    platform.init({ memoryFd: fd, log: silent });
    const as = platform.newAddressSpace();
    as.mapFile(CODE_ADDR, PAGE, 0, PROT_READ | PROT_EXEC);
    return await new Promise<number>((resolve, reject) => {
      let t0 = 0n;
      const owner = {
        onStop(reason: StopReason): void {
          const regs32 = ctx.regs32;
          if (reason === StopReason.Syscall && regs32[Reg.ORIG_RAX * 2] === SYS_getpid) {
            ctx.regs[Reg.RAX] = 4242n;
            ctx.resume();
            return;
          }
          const dt = Number(process.hrtime.bigint() - t0);
          if (reason !== StopReason.Syscall || regs32[Reg.ORIG_RAX * 2] !== SYS_exit_group)
            reject(
              new Error(
                `measureGetpidRoundTrip: unexpected stop ${reason} at rip 0x${ctx.regs[Reg.RIP].toString(16)}`,
              ),
            );
          else if (regs32[Reg.RDI * 2] !== 0)
            reject(new Error('measureGetpidRoundTrip: the app saw a wrong getpid result'));
          else resolve(dt / 1000 / (n + 1));
        },
      };
      const ctx: PtraceContext = platform.newContext(as, owner);
      ctx.regs[Reg.RIP] = BigInt(CODE_ADDR);
      ctx.regs[Reg.R12] = BigInt(n);
      t0 = process.hrtime.bigint();
      ctx.resume();
    });
  } finally {
    platform.shutdown();
    core.closeFd(fd);
  }
}
