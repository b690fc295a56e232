/** stat family, statx, statfs. Struct layouts are x86-64's (struct stat: 144 bytes; statx: 256; statfs: 120). */
import { EINVAL } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_STATX_SYNC_TYPE,
  AT_SYMLINK_NOFOLLOW,
  major,
  minor,
} from '../../vfs/abi';
import type { Stat, Statfs } from '../../vfs/inode';
import type { Mount } from '../../vfs/mount';
import { emptyPathFile, lookupAt } from '../../vfs/ops';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';
import { pathArg, fileArg } from './fd';

type T = FileTask;
type A = SyscallArgs;

const statBuf = new Uint8Array(256);
const statView = new DataView(statBuf.buffer);

/** Encode struct stat (x86-64, 144 bytes) into a shared scratch buffer. */
export function encodeStat(s: Stat): Uint8Array {
  const v = statView;
  statBuf.fill(0, 0, 144);
  v.setBigUint64(0, BigInt(s.dev), true);
  v.setBigUint64(8, BigInt(s.ino), true);
  v.setBigUint64(16, BigInt(s.nlink), true);
  v.setUint32(24, s.mode, true);
  v.setUint32(28, s.uid, true);
  v.setUint32(32, s.gid, true);
  v.setBigUint64(40, BigInt(s.rdev), true);
  v.setBigInt64(48, BigInt(s.size), true);
  v.setBigInt64(56, BigInt(s.blksize), true);
  v.setBigInt64(64, BigInt(s.blocks), true);
  v.setBigInt64(72, BigInt(s.atimeSec), true);
  v.setBigInt64(80, BigInt(s.atimeNsec), true);
  v.setBigInt64(88, BigInt(s.mtimeSec), true);
  v.setBigInt64(96, BigInt(s.mtimeNsec), true);
  v.setBigInt64(104, BigInt(s.ctimeSec), true);
  v.setBigInt64(112, BigInt(s.ctimeNsec), true);
  return statBuf.subarray(0, 144);
}

function putStat(t: T, addr: number, s: Stat): number {
  t.mem.copyOut(addr, encodeStat(s));
  return 0;
}

/** Stat implements Linux syscall stat(2). */
export function StatSyscall(t: T, a: A): number {
  return putStat(t, a.ptr(1), lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true).inode.stat());
}
/** Lstat implements Linux syscall lstat(2). */
export function Lstat(t: T, a: A): number {
  return putStat(t, a.ptr(1), lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), false).inode.stat());
}
/** Fstat implements Linux syscall fstat(2). */
export function Fstat(t: T, a: A): number {
  return putStat(t, a.ptr(1), fileArg(t, a.int(0)).stat());
}
/** Newfstatat implements Linux syscall newfstatat(2). */
export function Newfstatat(t: T, a: A): number {
  const dirfd = a.int(0);
  const flags = a.int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return -EINVAL;
  const path = pathArg(t, a.ptr(1));
  const f = emptyPathFile(t, dirfd, path, flags);
  const s = f ? f.stat() : lookupAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags).inode.stat();
  return putStat(t, a.ptr(2), s);
}

export const STATX_TYPE = 0x1,
  STATX_MODE = 0x2,
  STATX_NLINK = 0x4,
  STATX_UID = 0x8,
  STATX_GID = 0x10,
  STATX_ATIME = 0x20,
  STATX_MTIME = 0x40,
  STATX_CTIME = 0x80,
  STATX_INO = 0x100,
  STATX_SIZE = 0x200,
  STATX_BLOCKS = 0x400,
  STATX_BASIC_STATS = 0x7ff,
  STATX_BTIME = 0x800,
  STATX_MNT_ID = 0x1000,
  STATX__RESERVED = 0x80000000;

/** Encode struct statx (256 bytes). */
export function encodeStatx(s: Stat, mntId: number): Uint8Array {
  const v = statView;
  statBuf.fill(0);
  let mask = STATX_BASIC_STATS | STATX_MNT_ID;
  if (s.btimeSec !== undefined) mask |= STATX_BTIME;
  v.setUint32(0, mask, true);
  v.setUint32(4, s.blksize, true);
  v.setUint32(16, s.nlink, true);
  v.setUint32(20, s.uid, true);
  v.setUint32(24, s.gid, true);
  v.setUint16(28, s.mode, true);
  v.setBigUint64(32, BigInt(s.ino), true);
  v.setBigUint64(40, BigInt(s.size), true);
  v.setBigUint64(48, BigInt(s.blocks), true);
  const ts = (off: number, sec: number, nsec: number): void => {
    v.setBigInt64(off, BigInt(sec), true);
    v.setUint32(off + 8, nsec, true);
  };
  ts(64, s.atimeSec, s.atimeNsec);
  if (s.btimeSec !== undefined) ts(80, s.btimeSec, s.btimeNsec ?? 0);
  ts(96, s.ctimeSec, s.ctimeNsec);
  ts(112, s.mtimeSec, s.mtimeNsec);
  v.setUint32(128, major(s.rdev), true);
  v.setUint32(132, minor(s.rdev), true);
  v.setUint32(136, major(s.dev), true);
  v.setUint32(140, minor(s.dev), true);
  v.setBigUint64(144, BigInt(mntId), true);
  return statBuf;
}

