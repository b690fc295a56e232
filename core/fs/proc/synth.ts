/**
 * Building blocks for synthetic filesystems (procfs, sysfs): inodes whose content is
 * computed when a file is opened, read-only unless a node supplies a writer.
 *
 *  - SynthFs: a Filesystem with an anonymous device and a statfs magic.
 *  - SynthDir: a directory with fixed children and, optionally, dynamic ones (live pids).
 *  - SynthFile: a regular file whose bytes come from a generator called at open(); the
 *    open file (SnapshotFile) serves read/pread/lseek from that snapshot, as Linux's
 *    seq_file does from the buffer it fills on the first read.
 *  - SynthLink: a symlink whose target is computed per call; optionally a "magic" link
 *    (see MagicLink below) that resolves straight to an object.
 *
 * Errors follow Linux: writing a file without a writer fails with the node's
 * `writeErrno` (procfs: EIO for /proc/<name> entries, EINVAL for /proc/<pid>/* files);
 * nodes that Linux refuses to open for writing even to root (sysctl 0444 entries,
 * sysfs attributes) set `denyWriteOpen`; creating names fails with the fs's
 * `createErrno`; chmod/chown fail with EPERM unless the node allows it.
 */
import { EACCES, EINVAL, EIO, ENOENT, EPERM, SysError } from '../../abi/errno';
import type { Credentials, TaskApi } from '../../kernel/api';
import {
  O_ACCMODE,
  O_PATH,
  O_RDONLY,
  O_TRUNC,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  dtype,
} from '../../vfs/abi';
import {
  copyToSegs,
  DirectoryFile,
  FileDescription,
  gatherSegs,
  IoDst,
  IoSrc,
  PathFile,
} from '../../vfs/file';
import {
  allocAnonDev,
  blankStat,
  DirEntry,
  Filesystem,
  Inode,
  nowTime,
  SetAttr,
  Stat,
  Statfs,
} from '../../vfs/inode';
import type { VirtualDentry } from '../../vfs/mount';

/**
 * A symlink that can resolve to an object directly (Linux's "magic links":
 * /proc/<pid>/{exe,cwd,root,fd/N}). The path walker, on meeting an inode with
 * `followLink`, calls it instead of re-walking `readlink()`'s text; a null result means
 * "no object: follow the text". `readlink(t)` takes the calling task so that links whose
 * text depends on the reader (/proc/self) can compute it.
 */
export interface MagicLink {
  readlink(t?: TaskApi): string;
  followLink?(t: TaskApi): VirtualDentry | null;
}

export abstract class SynthFs implements Filesystem {
  readonly dev = allocAnonDev();
  /** Time the filesystem was created: the timestamps of its static nodes. */
  readonly ctime = nowTime();
  /** errno for create/mkdir/mknod/symlink in its directories. */
  createErrno = ENOENT;
  private nextIno = 1;

  constructor(
    readonly typeName: string,
    readonly magic: number,
  ) {}

  abstract root(): Inode;

  /** A fresh inode number for a static node. */
  allocIno(): number {
    return this.nextIno++;
  }

  statfs(): Statfs {
    return {
      type: this.magic,
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

  options(): string {
    return 'rw';
  }
}

/** Common inode behaviour: attributes, EPERM setattr, no xattrs. */
export abstract class SynthNode implements Inode {
  /** Set when chmod is allowed (Linux allows it on /proc/<name> entries, not on /proc/<pid>/*). */
  chmodable = false;
  private modeBits: number;
  protected readonly time: [number, number];

  constructor(
    readonly fs: SynthFs,
    readonly ino: number,
    mode: number,
  ) {
    this.modeBits = mode;
    this.time = nowTime();
  }

  get mode(): number {
    return this.modeBits;
  }
  get uid(): number {
    return 0;
  }
  get gid(): number {
    return 0;
  }
  /** st_nlink */
  protected nlink(): number {
    return 1;
  }
  /** st_size */
  protected size(): number {
    return 0;
  }

  stat(): Stat {
    const s = blankStat(this.fs.dev, this.ino, this.mode);
    s.uid = this.uid;
    s.gid = this.gid;
    s.nlink = this.nlink();
    s.size = this.size();
    s.blksize = 1024;
    s.atimeSec = s.mtimeSec = s.ctimeSec = this.time[0];
    s.atimeNsec = s.mtimeNsec = s.ctimeNsec = this.time[1];
    return s;
  }

  setattr(attr: SetAttr, _creds: Credentials): void {
    if (attr.uid !== undefined || attr.gid !== undefined || attr.size !== undefined)
      throw new SysError(EPERM);
    if (attr.mode !== undefined) {
      if (!this.chmodable) throw new SysError(EPERM);
      this.modeBits = (this.modeBits & S_IFMT) | (attr.mode & 0o7777);
    }
    // Times: accepted and ignored (Linux keeps none for these files).
  }

  abstract open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription;
}

// ---------------------------------------------------------------- directories

/** Children computed on demand (live pids, fds, threads). */
export interface DynamicEntries {
  lookup(name: string): Inode | null;
  list(): DirEntry[];
}

export class SynthDir extends SynthNode {
  readonly children = new Map<string, Inode>();

  constructor(
    fs: SynthFs,
    ino: number,
    mode = 0o555,
    private readonly dynamic: DynamicEntries | null = null,
  ) {
    super(fs, ino, S_IFDIR | (mode & 0o7777));
  }

  /** Add a fixed child; returns it. */
  add<T extends Inode>(name: string, node: T): T {
    this.children.set(name, node);
    return node;
  }

  /** Add (or find) a fixed subdirectory. */
  dir(name: string, mode = 0o555): SynthDir {
    const c = this.children.get(name);
    if (c instanceof SynthDir) return c;
    return this.add(name, new SynthDir(this.fs, this.fs.allocIno(), mode));
  }

  /** Add a read-only file. */
  file(name: string, gen: Generator, opts: FileOptions = {}): SynthFile {
    return this.add(name, new SynthFile(this.fs, this.fs.allocIno(), gen, opts));
  }

  /** Add a symlink with a fixed or computed target. */
  slink(name: string, target: string | ((t?: TaskApi) => string)): SynthLink {
    return this.add(
      name,
      new SynthLink(this.fs, this.fs.allocIno(), typeof target === 'string' ? () => target : target),
    );
  }

  protected override nlink(): number {
    let n = 2;
    for (const c of this.children.values()) if ((c.mode & S_IFMT) === S_IFDIR) n++;
    return n;
  }

  lookup(name: string): Inode | null {
    return this.children.get(name) ?? this.dynamic?.lookup(name) ?? null;
  }

  readdir(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const [name, n] of this.children) out.push({ name, ino: n.ino, type: dtype(n.mode) });
    if (this.dynamic) out.push(...this.dynamic.list());
    return out;
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const parent = vd.dentry.parent;
    return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
  }

  // Names cannot be created in synthetic directories.
  create(): Inode {
    throw new SysError(this.fs.createErrno);
  }
  mkdir(): Inode {
    throw new SysError(this.fs.createErrno === EACCES ? EPERM : this.fs.createErrno);
  }
  mknod(): Inode {
    throw new SysError(this.fs.createErrno);
  }
  symlink(): Inode {
    throw new SysError(this.fs.createErrno);
  }
}

// ---------------------------------------------------------------- files

/** Produces a file's content for the task opening it. */
export type Generator = (t: TaskApi) => string | Uint8Array;
/** Consumes one write(2): returns the bytes accepted or throws SysError. */
export type Writer = (t: TaskApi, data: Uint8Array, off: number) => number;

export interface FileOptions {
  /** Permission bits (default 0444; 0644 when there is a writer). */
  mode?: number;
  write?: Writer;
  /** errno of write(2) when there is no writer (default EIO, as proc_reg_write). */
  writeErrno?: number;
  /** Opening for writing fails with EACCES even for root (sysctl, sysfs read-only attributes). */
  denyWriteOpen?: boolean;
  /** Nominal st_size and SEEK_END base (sysfs attributes: 4096); absent: 0 and SEEK_END is EINVAL. */
  size?: number;
}

/** Encode a generator result as bytes (strings are byte strings: latin1, as paths are). */
export function toBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
}

