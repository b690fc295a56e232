/** Linux x86-64 signal numbers, actions, siginfo codes and sigset helpers. */

export const SIGHUP = 1,
  SIGINT = 2,
  SIGQUIT = 3,
  SIGILL = 4,
  SIGTRAP = 5,
  SIGABRT = 6,
  SIGBUS = 7,
  SIGFPE = 8,
  SIGKILL = 9,
  SIGUSR1 = 10,
  SIGSEGV = 11,
  SIGUSR2 = 12,
  SIGPIPE = 13,
  SIGALRM = 14,
  SIGTERM = 15,
  SIGSTKFLT = 16,
  SIGCHLD = 17,
  SIGCONT = 18,
  SIGSTOP = 19,
  SIGTSTP = 20,
  SIGTTIN = 21,
  SIGTTOU = 22,
  SIGURG = 23,
  SIGXCPU = 24,
  SIGXFSZ = 25,
  SIGVTALRM = 26,
  SIGPROF = 27,
  SIGWINCH = 28,
  SIGIO = 29,
  SIGPWR = 30,
  SIGSYS = 31,
  SIGRTMIN = 32,
  NSIG = 64;

export const SIG_DFL = 0,
  SIG_IGN = 1;

export const SA_NOCLDSTOP = 0x1,
  SA_NOCLDWAIT = 0x2,
  SA_SIGINFO = 0x4,
  SA_RESTORER = 0x04000000,
  SA_ONSTACK = 0x08000000,
  SA_RESTART = 0x10000000,
  SA_NODEFER = 0x40000000,
  SA_RESETHAND = 0x80000000;

export const SIG_BLOCK = 0,
  SIG_UNBLOCK = 1,
  SIG_SETMASK = 2;

export const SS_ONSTACK = 1,
  SS_DISABLE = 2,
  SS_AUTODISARM = 1 << 31,
  MINSIGSTKSZ = 2048;

// si_code values
export const SI_USER = 0,
  SI_KERNEL = 0x80,
  SI_QUEUE = -1,
  SI_TIMER = -2,
  SI_MESGQ = -3,
  SI_ASYNCIO = -4,
  SI_SIGIO = -5,
  SI_TKILL = -6,
  CLD_EXITED = 1,
  CLD_KILLED = 2,
  CLD_DUMPED = 3,
  CLD_TRAPPED = 4,
  CLD_STOPPED = 5,
  CLD_CONTINUED = 6;

export const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  5: 'SIGTRAP',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  16: 'SIGSTKFLT',
  17: 'SIGCHLD',
  18: 'SIGCONT',
  19: 'SIGSTOP',
  20: 'SIGTSTP',
  21: 'SIGTTIN',
  22: 'SIGTTOU',
  23: 'SIGURG',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
  26: 'SIGVTALRM',
  27: 'SIGPROF',
  28: 'SIGWINCH',
  29: 'SIGIO',
  30: 'SIGPWR',
  31: 'SIGSYS',
};

export function signalName(s: number): string {
  return SIGNAL_NAMES[s] ?? (s >= SIGRTMIN && s <= NSIG ? `SIGRT_${s - SIGRTMIN}` : `signal ${s}`);
}

export const enum DefaultAction {
  Term,
  Core,
  Ignore,
  Stop,
  Continue,
}

export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return DefaultAction.Ignore;
    case SIGCONT:
      return DefaultAction.Continue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return DefaultAction.Stop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return DefaultAction.Core;
    default:
      return DefaultAction.Term;
  }
}

/** Bit for a signal in a sigset. */
export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

export const UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);
export const STOP_SIGNALS = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);
export const SYNC_SIGNALS =
  sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) | sigbit(SIGFPE) | sigbit(SIGSYS);
export const ALL_SIGNALS = (1n << 64n) - 1n;

export interface SigAction {
  handler: number; // SIG_DFL, SIG_IGN or address
  flags: number;
  restorer: number;
  mask: bigint;
}

export function defaultSigAction(): SigAction {
  return { handler: SIG_DFL, flags: 0, restorer: 0, mask: 0n };
}

/** What a siginfo_t carries (fields used depend on the signal and code). */
export interface SigInfo {
  signo: number;
  errno?: number;
  code: number;
  pid?: number;
  uid?: number;
  status?: number;
  addr?: number;
  value?: bigint;
  timerid?: number;
  overrun?: number;
  fd?: number;
  band?: number;
  utime?: number;
  stime?: number;
}

/** Encode a siginfo_t (128 bytes) for the app (Linux's copy_siginfo_to_user layout for x86-64). */
export function encodeSigInfo(si: SigInfo): Buffer {
  const b = Buffer.alloc(128);
  b.writeInt32LE(si.signo, 0);
  b.writeInt32LE(si.errno ?? 0, 4);
  b.writeInt32LE(si.code, 8);
  // union at offset 16
  if (si.signo === SIGCHLD && si.code > 0) {
    b.writeInt32LE(si.pid ?? 0, 16);
    b.writeUInt32LE(si.uid ?? 0, 20);
    b.writeInt32LE(si.status ?? 0, 24);
    b.writeBigInt64LE(BigInt(si.utime ?? 0), 32);
    b.writeBigInt64LE(BigInt(si.stime ?? 0), 40);
  } else if (si.code > 0 && si.code < SI_KERNEL && (SYNC_SIGNALS & sigbit(si.signo)) !== 0n) {
    b.writeBigUInt64LE(BigInt(si.addr ?? 0), 16);
  } else if (si.code === SI_TIMER) {
    b.writeInt32LE(si.timerid ?? 0, 16);
    b.writeInt32LE(si.overrun ?? 0, 20);
    b.writeBigUInt64LE(si.value ?? 0n, 24);
  } else if (si.code === SI_SIGIO || si.signo === SIGIO) {
    b.writeBigInt64LE(BigInt(si.band ?? 0), 16);
    b.writeInt32LE(si.fd ?? 0, 24);
  } else {
    b.writeInt32LE(si.pid ?? 0, 16);
    b.writeUInt32LE(si.uid ?? 0, 20);
    b.writeBigUInt64LE(si.value ?? 0n, 24);
  }
  return b;
}

export function decodeSigInfo(b: Uint8Array): SigInfo {
  const d = Buffer.from(b.buffer, b.byteOffset, 128);
  return {
    signo: d.readInt32LE(0),
    errno: d.readInt32LE(4),
    code: d.readInt32LE(8),
    pid: d.readInt32LE(16),
    uid: d.readUInt32LE(20),
    value: d.readBigUInt64LE(24),
  };
}
