/**
 * Path-based VFS operations, as the file syscalls call them: resolve (dirfd, path) for a
 * task, check Linux's rules in Linux's order (errno precedence matters to apps and tests),
 * then ask the inode to do the work and keep the dentry cache coherent.
 *
 * Every function here is synchronous except openAt (a fifo open may wait for its peer,
 * a device may open asynchronously).
 */
import {
  EACCES,
  EBADF,
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ELOOP,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  ENXIO,
  EOPNOTSUPP,
  EPERM,
  EROFS,
  EXDEV,
  SysError,
} from '../abi/errno';
import type { Credentials } from '../kernel/api';
import { CAP_CHOWN, CAP_FSETID, CAP_MKNOD, CAP_SYS_CHROOT, hasCap } from '../kernel/caps';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  MAY_EXEC,
  MAY_READ,
  MAY_WRITE,
  MS_NODEV,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
  S_ISUID,
  S_ISVTX,
} from './abi';
import { openCharDevice, openFifo } from './devices';
import { FileDescription, PathFile } from './file';
import {
  fsnotifyChange,
  fsnotifyCreate,
  fsnotifyLink,
  fsnotifyOpen,
  fsnotifyRename,
  fsnotifyUnlink,
  linksBefore,
} from './fsnotify';
import type { Inode, SetAttr, Stat, TimeSpec } from './inode';
import { Dentry, Mount, VirtualDentry } from './mount';
import { checkOwner, checkPermission, checkSticky, chmodBits, inGroup, isOwner, permits } from './perm';
import type { FileTask } from './task';
import { resolve, resolveParent, splitPath, WalkContext, Walker } from './walk';

export function walkCtx(t: FileTask, resolveFlags = 0): WalkContext {
  return { root: t.fs.root, creds: t.creds, resolve: resolveFlags, task: t };
}

/** The file at `fd` or EBADF. */
export function getFile(t: FileTask, fd: number): FileDescription {
  const f = t.files.get(fd);
  if (!f) throw new SysError(EBADF);
  return f;
}

