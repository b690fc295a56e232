/**
 * tmpfs: an in-memory filesystem (Linux's shmem / gVisor's fsimpl/tmpfs).
 *
 * Regular file data lives in a MemObject (pages in the sentry's MemoryFile), so a
 * MAP_SHARED mapping of a tmpfs file and read(2)/write(2) see the same bytes. Directories
 * are Maps; symlinks hold their target; device nodes, fifos and sockets are plain inodes
 * (the VFS opens them). Extended attributes in the user.*, trusted.* and security.*
 * namespaces are kept per inode.
 *
 * File data is freed when the last link is removed and the last open file closes
 * (mappings hold their own MemObject reference).
 */
import {
  EEXIST,
  EFBIG,
  EINVAL,
  EISDIR,
  ENODATA,
  ENOENT,
  ENOSPC,
  ENOTDIR,
  ENOTEMPTY,
  EOPNOTSUPP,
  ERANGE,
  SysError,
} from '../abi/errno';
import type { Credentials, TaskApi } from '../kernel/api';
import type { Mappable } from '../mm/api';
import type { MemoryFile } from '../mm/memfile';
import { MemObject } from '../mm/memobject';
import { EXTENT_SIZE } from '../mm/memfile';
import { O_PATH, RENAME_EXCHANGE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID, dtype } from '../vfs/abi';
import { DirectoryFile, FileDescription, IoDst, IoSrc, MAX_FILE_SIZE, PathFile } from '../vfs/file';
import {
  allocAnonDev,
  DirEntry,
  Filesystem,
  Inode,
  nowTime,
  SetAttr,
  Stat,
  Statfs,
  TMPFS_MAGIC,
} from '../vfs/inode';
import type { VirtualDentry } from '../vfs/mount';

export interface TmpfsOptions {
  /** The memory file that holds file data. */
  mf: MemoryFile;
  /** Size limit in bytes (statfs, ENOSPC); default: half of the memory file. */
  size?: number;
  /** Root directory mode (permission bits), uid, gid. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Type name shown in /proc/mounts (devtmpfs reuses tmpfs). */
  typeName?: string;
  /** Max inodes (statfs f_files). */
  nrInodes?: number;
}

/** XATTR_CREATE / XATTR_REPLACE. */
export const XATTR_CREATE = 1,
  XATTR_REPLACE = 2;
const XATTR_SIZE_MAX = 65536;

export class Tmpfs implements Filesystem {
  readonly typeName: string;
  readonly dev = allocAnonDev();
  readonly mf: MemoryFile;
  readonly maxBytes: number;
  readonly maxInodes: number;
  /** Bytes of file data (approximate: logical sizes). */
  usedBytes = 0;
  inodes = 0;
  private nextIno = 1;
  private readonly rootDir: TmpfsDir;

  constructor(opts: TmpfsOptions) {
    this.mf = opts.mf;
    this.typeName = opts.typeName ?? 'tmpfs';
    this.maxBytes = opts.size ?? Math.floor(opts.mf.maxBytes / 2);
    this.maxInodes = opts.nrInodes ?? 1 << 20;
    this.rootDir = new TmpfsDir(this, S_IFDIR | (opts.mode ?? 0o1777), opts.uid ?? 0, opts.gid ?? 0, null);
  }

  root(): TmpfsDir {
    return this.rootDir;
  }

  allocIno(): number {
    this.inodes++;
    return this.nextIno++;
  }

  statfs(): Statfs {
    const bsize = 4096;
    const blocks = Math.floor(this.maxBytes / bsize);
    const used = Math.ceil(this.usedBytes / bsize);
    const free = Math.max(0, blocks - used);
    return {
      type: TMPFS_MAGIC,
      bsize,
      blocks,
      bfree: free,
      bavail: free,
      files: this.maxInodes,
      ffree: Math.max(0, this.maxInodes - this.inodes),
      fsid: [this.dev, 0],
      namelen: 255,
      frsize: bsize,
      flags: 0,
    };
  }

  options(): string {
    return `rw,size=${Math.floor(this.maxBytes / 1024)}k`;
  }

