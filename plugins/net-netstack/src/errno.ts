/**
 * Linux errno values and poll(2) event bits as the stack's endpoints return them. Endpoint
 * methods return a negative errno (e.g. -EAGAIN) instead of throwing, so the socket layer
 * can hand them to the app unchanged.
 */
export const EBADF = 9;
export const EAGAIN = 11;
export const EINVAL = 22;
export const EPIPE = 32;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EOPNOTSUPP = 95;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENETUNREACH = 101;
export const ECONNABORTED = 103;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTUNREACH = 113;
export const EALREADY = 114;
export const EINPROGRESS = 115;

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLRDHUP = 0x2000;

/** shutdown(2) `how`. */
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