export class SynthFile extends SynthNode {
  constructor(
    fs: SynthFs,
    ino: number,
    readonly gen: Generator,
    readonly opts: FileOptions = {},
  ) {
    super(fs, ino, S_IFREG | (opts.mode ?? (opts.write ? 0o644 : 0o444)));
  }

  protected override size(): number {
    return this.opts.size ?? 0;
  }

  open(t: TaskApi, flags: number, _vd: VirtualDentry): FileDescription {
    if (flags & O_PATH) return new PathFile(flags);
    const acc = flags & O_ACCMODE;
    const writing = acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (writing && this.opts.denyWriteOpen) throw new SysError(EACCES);
    this.checkOpen(t, writing);
    const data = acc === 1 /* O_WRONLY */ ? new Uint8Array(0) : toBytes(this.gen(t));
    return new SnapshotFile(flags, data, this);
  }

  /** Hook for nodes that refuse opens (a vanished process). */
  protected checkOpen(_t: TaskApi, _writing: boolean): void {}
}

/**
 * An open synthetic file: a snapshot of its content taken at open. lseek accepts
 * SEEK_SET/SEEK_CUR to any non-negative offset; SEEK_END works only for nodes with a
 * nominal size (sysfs), else EINVAL (seq_lseek).
 */
export class SnapshotFile extends FileDescription {
  constructor(
    flags: number,
    readonly data: Uint8Array,
    readonly node: SynthFile,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    const pos = off < 0 ? this.pos : off;
    const n = pos >= this.data.length ? 0 : copyToSegs(dst, this.data.subarray(pos));
    if (off < 0) this.pos = pos + n;
    return n;
  }

  override write(t: TaskApi, src: IoSrc, off: number): number {
    const w = this.node.opts.write;
    if (!w) return -(this.node.opts.writeErrno ?? EIO);
    const pos = off < 0 ? this.pos : off;
    const n = w(t, gatherSegs(src), pos);
    if (off < 0) this.pos = pos + n;
    return n;
  }

  override seek(off: number, whence: number): number {
    let base: number;
    if (whence === SEEK_SET) base = 0;
    else if (whence === SEEK_CUR) base = this.pos;
    else if (whence === SEEK_END && this.node.opts.size !== undefined) base = this.node.opts.size;
    else throw new SysError(EINVAL);
    const n = base + off;
    if (n < 0) throw new SysError(EINVAL);
    return (this.pos = n);
  }
}

// ---------------------------------------------------------------- symlinks

export class SynthLink extends SynthNode implements MagicLink {
  constructor(
    fs: SynthFs,
    ino: number,
    private readonly target: (t?: TaskApi) => string,
    private readonly follow: ((t: TaskApi) => VirtualDentry | null) | null = null,
    mode = 0o777,
  ) {
    super(fs, ino, S_IFLNK | mode);
  }

  readlink(t?: TaskApi): string {
    return this.target(t);
  }

  followLink(t: TaskApi): VirtualDentry | null {
    return this.follow ? this.follow(t) : null;
  }

  open(_t: TaskApi, flags: number): FileDescription {
    return new PathFile(flags | O_PATH);
  }
}