  /** Account `delta` bytes of data growth; ENOSPC past the limit. */
  charge(delta: number): void {
    if (delta > 0 && this.usedBytes + delta > this.maxBytes) throw new SysError(ENOSPC);
    this.usedBytes += delta;
  }
}

export class TmpfsNode implements Inode {
  readonly ino: number;
  nlink = 1;
  rdev = 0;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  readonly btimeSec: number;
  readonly btimeNsec: number;
  xattrs: Map<string, Uint8Array> | null = null;

  constructor(
    readonly fs: Tmpfs,
    public mode: number,
    public uid: number,
    public gid: number,
  ) {
    this.ino = fs.allocIno();
    const [s, ns] = nowTime();
    this.atimeSec = this.mtimeSec = this.ctimeSec = this.btimeSec = s;
    this.atimeNsec = this.mtimeNsec = this.ctimeNsec = this.btimeNsec = ns;
  }

  /** Logical size (regular files: bytes; symlinks: target length; dirs: a nominal value). */
  dataSize(): number {
    return 0;
  }

  stat(): Stat {
    const size = this.dataSize();
    return {
      dev: this.fs.dev,
      ino: this.ino,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      rdev: this.rdev,
      size,
      blksize: 4096,
      blocks: this.blocks(),
      atimeSec: this.atimeSec,
      atimeNsec: this.atimeNsec,
      mtimeSec: this.mtimeSec,
      mtimeNsec: this.mtimeNsec,
      ctimeSec: this.ctimeSec,
      ctimeNsec: this.ctimeNsec,
      btimeSec: this.btimeSec,
      btimeNsec: this.btimeNsec,
    };
  }

  protected blocks(): number {
    return 0;
  }

  /** Set mtime and ctime to now (content changed). */
  touchMC(): void {
    const [s, ns] = nowTime();
    this.mtimeSec = this.ctimeSec = s;
    this.mtimeNsec = this.ctimeNsec = ns;
  }
  touchC(): void {
    const [s, ns] = nowTime();
    this.ctimeSec = s;
    this.ctimeNsec = ns;
  }

  setattr(attr: SetAttr, _creds: Credentials): void {
    if (attr.size !== undefined) this.truncate(attr.size);
    if (attr.mode !== undefined) this.mode = (this.mode & S_IFMT) | (attr.mode & 0o7777);
    if (attr.uid !== undefined) this.uid = attr.uid;
    if (attr.gid !== undefined) this.gid = attr.gid;
    let now: [number, number] | undefined;
    if (attr.atime !== undefined) {
      const t = attr.atime === 'now' ? (now ??= nowTime()) : attr.atime;
      this.atimeSec = t[0];
      this.atimeNsec = t[1];
    }
    if (attr.mtime !== undefined) {
      const t = attr.mtime === 'now' ? (now ??= nowTime()) : attr.mtime;
      this.mtimeSec = t[0];
      this.mtimeNsec = t[1];
    }
    this.touchC();
  }

  protected truncate(_size: number): void {
    throw new SysError((this.mode & S_IFMT) === S_IFDIR ? EISDIR : EINVAL);
  }

  open(_t: TaskApi, flags: number, _vd: VirtualDentry): FileDescription {
    return new PathFile(flags | O_PATH);
  }

  /** Called when the inode's last link goes away (nlink reached 0). */
  unlinked(): void {
    this.fs.inodes--;
  }

