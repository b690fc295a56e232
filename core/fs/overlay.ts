/**
 * overlay: a writable upper layer (tmpfs) over a read-only lower layer (any Filesystem,
 * typically directfs), as Linux's overlayfs and gVisor's rootfs overlay.
 *
 * - Lookup: an upper entry hides the lower one; a *whiteout* in the upper (a character
 *   device 0:0, as Linux) hides a lower entry; an upper directory with the xattr
 *   trusted.overlay.opaque="y" hides the whole lower directory. A directory present in
 *   both layers is merged.
 * - Copy-up: the first change to a lower file (open for writing, truncate, chmod, chown,
 *   utimes, xattr, link, rename) copies it (and its parent directories) to the upper
 *   layer with its attributes; O_TRUNC opens skip copying the data.
 * - Removal: unlink/rmdir of a name that exists in the lower layer leaves a whiteout.
 * - readdir merges both layers, dropping whiteouts.
 * - Inode numbers are stable across copy-up: a lower file keeps its lower inode number
 *   (recorded on the upper copy as trusted.overlay.ino); upper-only files get
 *   2^52 + their tmpfs inode number. st_dev is the overlay's own.
 * - Limits: renaming a directory that has lower content fails with EXDEV (Linux does the
 *   same without redirect_dir; mv falls back to copying); RENAME_EXCHANGE is EINVAL.
 *   trusted.overlay.* xattrs are hidden from the app.
 */
