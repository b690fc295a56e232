/**
 * The C suite's programs (test/integration/c/NAME.c), shared by cprograms.test.ts and the
 * suites that run them under other configs (gofer-9p-suites.test.ts).
 */
export const PROGRAMS = [
  'robust',
  'cputime',
  'threads',
  'forkexec',
  'signals',
  'memory',
  'futex',
  'pipes',
  'fileops',
  'anonfds',
  'pty',
  'sysvipc',
  'misc4',
  'unixsock',
  'jobctl',
  'forkcow',
  'fdlimit',
];

/** Dynamically linked (ld.so, libc.so from the host root): the loader's PT_INTERP path. */
export const DYNAMIC = ['threads', 'forkexec', 'signals', 'memory', 'fileops', 'forkcow'];

/** The command line of a program: those that work in a directory get a fresh one under /tmp. */
export function programArgs(name: string, bin: string, mode: string): string[] {
  return name === 'fileops' || name === 'misc4' || name === 'unixsock'
    ? [bin, `/tmp/${name}-${process.pid}-${mode}`]
    : [bin];
}