  // --- xattrs ---
  private static checkXattrName(name: string): void {
    if (name.length === 0 || name.length > 255) throw new SysError(name.length ? ERANGE : EINVAL);
    if (!/^(user|trusted|security)\./.test(name)) throw new SysError(EOPNOTSUPP);
  }
  getxattr(name: string): Uint8Array | null {
    TmpfsNode.checkXattrName(name);
    const v = this.xattrs?.get(name);
    if (!v) throw new SysError(ENODATA);
    return v;
  }
  setxattr(name: string, value: Uint8Array, flags: number): void {
    TmpfsNode.checkXattrName(name);
    if (value.length > XATTR_SIZE_MAX) throw new SysError(ERANGE);
    if (name.startsWith('user.') && (this.mode & S_IFMT) !== S_IFREG && (this.mode & S_IFMT) !== S_IFDIR)
      throw new SysError(1 /* EPERM */);
    const has = this.xattrs?.has(name) ?? false;
    if (flags & XATTR_CREATE && has) throw new SysError(EEXIST);
    if (flags & XATTR_REPLACE && !has) throw new SysError(ENODATA);
    (this.xattrs ??= new Map()).set(name, Uint8Array.from(value));
    this.touchC();
  }
  listxattr(): string[] {
    return this.xattrs ? [...this.xattrs.keys()] : [];
  }
  removexattr(name: string): void {
    TmpfsNode.checkXattrName(name);
    if (!this.xattrs?.delete(name)) throw new SysError(ENODATA);
    this.touchC();
  }
}

export class TmpfsDir extends TmpfsNode {
  readonly entries = new Map<string, TmpfsNode>();

  constructor(
    fs: Tmpfs,
    mode: number,
    uid: number,
    gid: number,
    public parent: TmpfsDir | null,
  ) {
    super(fs, mode, uid, gid);
    this.nlink = 2;
  }

  override dataSize(): number {
    return 4096;
  }

  override open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const parent = vd.dentry.parent;
    return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
  }

  lookup(name: string): TmpfsNode | null {
    return this.entries.get(name) ?? null;
  }

  readdir(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const [name, n] of this.entries) out.push({ name, ino: n.ino, type: dtype(n.mode) });
    return out;
  }

  private newOwner(creds: Credentials, mode: number): [number, number, number] {
    let gid = creds.fsgid;
    if (this.mode & S_ISGID) {
      gid = this.gid;
      if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID;
    }
    return [mode, creds.fsuid, gid];
  }

  private add(name: string, n: TmpfsNode): TmpfsNode {
    if (this.entries.has(name)) throw new SysError(EEXIST);
    if (this.fs.inodes > this.fs.maxInodes) throw new SysError(ENOSPC);
    this.entries.set(name, n);
    this.touchMC();
    return n;
  }

  create(name: string, mode: number, creds: Credentials): TmpfsNode {
    if (this.entries.has(name)) throw new SysError(EEXIST);
    const [m, uid, gid] = this.newOwner(creds, S_IFREG | (mode & 0o7777));
    return this.add(name, new TmpfsFile(this.fs, m, uid, gid));
  }

  mkdir(name: string, mode: number, creds: Credentials): TmpfsNode {
    if (this.entries.has(name)) throw new SysError(EEXIST);
    const [m, uid, gid] = this.newOwner(creds, S_IFDIR | (mode & 0o7777));
    const d = this.add(name, new TmpfsDir(this.fs, m, uid, gid, this));
    this.nlink++;
    return d;
  }

  mknod(name: string, mode: number, rdev: number, creds: Credentials): TmpfsNode {
    if (this.entries.has(name)) throw new SysError(EEXIST);
    const [m, uid, gid] = this.newOwner(creds, mode);
    const n = new TmpfsNode(this.fs, m, uid, gid);
    n.rdev = rdev;
    return this.add(name, n);
  }

  symlink(name: string, target: string, creds: Credentials): TmpfsNode {
    if (this.entries.has(name)) throw new SysError(EEXIST);
    const [, uid, gid] = this.newOwner(creds, S_IFLNK);
    return this.add(name, new TmpfsSymlink(this.fs, uid, gid, target));
  }

  link(name: string, target: Inode): void {
    if (!(target instanceof TmpfsNode) || target.fs !== this.fs) throw new SysError(18 /* EXDEV */);
    if (this.entries.has(name)) throw new SysError(EEXIST);
    this.entries.set(name, target);
    target.nlink++;
    target.touchC();
    this.touchMC();
  }

  unlink(name: string): void {
    const n = this.entries.get(name);
    if (!n) throw new SysError(ENOENT);
    if (n instanceof TmpfsDir) throw new SysError(EISDIR);
    this.entries.delete(name);
    this.dropLink(n);
    this.touchMC();
  }

  private dropLink(n: TmpfsNode): void {
    n.nlink--;
    n.touchC();
    if (n.nlink === 0) n.unlinked();
  }

  rmdir(name: string): void {
    const n = this.entries.get(name);
    if (!n) throw new SysError(ENOENT);
    if (!(n instanceof TmpfsDir)) throw new SysError(ENOTDIR);
    if (n.entries.size) throw new SysError(ENOTEMPTY);
    this.entries.delete(name);
    this.nlink--;
    n.nlink = 0;
    n.unlinked();
    this.touchMC();
  }

  rename(oldName: string, newDir: Inode, newName: string, flags: number): void {
    if (!(newDir instanceof TmpfsDir) || newDir.fs !== this.fs) throw new SysError(18 /* EXDEV */);
    const n = this.entries.get(oldName);
    if (!n) throw new SysError(ENOENT);
    const victim = newDir.entries.get(newName);
    if (victim === n) return; // same inode: nothing to do (POSIX)
    if (flags & RENAME_EXCHANGE) {
      if (!victim) throw new SysError(ENOENT);
      this.entries.set(oldName, victim);
      newDir.entries.set(newName, n);
      if (n instanceof TmpfsDir && !(victim instanceof TmpfsDir)) {
        this.nlink--;
        newDir.nlink++;
      } else if (!(n instanceof TmpfsDir) && victim instanceof TmpfsDir) {
        this.nlink++;
        newDir.nlink--;
      }
      if (n instanceof TmpfsDir) n.parent = newDir;
      if (victim instanceof TmpfsDir) victim.parent = this;
      n.touchC();
      victim.touchC();
      this.touchMC();
      newDir.touchMC();
      return;
    }
    if (victim) {
      if (victim instanceof TmpfsDir) {
        if (!(n instanceof TmpfsDir)) throw new SysError(EISDIR);
        if (victim.entries.size) throw new SysError(ENOTEMPTY);
        newDir.entries.delete(newName);
        newDir.nlink--;
        victim.nlink = 0;
        victim.unlinked();
      } else {
        if (n instanceof TmpfsDir) throw new SysError(ENOTDIR);
        newDir.entries.delete(newName);
        this.dropLink(victim);
      }
    }
    this.entries.delete(oldName);
    newDir.entries.set(newName, n);
    if (n instanceof TmpfsDir && newDir !== this) {
      this.nlink--;
      newDir.nlink++;
      n.parent = newDir;
    }
    n.touchC();
    this.touchMC();
    if (newDir !== this) newDir.touchMC();
  }
}