/** Where a relative path starts: cwd for AT_FDCWD, else the directory open at dirfd. */
export function startAt(t: FileTask, dirfd: number, path: string): VirtualDentry {
  if (path.charCodeAt(0) === 47 /* '/' */) return t.fs.root;
  if (dirfd === AT_FDCWD) return t.fs.cwd;
  const f = t.files.get(dirfd);
  if (!f) throw new SysError(EBADF);
  if (!f.vd) throw new SysError(ENOTDIR);
  if (path.length && (f.vd.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
  return f.vd;
}

/**
 * Resolve (dirfd, path) to a location; `follow` follows a final symlink. With
 * AT_EMPTY_PATH in `atFlags` an empty path names dirfd itself (any file type).
 */
export function lookupAt(
  t: FileTask,
  dirfd: number,
  path: string,
  follow: boolean,
  atFlags = 0,
): VirtualDentry {
  if (path.length === 0) {
    if (!(atFlags & AT_EMPTY_PATH)) throw new SysError(ENOENT);
    if (dirfd === AT_FDCWD) return t.fs.cwd;
    const f = getFile(t, dirfd);
    if (!f.vd) throw new SysError(EBADF);
    return f.vd;
  }
  return resolve(walkCtx(t), startAt(t, dirfd, path), path, follow);
}

/** The file for an *at(fd, "", AT_EMPTY_PATH) call, or null when the path is used. */
export function emptyPathFile(
  t: FileTask,
  dirfd: number,
  path: string,
  atFlags: number,
): FileDescription | null {
  if (path.length !== 0 || !(atFlags & AT_EMPTY_PATH) || dirfd === AT_FDCWD) return null;
  return getFile(t, dirfd);
}

function checkWritableMount(m: Mount): void {
  if (m.readOnly) throw new SysError(EROFS);
}

/** Permission to create/remove entries in `dir`: write + search. */
function checkDirWrite(creds: Credentials, dir: Inode): void {
  checkPermission(creds, dir, MAY_WRITE | MAY_EXEC);
}

// ---------------------------------------------------------------- open

export interface OpenHow {
  flags: number;
  mode: number;
  /** RESOLVE_* (openat2). */
  resolve?: number;
}

/** Flags kept in the file description (creation flags and O_CLOEXEC are per-open/per-fd). */
const KEEP_FLAGS = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);

/**
 * open(2)/openat(2)/openat2(2): returns a new file description (refcount 1). The caller
 * installs it with O_CLOEXEC.
 */
export function openAt(
  t: FileTask,
  dirfd: number,
  path: string,
  how: OpenHow,
): FileDescription | Promise<FileDescription> {
  let flags = how.flags;
  if (path.length === 0) throw new SysError(ENOENT);
  const ctx = walkCtx(t, how.resolve ?? 0);
  const start = startAt(t, dirfd, path);
  if (flags & O_PATH) {
    flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    const vd = resolve(ctx, start, path, !(flags & O_NOFOLLOW));
    if (flags & O_DIRECTORY && (vd.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
    const f = new PathFile((flags & KEEP_FLAGS) | O_LARGEFILE);
    f.vd = vd;
    f.inode = vd.inode;
    return f;
  }
  if ((flags & O_TMPFILE) === O_TMPFILE) throw new SysError(EOPNOTSUPP);

  let vd: VirtualDentry;
  let created = false;
  if (flags & O_CREAT) {
    const r = createOrFind(t, ctx, start, path, flags, how.mode);
    vd = r.vd;
    created = r.created;
  } else {
    vd = resolve(ctx, start, path, !(flags & O_NOFOLLOW));
  }
  return openVd(t, vd, flags, created);
}

function createOrFind(
  t: FileTask,
  ctx: WalkContext,
  start: VirtualDentry,
  path: string,
  flags: number,
  mode: number,
): { vd: VirtualDentry; created: boolean } {
  let pr = resolveParent(ctx, start, path);
  for (;;) {
    const { dir, name, walker } = pr;
    if (name === '' || name === '.' || name === '..' || pr.trailingSlash) {
      if (name === '' || name === '.' || name === '..') throw new SysError(EISDIR);
    }
    checkPermission(t.creds, dir.inode, MAY_EXEC);
    const child = dir.dentry.child(name);
    if (child) {
      if (flags & O_EXCL) throw new SysError(EEXIST);
      let [cm, cd] = [dir.mount, child];
      if (child.mountCount) [cm, cd] = dir.mount.ns.crossDown(dir.mount, child);
      if ((cd.inode.mode & S_IFMT) === S_IFLNK) {
        if (flags & O_NOFOLLOW) throw new SysError(ELOOP);
        const magic = walker.followMagic(cm, cd);
        if (magic) {
          if ((magic.inode.mode & S_IFMT) === S_IFDIR) throw new SysError(EISDIR);
          return { vd: magic, created: false };
        }
        // Follow the link; a dangling one is created at its target.
        const target = walker.readLink(cm, cd);
        const sp = splitPath(target);
        const w2 = walker;
        if (target.charCodeAt(0) === 47) w2.toRoot();
        const last = sp.comps.pop();
        if (last === undefined) {
          w2.walk([], true, true);
          throw new SysError(EISDIR);
        }
        w2.walk(sp.comps, true, true);
        pr = { walker: w2, dir: w2.vd, name: last, trailingSlash: sp.trailingSlash };
        continue;
      }
      if (pr.trailingSlash && (cd.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
      if ((cd.inode.mode & S_IFMT) === S_IFDIR) throw new SysError(EISDIR);
      return { vd: new VirtualDentry(cm, cd), created: false };
    }
    if (pr.trailingSlash) throw new SysError(EISDIR);
    checkWritableMount(dir.mount);
    checkDirWrite(t.creds, dir.inode);
    if (!dir.inode.create) throw new SysError(EPERM);
    if (dir.dentry.dead) throw new SysError(ENOENT);
    const ino = dir.inode.create(name, mode & ~t.fs.umask & 0o7777, t.creds);
    fsnotifyCreate(dir.inode, name, ino);
    const d = dir.dentry.insert(name, ino);
    return { vd: new VirtualDentry(dir.mount, d), created: true };
  }
}

/** Open an already-resolved location (also used by /proc/self/fd re-opens). */
export function openVd(
  t: FileTask,
  vd: VirtualDentry,
  flags: number,
  created = false,
): FileDescription | Promise<FileDescription> {
  const inode = vd.inode;
  const type = inode.mode & S_IFMT;
  const acc = flags & O_ACCMODE;
  if (type === S_IFLNK) throw new SysError(ELOOP);
  if (flags & O_DIRECTORY && type !== S_IFDIR) throw new SysError(ENOTDIR);
  if (type === S_IFDIR && (acc !== O_RDONLY || flags & O_CREAT)) throw new SysError(EISDIR);
  if (!created) {
    let may = 0;
    if (acc === O_RDONLY || acc === O_RDWR) may |= MAY_READ;
    if (acc === O_WRONLY || acc === O_RDWR || flags & O_TRUNC) may |= MAY_WRITE;
    if (acc === 3) may |= MAY_READ | MAY_WRITE;
    checkPermission(t.creds, inode, may);
  }
  const writes = acc === O_WRONLY || acc === O_RDWR || (flags & O_TRUNC) !== 0;
  if (writes && (type === S_IFREG || type === S_IFDIR) && vd.mount.readOnly) throw new SysError(EROFS);
  if ((type === S_IFCHR || type === S_IFBLK) && vd.mount.flags & MS_NODEV) throw new SysError(EACCES);
  if (flags & O_TRUNC && type === S_IFREG && !created && inode.stat().size !== 0)
    inode.setattr({ size: 0, mtime: 'now' }, t.creds);
  const fflags = (flags & KEEP_FLAGS) | O_LARGEFILE;
  let r: FileDescription | Promise<FileDescription>;
  switch (type) {
    case S_IFREG:
    case S_IFDIR:
      r = inode.open(t, fflags, vd);
      break;
    case S_IFCHR: {
      // Terminals need O_NOCTTY (whether the open may acquire a controlling terminal);
      // the file keeps no creation flag, as Linux's f_flags.
      const cflags = fflags | (flags & O_NOCTTY);
      r = inode.openSpecial
        ? inode.openSpecial(t, cflags, vd)
        : openCharDevice(t, inode.stat().rdev, cflags, vd);
      if (r instanceof Promise) r = r.then(stripNoctty);
      else stripNoctty(r);
      break;
    }
    case S_IFIFO:
      r = inode.openSpecial ? inode.openSpecial(t, fflags, vd) : openFifo(t, inode, fflags);
      break;
    case S_IFBLK:
    case S_IFSOCK:
    default:
      if (inode.openSpecial) r = inode.openSpecial(t, fflags, vd);
      else throw new SysError(ENXIO);
  }
  const trunc = (flags & O_TRUNC) !== 0 && type === S_IFREG && !created;
  if (r instanceof Promise) return r.then((f) => attach(f, vd, inode, trunc));
  return attach(r, vd, inode, trunc);
}

function stripNoctty(f: FileDescription): FileDescription {
  f.flags &= ~O_NOCTTY;
  return f;
}

function attach(f: FileDescription, vd: VirtualDentry, inode: Inode, trunc: boolean): FileDescription {
  if (!f.vd) f.vd = vd;
  if (!f.inode) f.inode = inode;
  fsnotifyOpen(f, trunc);
  return f;
}

// ---------------------------------------------------------------- create / remove

function parentFor(t: FileTask, dirfd: number, path: string) {
  if (path.length === 0) throw new SysError(ENOENT);
  return resolveParent(walkCtx(t), startAt(t, dirfd, path), path);
}

/** mkdir(2)/mkdirat(2). */
export function mkdirAt(t: FileTask, dirfd: number, path: string, mode: number): void {
  const { dir, name } = parentFor(t, dirfd, path);
  if (name === '' || name === '.' || name === '..') throw new SysError(EEXIST);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  if (dir.dentry.child(name)) throw new SysError(EEXIST);
  checkWritableMount(dir.mount);
  checkDirWrite(t.creds, dir.inode);
  if (dir.dentry.dead) throw new SysError(ENOENT);
  if (!dir.inode.mkdir) throw new SysError(EPERM);
  const ino = dir.inode.mkdir(name, mode & ~t.fs.umask & (0o777 | S_ISVTX), t.creds);
  fsnotifyCreate(dir.inode, name, ino);
  dir.dentry.insert(name, ino);
}

/** mknod(2)/mknodat(2): regular files, device nodes, fifos, sockets. */
export function mknodAt(t: FileTask, dirfd: number, path: string, mode: number, rdev: number): void {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) throw new SysError(EPERM);
  if (type !== S_IFREG && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFIFO && type !== S_IFSOCK)
    throw new SysError(EINVAL);
  const { dir, name, trailingSlash } = parentFor(t, dirfd, path);
  if (name === '' || name === '.' || name === '..') throw new SysError(EEXIST);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  if (dir.dentry.child(name)) throw new SysError(EEXIST);
  if (trailingSlash) throw new SysError(ENOENT);
  checkWritableMount(dir.mount);
  checkDirWrite(t.creds, dir.inode);
  if ((type === S_IFCHR || type === S_IFBLK) && !hasCap(t.creds, CAP_MKNOD)) throw new SysError(EPERM);
  const perm = mode & ~t.fs.umask & 0o7777;
  let ino: Inode;
  if (type === S_IFREG) {
    if (!dir.inode.create) throw new SysError(EPERM);
    ino = dir.inode.create(name, perm, t.creds);
  } else {
    if (!dir.inode.mknod) throw new SysError(EPERM);
    ino = dir.inode.mknod(name, type | perm, type === S_IFCHR || type === S_IFBLK ? rdev : 0, t.creds);
  }
  fsnotifyCreate(dir.inode, name, ino);
  dir.dentry.insert(name, ino);
}

/** symlink(2)/symlinkat(2). */
export function symlinkAt(t: FileTask, target: string, dirfd: number, path: string): void {
  if (target.length === 0) throw new SysError(ENOENT);
  const { dir, name, trailingSlash } = parentFor(t, dirfd, path);
  if (name === '' || name === '.' || name === '..') throw new SysError(EEXIST);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  if (dir.dentry.child(name)) throw new SysError(EEXIST);
  if (trailingSlash) throw new SysError(ENOENT);
  checkWritableMount(dir.mount);
  checkDirWrite(t.creds, dir.inode);
  if (!dir.inode.symlink) throw new SysError(EPERM);
  const ino = dir.inode.symlink(name, target, t.creds);
  fsnotifyCreate(dir.inode, name, ino);
  dir.dentry.insert(name, ino);
}

/** link(2)/linkat(2). `follow` = AT_SYMLINK_FOLLOW. */
export function linkAt(
  t: FileTask,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  follow: boolean,
  atFlags = 0,
): void {
  const old = lookupAt(t, olddirfd, oldpath, follow, atFlags);
  const { dir, name, trailingSlash } = parentFor(t, newdirfd, newpath);
  if (name === '' || name === '.' || name === '..') throw new SysError(EEXIST);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  if (dir.dentry.child(name)) throw new SysError(EEXIST);
  if (trailingSlash) throw new SysError(ENOENT);
  if (dir.mount !== old.mount) throw new SysError(EXDEV);
  checkWritableMount(dir.mount);
  checkDirWrite(t.creds, dir.inode);
  const src = old.inode;
  if ((src.mode & S_IFMT) === S_IFDIR) throw new SysError(EPERM);
  // protected_hardlinks: a non-owner needs read+write access to a regular file.
  if (!isOwner(t.creds, src) && !permits(t.creds, src.mode, src.uid, src.gid, MAY_READ | MAY_WRITE))
    throw new SysError(EPERM);
  if (!dir.inode.link) throw new SysError(EPERM);
  if (old.dentry.dead && src.stat().nlink === 0) throw new SysError(ENOENT);
  dir.inode.link(name, src);
  fsnotifyLink(dir.inode, name, src);
  // Overlays may hand back a different inode object for the new name: look it up.
  dir.dentry.drop(name, false);
}

/** unlink(2)/unlinkat(2) without AT_REMOVEDIR. */
export function unlinkAt(t: FileTask, dirfd: number, path: string): void {
  const { dir, name, trailingSlash } = parentFor(t, dirfd, path);
  if (name === '' || name === '.' || name === '..') throw new SysError(EISDIR);
  checkWritableMount(dir.mount);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  const child = dir.dentry.child(name);
  if (!child) throw new SysError(ENOENT);
  const type = child.inode.mode & S_IFMT;
  if (trailingSlash) throw new SysError(type === S_IFDIR ? EISDIR : ENOTDIR);
  checkDirWrite(t.creds, dir.inode);
  checkSticky(t.creds, dir.inode, child.inode);
  if (type === S_IFDIR) throw new SysError(EISDIR);
  if (child.mountCount && dir.mount.ns.mountAt(dir.mount, child)) throw new SysError(EBUSY);
  if (!dir.inode.unlink) throw new SysError(EPERM);
  const links = linksBefore(child.inode);
  dir.inode.unlink(name);
  dir.dentry.drop(name, true);
  fsnotifyUnlink(dir.inode, name, child.inode, links);
}

/** rmdir(2)/unlinkat(2) with AT_REMOVEDIR. */
export function rmdirAt(t: FileTask, dirfd: number, path: string): void {
  const { dir, name } = parentFor(t, dirfd, path);
  if (name === '.') throw new SysError(EINVAL);
  if (name === '..') throw new SysError(ENOTEMPTY);
  if (name === '') throw new SysError(EBUSY);
  checkWritableMount(dir.mount);
  checkPermission(t.creds, dir.inode, MAY_EXEC);
  const child = dir.dentry.child(name);
  if (!child) throw new SysError(ENOENT);
  checkDirWrite(t.creds, dir.inode);
  checkSticky(t.creds, dir.inode, child.inode);
  if ((child.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
  if (child.mountCount && dir.mount.ns.mountAt(dir.mount, child)) throw new SysError(EBUSY);
  if (isRootOf(t, dir.mount, child)) throw new SysError(EBUSY);
  if (!dir.inode.rmdir) throw new SysError(EPERM);
  dir.inode.rmdir(name);
  dir.dentry.drop(name, true);
  fsnotifyUnlink(dir.inode, name, child.inode, 0);
}

function isRootOf(t: FileTask, m: Mount, d: Dentry): boolean {
  return t.fs.root.mount === m && t.fs.root.dentry === d;
}

function isAncestor(a: Dentry, d: Dentry): boolean {
  for (let p: Dentry | null = d; p; p = p.parent) if (p === a) return true;
  return false;
}

/** rename(2)/renameat(2)/renameat2(2). */
export function renameAt(
  t: FileTask,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
): void {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) throw new SysError(EINVAL);
  if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) throw new SysError(EINVAL);
  if (flags & RENAME_WHITEOUT) throw new SysError(EINVAL);
  const op = parentFor(t, olddirfd, oldpath);
  const np = parentFor(t, newdirfd, newpath);
  const bad = (n: string): boolean => n === '' || n === '.' || n === '..';
  if (bad(op.name) || bad(np.name)) throw new SysError(EBUSY);
  if (op.dir.mount !== np.dir.mount) throw new SysError(EXDEV);
  checkWritableMount(op.dir.mount);
  checkPermission(t.creds, op.dir.inode, MAY_EXEC);
  checkPermission(t.creds, np.dir.inode, MAY_EXEC);
  const src = op.dir.dentry.child(op.name);
  if (!src) throw new SysError(ENOENT);
  const dst = np.dir.dentry.child(np.name);
  const srcDir = (src.inode.mode & S_IFMT) === S_IFDIR;
  if ((op.trailingSlash || np.trailingSlash) && !srcDir) throw new SysError(ENOTDIR);
  if (flags & RENAME_EXCHANGE && !dst) throw new SysError(ENOENT);
  if (flags & RENAME_NOREPLACE && dst) throw new SysError(EEXIST);
  if (dst === src || (dst && dst.inode === src.inode)) return; // same file: success, no-op
  // No directory may become its own descendant.
  if (srcDir && isAncestor(src, np.dir.dentry)) throw new SysError(EINVAL);
  if (dst && (dst.inode.mode & S_IFMT) === S_IFDIR && isAncestor(dst, op.dir.dentry))
    throw new SysError(ENOTEMPTY);
  checkDirWrite(t.creds, op.dir.inode);
  checkSticky(t.creds, op.dir.inode, src.inode);
  if (dst) {
    checkDirWrite(t.creds, np.dir.inode);
    checkSticky(t.creds, np.dir.inode, dst.inode);
    const dstDir = (dst.inode.mode & S_IFMT) === S_IFDIR;
    if (!(flags & RENAME_EXCHANGE)) {
      if (srcDir && !dstDir) throw new SysError(ENOTDIR);
      if (!srcDir && dstDir) throw new SysError(EISDIR);
    }
    if (dst.mountCount && np.dir.mount.ns.mountAt(np.dir.mount, dst)) throw new SysError(EBUSY);
  } else {
    checkDirWrite(t.creds, np.dir.inode);
  }
  if (src.mountCount && op.dir.mount.ns.mountAt(op.dir.mount, src)) throw new SysError(EBUSY);
  // Moving a directory to a new parent needs write permission on it ('..' changes).
  if (srcDir && op.dir.dentry !== np.dir.dentry) checkPermission(t.creds, src.inode, MAY_WRITE);
  if (np.dir.dentry.dead) throw new SysError(ENOENT);
  if (!op.dir.inode.rename) throw new SysError(EPERM);
  const dstLinks = dst ? linksBefore(dst.inode) : 0;
  op.dir.inode.rename(op.name, np.dir.inode, np.name, flags);
  // Update the dentry cache.
  op.dir.dentry.children.delete(op.name);
  if (flags & RENAME_EXCHANGE && dst) {
    np.dir.dentry.children.delete(np.name);
    dst.name = op.name;
    dst.parent = op.dir.dentry;
    op.dir.dentry.children.set(op.name, dst);
  } else if (dst) {
    np.dir.dentry.drop(np.name, true);
  }
  src.name = np.name;
  src.parent = np.dir.dentry;
  np.dir.dentry.children.set(np.name, src);
  fsnotifyRename(
    op.dir.inode,
    op.name,
    np.dir.inode,
    np.name,
    src.inode,
    dst?.inode ?? null,
    dstLinks,
    (flags & RENAME_EXCHANGE) !== 0,
  );
}

/** readlink(2)/readlinkat(2): the target; EINVAL when not a symlink. */
export function readlinkAt(t: FileTask, dirfd: number, path: string): string {
  const vd = lookupAt(t, dirfd, path, false, AT_EMPTY_PATH);
  const ino = vd.inode;
  if ((ino.mode & S_IFMT) !== S_IFLNK || !ino.readlink) throw new SysError(path.length ? EINVAL : ENOENT);
  return ino.readlink(t);
}

// ---------------------------------------------------------------- attributes

/** stat of a location. */
export function statVd(vd: VirtualDentry): Stat {
  return vd.inode.stat();
}

/** chmod on an inode at a location (fchmod passes the file's). */
export function chmodInode(
  t: FileTask,
  inode: Inode,
  m: Mount | null,
  mode: number,
  d?: Dentry | null,
): void {
  if (m) checkWritableMount(m);
  checkOwner(t.creds, inode);
  let bits = chmodBits(t.creds, inode, mode);
  if ((inode.mode & S_IFMT) !== S_IFDIR && !hasCap(t.creds, CAP_FSETID) && !inGroup(t.creds, inode.gid))
    bits &= ~S_ISGID;
  inode.setattr({ mode: bits }, t.creds);
  fsnotifyChange(inode, { mode: bits }, d);
}

/** chown family; -1 (0xffffffff) leaves an id unchanged. */
export function chownInode(
  t: FileTask,
  inode: Inode,
  m: Mount | null,
  uid: number,
  gid: number,
  d?: Dentry | null,
): void {
  if (m) checkWritableMount(m);
  const c = t.creds;
  const attr: SetAttr = {};
  const newUid = uid === -1 || uid === 0xffffffff ? -1 : uid >>> 0;
  const newGid = gid === -1 || gid === 0xffffffff ? -1 : gid >>> 0;
  if (!hasCap(c, CAP_CHOWN)) {
    if (newUid !== -1 && newUid !== inode.uid) throw new SysError(EPERM);
    if (newGid !== -1 && newGid !== inode.gid && (c.fsuid !== inode.uid || !inGroup(c, newGid)))
      throw new SysError(EPERM);
    if ((newUid !== -1 || newGid !== -1) && c.fsuid !== inode.uid) throw new SysError(EPERM);
  }
  if (newUid !== -1) attr.uid = newUid;
  if (newGid !== -1) attr.gid = newGid;
  // chown clears set-user-ID (and group-executable set-group-ID) on non-directories.
  if ((inode.mode & S_IFMT) !== S_IFDIR && (newUid !== -1 || newGid !== -1)) {
    let mode = inode.mode & 0o7777;
    if (mode & S_ISUID) mode &= ~S_ISUID;
    if (mode & S_ISGID && mode & 0o010) mode &= ~S_ISGID;
    if (mode !== (inode.mode & 0o7777)) attr.mode = mode;
  }
  inode.setattr(attr, c);
  fsnotifyChange(inode, attr, d);
}

/** utimensat semantics: undefined = UTIME_OMIT. */
export function utimesInode(
  t: FileTask,
  inode: Inode,
  m: Mount | null,
  atime: TimeSpec | undefined,
  mtime: TimeSpec | undefined,
  d?: Dentry | null,
): void {
  if (atime === undefined && mtime === undefined) return;
  if (m) checkWritableMount(m);
  const onlyNow = (atime === undefined || atime === 'now') && (mtime === undefined || mtime === 'now');
  if (!isOwner(t.creds, inode)) {
    if (!onlyNow) throw new SysError(EPERM);
    if (!permits(t.creds, inode.mode, inode.uid, inode.gid, MAY_WRITE)) throw new SysError(EACCES);
  }
  inode.setattr({ atime, mtime }, t.creds);
  fsnotifyChange(inode, { atime, mtime }, d);
}

/** truncate(2) on a location (ftruncate checks its fd itself). */
export function truncateVd(t: FileTask, vd: VirtualDentry, size: number): void {
  if (size < 0) throw new SysError(EINVAL);
  const inode = vd.inode;
  const type = inode.mode & S_IFMT;
  if (type === S_IFDIR) throw new SysError(EISDIR);
  if (type !== S_IFREG) throw new SysError(EINVAL);
  checkPermission(t.creds, inode, MAY_WRITE);
  checkWritableMount(vd.mount);
  inode.setattr({ size, mtime: 'now' }, t.creds);
  fsnotifyChange(inode, { size }, vd.dentry);
}

/** access(2)/faccessat2(2): `mode` R_OK|W_OK|X_OK; real ids unless AT_EACCESS. */
export function accessAt(
  t: FileTask,
  dirfd: number,
  path: string,
  mode: number,
  atFlags: number,
  useEffective: boolean,
): void {
  const c = t.creds;
  // access(2) checks with the real ids, and (for a non-root real uid) without capabilities.
  const creds: Credentials = useEffective
    ? c
    : { ...c, fsuid: c.uid, fsgid: c.gid, capEff: c.uid === 0 ? c.capPrm : 0n };
  const ctx: WalkContext = { root: t.fs.root, creds, task: t };
  let vd: VirtualDentry;
  if (path.length === 0 && atFlags & AT_EMPTY_PATH) vd = lookupAt(t, dirfd, path, true, atFlags);
  else {
    if (path.length === 0) throw new SysError(ENOENT);
    vd = resolve(ctx, startAt(t, dirfd, path), path, !(atFlags & 0x100));
  }
  if (mode & 2 /* W_OK */) {
    const type = vd.inode.mode & S_IFMT;
    if (vd.mount.readOnly && (type === S_IFREG || type === S_IFDIR || type === S_IFLNK))
      throw new SysError(EROFS);
  }
  if (mode & 7 && !permits(creds, vd.inode.mode, vd.inode.uid, vd.inode.gid, mode & 7))
    throw new SysError(EACCES);
}

// ---------------------------------------------------------------- cwd / root

export function chdirVd(t: FileTask, vd: VirtualDentry): void {
  if ((vd.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
  checkPermission(t.creds, vd.inode, MAY_EXEC);
  t.fs.cwd = vd;
}

export function chrootVd(t: FileTask, vd: VirtualDentry): void {
  if ((vd.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
  checkPermission(t.creds, vd.inode, MAY_EXEC);
  if (!hasCap(t.creds, CAP_SYS_CHROOT)) throw new SysError(EPERM);
  t.fs.root = vd;
}

// ---------------------------------------------------------------- exec

/**
 * Open `path` for execve with Linux's checks: ENOENT/ENOTDIR/ELOOP from the walk;
 * EACCES when it is not a regular file (directories included), when no execute bit
 * applies to the caller, or on a noexec mount. ENOEXEC (bad format) is the loader's.
 */
export function openForExec(
  t: FileTask,
  path: string,
  dirfd = AT_FDCWD,
  atFlags = 0,
): { file: FileDescription; stat: Stat; vd: VirtualDentry } {
  const vd = lookupAt(t, dirfd, path, !(atFlags & 0x100), atFlags);
  const inode = vd.inode;
  if ((inode.mode & S_IFMT) === S_IFLNK) throw new SysError(ELOOP);
  if ((inode.mode & S_IFMT) !== S_IFREG) throw new SysError(EACCES);
  if (vd.mount.flags & 8 /* MS_NOEXEC */) throw new SysError(EACCES);
  checkPermission(t.creds, inode, MAY_EXEC);
  const r = openVd(t, vd, O_RDONLY);
  if (r instanceof Promise) throw new SysError(EACCES);
  return { file: r, stat: inode.stat(), vd };
}

export { O_APPEND, O_RDWR, O_WRONLY, Walker };