/** Statx implements Linux syscall statx(2). */
export function Statx(t: T, a: A): number {
  const dirfd = a.int(0);
  const flags = a.int(2);
  const mask = a.uint(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -EINVAL;
  if (mask & STATX__RESERVED) return -EINVAL;
  const path = pathArg(t, a.ptr(1));
  const f = emptyPathFile(t, dirfd, path, flags);
  let s: Stat;
  let mnt: Mount | undefined;
  if (f) {
    s = f.stat();
    mnt = f.vd?.mount;
  } else {
    const vd = lookupAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags);
    s = vd.inode.stat();
    mnt = vd.mount;
  }
  t.mem.copyOut(a.ptr(4), encodeStatx(s, mnt?.id ?? 0));
  return 0;
}

/** Encode struct statfs (120 bytes). */
export function encodeStatfs(s: Statfs, mountFlags: number): Uint8Array {
  const b = new Uint8Array(120);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(s.type), true);
  v.setBigInt64(8, BigInt(s.bsize), true);
  v.setBigUint64(16, BigInt(s.blocks), true);
  v.setBigUint64(24, BigInt(s.bfree), true);
  v.setBigUint64(32, BigInt(s.bavail), true);
  v.setBigUint64(40, BigInt(s.files), true);
  v.setBigUint64(48, BigInt(s.ffree), true);
  v.setInt32(56, s.fsid[0] | 0, true);
  v.setInt32(60, s.fsid[1] | 0, true);
  v.setBigInt64(64, BigInt(s.namelen), true);
  v.setBigInt64(72, BigInt(s.frsize), true);
  // ST_VALID | mount flags (ST_RDONLY, NOSUID, NODEV, NOEXEC, NOATIME...)
  v.setBigInt64(80, BigInt(0x20 | (mountFlags & 0x1c0f) | s.flags), true);
  return b;
}

function statfsOf(m: Mount | undefined, fs: { statfs(): Statfs } | undefined): Uint8Array {
  const s = (fs ?? m!.fs).statfs();
  return encodeStatfs(s, m?.flags ?? 0);
}

/** Statfs implements Linux syscall statfs(2). */
export function StatfsSyscall(t: T, a: A): number {
  const vd = lookupAt(t, AT_FDCWD, pathArg(t, a.ptr(0)), true);
  t.mem.copyOut(a.ptr(1), statfsOf(vd.mount, vd.inode.fs));
  return 0;
}
/** Fstatfs implements Linux syscall fstatfs(2). */
export function Fstatfs(t: T, a: A): number {
  const f = fileArg(t, a.int(0));
  if (!f.inode) {
    // Pipes and anonymous files: report pipefs-like values.
    t.mem.copyOut(
      a.ptr(1),
      encodeStatfs(
        {
          type: 0x50495045,
          bsize: 4096,
          blocks: 0,
          bfree: 0,
          bavail: 0,
          files: 0,
          ffree: 0,
          fsid: [0, 0],
          namelen: 255,
          frsize: 4096,
          flags: 0,
        },
        0,
      ),
    );
    return 0;
  }
  t.mem.copyOut(a.ptr(1), statfsOf(f.vd?.mount, f.inode.fs));
  return 0;
}

export const statSyscalls: SyscallDef<FileTask>[] = [
  { nr: 4, name: 'stat', handler: StatSyscall, support: 'full', args: ['path', 'ptr'] },
  { nr: 5, name: 'fstat', handler: Fstat, support: 'full', args: ['fd', 'ptr'] },
  { nr: 6, name: 'lstat', handler: Lstat, support: 'full', args: ['path', 'ptr'] },
  { nr: 137, name: 'statfs', handler: StatfsSyscall, support: 'full', args: ['path', 'ptr'] },
  { nr: 138, name: 'fstatfs', handler: Fstatfs, support: 'full', args: ['fd', 'ptr'] },
  { nr: 262, name: 'newfstatat', handler: Newfstatat, support: 'full', args: ['fd', 'path', 'ptr', 'hex'] },
  { nr: 332, name: 'statx', handler: Statx, support: 'full', args: ['fd', 'path', 'hex', 'hex', 'ptr'] },
];