export class TmpfsSymlink extends TmpfsNode {
  constructor(
    fs: Tmpfs,
    uid: number,
    gid: number,
    public target: string,
  ) {
    super(fs, S_IFLNK | 0o777, uid, gid);
  }
  override dataSize(): number {
    return this.target.length;
  }
  readlink(): string {
    return this.target;
  }
}

export class TmpfsFile extends TmpfsNode {
  /** File contents; shared with MAP_SHARED mappings. */
  readonly data: MemObject;
  size = 0;
  /** Open file descriptions (data is freed when this and nlink reach 0). */
  opens = 0;
  /** Allocated bytes charged to the fs (extents). */
  private charged = 0;

  constructor(fs: Tmpfs, mode: number, uid: number, gid: number) {
    super(fs, mode, uid, gid);
    this.data = new MemObject(fs.mf);
  }

  override dataSize(): number {
    return this.size;
  }
  protected override blocks(): number {
    return this.data.extents.size * (EXTENT_SIZE / 512);
  }

  override open(_t: TaskApi, flags: number, _vd: VirtualDentry): FileDescription {
    this.opens++;
    return new TmpfsRegularFile(flags, this);
  }

  /** Resize the file (truncate / extend with zeros). */
  protected override truncate(size: number): void {
    if (size < 0) throw new SysError(EINVAL);
    if (size > MAX_FILE_SIZE) throw new SysError(EFBIG);
    this.resize(size);
    this.touchMC();
  }

