/**
 * directfs: a read-only filesystem served straight from a host directory by the sentry
 * (gVisor's directfs mode of the gofer client, without the gofer process).
 *
 * Security: the sentry opens host files only beneath the root directory fd, one component
 * at a time, with openat(O_NOFOLLOW) from the parent's directory fd (core/native refuses
 * '..', '/' and empty names and forces O_NOFOLLOW|O_CLOEXEC). A host symlink is never
 * followed on the host: it is returned to the VFS as a symlink, which resolves it inside
 * the sandbox's own tree (so a link to /etc means the sandbox's /etc). Device nodes and
 * fifos are served by the sentry's own drivers, never opened on the host. Every mutation
 * fails with EROFS (an overlay above copies up).
 *
 * Caching: attributes are read once per lookup (the lower tree is assumed not to change
 * underneath the sandbox, as gVisor's default "exclusive" file access); directories keep
 * an O_PATH fd, at most MAX_DIR_FDS of them open at once (least recently used are closed
 * and reopened from their parent on demand). Regular files are opened on open(2) and
 * read with pread; shared mappings use a read-only page cache (a MemObject filled from
 * the file), private mappings read straight from the file.
 */
import { ReadOnlyInode } from '../../../core/vfs/readonly-inode';
import * as nodefs from 'node:fs';
import { EBADF, EINVAL, ENOENT, EROFS, SysError } from '../../../core/abi/errno';
import type { TaskApi } from '../../../core/kernel/api';
import type { Mappable } from '../../../core/mm/api';
import type { MemoryFile } from '../../../core/mm/memfile';
import { MemObject } from '../../../core/mm/memobject';
import { coreNative } from '../../../core/native';
import {
  DirectoryFile,
  FileDescription,
  type DirEntry,
  type Filesystem,
  type Inode,
  type IoDst,
  type Stat,
  type Statfs,
  type VirtualDentry,
  statFromHostAttrs,
} from '../../../core/plugins/filesystem';

const O_RDONLY = 0,
  O_DIRECTORY = 0o200000,
  O_PATH = 0o10000000,
  O_NONBLOCK = 0o4000,
  S_IFMT = 0o170000,
  S_IFDIR = 0o040000,
  S_IFREG = 0o100000,
  S_IFLNK = 0o120000;

/** Most directory fds kept open at once. */
export const MAX_DIR_FDS = 512;

export interface DirectfsOptions {
  /** Memory file for the shared-mapping page cache (mmap MAP_SHARED of host files). */
  mf?: MemoryFile;
}

/** Convert a host error thrown by the native addon or node:fs into a SysError. */
function hostErr(e: unknown): SysError {
  if (e instanceof SysError) return e;
  const err = e as { errno?: number; code?: string };
  let n = typeof err.errno === 'number' ? Math.abs(err.errno) : 5; // EIO
  if (n === 0) n = 5;
  return new SysError(n, String((e as Error).message ?? e));
}

const nameBytes = (name: string): Buffer => Buffer.from(name, 'latin1');

export class Directfs implements Filesystem {
  readonly typeName = 'directfs';
  readonly dev: number;
  readonly rootFd: number;
  private readonly rootInode: DirectInode;
  /** Open directory fds, least recently used first. */
  private readonly openDirs = new Map<DirectInode, number>();
  private readonly scratch = new Float64Array(16);

  constructor(
    readonly source: string,
    readonly opts: DirectfsOptions = {},
  ) {
    try {
      this.rootFd = nodefs.openSync(source, O_PATH | O_DIRECTORY);
    } catch (e) {
      throw hostErr(e);
    }
    const st = this.statAt(this.rootFd, '');
    this.dev = st[0];
    this.rootInode = new DirectInode(this, null, '', st);
  }

  root(): DirectInode {
    return this.rootInode;
  }

  /** fstatat(dirfd, name, NOFOLLOW) into a fresh array. */
  statAt(dirfd: number, name: string): Float64Array {
    coreNative().hostFstatat(dirfd, nameBytes(name), this.scratch);
    return Float64Array.from(this.scratch);
  }

  /** The O_PATH fd of directory `d` (opened from its parent when needed). */
  dirFd(d: DirectInode): number {
    if (d === this.rootInode) return this.rootFd;
    let fd = this.openDirs.get(d);
    if (fd !== undefined) {
      this.openDirs.delete(d);
      this.openDirs.set(d, fd);
      return fd;
    }
    const pfd = this.dirFd(d.parent!);
    try {
      fd = coreNative().hostOpenat(pfd, nameBytes(d.name), O_PATH | O_DIRECTORY, 0);
    } catch (e) {
      throw hostErr(e);
    }
    this.openDirs.set(d, fd);
    if (this.openDirs.size > MAX_DIR_FDS) {
      const [old, ofd] = this.openDirs.entries().next().value as [DirectInode, number];
      this.openDirs.delete(old);
      coreNative().closeFd(ofd);
    }
    return fd;
  }

  statfs(): Statfs {
    try {
      const s = nodefs.statfsSync(this.source);
      return {
        type: s.type,
        bsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        fsid: [this.dev, 0],
        namelen: 255,
        frsize: s.bsize,
        flags: 1, // ST_RDONLY
      };
    } catch (e) {
      throw hostErr(e);
    }
  }

  options(): string {
    return 'ro';
  }

