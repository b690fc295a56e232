/**
 * p9fs: the sentry-side client of the gofer (`gofer.mode: 9p`): a read-only filesystem whose
 * files are reached over 9P2000.L, through a socket to `runsc gofer` (or any 9P2000.L
 * server, e.g. Debian's diod). The rootfs puts it under the overlay's tmpfs upper, exactly as
 * directfs, so the sandbox can still write (copy-up); nothing is written back to the server.
 *
 * The sentry's filesystem interface is synchronous, so the client is too: one request at a
 * time on a blocking socket (SyncP9Conn), tag 1, the reply read before the next request.
 *
 * Fids: every directory whose fid is in use keeps one (at most MAX_DIR_FIDS, least recently
 * used are clunked and re-walked from their parent on demand); files and symlinks are walked
 * to when opened or read, and their fids clunked on close. Attributes are fetched at lookup
 * and kept (gVisor's "exclusive" file access: the tree is assumed not to change beneath the
 * sandbox).
 *
 * Gofer death: any I/O error on the socket marks the connection dead, logs one error line,
 * and every later operation fails with EIO (the app sees EIO; the sentry keeps running).
 *
 * Names: the sentry's names are byte strings (one char per byte); they are sent as UTF-8, so
 * host names that are not valid UTF-8 are not reachable in this mode.
 */
import * as nodefs from 'node:fs';
import { EBADF, EINVAL, EIO, ENODATA, ENOENT, ENXIO, EROFS, SysError } from '../../../core/abi/errno';
import type { Credentials, TaskApi } from '../../../core/kernel/api';
import type { Logger } from '../../../core/log';
import type { Mappable } from '../../../core/mm/api';
import type { MemoryFile } from '../../../core/mm/memfile';
import { MemObject } from '../../../core/mm/memobject';
import {
  DirectoryFile,
  FileDescription,
  allocAnonDev,
  type DirEntry,
  type Filesystem,
  type Inode,
  type IoDst,
  type SetAttr,
  type Stat,
  type Statfs,
  type VirtualDentry,
} from '../../../core/plugins/filesystem';
import {
  GETATTR,
  HEADER_SIZE,
  IOHDRSZ,
  NOFID,
  P9ProtocolError,
  VERSION_9P2000_L,
  decode,
  decodeDirents,
  encode,
  type Message,
  type MessageName,
  type MessageOf,
} from './p9/codec';

const S_IFMT = 0o170000,
  S_IFDIR = 0o040000,
  S_IFREG = 0o100000,
  S_IFLNK = 0o120000,
  O_RDONLY = 0;

/** Most directory fids kept at once. */
export const MAX_DIR_FIDS = 256;
/** msize the client asks for. */
export const CLIENT_MSIZE = 1 << 20;

type Request = Message extends infer M ? (M extends { op: `T${string}` } ? Omit<M, 'tag'> : never) : never;
type ReplyOf<T extends MessageName> = T extends `T${infer R}`
  ? `R${R}` extends MessageName
    ? `R${R}`
    : never
  : never;

/** Sentry byte string <-> wire UTF-8 string. */
const toWire = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
const fromWire = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** One synchronous 9P2000.L conversation over a blocking socket fd. */
export class SyncP9Conn {
  msize = CLIENT_MSIZE;
  private dead?: string;
  private readonly hdr = Buffer.alloc(4);

  constructor(
    readonly fd: number,
    private readonly log?: Logger,
    /** What the peer is, for messages ("the gofer", "9P server 127.0.0.1:564"). */
    readonly peer = 'the gofer',
  ) {}

  get alive(): boolean {
    return !this.dead;
  }

  private lost(why: string): never {
    if (!this.dead) {
      this.dead = why;
      this.log?.error(
        { peer: this.peer, err: why },
        'gofer: lost the connection to %s; its files now fail with EIO',
        this.peer,
      );
    }
    throw new SysError(EIO, `${this.peer}: ${why}`);
  }

  private writeAll(b: Buffer): void {
    let o = 0;
    while (o < b.length) {
      try {
        o += nodefs.writeSync(this.fd, b, o, b.length - o);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') continue;
        this.lost(`write: ${(e as Error).message}`);
      }
    }
  }

