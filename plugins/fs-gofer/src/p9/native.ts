/**
 * Loader and types of the gofer's native addon (plugins/fs-gofer/native/src/gofer.cc): the
 * *at() host calls on directory fds that Node's fs lacks. Every (dirfd, name) call takes one
 * path component (no '/', '.', '..', '' or NUL: EINVAL) and never follows a host symlink.
 * Failures throw an Error with a positive `errno` and the `syscall` name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon } from '../../../../core/native';

export interface GoferNative {
  /** openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode). */
  openat(dirfd: number, name: string, flags: number, mode: number): number;
  /** A new fd with `flags` for the file an O_PATH fd names (via /proc/self/fd; not for symlinks). */
  reopen(fd: number, flags: number): number;
  dup(fd: number): number;
  mkdirat(dirfd: number, name: string, mode: number): void;
  symlinkat(target: string, dirfd: number, name: string): void;
  mknodat(dirfd: number, name: string, mode: number, major: number, minor: number): void;
  readlinkFd(fd: number): Buffer;
  linkFd(fd: number, newdirfd: number, newname: string): void;
  renameat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void;
  unlinkat(dirfd: number, name: string, flags: number): void;
  /** -1 leaves uid or gid unchanged. */
  fchownFd(fd: number, uid: number, gid: number): void;
  utimensFd(fd: number, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  /** [type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen]. */
  fstatfsFd(fd: number): [number, number, bigint, bigint, bigint, bigint, bigint, bigint, number];
  getdents(fd: number): Buffer;
  /** The xattr calls take an fd open for reading (not O_PATH). */
  getxattrFd(fd: number, name: string): Buffer;
  listxattrFd(fd: number): Buffer;
  setxattrFd(fd: number, name: string, value: Uint8Array, flags: number): void;
  removexattrFd(fd: number, name: string): void;
  /** cmd 0 = F_OFD_SETLK, 1 = F_OFD_GETLK (out: type, start, len, pid). Returns 0 or an errno. */
  ofdLock(fd: number, cmd: number, type: number, start: number, len: number, out?: Float64Array): number;
  /** A blocking AF_UNIX stream socketpair (close-on-exec). */
  socketpair(): [number, number];
  /** A blocking TCP connection to an IPv4 address (close-on-exec, TCP_NODELAY). */
  connectTcp(ipv4: string, port: number): number;
  clearCloexec(fd: number): void;
  /**
   * The gofer's confinement: a private mount namespace whose root is a small read-only tmpfs
   * holding a bind mount of each of `dirs` (at /0, /1, ...; read-only where `readOnly[i]`;
   * pivot_root, chroot if the root cannot be pivoted; the host's tree is detached),
   * NO_NEW_PRIVS, unneeded capabilities dropped. Returns the new paths of `dirs`, in order.
   */
  confineMounts(dirs: string[], readOnly: boolean[]): string[];
}

let cached: GoferNative | undefined;

/** Loads the addon (once). */
export function goferNative(): GoferNative {
  if (cached) return cached;
  // Compiled: <repo>/dist/plugins/fs-gofer/src/p9 -> <repo>/plugins/fs-gofer/native.
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', '..', '..', 'plugins', 'fs-gofer', 'native'),
    path.resolve(__dirname, '..', '..', 'native'),
  ];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'binding.gyp'))) ?? candidates[0];
  cached = loadAddon<GoferNative>(dir, 'tsvisor_gofer');
  return cached;
}