import { EINVAL, ENOTEMPTY, EXDEV, SysError } from '../abi/errno';
import type { Credentials, TaskApi } from '../kernel/api';
import { rootCreds } from '../kernel/caps';
import {
  O_ACCMODE,
  O_RDONLY,
  O_TRUNC,
  RENAME_EXCHANGE,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from '../vfs/abi';
import { DirectoryFile, FileDescription } from '../vfs/file';
import {
  allocAnonDev,
  DirEntry,
  Filesystem,
  Inode,
  OVERLAYFS_MAGIC,
  SetAttr,
  Stat,
  Statfs,
} from '../vfs/inode';
import type { VirtualDentry } from '../vfs/mount';
import { Tmpfs, TmpfsFile } from './tmpfs';

const OPAQUE = 'trusted.overlay.opaque';
const ORIGIN = 'trusted.overlay.ino';
const UPPER_INO_BASE = 2 ** 52;
const ROOT: Credentials = rootCreds();

/** A stand-in task for internal opens of lower files during copy-up (filesystems ignore it for regular files). */
const copyTask = {} as TaskApi;

export interface OverlayOptions {
  upper: Tmpfs;
  lower: Filesystem;
}

function isWhiteout(i: Inode | null): boolean {
  return i !== null && (i.mode & S_IFMT) === S_IFCHR && i.stat().rdev === 0;
}

function isOpaque(i: Inode | null): boolean {
  if (!i || !i.getxattr) return false;
  try {
    const v = i.getxattr(OPAQUE);
    return v !== null && v.length === 1 && v[0] === 0x79;
  } catch {
    return false;
  }
}

function originIno(i: Inode): number | null {
  if (!i.getxattr) return null;
  try {
    const v = i.getxattr(ORIGIN);
    return v ? Number(Buffer.from(v).toString('latin1')) : null;
  } catch {
    return null;
  }
}

export class Overlay implements Filesystem {
  readonly typeName = 'overlay';
  readonly dev = allocAnonDev();
  readonly upper: Tmpfs;
  readonly lower: Filesystem;
  private readonly rootInode: OverlayInode;

  constructor(opts: OverlayOptions) {
    this.upper = opts.upper;
    this.lower = opts.lower;
    const lr = this.lower.root();
    const ur = this.upper.root();
    const ls = lr.stat();
    ur.setattr({ mode: ls.mode & 0o7777, uid: ls.uid, gid: ls.gid }, ROOT);
    this.rootInode = new OverlayInode(this, null, '/', ur, lr);
  }

  root(): OverlayInode {
    return this.rootInode;
  }

  /**
   * The union as df sees it: used = what the lower holds plus what the upper holds, free =
   * the room left in the writable upper (in the upper's block size).
   */
  statfs(): Statfs {
    const u = this.upper.statfs();
    let lowerUsed = 0;
    try {
      const l = this.lower.statfs();
      lowerUsed = Math.round(((l.blocks - l.bfree) * (l.frsize || l.bsize)) / (u.frsize || u.bsize));
    } catch {
      /* a lower without statfs counts as empty */
    }
    return { ...u, type: OVERLAYFS_MAGIC, blocks: u.blocks + lowerUsed };
  }

  options(): string {
    return 'rw,lowerdir=/,upperdir=tmpfs';
  }
}

export class OverlayInode implements Inode {
  private cachedIno = -1;
  /** Children handed out so far: one object per name, so the VFS dentry cache and copy-up agree. */
  private readonly kids = new Map<string, OverlayInode>();

  constructor(
    readonly fs: Overlay,
    public parent: OverlayInode | null,
    public name: string,
    public upper: Inode | null,
    public lower: Inode | null,
  ) {}

  private get real(): Inode {
    return (this.upper ?? this.lower)!;
  }
  get ino(): number {
    if (this.cachedIno < 0) {
      if (this.lower) this.cachedIno = this.lower.ino;
      else this.cachedIno = originIno(this.upper!) ?? UPPER_INO_BASE + this.upper!.ino;
    }
    return this.cachedIno;
  }
  get mode(): number {
    return this.real.mode;
  }
  get uid(): number {
    return this.real.uid;
  }
  get gid(): number {
    return this.real.gid;
  }

  stat(): Stat {
    const s = this.real.stat();
    s.dev = this.fs.dev;
    s.ino = this.ino;
    return s;
  }

  private get isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }

  /** Make sure this inode has an upper copy (copying parents first). */
  copyUp(withData = true): Inode {
    if (this.upper) return this.upper;
    const lower = this.lower!;
    const p = this.parent!;
    const pu = p.copyUp() as Inode;
    const st = lower.stat();
    const type = st.mode & S_IFMT;
    // A stale whiteout cannot exist here (the lower entry would be hidden), but be safe.
    const existing = pu.lookup!(this.name);
    if (existing && isWhiteout(existing)) pu.unlink!(this.name);
    let u: Inode;
    if (type === S_IFDIR) {
      u = pu.mkdir!(this.name, st.mode & 0o7777, ROOT);
    } else if (type === S_IFREG) {
      u = pu.create!(this.name, st.mode & 0o7777, ROOT);
      if (withData && st.size > 0) this.copyData(lower, u, st.size);
    } else if (type === S_IFLNK) {
      u = pu.symlink!(this.name, lower.readlink!(), ROOT);
    } else {
      u = pu.mknod!(this.name, st.mode, st.rdev, ROOT);
    }
    u.setattr(
      {
        mode: type === S_IFLNK ? undefined : st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        atime: [st.atimeSec, st.atimeNsec],
        mtime: [st.mtimeSec, st.mtimeNsec],
      },
      ROOT,
    );
    if (u.setxattr) u.setxattr(ORIGIN, Buffer.from(String(lower.ino), 'latin1'), 0);
    if (lower.listxattr && u.setxattr && lower.getxattr) {
      for (const n of lower.listxattr()) {
        if (n.startsWith('trusted.overlay.')) continue;
        try {
          const v = lower.getxattr(n);
          if (v) u.setxattr(n, v, 0);
        } catch {
          /* unsupported on upper: skip */
        }
      }
    }
    this.upper = u;
    return u;
  }

  private copyData(lower: Inode, upper: Inode, size: number): void {
    if (!(upper instanceof TmpfsFile)) throw new SysError(EXDEV);
    const f = lower.open(copyTask, O_RDONLY, null as unknown as VirtualDentry) as FileDescription;
    try {
      const buf = new Uint8Array(Math.min(size, 1 << 20));
      let off = 0;
      while (off < size) {
        const n = f.read(copyTask, [buf], off);
        if (typeof n !== 'number' || n < 0) throw new SysError(typeof n === 'number' ? -n : 5);
        if (n === 0) break;
        upper.writeAt(off, n === buf.length ? buf : buf.subarray(0, n));
        off += n;
      }
    } finally {
      f.decRef();
    }
  }

  setattr(attr: SetAttr, creds: Credentials): void {
    const u = this.copyUp(attr.size !== 0);
    u.setattr(attr, creds);
  }

  open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription | Promise<FileDescription> {
    if (this.isDir) {
      const parent = vd.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    const target = writes ? this.copyUp((flags & O_TRUNC) === 0) : this.real;
    return target.open(t, flags, vd);
  }

  // ---------------------------------------------------------------- directories

  lookup(name: string): OverlayInode | null {
    if (!this.isDir) return null;
    const k = this.kids.get(name);
    if (k) return k;
    const r = this.lookupFresh(name);
    if (r) this.kids.set(name, r);
    return r;
  }

  private lookupFresh(name: string): OverlayInode | null {
    const u = this.upper?.lookup ? this.upper.lookup(name) : null;
    if (u && isWhiteout(u)) return null;
    const lowerVisible = this.lower !== null && !isOpaque(this.upper);
    let l: Inode | null = null;
    if (lowerVisible && this.lower!.lookup) {
      if (!u || (u.mode & S_IFMT) === S_IFDIR) l = this.lower!.lookup(name);
    }
    if (u) {
      if ((u.mode & S_IFMT) === S_IFDIR) {
        if (l && (l.mode & S_IFMT) !== S_IFDIR) l = null;
        if (isOpaque(u)) l = null;
      }
      return new OverlayInode(this.fs, this, name, u, (u.mode & S_IFMT) === S_IFDIR ? l : null);
    }
    return l ? new OverlayInode(this.fs, this, name, null, l) : null;
  }

  readdir(): DirEntry[] {
    const out = new Map<string, DirEntry>();
    if (this.lower?.readdir && !isOpaque(this.upper))
      for (const e of this.lower.readdir()) out.set(e.name, e);
    if (this.upper?.readdir) {
      for (const e of this.upper.readdir()) {
        if (e.type === 2 /* DT_CHR */) {
          const n = this.upper.lookup!(e.name);
          if (isWhiteout(n)) {
            out.delete(e.name);
            continue;
          }
        }
        const prev = out.get(e.name);
        let ino = prev?.ino;
        if (ino === undefined) {
          const n = this.upper.lookup!(e.name);
          ino = (n && originIno(n)) ?? UPPER_INO_BASE + e.ino;
        }
        out.set(e.name, { name: e.name, ino, type: e.type });
      }
    }
    return [...out.values()];
  }

  /** Prepare `name` in our upper dir for a new entry: returns whether a whiteout was removed. */
  private clearWhiteout(name: string): boolean {
    const u = this.copyUp();
    const w = u.lookup!(name);
    if (w && isWhiteout(w)) {
      u.unlink!(name);
      return true;
    }
    return false;
  }

  private adopt(name: string, upper: Inode): OverlayInode {
    const o = new OverlayInode(this.fs, this, name, upper, null);
    this.kids.set(name, o);
    return o;
  }

  create(name: string, mode: number, creds: Credentials): Inode {
    this.clearWhiteout(name);
    return this.adopt(name, this.upper!.create!(name, mode, creds));
  }

  mkdir(name: string, mode: number, creds: Credentials): Inode {
    const hadWhiteout = this.clearWhiteout(name);
    const c = this.upper!.mkdir!(name, mode, creds);
    if (hadWhiteout && c.setxattr) c.setxattr(OPAQUE, Buffer.from('y'), 0);
    return this.adopt(name, c);
  }

  mknod(name: string, mode: number, rdev: number, creds: Credentials): Inode {
    this.clearWhiteout(name);
    return this.adopt(name, this.upper!.mknod!(name, mode, rdev, creds));
  }

  symlink(name: string, target: string, creds: Credentials): Inode {
    this.clearWhiteout(name);
    return this.adopt(name, this.upper!.symlink!(name, target, creds));
  }

  link(name: string, target: Inode): void {
    if (!(target instanceof OverlayInode) || target.fs !== this.fs) throw new SysError(EXDEV);
    const tu = target.copyUp();
    this.clearWhiteout(name);
    this.upper!.link!(name, tu);
    this.kids.delete(name);
  }

  private whiteout(name: string): void {
    this.upper!.mknod!(name, S_IFCHR, 0, ROOT);
  }

  unlink(name: string): void {
    const c = this.lookup(name);
    if (!c) throw new SysError(2);
    this.copyUp();
    if (c.upper) this.upper!.unlink!(name);
    this.kids.delete(name);
    if (this.lower && !isOpaque(this.upper) && this.lower.lookup && this.lower.lookup(name))
      this.whiteout(name);
  }

  rmdir(name: string): void {
    const c = this.lookup(name);
    if (!c) throw new SysError(2);
    if ((c.mode & S_IFMT) !== S_IFDIR) throw new SysError(20);
    if (c.readdir().length) throw new SysError(ENOTEMPTY);
    this.copyUp();
    if (c.upper) {
      c.purgeWhiteouts();
      this.upper!.rmdir!(name);
    }
    this.kids.delete(name);
    if (this.lower && !isOpaque(this.upper) && this.lower.lookup && this.lower.lookup(name))
      this.whiteout(name);
  }

  /** Remove the whiteouts of an (otherwise empty) upper directory. */
  private purgeWhiteouts(): void {
    const u = this.upper;
    if (!u?.readdir) return;
    for (const e of u.readdir()) if (isWhiteout(u.lookup!(e.name))) u.unlink!(e.name);
  }

  rename(oldName: string, newDir: Inode, newName: string, flags: number): void {
    if (!(newDir instanceof OverlayInode) || newDir.fs !== this.fs) throw new SysError(EXDEV);
    if (flags & RENAME_EXCHANGE) throw new SysError(EINVAL);
    const src = this.lookup(oldName);
    if (!src) throw new SysError(2);
    if ((src.mode & S_IFMT) === S_IFDIR && (src.lower || (src.upper && originIno(src.upper) !== null)))
      throw new SysError(EXDEV);
    const victim = newDir.lookup(newName);
    if (victim && (victim.mode & S_IFMT) === S_IFDIR) {
      if (victim.readdir().length) throw new SysError(ENOTEMPTY);
      victim.purgeWhiteouts();
    }
    src.copyUp();
    newDir.copyUp();
    const hadLower = this.lower !== null && !isOpaque(this.upper) && !!this.lower.lookup?.(oldName);
    const nw = newDir.upper!.lookup!(newName);
    if (nw && isWhiteout(nw)) newDir.upper!.unlink!(newName);
    this.upper!.rename!(oldName, newDir.upper!, newName, 0);
    if (victim && victim.lower && (victim.mode & S_IFMT) === S_IFDIR) {
      const moved = newDir.upper!.lookup!(newName);
      if (moved?.setxattr) moved.setxattr(OPAQUE, Buffer.from('y'), 0);
    }
    if (hadLower) this.whiteout(oldName);
    this.kids.delete(oldName);
    src.parent = newDir;
    src.name = newName;
    newDir.kids.set(newName, src);
  }

  readlink(): string {
    return this.real.readlink!();
  }

  // ---------------------------------------------------------------- xattrs

  getxattr(name: string): Uint8Array | null {
    if (name.startsWith('trusted.overlay.')) throw new SysError(61 /* ENODATA */);
    const r = this.real;
    if (!r.getxattr) throw new SysError(61);
    return r.getxattr(name);
  }
  setxattr(name: string, value: Uint8Array, flags: number): void {
    if (name.startsWith('trusted.overlay.')) throw new SysError(1 /* EPERM */);
    this.copyUp().setxattr!(name, value, flags);
  }
  listxattr(): string[] {
    const r = this.real;
    return (r.listxattr ? r.listxattr() : []).filter((n) => !n.startsWith('trusted.overlay.'));
  }
  removexattr(name: string): void {
    if (name.startsWith('trusted.overlay.')) throw new SysError(61);
    this.copyUp().removexattr!(name);
  }
}