  private readExact(b: Buffer, n: number): void {
    let o = 0;
    while (o < n) {
      let r: number;
      try {
        r = nodefs.readSync(this.fd, b, o, n - o, null);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') continue;
        this.lost(`read: ${(e as Error).message}`);
      }
      if (r === 0) this.lost('connection closed');
      o += r;
    }
  }

  /** Sends one request; returns its reply. Rlerror throws SysError(ecode). */
  call<T extends Request>(req: T): MessageOf<ReplyOf<T['op']>> {
    if (this.dead) throw new SysError(EIO, `${this.peer}: ${this.dead}`);
    let frame: Buffer;
    try {
      frame = encode({ ...req, tag: 1 } as Message);
    } catch (e) {
      throw new SysError(e instanceof P9ProtocolError ? EINVAL : EIO, (e as Error).message);
    }
    this.writeAll(frame);
    this.readExact(this.hdr, 4);
    const size = this.hdr.readUInt32LE(0);
    if (size < HEADER_SIZE || size > this.msize)
      this.lost(`reply size ${size} outside ${HEADER_SIZE}..${this.msize}`);
    const body = Buffer.allocUnsafe(size);
    this.hdr.copy(body, 0, 0, 4);
    this.readExact(body.subarray(4), size - 4);
    let r: Message;
    try {
      r = decode(body);
    } catch (e) {
      this.lost(`malformed reply: ${(e as Error).message}`);
    }
    if (r.tag !== 1) this.lost(`reply with tag ${r.tag}, expected 1`);
    if (r.op === 'Rlerror') throw new SysError(r.ecode || EIO, `${this.peer}: ${req.op}`);
    if (r.op !== `R${req.op.slice(1)}`) this.lost(`${req.op} answered by ${r.op}`);
    return r as MessageOf<ReplyOf<T['op']>>;
  }