  resize(size: number): void {
    if (size === this.size) return;
    if (size > this.size) {
      this.fs.charge(size - this.size);
    } else {
      this.data.truncate(size);
      this.fs.charge(size - this.size);
    }
    this.size = size;
    this.charged = size;
  }

  /** Write `src` at `pos` growing the file; returns bytes written. */
  writeAt(pos: number, src: Uint8Array): number {
    const end = pos + src.length;
    if (end > MAX_FILE_SIZE) throw new SysError(EFBIG);
    if (end > this.size) {
      this.fs.charge(end - this.size);
      this.size = end;
      this.charged = end;
    }
    this.data.write(pos, src);
    return src.length;
  }

  /** Read into `dst` from `pos` (bounded by size); returns bytes read. */
  readAt(pos: number, dst: Uint8Array): number {
    if (pos >= this.size) return 0;
    const n = Math.min(dst.length, this.size - pos);
    this.data.read(pos, n === dst.length ? dst : dst.subarray(0, n));
    return n;
  }

  override unlinked(): void {
    super.unlinked();
    this.maybeFree();
  }

  maybeFree(): void {
    if (this.nlink === 0 && this.opens === 0) {
      this.fs.charge(-this.charged);
      this.charged = 0;
      this.data.decRef();
    }
  }
}

/** An open tmpfs regular file. */
export class TmpfsRegularFile extends FileDescription implements Mappable {
  constructor(
    flags: number,
    readonly node: TmpfsFile,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    const node = this.node;
    let pos = off < 0 ? this.pos : off;
    let done = 0;
    for (let i = 0; i < dst.length; i++) {
      const seg = dst[i];
      const n = node.readAt(pos, seg);
      pos += n;
      done += n;
      if (n < seg.length) break;
    }
    if (off < 0) this.pos = pos;
    return done;
  }

  override write(_t: TaskApi, src: IoSrc, off: number): number {
    const node = this.node;
    let pos = off < 0 ? (this.append ? node.size : this.pos) : this.append ? node.size : off;
    let done = 0;
    for (let i = 0; i < src.length; i++) {
      try {
        pos += node.writeAt(pos, src[i]);
      } catch (e) {
        if (done > 0) break;
        throw e;
      }
      done += src[i].length;
    }
    if (done) node.touchMC();
    if (off < 0) this.pos = pos;
    return done;
  }

  override seek(off: number, whence: number): number {
    return this.seekWithSize(off, whence, this.node.size);
  }

  override mappable(): Mappable {
    return this;
  }
  sharedObject(): MemObject {
    return this.node.data;
  }
  readForMap(off: number, dst: Uint8Array): number {
    return this.node.readAt(off, dst);
  }
  size(): number {
    return this.node.size;
  }

  /** fallocate(2) mode 0 / KEEP_SIZE / PUNCH_HOLE|KEEP_SIZE / ZERO_RANGE. */
  allocate(mode: number, off: number, len: number): void {
    const end = off + len;
    if (end > MAX_FILE_SIZE) throw new SysError(EFBIG);
    const KEEP_SIZE = 1,
      PUNCH_HOLE = 2,
      ZERO_RANGE = 0x10;
    if (mode & PUNCH_HOLE) {
      if (!(mode & KEEP_SIZE)) throw new SysError(EOPNOTSUPP);
      this.node.data.zeroRange(off, Math.min(end, this.node.size));
    } else if (mode & ZERO_RANGE) {
      this.node.data.zeroRange(off, Math.min(end, this.node.size));
      if (!(mode & KEEP_SIZE) && end > this.node.size) this.node.resize(end);
    } else if (mode & ~KEEP_SIZE) {
      throw new SysError(EOPNOTSUPP);
    } else if (!(mode & KEEP_SIZE) && end > this.node.size) {
      this.node.resize(end);
    }
    this.node.touchMC();
  }

  protected override release(): void {
    this.node.opens--;
    this.node.maybeFree();
  }
}

/** Create a tmpfs filesystem. */
export function newTmpfs(opts: TmpfsOptions): Tmpfs {
  return new Tmpfs(opts);
}
