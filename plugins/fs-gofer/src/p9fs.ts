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
 * used are clunked and re-walked from their parent on demand). A regular file opened for
 * reading gets one fid (Twalk + Tlopen) shared by all its open files (reads are positional)
 * and kept after the last close for the next open (at most MAX_IDLE_READ_FIDS idle ones).
 * Symlinks are walked to when read and clunked. Clunks are sent without waiting for the
 * reply. With runsc gofer, which answers in order, a walk and the request on the new fid
 * go in one write (one round trip). Attributes are fetched at lookup
 * and kept (gVisor's "exclusive" file access: the tree is assumed not to change beneath the
 * sandbox).
 *
 * Gofer death: any I/O error on the socket marks the connection dead, logs one error line,
 * and every later operation fails with EIO (the app sees EIO; the sentry keeps running).
 *
 * Names: the sentry's names are byte strings (one char per byte); they are sent as UTF-8, so
 * host names that are not valid UTF-8 are not reachable in this mode.
 */
import { ReadOnlyInode } from '../../../core/vfs/readonly-inode';
import * as nodefs from 'node:fs';
import { EBADF, EINVAL, EIO, ENOENT, ENXIO, EROFS, SysError } from '../../../core/abi/errno';
import type { TaskApi } from '../../../core/kernel/api';
import type { Logger } from '../../../core/log';
import type { Mappable } from '../../../core/mm/api';
import type { MemoryFile } from '../../../core/mm/memfile';
import { MemObject } from '../../../core/mm/memobject';
import {
  DirectoryFile,
  FileDescription,
  allocAnonDev,
  copyToSegs,
  ioLength,
  type DirEntry,
  type Filesystem,
  type Inode,
  type IoDst,
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
/** Most open-for-reading fids kept for files no longer open (so reopening costs nothing). */
export const MAX_IDLE_READ_FIDS = 256;
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
    /**
     * Whether the server answers requests in order, one after the other (runsc gofer does),
     * so that a request may depend on an earlier one sent in the same write (Twalk then
     * Tgetattr of the new fid). 9P does not promise this: other servers (diod) serve
     * requests concurrently, and get dependent requests one round trip at a time.
     */
    readonly ordered = false,
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

  /** Tags of requests sent without waiting (post): tag -> callback when the reply arrives. */
  private readonly posted = new Map<number, (r: Message) => void>();
  private nextTag = 1;

  private allocTag(taken: Set<number>): number {
    for (;;) {
      const t = this.nextTag;
      this.nextTag = this.nextTag >= 0xfffe ? 1 : this.nextTag + 1;
      if (!this.posted.has(t) && !taken.has(t)) return t;
    }
  }

  private frame(req: Request, tag: number): Buffer {
    try {
      return encode({ ...req, tag } as Message);
    } catch (e) {
      throw new SysError(e instanceof P9ProtocolError ? EINVAL : EIO, (e as Error).message);
    }
  }

  /** Reads one reply frame. */
  private readReply(): Message {
    this.readExact(this.hdr, 4);
    const size = this.hdr.readUInt32LE(0);
    if (size < HEADER_SIZE || size > this.msize)
      this.lost(`reply size ${size} outside ${HEADER_SIZE}..${this.msize}`);
    const body = Buffer.allocUnsafe(size);
    this.hdr.copy(body, 0, 0, 4);
    this.readExact(body.subarray(4), size - 4);
    try {
      return decode(body);
    } catch (e) {
      this.lost(`malformed reply: ${(e as Error).message}`);
    }
  }

  /**
   * Sends `reqs` in one write (pipelined, each with its own tag) and waits for all their
   * replies, matched by tag (a multi-threaded server may answer out of order). Returns, in
   * request order, each reply or the SysError its Rlerror stands for.
   */
  callMany(reqs: readonly Request[]): (Message | SysError)[] {
    if (this.dead) throw new SysError(EIO, `${this.peer}: ${this.dead}`);
    const taken = new Set<number>();
    const tags = reqs.map(() => {
      const t = this.allocTag(taken);
      taken.add(t);
      return t;
    });
    this.writeAll(Buffer.concat(reqs.map((r, i) => this.frame(r, tags[i]))));
    const out = new Array<Message | SysError | undefined>(reqs.length);
    let left = reqs.length;
    while (left > 0) {
      const r = this.readReply();
      const cb = this.posted.get(r.tag);
      if (cb) {
        this.posted.delete(r.tag);
        cb(r);
        continue;
      }
      const i = tags.indexOf(r.tag);
      if (i < 0 || out[i] !== undefined) this.lost(`reply with unexpected tag ${r.tag}`);
      const req = reqs[i];
      if (r.op === 'Rlerror') out[i] = new SysError(r.ecode || EIO, `${this.peer}: ${req.op}`);
      else if (r.op !== `R${req.op.slice(1)}`) this.lost(`${req.op} answered by ${r.op}`);
      else out[i] = r;
      left--;
    }
    return out as (Message | SysError)[];
  }

  /** Sends one request; returns its reply. Rlerror throws SysError(ecode). */
  call<T extends Request>(req: T): MessageOf<ReplyOf<T['op']>> {
    const [r] = this.callMany([req]);
    if (r instanceof SysError) throw r;
    return r as MessageOf<ReplyOf<T['op']>>;
  }

  /**
   * Sends a request without waiting (Tclunk); `done` runs when its reply is read, which
   * happens while waiting for a later call's reply.
   */
  post(req: Request, done: (r: Message) => void): void {
    if (this.dead) return;
    const tag = this.allocTag(new Set());
    this.posted.set(tag, done);
    this.writeAll(this.frame(req, tag));
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
    return this.statOf(this.conn.call({ op: 'Tgetattr', fid, requestMask: GETATTR.BASIC }));
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

  /** Clunks without waiting; the fid number is reused only once the server has answered. */
  clunk(fid: number): void {
    if (!this.conn.alive) return;
    try {
      this.conn.post({ op: 'Tclunk', fid }, () => this.fids.release(fid));
    } catch {
      /* the connection is gone; so is the fid */
    }
  }

  /**
   * Walks `names` from `from` to a new fid and runs `then` on it, in one round trip (the
   * requests are pipelined; if the walk fails, `then` fails with EBADF and is ignored).
   * Returns the fid and the reply to `then`.
   */
  walkThen<T extends Request>(
    from: number,
    names: string[],
    then: (fid: number) => T,
  ): { fid: number; reply: Message } {
    const fid = this.fids.alloc();
    const walk: Request = { op: 'Twalk', fid: from, newfid: fid, wnames: names.map(toWire) };
    let w: Message | SysError, r: Message | SysError;
    if (this.conn.ordered) [w, r] = this.conn.callMany([walk, then(fid)]);
    else {
      [w] = this.conn.callMany([walk]);
      r = w instanceof SysError ? new SysError(EBADF) : this.conn.callMany([then(fid)])[0];
    }
    if (w instanceof SysError) {
      this.fids.release(fid);
      throw w;
    }
    if (w.op !== 'Rwalk' || w.qids.length !== names.length) {
      this.fids.release(fid);
      throw new SysError(ENOENT);
    }
    if (r instanceof SysError) {
      this.clunk(fid);
      throw r;
    }
    return { fid, reply: r };
  }

  /** Stat of an Rgetattr. */
  statOf(a: MessageOf<'Rgetattr'>): Stat {
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

  /** Inodes whose shared read fid no open file uses, least recently used first. */
  private readonly idleReadFids = new Set<P9Inode>();

  /** An inode's shared read fid gained a user (no longer idle). */
  readFidBusy(n: P9Inode): void {
    this.idleReadFids.delete(n);
  }

  /** An inode's shared read fid lost its last user: keep it for the next open, within bounds. */
  readFidIdle(n: P9Inode): void {
    this.idleReadFids.add(n);
    if (this.idleReadFids.size > MAX_IDLE_READ_FIDS) {
      const old = this.idleReadFids.values().next().value as P9Inode;
      this.idleReadFids.delete(old);
      old.dropReadFid();
    }
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

export class P9Inode extends ReadOnlyInode implements Inode {
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
    super();
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

  lookup(name: string): P9Inode | null {
    if ((this.mode & S_IFMT) !== S_IFDIR) return null;
    let r: { fid: number; reply: Message };
    try {
      // Twalk + Tgetattr in one round trip.
      r = this.fs.walkThen(this.fs.dirFid(this), [name], (fid) => ({
        op: 'Tgetattr',
        fid,
        requestMask: GETATTR.BASIC,
      }));
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return null;
      throw e;
    }
    const child = new P9Inode(this.fs, this, name, this.fs.statOf(r.reply as MessageOf<'Rgetattr'>));
    if ((child.mode & S_IFMT) === S_IFDIR) this.fs.adoptDirFid(child, r.fid);
    else this.fs.clunk(r.fid);
    return child;
  }

  readdir(): DirEntry[] {
    if ((this.mode & S_IFMT) !== S_IFDIR) throw new SysError(20 /* ENOTDIR */);
    const { fid } = this.fs.walkThen(this.fs.dirFid(this), [], (f) => ({
      op: 'Tlopen',
      fid: f,
      flags: O_RDONLY,
    }));
    try {
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
    const r = this.fs.walkThen(this.fs.dirFid(this.parent!), [this.name], (fid) => ({
      op: 'Treadlink',
      fid,
    }));
    this.fs.clunk(r.fid);
    return fromWire((r.reply as MessageOf<'Rreadlink'>).target);
  }

  /** The fid opened for reading that every open file of this inode shares (reads are positional). */
  private readFid?: number;
  private readFidUsers = 0;

  acquireReadFid(): number {
    this.readFid ??= this.openFid();
    this.readFidUsers++;
    this.fs.readFidBusy(this);
    return this.readFid;
  }

  releaseReadFid(): void {
    if (--this.readFidUsers === 0) this.fs.readFidIdle(this);
  }

  /** Clunks the shared read fid (only when no open file uses it). */
  dropReadFid(): void {
    if (this.readFidUsers !== 0 || this.readFid === undefined) return;
    this.fs.clunk(this.readFid);
    this.readFid = undefined;
  }

  /** A fid of this regular file opened for reading. */
  openFid(): number {
    // Twalk + Tlopen in one round trip.
    const from = this.parent ? this.fs.dirFid(this.parent) : this.fs.rootFid;
    const names = this.parent ? [this.name] : [];
    return this.fs.walkThen(from, names, (fid) => ({ op: 'Tlopen', fid, flags: O_RDONLY })).fid;
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const type = this.mode & S_IFMT;
    if (type === S_IFDIR) {
      const parent = vd.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    if (type !== S_IFREG) throw new SysError(ENXIO);
    if ((flags & 3) !== O_RDONLY) throw new SysError(EROFS);
    return new P9File(flags, this, this.acquireReadFid());
  }

  /** Reads up to dst.length bytes at `off` from an open fid; returns the count (short at EOF). */
  readAt(fid: number, dst: Uint8Array, off: number): number {
    let done = 0;
    while (done < dst.length) {
      const count = Math.min(dst.length - done, this.fs.maxIo);
      let r: MessageOf<'Rread'>;
      try {
        r = this.fs.conn.call({ op: 'Tread', fid, offset: BigInt(off + done), count });
      } catch (e) {
        if (done > 0) break; // a short read; the error comes with the next call
        throw e;
      }
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
    const pos = off < 0 ? this.pos : off;
    let done = 0;
    if (dst.length === 1) done = this.node.readAt(this.fid, dst[0], pos);
    else {
      // Segments are often single pages of the app's buffer: read once, scatter after.
      const tmp = Buffer.allocUnsafe(ioLength(dst));
      done = copyToSegs(dst, tmp.subarray(0, this.node.readAt(this.fid, tmp, pos)));
    }
    if (off < 0) this.pos = pos + done;
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
      this.node.releaseReadFid();
    }
  }
}