  release(): void {
    for (const fd of this.openDirs.values()) coreNative().closeFd(fd);
    this.openDirs.clear();
    coreNative().closeFd(this.rootFd);
  }
}

export class DirectInode extends ReadOnlyInode implements Inode {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  private cache: MemObject | null = null;

  constructor(
    readonly fs: Directfs,
    readonly parent: DirectInode | null,
    readonly name: string,
    /** Host stat (see core/native hostFstatat). */
    readonly attrs: Float64Array,
  ) {
    super();
    this.ino = attrs[1];
    this.mode = attrs[2];
    this.uid = attrs[4];
    this.gid = attrs[5];
  }

  stat(): Stat {
    const a = this.attrs;
    return statFromHostAttrs(a);
  }

  get size(): number {
    return this.attrs[7];
  }

  private parentFd(): number {
    if (!this.parent) throw new SysError(EINVAL);
    return this.fs.dirFd(this.parent);
  }

  lookup(name: string): DirectInode | null {
    if ((this.mode & S_IFMT) !== S_IFDIR) return null;
    try {
      return new DirectInode(this.fs, this, name, this.fs.statAt(this.fs.dirFd(this), name));
    } catch (e) {
      const se = hostErr(e);
      if (se.errno === ENOENT) return null;
      throw se;
    }
  }

  readdir(): DirEntry[] {
    let fd = -1;
    try {
      fd = coreNative().hostOpenat(this.fs.dirFd(this), nameBytes('.'), O_RDONLY | O_DIRECTORY, 0);
      const raw = coreNative().hostGetdents(fd);
      const out: DirEntry[] = [];
      for (let off = 0; off < raw.length;) {
        const ino = Number(raw.readBigUInt64LE(off));
        const reclen = raw.readUInt16LE(off + 16);
        const type = raw[off + 18];
        const end = raw.indexOf(0, off + 19);
        const name = raw.toString('latin1', off + 19, end < 0 || end > off + reclen ? off + reclen : end);
        if (name !== '.' && name !== '..') out.push({ name, ino, type });
        off += reclen;
      }
      return out;
    } catch (e) {
      throw hostErr(e);
    } finally {
      if (fd >= 0) coreNative().closeFd(fd);
    }
  }

  readlink(): string {
    if ((this.mode & S_IFMT) !== S_IFLNK) throw new SysError(EINVAL);
    try {
      return coreNative().hostReadlinkat(this.parentFd(), nameBytes(this.name)).toString('latin1');
    } catch (e) {
      throw hostErr(e);
    }
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const type = this.mode & S_IFMT;
    if (type === S_IFDIR) {
      const parent = vd.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    if (type !== S_IFREG) throw new SysError(6 /* ENXIO */);
    if ((flags & 3) !== O_RDONLY) throw new SysError(EROFS);
    let fd: number;
    try {
      fd = coreNative().hostOpenat(this.parentFd(), nameBytes(this.name), O_RDONLY | O_NONBLOCK, 0);
    } catch (e) {
      throw hostErr(e);
    }
    return new DirectFile(flags, this, fd);
  }

  /** The read-only page cache shared by MAP_SHARED mappings of this file. */
  pageCache(file: DirectFile): MemObject {
    if (!this.fs.opts.mf) throw new SysError(19 /* ENODEV */);
    if (!this.cache) {
      const fd = file.hostFd;
      // The cache keeps its own fd so it outlives the description that created it.
      const own = coreNative().hostOpenat(this.parentFd(), nameBytes(this.name), O_RDONLY | O_NONBLOCK, 0);
      void fd;
      this.cache = new MemObject(this.fs.opts.mf, (off, dst) => {
        const n =
          off < this.size ? nodefs.readSync(own, dst, 0, Math.min(dst.length, this.size - off), off) : 0;
        if (n < dst.length) dst.fill(0, n);
      });
    }
    return this.cache;
  }
}

/** An open host regular file (read-only). */
export class DirectFile extends FileDescription implements Mappable {
  private closed = false;
  constructor(
    flags: number,
    readonly node: DirectInode,
    readonly hostFd: number,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    let pos = off < 0 ? this.pos : off;
    let done = 0;
    try {
      for (let i = 0; i < dst.length; i++) {
        const seg = dst[i];
        const n = nodefs.readSync(this.hostFd, seg, 0, seg.length, pos);
        pos += n;
        done += n;
        if (n < seg.length) break;
      }
    } catch (e) {
      if (done === 0) throw hostErr(e);
    }
    if (off < 0) this.pos = pos;
    return done;
  }

  override write(): number {
    return -EBADF;
  }

  override seek(off: number, whence: number): number {
    return this.seekWithSize(off, whence, this.node.size);
  }

  override mappable(): Mappable {
    return this;
  }
  sharedObject(): MemObject {
    return this.node.pageCache(this);
  }
  /** The lower layer is read-only: its page cache never changes under a mapping. */
  readOnlyPageCache(): MemObject {
    return this.node.pageCache(this);
  }
  readForMap(off: number, dst: Uint8Array): number {
    try {
      return nodefs.readSync(this.hostFd, dst, 0, dst.length, off);
    } catch (e) {
      throw hostErr(e);
    }
  }
  size(): number {
    return this.node.size;
  }

  protected override release(): void {
    if (!this.closed) {
      this.closed = true;
      coreNative().closeFd(this.hostFd);
    }
  }
}
