/**
 * Loader for the core native addon (core/native): memfd, shared mappings as ArrayBuffers,
 * hole punching. The addon is built by `npm install` (scripts/build-native.js).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';

export interface CoreNative {
  memfdCreate(name: string, size: number): number;
  mapShared(fd: number, offset: number, length: number, writable: boolean): ArrayBuffer;
  punchHole(fd: number, offset: number, length: number): void;
  closeFd(fd: number): void;
  /** lseek(2) on a host fd; throws {errno, syscall}. */
  hostLseek(fd: number, offset: number, whence: number): number;
  /**
   * openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode). `name` is one
   * component as bytes ('.' allowed; '..', '' and '/' refused). Throws {errno, syscall}.
   */
  hostOpenat(dirfd: number, name: Uint8Array, flags: number, mode: number): number;
  /** fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW [| AT_EMPTY_PATH for '']) into out[16] (see core.cc). */
  hostFstatat(dirfd: number, name: Uint8Array, out: Float64Array): void;
  /** readlinkat(dirfd, name): target bytes ('' = the O_PATH fd itself). */
  hostReadlinkat(dirfd: number, name: Uint8Array): Buffer;
  /** Every linux_dirent64 record of directory fd (rewinds first). */
  hostGetdents(fd: number): Buffer;
  /** TCGETS/TCSETS/TCSETSW/TCSETSF (36-byte struct termios) and TIOCGWINSZ/TIOCSWINSZ (8 bytes) on a host tty. */
  hostTtyIoctl(fd: number, request: number, buf: Uint8Array): number;
  hostSetNonblock(fd: number, on: boolean): void;
  /** poll(fd, events, 0): revents now. */
  hostPoll(fd: number, events: number): number;
  /** The TSC and host CLOCK_MONOTONIC/REALTIME/BOOTTIME read together: out = [tsc, mono, real, boot]. */
  vdsoSample(out: BigInt64Array): void;
  /** Publish vDSO parameters under the page's sequence counter (field order: core.cc VdsoWrite). */
  vdsoWrite(page: Uint8Array, fields: BigInt64Array): void;
  /** A base clock (0 mono, 1 real, 2 boot) read from the parameter page as the vDSO does; -1n if invalid. */
  vdsoClock(page: Uint8Array, which: number): bigint;
}

/** Loads a node-gyp addon from `<dir>/build/{Release,Debug}/<name>.node`, naming every path tried. */
export function loadAddon<T>(dir: string, name: string): T {
  const tried: string[] = [];
  for (const kind of ['Release', 'Debug']) {
    const p = path.join(dir, 'build', kind, `${name}.node`);
    tried.push(p);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (fs.existsSync(p)) return require(p) as T;
  }
  throw new Error(
    `native addon ${name} is not built (tried ${tried.join(', ')}); run \`npm install\` or \`node scripts/build-native.js\``,
  );
}

let cached: CoreNative | undefined;
export function coreNative(): CoreNative {
  // dist/core/native/index.js -> <repo>/core/native
  cached ??= loadAddon<CoreNative>(
    path.resolve(__dirname, '..', '..', '..', 'core', 'native'),
    'tsvisor_core',
  );
  return cached;
}
