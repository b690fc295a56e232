import * as os from 'node:os';

/** An Error for a failed host call, shaped like the addon's and Node's system errors. */
export interface HostCallError extends Error {
  syscall: string;
  errno: number;
  code: string;
  pid?: number;
}

let names: Map<number, string> | undefined;

/** The symbolic name of an errno value (`ENOMEM`), or `errno N`. */
export function errnoName(errno: number): string {
  if (!names) {
    names = new Map();
    for (const [name, value] of Object.entries(os.constants.errno))
      if (!names.has(value)) names.set(value, name);
  }
  return names.get(errno) ?? `errno ${errno}`;
}

/** Error for a system call the platform injected into stub `pid` that returned `-errno`. */
export function injectedCallError(call: string, result: number, pid: number): HostCallError {
  const errno = result < 0 ? -result : 0;
  const code = errno ? errnoName(errno) : 'EUNEXPECTED';
  const detail = errno ? code : `unexpected result ${result}`;
  const e = new Error(`${call} in stub ${pid} failed: ${detail}`) as HostCallError;
  e.syscall = call;
  e.errno = errno;
  e.code = code;
  e.pid = pid;
  return e;
}
