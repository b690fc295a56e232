/**
 * Filesystem notification points (Linux's fs/notify/fsnotify.c and include/linux/fsnotify.h).
 *
 * The VFS calls these hooks where Linux calls fsnotify_*(): name events on a directory
 * (create, delete, moved from/to), events on a file that are also reported to a watching
 * parent directory with the child's name (access, modify, attrib, open, close), and self
 * events (delete_self, move_self, the attrib of a link-count change). A *mark* is a watch
 * a notification group (inotify, core/fs/anon/inotify.ts) placed on an inode; marks are
 * keyed by (filesystem, inode number), so every dentry and every inode object a filesystem
 * hands out for one file (overlay makes several) shares its marks, as Linux's per-inode
 * i_fsnotify_marks.
 *
 * Cost when nobody watches: every hook first tests `markCount`, a module-level number.
 *
 * Deletion: an inode whose last link goes away is "deleted" (IN_DELETE_SELF, then its
 * marks are dropped, which inotify reports as IN_IGNORED) at once if no file description
 * has it open, else when the last open description is released — Linux's dentry_unlink_inode
 * running at the last dput. Open descriptions are counted per inode for that purpose.
 *
 * Ordering: every hook is synchronous and runs inside the VFS operation, after the
 * filesystem did the work; no await.
 */
import type { FileDescription } from './file';
import type { Filesystem, Inode, SetAttr } from './inode';
import type { Dentry } from './mount';

// Event bits (fsnotify FS_* equal inotify IN_*).
export const IN_ACCESS = 0x1,
  IN_MODIFY = 0x2,
  IN_ATTRIB = 0x4,
  IN_CLOSE_WRITE = 0x8,
  IN_CLOSE_NOWRITE = 0x10,
  IN_OPEN = 0x20,
  IN_MOVED_FROM = 0x40,
  IN_MOVED_TO = 0x80,
  IN_CREATE = 0x100,
  IN_DELETE = 0x200,
  IN_DELETE_SELF = 0x400,
  IN_MOVE_SELF = 0x800,
  IN_UNMOUNT = 0x2000,
  IN_Q_OVERFLOW = 0x4000,
  IN_IGNORED = 0x8000,
  IN_ISDIR = 0x40000000;
/** The events a watch can ask for. */
export const IN_ALL_EVENTS = 0xfff;
/** Events on a file that a watched parent directory also receives, with the child's name. */
const ON_CHILD = IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN;

const S_IFMT = 0o170000,
  S_IFDIR = 0o040000;

/** A watch on one inode, owned by a notification group. */
export interface FsnotifyMark {
  /** Events of interest (IN_ALL_EVENTS bits) plus flags the group interprets. */
  readonly mask: number;
  /** Drop events about a child that has been unlinked (IN_EXCL_UNLINK). */
  readonly exclUnlink: boolean;
  /**
   * Deliver an event. `name` is set when the mark is on the parent directory of the
   * subject. Called synchronously; the mark may remove itself (IN_ONESHOT).
   */
  handle(mask: number, name: string | undefined, cookie: number): void;
  /** The inode went away (deleted): the mark is gone; inotify queues IN_IGNORED. */
  inodeGone(): void;
}

interface InodeMarks {
  marks: FsnotifyMark[];
  /** Last link gone while still open: delete when the last open description is released. */
  pendingDelete: boolean;
}

const marksByFs = new WeakMap<Filesystem, Map<number, InodeMarks>>();
const opensByFs = new WeakMap<Filesystem, Map<number, number>>();
/** Descriptions counted in opensByFs (only those go back out on release). */
const counted = new WeakSet<FileDescription>();

/** Number of marks in existence; hooks return at once while it is 0. */
export let markCount = 0;

let cookieCounter = 0;
/** A fresh cookie tying IN_MOVED_FROM to IN_MOVED_TO (Linux's fsnotify_get_cookie). */
export function fsnotifyCookie(): number {
  cookieCounter = (cookieCounter + 1) >>> 0;
  return cookieCounter;
}

function entry(inode: Inode, create: boolean): InodeMarks | undefined {
  let m = marksByFs.get(inode.fs);
  if (!m) {
    if (!create) return undefined;
    marksByFs.set(inode.fs, (m = new Map()));
  }
  let e = m.get(inode.ino);
  if (!e && create) m.set(inode.ino, (e = { marks: [], pendingDelete: false }));
  return e;
}

/** Place a mark on `inode`. */
export function addMark(inode: Inode, mark: FsnotifyMark): void {
  entry(inode, true)!.marks.push(mark);
  markCount++;
}

/** Remove a mark (no event). */
export function removeMark(inode: Inode, mark: FsnotifyMark): void {
  const m = marksByFs.get(inode.fs);
  const e = m?.get(inode.ino);
  if (!e) return;
  const i = e.marks.indexOf(mark);
  if (i < 0) return;
  e.marks.splice(i, 1);
  markCount--;
  if (e.marks.length === 0) m!.delete(inode.ino);
}

