/** Linux errno values (x86-64) and the error type that carries one through the sentry. */

export const EPERM = 1,
  ENOENT = 2,
  ESRCH = 3,
  EINTR = 4,
  EIO = 5,
  ENXIO = 6,
  E2BIG = 7,
  ENOEXEC = 8,
  EBADF = 9,
  ECHILD = 10,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  ENOTBLK = 15,
  EBUSY = 16,
  EEXIST = 17,
  EXDEV = 18,
  ENODEV = 19,
  ENOTDIR = 20,
  EISDIR = 21,
  EINVAL = 22,
  ENFILE = 23,
  EMFILE = 24,
  ENOTTY = 25,
  ETXTBSY = 26,
  EFBIG = 27,
  ENOSPC = 28,
  ESPIPE = 29,
  EROFS = 30,
  EMLINK = 31,
  EPIPE = 32,
  EDOM = 33,
  ERANGE = 34,
  EDEADLK = 35,
  ENAMETOOLONG = 36,
  ENOLCK = 37,
  ENOSYS = 38,
  ENOTEMPTY = 39,
  ELOOP = 40,
  ENOMSG = 42,
  EIDRM = 43,
  ENOSTR = 60,
  ENODATA = 61,
  ETIME = 62,
  EOVERFLOW = 75,
  EBADFD = 77,
  EILSEQ = 84,
  ENOTSOCK = 88,
  EDESTADDRREQ = 89,
  EMSGSIZE = 90,
  EPROTOTYPE = 91,
  ENOPROTOOPT = 92,
  EPROTONOSUPPORT = 93,
  ESOCKTNOSUPPORT = 94,
  EOPNOTSUPP = 95,
  EPFNOSUPPORT = 96,
  EAFNOSUPPORT = 97,
  EADDRINUSE = 98,
  EADDRNOTAVAIL = 99,
  ENETDOWN = 100,
  ENETUNREACH = 101,
  ECONNABORTED = 103,
  ECONNRESET = 104,
  ENOBUFS = 105,
  EISCONN = 106,
  ENOTCONN = 107,
  ETIMEDOUT = 110,
  ECONNREFUSED = 111,
  EHOSTUNREACH = 113,
  EALREADY = 114,
  EINPROGRESS = 115,
  ESTALE = 116,
  EDQUOT = 122,
  ECANCELED = 125,
  EOWNERDEAD = 130,
  ENOTRECOVERABLE = 131;

/** Kernel-internal restart codes (never seen by the app; see Linux include/linux/errno.h). */
export const ERESTARTSYS = 512,
  ERESTARTNOINTR = 513,
  ERESTARTNOHAND = 514,
  ERESTART_RESTARTBLOCK = 516;

export const EWOULDBLOCK = EAGAIN;

const names: Record<number, string> = {};
{
  const self = module.exports as Record<string, unknown>;
  for (const [k, v] of Object.entries(self))
    if (typeof v === 'number' && /^E[A-Z0-9_]+$/.test(k) && !names[v]) names[v] = k;
  names[EAGAIN] = 'EAGAIN';
}

/** Symbolic name of an errno ("ENOENT"), or "E<n>" when unknown. */
export function errnoName(e: number): string {
  return names[e] ?? `E${e}`;
}

/**
 * An error that becomes `-errno` in the app's rax. Throw it from deep inside the sentry;
 * the syscall dispatcher catches it. Hot paths may instead return `-errno` directly.
 */
export class SysError extends Error {
  constructor(
    readonly errno: number,
    detail?: string,
  ) {
    super(detail ? `${errnoName(errno)}: ${detail}` : errnoName(errno));
  }
}

export function sysErr(errno: number, detail?: string): never {
  throw new SysError(errno, detail);
}