  close(): void {
    this.dead ??= 'closed';
    try {
      nodefs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}

export interface P9fsOptions {
  /** Memory file for the shared-mapping page cache. */
  mf?: MemoryFile;
  /** Attach name (a path for diod; '' for runsc gofer). */
  aname?: string;
  log?: Logger;
}

/** Fid numbers: reused after clunk. */
class FidPool {
  private next = 1;
  private readonly free: number[] = [];
  alloc(): number {
    return this.free.pop() ?? this.next++;
  }
  release(f: number): void {
    this.free.push(f);
  }
}

export class P9fs implements Filesystem {
  readonly typeName = '9p';
  readonly dev = allocAnonDev();
  readonly fids = new FidPool();
  readonly rootFid = 0;
  private readonly rootInode: P9Inode;
  /** Directory fids, least recently used first. */
  private readonly dirFids = new Map<P9Inode, number>();

  constructor(
    readonly conn: SyncP9Conn,
    readonly opts: P9fsOptions = {},
  ) {
    const v = conn.call({ op: 'Tversion', msize: CLIENT_MSIZE, version: VERSION_9P2000_L });
    if (v.version !== VERSION_9P2000_L)
      throw new SysError(EIO, `${conn.peer} speaks ${v.version}, not 9P2000.L`);
    conn.msize = Math.min(v.msize, CLIENT_MSIZE);
    conn.call({
      op: 'Tattach',
      fid: this.rootFid,
      afid: NOFID,
      uname: 'root',
      aname: opts.aname ?? '',
      nUname: 0,
    });
    this.rootInode = new P9Inode(this, null, '', this.getattr(this.rootFid));
  }

  /** Largest read payload. */
  get maxIo(): number {
    return this.conn.msize - IOHDRSZ;
  }

  root(): P9Inode {
    return this.rootInode;
  }

  getattr(fid: number): Stat {
    const a = this.conn.call({ op: 'Tgetattr', fid, requestMask: GETATTR.BASIC });
    return {
      dev: this.dev,
      ino: Number(a.qid.path),
      mode: a.mode,
      nlink: Number(a.nlink),
      uid: a.uid,
      gid: a.gid,
      rdev: Number(a.rdev),
      size: Number(a.size),
      blksize: Number(a.blksize),
      blocks: Number(a.blocks),
      atimeSec: Number(a.atimeSec),
      atimeNsec: Number(a.atimeNsec),
      mtimeSec: Number(a.mtimeSec),
      mtimeNsec: Number(a.mtimeNsec),
      ctimeSec: Number(a.ctimeSec),
      ctimeNsec: Number(a.ctimeNsec),
    };
  }

  /** A new fid for `names` walked from `from` (one component each); throws SysError. */
  walk(from: number, names: string[]): number {
    const fid = this.fids.alloc();
    let r: MessageOf<'Rwalk'>;
    try {
      r = this.conn.call({ op: 'Twalk', fid: from, newfid: fid, wnames: names.map(toWire) });
    } catch (e) {
      this.fids.release(fid);
      throw e;
    }
    if (r.qids.length !== names.length) {
      // A partial walk creates no fid.
      this.fids.release(fid);
      throw new SysError(ENOENT);
    }
    return fid;
  }

  clunk(fid: number): void {
    try {
      if (this.conn.alive) this.conn.call({ op: 'Tclunk', fid });
    } catch {
      /* the fid is gone either way */
    }
    this.fids.release(fid);
  }

  /** The fid of directory `d` (walked from its parent when not held). */
  dirFid(d: P9Inode): number {
    if (d === this.rootInode) return this.rootFid;
    let fid = this.dirFids.get(d);
    if (fid !== undefined) {
      this.dirFids.delete(d);
      this.dirFids.set(d, fid);
      return fid;
    }
    fid = this.walk(this.dirFid(d.parent!), [d.name]);
    this.adoptDirFid(d, fid);
    return fid;
  }

  adoptDirFid(d: P9Inode, fid: number): void {
    this.dirFids.set(d, fid);
    if (this.dirFids.size > MAX_DIR_FIDS) {
      const [old, ofid] = this.dirFids.entries().next().value as [P9Inode, number];
      this.dirFids.delete(old);
      this.clunk(ofid);
    }
  }

  statfs(): Statfs {
    const s = this.conn.call({ op: 'Tstatfs', fid: this.rootFid });
    return {
      type: s.fstype,
      bsize: s.bsize,
      blocks: Number(s.blocks),
      bfree: Number(s.bfree),
      bavail: Number(s.bavail),
      files: Number(s.files),
      ffree: Number(s.ffree),
      fsid: [this.dev, 0],
      namelen: s.namelen,
      frsize: s.bsize,
      flags: 1, // ST_RDONLY
    };
  }

  options(): string {
    return 'ro,trans=fd,version=9p2000.L';
  }

  release(): void {
    this.dirFids.clear();
    this.conn.close();
  }
}

export class P9Inode implements Inode {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  private cache: MemObject | null = null;

  constructor(
    readonly fs: P9fs,
    readonly parent: P9Inode | null,
    readonly name: string,
    readonly attrs: Stat,
  ) {
    this.ino = attrs.ino;
    this.mode = attrs.mode;
    this.uid = attrs.uid;
    this.gid = attrs.gid;
  }

  stat(): Stat {
    return { ...this.attrs };
  }

  get size(): number {
    return this.attrs.size;
  }

  setattr(_attr: SetAttr, _creds: Credentials): void {
    throw new SysError(EROFS);
  }

  /** A new fid for this inode (walked from its parent's directory fid). */
  fid(): number {
    if (!this.parent) return this.fs.walk(this.fs.rootFid, []);
    return this.fs.walk(this.fs.dirFid(this.parent), [this.name]);
  }

  lookup(name: string): P9Inode | null {
    if ((this.mode & S_IFMT) !== S_IFDIR) return null;
    let fid: number;
    try {
      fid = this.fs.walk(this.fs.dirFid(this), [name]);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return null;
      throw e;
    }
    let child: P9Inode;
    try {
      child = new P9Inode(this.fs, this, name, this.fs.getattr(fid));
    } catch (e) {
      this.fs.clunk(fid);
      throw e;
    }
    if ((child.mode & S_IFMT) === S_IFDIR) this.fs.adoptDirFid(child, fid);
    else this.fs.clunk(fid);
    return child;
  }

  readdir(): DirEntry[] {
    if ((this.mode & S_IFMT) !== S_IFDIR) throw new SysError(20 /* ENOTDIR */);
    const fid = this.fs.walk(this.fs.dirFid(this), []);
    try {
      this.fs.conn.call({ op: 'Tlopen', fid, flags: O_RDONLY });
      const out: DirEntry[] = [];
      let offset = 0n;
      for (;;) {
        const r = this.fs.conn.call({ op: 'Treaddir', fid, offset, count: this.fs.maxIo });
        const ents = decodeDirents(r.data);
        if (ents.length === 0) break;
        for (const e of ents) {
          offset = e.offset;
          if (e.name === '.' || e.name === '..') continue;
          out.push({ name: fromWire(e.name), ino: Number(e.qid.path), type: e.type });
        }
      }
      return out;
    } catch (e) {
      if (e instanceof P9ProtocolError) throw new SysError(EIO, e.message);
      throw e;
    } finally {
      this.fs.clunk(fid);
    }
  }

  readlink(): string {
    if ((this.mode & S_IFMT) !== S_IFLNK) throw new SysError(EINVAL);
    const fid = this.fid();
    try {
      return fromWire(this.fs.conn.call({ op: 'Treadlink', fid }).target);
    } finally {
      this.fs.clunk(fid);
    }
  }

  /** A fid of this regular file opened for reading. */
  openFid(): number {
    const fid = this.fid();
    try {
      this.fs.conn.call({ op: 'Tlopen', fid, flags: O_RDONLY });
    } catch (e) {
      this.fs.clunk(fid);
      throw e;
    }
    return fid;
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const type = this.mode & S_IFMT;
    if (type === S_IFDIR) {
      const parent = vd.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    if (type !== S_IFREG) throw new SysError(ENXIO);
    if ((flags & 3) !== O_RDONLY) throw new SysError(EROFS);
    return new P9File(flags, this, this.openFid());
  }

  /** Reads up to dst.length bytes at `off` from an open fid; returns the count (short at EOF). */
  readAt(fid: number, dst: Uint8Array, off: number): number {
    let done = 0;
    while (done < dst.length) {
      const count = Math.min(dst.length - done, this.fs.maxIo);
      const r = this.fs.conn.call({ op: 'Tread', fid, offset: BigInt(off + done), count });
      if (r.data.length > count) throw new SysError(EIO, 'Rread longer than asked');
      dst.set(r.data, done);
      done += r.data.length;
      if (r.data.length < count) break;
    }
    return done;
  }

  /** The read-only page cache shared by MAP_SHARED mappings of this file. */
  pageCache(): MemObject {
    if (!this.fs.opts.mf) throw new SysError(19 /* ENODEV */);
    if (!this.cache) {
      const own = this.openFid();
      this.cache = new MemObject(this.fs.opts.mf, (off, dst) => {
        const n =
          off < this.size ? this.readAt(own, dst.subarray(0, Math.min(dst.length, this.size - off)), off) : 0;
        if (n < dst.length) dst.fill(0, n);
      });
    }
    return this.cache;
  }

  // Mutations: the lower layer is read-only (the overlay above copies up).
  create(): Inode {
    throw new SysError(EROFS);
  }
  mkdir(): Inode {
    throw new SysError(EROFS);
  }
  mknod(): Inode {
    throw new SysError(EROFS);
  }
  symlink(): Inode {
    throw new SysError(EROFS);
  }
  link(): void {
    throw new SysError(EROFS);
  }
  unlink(): void {
    throw new SysError(EROFS);
  }
  rmdir(): void {
    throw new SysError(EROFS);
  }
  rename(): void {
    throw new SysError(EROFS);
  }
  getxattr(_name: string): Uint8Array | null {
    throw new SysError(ENODATA);
  }
  listxattr(): string[] {
    return [];
  }
}

/** An open regular file read over 9P. */
export class P9File extends FileDescription implements Mappable {
  private closed = false;
  constructor(
    flags: number,
    readonly node: P9Inode,
    readonly fid: number,
  ) {
    super(flags);
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    let pos = off < 0 ? this.pos : off;
    let done = 0;
    try {
      for (const seg of dst) {
        const n = this.node.readAt(this.fid, seg, pos);
        pos += n;
        done += n;
        if (n < seg.length) break;
      }
    } catch (e) {
      if (done === 0) throw e;
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
    return this.node.pageCache();
  }
  readForMap(off: number, dst: Uint8Array): number {
    return this.node.readAt(this.fid, dst, off);
  }
  size(): number {
    return this.node.size;
  }

  protected override release(): void {
    if (!this.closed) {
      this.closed = true;
      this.node.fs.clunk(this.fid);
    }
  }
}
