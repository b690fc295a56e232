/**
 * The syscall table is data: number -> definition. Families (`linux/*.ts`) export arrays
 * of SyscallDef; `table.ts` assembles them; `docs/syscalls.md` and `--strace` decoding are
 * generated from the same entries (support level, note, argument kinds).
 */
import type { SyscallHandler, TaskApi } from '../kernel/api';

export type Support = 'full' | 'partial' | 'none';

/**
 * How --strace prints an argument.
 *  int: signed decimal; uint: unsigned decimal; hex: 0x...; fd: file descriptor; ptr: address;
 *  path: NUL-terminated string read from app memory; buf: byte buffer whose length is the
 *  *next* argument (printed on entry for writes); outbuf: same, printed on exit with the
 *  result as length (reads); oflags/mode/prot/mmapflags/signal/clockid: symbolic flags.
 */
export type ArgKind =
  | 'int'
  | 'uint'
  | 'hex'
  | 'fd'
  | 'ptr'
  | 'path'
  | 'buf'
  | 'outbuf'
  | 'oflags'
  | 'mode'
  | 'prot'
  | 'mmapflags'
  | 'signal'
  | 'clockid'
  | 'strv';

export interface SyscallDef<T extends TaskApi = any> {
  nr: number;
  name: string;
  handler?: SyscallHandler<T>;
  support: Support;
  /** What is missing (partial) or why it is not supported; shown in docs and logged once under --strace. */
  note?: string;
  /** Argument kinds for strace (the number of entries is the number of args printed). */
  args?: ArgKind[];
  /** Result printed as hex (mmap, brk). */
  hexResult?: boolean;
}
