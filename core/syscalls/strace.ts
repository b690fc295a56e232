/**
 * --strace: prints every syscall with decoded arguments and its result, as gVisor's
 * strace does ("I... tid strace.go: name(args) = ret (duration)"). Lines go to the
 * sandbox logger at info level with the tid, so they carry the sandbox and task ids.
 */
import type { SyscallTracer, KernelLogger } from '../kernel/kernel';
import type { Task } from '../kernel/task';
import type { ArgKind, SyscallDef } from './types';
import { errnoName } from '../abi/errno';
import { signalName } from '../kernel/signal-defs';
import { Reg } from '../plugins/platform';
import { SYSCALL_NAMES } from './names';

const ARG_REGS = [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9];
const MAX_STR = 64;

const OFLAGS: [number, string][] = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
  [0o20000000, 'O_TMPFILE'],
];
const PROTS: [number, string][] = [
  [1, 'PROT_READ'],
  [2, 'PROT_WRITE'],
  [4, 'PROT_EXEC'],
];
const MAPFLAGS: [number, string][] = [
  [0x1, 'MAP_SHARED'],
  [0x2, 'MAP_PRIVATE'],
  [0x10, 'MAP_FIXED'],
  [0x20, 'MAP_ANONYMOUS'],
  [0x100, 'MAP_GROWSDOWN'],
  [0x800, 'MAP_DENYWRITE'],
  [0x2000, 'MAP_LOCKED'],
  [0x4000, 'MAP_NORESERVE'],
  [0x8000, 'MAP_POPULATE'],
  [0x20000, 'MAP_STACK'],
  [0x100000, 'MAP_FIXED_NOREPLACE'],
];
const CLOCKS = [
  'CLOCK_REALTIME',
  'CLOCK_MONOTONIC',
  'CLOCK_PROCESS_CPUTIME_ID',
  'CLOCK_THREAD_CPUTIME_ID',
  'CLOCK_MONOTONIC_RAW',
  'CLOCK_REALTIME_COARSE',
  'CLOCK_MONOTONIC_COARSE',
  'CLOCK_BOOTTIME',
];

function flags(v: number, table: [number, string][], zero: string): string {
  const parts: string[] = [];
  let rest = v;
  for (const [bit, name] of table)
    if (v & bit) {
      parts.push(name);
      rest &= ~bit;
    }
  if (rest) parts.push('0x' + (rest >>> 0).toString(16));
  return parts.length ? parts.join('|') : zero;
}

function quote(b: Uint8Array, total: number): string {
  let s = '"';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x0a) s += '\\n';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  s += '"';
  if (total > b.length) s += '...';
  return s;
}

/** gVisor's prefix: "[pid:tid] comm". */
function who(t: Task): string {
  return `[${String(t.tgid).padStart(4)}:${String(t.tid).padStart(4)}] ${t.comm}`;
}

export class StraceFormatter implements SyscallTracer {
  private readonly entered = new Map<Task, { line: string; start: bigint; def?: SyscallDef }>();

  constructor(private readonly log: KernelLogger) {}

  private u(t: Task, i: number): number {
    const r = ARG_REGS[i] * 2;
    return t.u32[r] + t.u32[r + 1] * 4294967296;
  }
  private i(t: Task, i: number): number {
    return t.i32[ARG_REGS[i] * 2];
  }

  private fmtArg(t: Task, kind: ArgKind, i: number, nextLen: number, exiting: boolean, ret: number): string {
    const v = this.u(t, i);
    try {
      switch (kind) {
        case 'int':
        case 'fd':
          return String(this.i(t, i));
        case 'uint':
          return String(v);
        case 'hex':
        case 'ptr':
          return v ? '0x' + v.toString(16) : kind === 'ptr' ? 'NULL' : '0x0';
        case 'path':
          return v
            ? quote(Buffer.from(t.mm.readCString(v, 4096), 'latin1').subarray(0, MAX_STR * 4), 0)
            : 'NULL';
        case 'buf': {
          const n = Math.min(nextLen, MAX_STR);
          return v ? quote(t.mm.copyIn(v, n), nextLen) : 'NULL';
        }
        case 'outbuf': {
          if (!exiting) return v ? '0x' + v.toString(16) : 'NULL';
          if (ret <= 0) return '0x' + v.toString(16);
          const n = Math.min(ret, MAX_STR);
          return quote(t.mm.copyIn(v, n), ret);
        }
        case 'oflags': {
          const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & 3];
          const rest = flags(v & ~3, OFLAGS, '');
          return rest ? `${acc}|${rest}` : acc;
        }
        case 'mode':
          return '0o' + (v >>> 0).toString(8);
        case 'prot':
          return flags(v, PROTS, 'PROT_NONE');
        case 'mmapflags':
          return flags(v, MAPFLAGS, '0');
        case 'signal':
          return this.i(t, i) > 0 && this.i(t, i) <= 64 ? signalName(this.i(t, i)) : String(this.i(t, i));
        case 'clockid':
          return CLOCKS[v] ?? String(this.i(t, i));
        case 'strv': {
          if (!v) return 'NULL';
          const parts: string[] = [];
          for (let k = 0; k < 32; k++) {
            const p = t.mm.readU64(v + k * 8);
            if (!p) return '[' + parts.join(', ') + ']';
            parts.push(quote(Buffer.from(t.mm.readCString(p, 4096), 'latin1').subarray(0, MAX_STR), 0));
          }
          return '[' + parts.join(', ') + ', ...]';
        }
      }
    } catch {
      return '0x' + v.toString(16);
    }
  }

  private fmtArgs(t: Task, def: SyscallDef | undefined, exiting: boolean, ret: number): string {
    const kinds: ArgKind[] = def?.args ?? ['hex', 'hex', 'hex', 'hex', 'hex', 'hex'];
    const out: string[] = [];
    for (let i = 0; i < kinds.length; i++) {
      const next = i + 1 < 6 ? this.u(t, i + 1) : 0;
      out.push(this.fmtArg(t, kinds[i], i, next, exiting, ret));
    }
    return out.join(', ');
  }

  enter(t: Task, nr: number, def: SyscallDef | undefined): void {
    const name = def?.name ?? SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
    const hasOut = def?.args?.includes('outbuf');
    const line = `${name}(${this.fmtArgs(t, def, false, 0)})`;
    this.entered.set(t, { line, start: process.hrtime.bigint(), def });
    if (!def?.handler)
      this.log.info(
        { tid: t.tid, syscall: name, nr },
        `${t.tid} ${name}: unsupported syscall, returning ENOSYS`,
      );
    if (!hasOut) this.log.info({ tid: t.tid }, `${who(t)} E ${line}`);
  }

  exit(t: Task, nr: number, ret: number, noRet: boolean): void {
    const e = this.entered.get(t);
    this.entered.delete(t);
    const def = e?.def;
    const name = def?.name ?? SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
    const line = def?.args?.includes('outbuf')
      ? `${name}(${this.fmtArgs(t, def, true, ret)})`
      : (e?.line ?? name);
    const dur = e ? Number(process.hrtime.bigint() - e.start) / 1000 : 0;
    let r: string;
    if (noRet) r = '?';
    else if (ret < 0 && ret > -4096) r = `${ret} (${errnoName(-ret)})`;
    else r = def?.hexResult ? '0x' + ret.toString(16) : String(ret);
    this.log.info({ tid: t.tid }, `${who(t)} X ${line} = ${r} (${dur.toFixed(1)}µs)`);
  }
}