function isDir(inode: Inode): number {
  return (inode.mode & S_IFMT) === S_IFDIR ? IN_ISDIR : 0;
}

function deliver(
  e: InodeMarks | undefined,
  mask: number,
  name: string | undefined,
  cookie: number,
  unlinked: boolean,
): void {
  if (!e) return;
  // Snapshot: a oneshot mark removes itself while we walk.
  const marks = e.marks.length === 1 ? [e.marks[0]] : e.marks.slice();
  for (const mk of marks) {
    if (!(mk.mask & mask & IN_ALL_EVENTS)) continue;
    if (unlinked && mk.exclUnlink) continue;
    mk.handle(mask, name, cookie);
  }
}

/**
 * An event on `inode` itself (fsnotify_inode): its own marks, without a name. IN_ISDIR is
 * added for a directory.
 */
export function fsnotify(inode: Inode, mask: number, name?: string, cookie = 0): void {
  if (markCount === 0) return;
  deliver(entry(inode, false), mask | isDir(inode), name, cookie, false);
}

/** A name event in directory `dir` (create, delete, moved from/to) about `child`. */
export function fsnotifyName(dir: Inode, mask: number, name: string, child: Inode, cookie = 0): void {
  if (markCount === 0) return;
  deliver(entry(dir, false), mask | isDir(child), name, cookie, false);
}

/**
 * An event on the file at dentry `d` (fsnotify_dentry / fsnotify_file): first the parent
 * directory's marks with the child's name, then the file's own marks. `unlinked`: the name
 * is gone (IN_EXCL_UNLINK marks skip it; only file events carry it, as Linux's path events).
 */
export function fsnotifyDentry(
  d: Dentry | null | undefined,
  inode: Inode,
  mask: number,
  unlinked = false,
): void {
  if (markCount === 0) return;
  mask |= isDir(inode);
  if (d?.parent && mask & ON_CHILD) deliver(entry(d.parent.inode, false), mask, d.name, 0, unlinked);
  deliver(entry(inode, false), mask, undefined, 0, unlinked);
}

// ---------------------------------------------------------------- hooks called by the VFS

/** The file's inode is watched by nobody: hooks skip it. */
function fileInode(f: FileDescription): Inode | null {
  return f.isPath ? null : f.inode;
}

/** A file was opened (after a create): IN_OPEN, then IN_MODIFY for an O_TRUNC open. */
export function fsnotifyOpen(f: FileDescription, truncated: boolean): void {
  const inode = fileInode(f);
  if (!inode) return;
  let m = opensByFs.get(inode.fs);
  if (!m) opensByFs.set(inode.fs, (m = new Map()));
  m.set(inode.ino, (m.get(inode.ino) ?? 0) + 1);
  counted.add(f);
  if (markCount === 0) return;
  const d = f.vd?.dentry;
  fsnotifyDentry(d, inode, IN_OPEN, d?.dead);
  if (truncated) fsnotifyDentry(d, inode, IN_MODIFY, d?.dead);
}

/** The last reference to `f` is gone (Linux's __fput): IN_CLOSE_WRITE or IN_CLOSE_NOWRITE. */
export function fsnotifyRelease(f: FileDescription): void {
  if (!counted.has(f)) return;
  counted.delete(f);
  const inode = f.inode!;
  const m = opensByFs.get(inode.fs)!;
  const n = (m.get(inode.ino) ?? 1) - 1;
  if (n > 0) m.set(inode.ino, n);
  else m.delete(inode.ino);
  if (markCount === 0) return;
  const d = f.vd?.dentry;
  fsnotifyDentry(d, inode, f.writable ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE, d?.dead);
  const e = entry(inode, false);
  if (n === 0 && e?.pendingDelete) deleteSelf(inode);
}

/** A read of `n` bytes (n > 0) or a write: IN_ACCESS / IN_MODIFY on the file. */
export function fsnotifyFile(f: FileDescription, mask: number): void {
  const inode = fileInode(f);
  if (!inode) return;
  const d = f.vd?.dentry;
  fsnotifyDentry(d, inode, mask, d?.dead);
}

/**
 * Report I/O that completed (`r` > 0 bytes) on `f` as `mask` (IN_ACCESS or IN_MODIFY);
 * passes the result through, and costs one comparison while nobody watches.
 */
export function notifyIo(
  f: FileDescription,
  r: number | Promise<number>,
  mask: number,
): number | Promise<number> {
  if (markCount === 0) return r;
  if (typeof r === 'number') {
    if (r > 0) fsnotifyFile(f, mask);
    return r;
  }
  return r.then((n) => {
    if (n > 0) fsnotifyFile(f, mask);
    return n;
  });
}

