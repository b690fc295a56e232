/**
 * What /proc/<pid>/fd/N says and where it leads.
 *
 * Text (readlink): the file's path as seen from the reader's root, with " (deleted)" when
 * it was unlinked; for a file with no location (pipes from pipe(2), sockets, eventfd and
 * other anonymous inodes) "pipe:[ino]", "socket:[ino]" or "anon_inode:<name>".
 *
 * Object (the magic link): a file with a location resolves to that location, so
 * open("/proc/self/fd/N") opens the same file afresh. A file without one resolves to a
 * dentry on a private anonymous mount whose inode stands for the open file: stat gives
 * the file's stat, and opening it calls the file's `reopen(t, flags)` when it has one
 * (a pipe: a new end on the same pipe, as Linux's fifo_open on the pipe inode), else
 * fails with ENXIO (sockets, anonymous inodes), as Linux does.
 *
 * Conventions for FileDescription implementations (duck-typed, so no base-class change):
 *  - `procLinkName?(): string` — the readlink text of an anonymous file
 *    (e.g. "anon_inode:[eventfd]"); without it the text comes from the file's st_mode.
 *  - `reopen?(t: TaskApi, flags: number): FileDescription | Promise<FileDescription>` —
 *    open the same object again through /proc/<pid>/fd/N.
 */
import { ENXIO, SysError } from '../../abi/errno';
import type { Credentials, TaskApi } from '../../kernel/api';
import { S_IFIFO, S_IFMT, S_IFSOCK } from '../../vfs/abi';
import type { FileDescription } from '../../vfs/file';
import { ANON_INODE_FS_MAGIC, allocAnonDev, Filesystem, Inode, SetAttr, Stat, Statfs } from '../../vfs/inode';
import { Dentry, MountNamespace, pathOf, VirtualDentry } from '../../vfs/mount';

/** Optional methods a FileDescription may offer to /proc/<pid>/fd. */
export interface ProcFdHooks {
  procLinkName?(): string;
  reopen?(t: TaskApi, flags: number): FileDescription | Promise<FileDescription>;
}

function safeStat(f: FileDescription): Stat | null {
  try {
    return f.stat();
  } catch {
    return null;
  }
}

/** readlink text of an fd link. `root` is the reader's root directory. */
export function fdLinkText(f: FileDescription, root: VirtualDentry | null): string {
  if (f.vd) {
    const { path } = root ? pathOf(f.vd, root) : { path: '/' + f.vd.dentry.name };
    return f.vd.dentry.dead ? path + ' (deleted)' : path;
  }
  const hooks = f as FileDescription & ProcFdHooks;
  if (typeof hooks.procLinkName === 'function') return hooks.procLinkName();
  const st = safeStat(f);
  const type = st ? st.mode & S_IFMT : 0;
  if (type === S_IFIFO) return `pipe:[${st!.ino}]`;
  if (type === S_IFSOCK) return `socket:[${st!.ino}]`;
  return 'anon_inode:[unknown]';
}

/** The filesystem holding stand-in inodes for anonymous open files. */
class AnonFs implements Filesystem {
  readonly typeName = 'anon_inodefs';
  readonly dev = allocAnonDev();
  private readonly rootInode: ReopenInode;
  constructor() {
    this.rootInode = new ReopenInode(this, null);
  }
  root(): Inode {
    return this.rootInode;
  }
  statfs(): Statfs {
    return {
      type: ANON_INODE_FS_MAGIC,
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
    };
  }
}

/** Stands for one open file: stat is the file's, open reopens it. */
class ReopenInode implements Inode {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  constructor(
    readonly fs: Filesystem,
    readonly file: FileDescription | null,
  ) {
    const st = file ? safeStat(file) : null;
    this.ino = st?.ino ?? 0;
    this.mode = st?.mode ?? 0o600;
    this.uid = st?.uid ?? 0;
    this.gid = st?.gid ?? 0;
  }
  stat(): Stat {
    const st = this.file ? safeStat(this.file) : null;
    if (st) return st;
    throw new SysError(ENXIO);
  }
  /**
   * chmod/chown: EPERM. Truncation (open with O_TRUNC of /dev/stdout on a host file) and
   * times are accepted and ignored: the stand-in cannot reach the object's size.
   */
  setattr(a: SetAttr, _c: Credentials): void {
    if (a.mode !== undefined || a.uid !== undefined || a.gid !== undefined) throw new SysError(1 /* EPERM */);
  }
  open(t: TaskApi, flags: number): FileDescription | Promise<FileDescription> {
    return this.openSpecial(t, flags);
  }
  openSpecial(t: TaskApi, flags: number): FileDescription | Promise<FileDescription> {
    const hooks = this.file as (FileDescription & ProcFdHooks) | null;
    if (hooks && typeof hooks.reopen === 'function') return hooks.reopen(t, flags);
    throw new SysError(ENXIO);
  }
}

let anon: { fs: AnonFs; ns: MountNamespace } | null = null;

function anonMount(): { fs: AnonFs; ns: MountNamespace } {
  if (!anon) {
    const fs = new AnonFs();
    anon = { fs, ns: new MountNamespace(fs, 'anon_inodefs') };
  }
  return anon;
}

/** mnt_id shown in fdinfo for files without a location. */
export function anonMountId(): number {
  return anonMount().ns.root.id;
}

/** Where following /proc/<pid>/fd/N leads. */
export function fdLinkTarget(f: FileDescription): VirtualDentry {
  if (f.vd) return f.vd;
  const a = anonMount();
  const d = new Dentry(fdLinkText(f, null), a.ns.root.root, new ReopenInode(a.fs, f));
  return new VirtualDentry(a.ns.root, d);
}

/** /proc/<pid>/fdinfo/N (seq_show; "ino" as Linux 5.14+). */
export function formatFdinfo(f: FileDescription, cloexec: boolean): string {
  const O_CLOEXEC = 0o2000000;
  const flags = f.flags | (cloexec ? O_CLOEXEC : 0);
  const mnt = f.vd ? f.vd.mount.id : anonMountId();
  const st = safeStat(f);
  return `pos:\t${f.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${mnt}\nino:\t${st?.ino ?? 0}\n`;
}