/** create/mknod/symlink/mkdir of `name` in `dir`. */
export function fsnotifyCreate(dir: Inode, name: string, child: Inode): void {
  if (markCount === 0) return;
  fsnotifyName(dir, IN_CREATE, name, child);
}

/** link(2): the inode's link count changed, then a new name in `dir`. */
export function fsnotifyLink(dir: Inode, name: string, inode: Inode): void {
  if (markCount === 0) return;
  fsnotify(inode, IN_ATTRIB);
  fsnotifyName(dir, IN_CREATE, name, inode);
}

/** How many links `inode` has before an unlink/rename-over (call before the fs acts). */
export function linksBefore(inode: Inode): number {
  if (markCount === 0) return 0;
  try {
    return inode.stat().nlink;
  } catch {
    return 1;
  }
}

function openCount(inode: Inode): number {
  return opensByFs.get(inode.fs)?.get(inode.ino) ?? 0;
}

function deleteSelf(inode: Inode): void {
  const e = entry(inode, false);
  if (!e) return;
  fsnotify(inode, IN_DELETE_SELF);
  // The inode is gone: drop every mark (inotify queues IN_IGNORED for each).
  const marks = e.marks.slice();
  for (const mk of marks) {
    removeMark(inode, mk);
    mk.inodeGone();
  }
}

/** A link to `inode` went away; `last` when it was its last link (a directory always is). */
function dropLink(inode: Inode, last: boolean, isDirectory: boolean): void {
  if (!isDirectory) fsnotify(inode, IN_ATTRIB);
  if (!last) return;
  const e = entry(inode, false);
  if (!e) return;
  if (openCount(inode) > 0) e.pendingDelete = true;
  else deleteSelf(inode);
}

/**
 * unlink(2)/rmdir(2) of `name` (inode `child`) from `dir`, after the filesystem removed it;
 * `links` is linksBefore(child). Linux's order: attrib (link count), delete_self and
 * ignored when nothing holds the file open, then IN_DELETE on the directory.
 */
export function fsnotifyUnlink(dir: Inode, name: string, child: Inode, links: number): void {
  if (markCount === 0) return;
  const d = isDir(child) !== 0;
  dropLink(child, d || links <= 1, d);
  fsnotifyName(dir, IN_DELETE, name, child);
}

/**
 * rename(2): IN_MOVED_FROM/IN_MOVED_TO with one cookie, the replaced target's link drop,
 * IN_MOVE_SELF on the moved inode; RENAME_EXCHANGE reports both moves.
 */
export function fsnotifyRename(
  oldDir: Inode,
  oldName: string,
  newDir: Inode,
  newName: string,
  src: Inode,
  target: Inode | null,
  targetLinks: number,
  exchange: boolean,
): void {
  if (markCount === 0) return;
  const move = (fromDir: Inode, from: string, toDir: Inode, to: string, moved: Inode): void => {
    const cookie = fsnotifyCookie();
    fsnotifyName(fromDir, IN_MOVED_FROM, from, moved, cookie);
    fsnotifyName(toDir, IN_MOVED_TO, to, moved, cookie);
  };
  move(oldDir, oldName, newDir, newName, src);
  if (exchange && target) {
    fsnotify(src, IN_MOVE_SELF);
    move(newDir, newName, oldDir, oldName, target);
    fsnotify(target, IN_MOVE_SELF);
    return;
  }
  if (target && !isDir(target)) fsnotify(target, IN_ATTRIB);
  fsnotify(src, IN_MOVE_SELF);
  if (target) {
    const d = isDir(target) !== 0;
    if (d || targetLinks <= 1) {
      const e = entry(target, false);
      if (e && openCount(target) > 0) e.pendingDelete = true;
      else if (e) deleteSelf(target);
    }
  }
}

/**
 * A successful setattr (Linux's fsnotify_change): mode/owner changes are IN_ATTRIB, a size
 * change IN_MODIFY; times: both (utimes) IN_ATTRIB, atime alone IN_ACCESS, mtime alone
 * IN_MODIFY. `d` names the file for the parent's watch when known.
 */
export function fsnotifyChange(inode: Inode, attr: SetAttr, d?: Dentry | null): void {
  if (markCount === 0) return;
  let mask = 0;
  if (attr.mode !== undefined || attr.uid !== undefined || attr.gid !== undefined) mask |= IN_ATTRIB;
  if (attr.size !== undefined) mask |= IN_MODIFY;
  else if (attr.atime !== undefined && attr.mtime !== undefined) mask |= IN_ATTRIB;
  else if (attr.atime !== undefined) mask |= IN_ACCESS;
  else if (attr.mtime !== undefined) mask |= IN_MODIFY;
  if (mask) fsnotifyDentry(d, inode, mask);
}
