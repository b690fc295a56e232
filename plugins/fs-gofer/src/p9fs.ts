/**
 * p9fs: the sentry-side client of the gofer (`gofer.mode: 9p`): a filesystem whose files are
 * reached over 9P2000.L, through a socket to `runsc gofer` (or any 9P2000.L server, e.g.
 * Debian's diod). Under the overlay (`gofer.overlay: memory`, the default) it is the
 * read-only lower layer and every change is EROFS (the overlay copies up first); with
 * `overlay: none` it is the root and writes reach the server (docs/gofer.md).
 *
 * The sentry's filesystem interface is synchronous, so the client is too (SyncP9Conn): a
 * blocking socket, requests pipelined when they do not depend on each other or when the
 * server answers in order (runsc gofer), replies matched by tag.
 *
 * Fids: every directory whose fid is in use keeps one (at most MAX_DIR_FIDS, least recently
 * used are clunked and re-walked from their parent on demand; renames keep each inode's
 * parent and name right). A regular file opened for reading gets one fid shared by all its
 * read-only open files (reads are positional) and kept after the last close (at most
 * MAX_IDLE_READ_FIDS idle ones); files open for writing share one fid per access mode.
 * Clunks are sent without waiting for the reply.
 *
 * Caches (gVisor's --file-access): `exclusive` keeps attributes and directory listings
 * (changed by this client's own operations) and a page cache of every regular file
 * (P9PageCache, in the memory file): reads are served from it (filled on a miss, with
 * read-ahead), write(2) goes into it, and dirty pages are written back at fsync, close,
 * munmap, before a setattr, and past DIRTY_MAX dirty bytes; clean caches of files no longer
 * open are kept within IDLE_CACHE_MAX in all. `shared` re-reads attributes on stat and on the
 * lookup of a known name, never keeps listings, and writes through (files mapped MAP_SHARED
 * still get a page cache, written back on fsync, last close and unmap).
 *
 * Gofer death: any I/O error on the socket (or the gofer child's exit) marks the connection
 * dead, logs one error line, and every later operation fails with EIO (the app sees EIO;
 * the sentry keeps running).
 *
 * Names: the sentry's names are byte strings (one char per byte); they are sent as UTF-8, so
 * host names that are not valid UTF-8 are not reachable in this mode.
 */
import * as nodefs from 'node:fs';
import {
  EBADF,
  EINVAL,
  EIO,
  EISDIR,
  ENODATA,
  ENODEV,
  ENOENT,
  ENOTDIR,
  ENXIO,
  EOPNOTSUPP,
  EPERM,
  EROFS,
  SysError,
} from '../../../core/abi/errno';
import type { Credentials, TaskApi } from '../../../core/kernel/api';
import { EXTENT_SIZE } from '../../../core/mm/memfile';
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
  type IoSrc,
  type SetAttr,
  type TimeSpec,
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
  SETATTR,
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
  O_RDONLY = 0,
  O_WRONLY = 1,
  O_RDWR = 2,
  O_ACCMODE = 3,
  O_EXCL = 0o200;

/** Most directory fids kept at once. */
export const MAX_DIR_FIDS = 256;
/** Most open-for-reading fids kept for files no longer open (so reopening costs nothing). */
export const MAX_IDLE_READ_FIDS = 256;
/** msize the client asks for. */
export const CLIENT_MSIZE = 1 << 20;
/** A file's dirty cached bytes beyond which they are written back (exclusive file access). */
export const DIRTY_MAX = 8 << 20;
/** Clean cached bytes an open, unmapped file keeps; past it its clean pages are dropped. */
export const FILE_CACHE_MAX = 64 << 20;
/** Cached bytes kept, in all, for files no longer open (least recently closed dropped first). */
export const IDLE_CACHE_MAX = 64 << 20;
/** Bytes read ahead on a page cache miss. */
export const READ_AHEAD = 512 << 10;

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

  /** The peer is known to be gone (its process exited): later operations fail with EIO. */
  peerGone(why: string): void {
    try {
      this.lost(why);
    } catch {
      /* lost() throws the EIO for a caller; there is none here */
    }
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
  /** Memory file for the page cache of shared mappings. */
  mf?: MemoryFile;
  /** Attach name (a path for diod; '' for runsc gofer). */
  aname?: string;
  log?: Logger;
  /**
   * Writes go to the server (the root is this filesystem itself, `gofer.overlay: none`).
   * Otherwise every change fails with EROFS (the overlay above copies up first).
   */
  writable?: boolean;
  /**
   * gVisor's --file-access: `exclusive` (default) trusts what the client cached (attributes,
   * directory listings); `shared` re-reads attributes on every stat and lookup of a cached
   * name, and never caches listings, as the tree may change beneath the sandbox.
   */
  fileAccess?: 'exclusive' | 'shared';
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
  readonly writable: boolean;
  readonly shared: boolean;
  /**
   * Regular files are read and written through a page cache in the memory file (exclusive
   * file access): write-back at fsync, close, munmap, and past DIRTY_MAX dirty bytes.
   */
  readonly cached: boolean;
  /** Data messages sent for regular files (Tread/Twrite), logged at release (debug). */
  readonly stats = { treads: 0, twrites: 0 };
  /** Files with cached write(2) data not yet written back: sync(2)'s work (mappings: msync/munmap). */
  readonly unsynced = new Set<P9Inode>();
  private readonly rootInode: P9Inode;
  /** Directory fids, least recently used first. */
  private readonly dirFids = new Map<P9Inode, number>();

  constructor(
    readonly conn: SyncP9Conn,
    readonly opts: P9fsOptions = {},
  ) {
    this.writable = opts.writable === true;
    this.shared = opts.fileAccess === 'shared';
    this.cached = !this.shared && opts.mf !== undefined;
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

  /**
   * Dependent requests in one round trip when the server answers in order (runsc gofer),
   * else one at a time; after a failure the rest are not sent (they fail with the same error).
   */
  chain(reqs: Request[]): (Message | SysError)[] {
    if (this.conn.ordered) return this.conn.callMany(reqs);
    const out: (Message | SysError)[] = [];
    for (const r of reqs) {
      const prev = out[out.length - 1];
      out.push(prev instanceof SysError ? prev : this.conn.callMany([r])[0]);
    }
    return out;
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
    if (!d.parent) throw new SysError(ENOENT, 'the directory was removed');
    fid = this.walk(this.dirFid(d.parent), [d.name]);
    this.adoptDirFid(d, fid);
    return fid;
  }

  /**
   * A directory moved: fids of it and below it are clunked (servers whose fids name paths,
   * like diod, would keep the old path in them); they are walked again on demand.
   */
  dropDirFidsUnder(d: P9Inode): void {
    for (const n of [...this.dirFids.keys()]) {
      for (let a: P9Inode | null = n; a; a = a.parent)
        if (a === d) {
          this.dropDirFid(n);
          break;
        }
    }
  }

  /** Clunks the fid a directory holds (it was removed). */
  dropDirFid(d: P9Inode): void {
    const fid = this.dirFids.get(d);
    if (fid === undefined) return;
    this.dirFids.delete(d);
    this.clunk(fid);
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

  /** Files no longer open whose (clean) page cache is kept, least recently closed first. */
  private readonly idleCaches = new Map<P9Inode, number>();
  private idleBytes = 0;

  /** A file's last open file closed: keep its clean cache within IDLE_CACHE_MAX in all. */
  cacheIdle(n: P9Inode, bytes: number): void {
    this.cacheBusy(n);
    this.idleCaches.set(n, bytes);
    this.idleBytes += bytes;
    for (const [old, b] of this.idleCaches) {
      if (this.idleBytes <= IDLE_CACHE_MAX) break;
      this.idleCaches.delete(old);
      this.idleBytes -= b;
      old.dropCache();
    }
  }

  /** A file with a kept cache is open again (or its cache went). */
  cacheBusy(n: P9Inode): void {
    const b = this.idleCaches.get(n);
    if (b === undefined) return;
    this.idleCaches.delete(n);
    this.idleBytes -= b;
  }

  adoptDirFid(d: P9Inode, fid: number): void {
    this.dirFids.set(d, fid);
    if (this.dirFids.size > MAX_DIR_FIDS) {
      const [old, ofid] = this.dirFids.entries().next().value as [P9Inode, number];
      this.dirFids.delete(old);
      this.clunk(ofid);
    }
  }

  /** sync(2)/syncfs(2): every file with cached writes writes them back; the first error is returned. */
  sync(): number {
    let err = 0;
    for (const node of [...this.unsynced])
      try {
        node.writeBack();
      } catch (e) {
        if (!err) err = e instanceof SysError ? -e.errno : -EIO;
      }
    return err;
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
      flags: this.writable ? 0 : 1, // ST_RDONLY
    };
  }

  options(): string {
    return `${this.writable ? 'rw' : 'ro'},trans=fd,version=9p2000.L,cache=${this.shared ? 'none' : 'loose'}`;
  }

  release(): void {
    this.opts.log?.debug({ ...this.stats }, 'gofer: 9p client data messages');
    this.dirFids.clear();
    this.conn.close();
  }
}

const AT_REMOVEDIR = 0x200,
  RENAME_NOREPLACE = 1,
  EXT = EXTENT_SIZE;

/** An open fid of a regular file and how many open files share it. */
interface SharedFid {
  fid: number;
  users: number;
}

/** Wire time of a TimeSpec for Tsetattr: [valid bits, sec, nsec]. */
function setTime(t: TimeSpec | undefined, bit: number, setBit: number): [number, bigint, bigint] {
  if (t === undefined) return [0, 0n, 0n];
  if (t === 'now') return [bit, 0n, 0n];
  if (t[0] < 0 || t[1] < 0 || t[1] >= 1e9) throw new SysError(EINVAL);
  return [bit | setBit, BigInt(t[0]), BigInt(t[1])];
}

export class P9Inode implements Inode {
  attrs: Stat;
  /** Attributes may have changed on the server (after writes): re-read them on stat. */
  private stale = false;
  /** This directory's entries (exclusive file access; dropped on any change in it). */
  private listing: DirEntry[] | null = null;
  /** Children this client has looked up or made, by name (kept in step with renames). */
  readonly kids = new Map<string, P9Inode>();
  /** Other names of this inode (hard links made through this client): [dir, name]. */
  private aliases: [P9Inode, string][] = [];
  /** Page cache of shared mappings (created by the first MAP_SHARED mmap). */
  private cache: P9PageCache | null = null;

  constructor(
    readonly fs: P9fs,
    public parent: P9Inode | null,
    public name: string,
    attrs: Stat,
  ) {
    this.attrs = attrs;
  }

  get ino(): number {
    return this.attrs.ino;
  }
  get mode(): number {
    return this.attrs.mode;
  }
  get uid(): number {
    return this.attrs.uid;
  }
  get gid(): number {
    return this.attrs.gid;
  }
  get size(): number {
    return this.attrs.size;
  }
  private get type(): number {
    return this.attrs.mode & S_IFMT;
  }

  stat(): Stat {
    if (this.stale || this.fs.shared) this.refresh();
    return { ...this.attrs };
  }

  /** Re-reads the attributes (through an open fid when there is one: the name may be gone). */
  refresh(): void {
    const open = this.anyOpenFid();
    let st: Stat;
    try {
      if (open !== undefined) st = this.fs.getattr(open);
      else st = this.withFid((fid) => this.fs.getattr(fid));
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT && this.type !== S_IFDIR && !this.parent) {
        // Removed by this client while open elsewhere: keep what we know.
        this.stale = false;
        return;
      }
      // Removed on the server behind our back (shared file access): the name is gone.
      if (e instanceof SysError && e.errno === ENOENT && this.parent) this.parent.forget(this.name);
      throw e;
    }
    // The size of a file with cached (mapped) pages is the client's until written back.
    if (this.cache && this.cache.dirtySize !== undefined) st.size = this.cache.dirtySize;
    const mt = this.cache?.dirtyMtime;
    if (mt) [st.mtimeSec, st.mtimeNsec, st.ctimeSec, st.ctimeNsec] = [mt[0], mt[1], mt[0], mt[1]];
    this.attrs = st;
    this.stale = false;
  }

  /** Runs `f` with a fid naming this inode (a directory's own fid, else a walked one, clunked after). */
  withFid<T>(f: (fid: number) => T): T {
    if (this.type === S_IFDIR || !this.parent) return f(this.fs.dirFid(this));
    const fid = this.fs.walk(this.fs.dirFid(this.parent), [this.name]);
    try {
      return f(fid);
    } finally {
      this.fs.clunk(fid);
    }
  }

  private writable(): void {
    if (!this.fs.writable) throw new SysError(EROFS);
  }

  /** A directory changed: forget its listing. */
  private changed(): void {
    this.listing = null;
    this.stale = true;
  }

  setattr(attr: SetAttr, creds: Credentials): void {
    this.writable();
    void creds;
    let valid = 0;
    if (attr.mode !== undefined) valid |= SETATTR.MODE;
    if (attr.uid !== undefined) valid |= SETATTR.UID;
    if (attr.gid !== undefined) valid |= SETATTR.GID;
    if (attr.size !== undefined) {
      if (this.type === S_IFDIR) throw new SysError(EISDIR);
      if (this.type !== S_IFREG) throw new SysError(EINVAL);
      valid |= SETATTR.SIZE;
    }
    const [av, as, an] = setTime(attr.atime, SETATTR.ATIME, SETATTR.ATIME_SET);
    const [mv, ms, mn] = setTime(attr.mtime, SETATTR.MTIME, SETATTR.MTIME_SET);
    valid |= av | mv;
    if (valid === 0) return;
    // Cached writes reach the file first (their write-back would change its mtime after a
    // utimensat); pages past a new end go.
    this.writeBack();
    if (attr.size !== undefined) this.cache?.resize(attr.size);
    const req = (fid: number): Request => ({
      op: 'Tsetattr',
      fid,
      valid: valid | SETATTR.CTIME,
      mode: (attr.mode ?? 0) & 0o7777,
      uid: attr.uid ?? 0,
      gid: attr.gid ?? 0,
      size: BigInt(attr.size ?? 0),
      atimeSec: as,
      atimeNsec: an,
      mtimeSec: ms,
      mtimeNsec: mn,
    });
    const open = this.anyOpenFid();
    let st: Stat;
    if (open !== undefined) {
      this.fs.conn.call(req(open));
      st = this.fs.getattr(open);
    } else if (this.type === S_IFDIR || !this.parent) {
      const fid = this.fs.dirFid(this);
      this.fs.conn.call(req(fid));
      st = this.fs.getattr(fid);
    } else {
      // Twalk + Tsetattr, then Tgetattr.
      const { fid } = this.fs.walkThen(this.fs.dirFid(this.parent), [this.name], req);
      try {
        st = this.fs.getattr(fid);
      } finally {
        this.fs.clunk(fid);
      }
    }
    this.attrs = st;
    this.stale = false;
  }

  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    const type = this.type;
    if (type === S_IFDIR) {
      const parent = vd.dentry.parent;
      return new DirectoryFile(flags, this, () => (parent ? parent.inode.ino : this.ino));
    }
    if (type !== S_IFREG) throw new SysError(ENXIO);
    const acc = flags & O_ACCMODE;
    if (acc === O_RDONLY) {
      // A fid made by create, not wanted by a read-only open.
      this.dropCreateFid();
      return new P9File(flags, this, this.acquireReadFid(), 'r');
    }
    this.writable();
    return new P9File(flags, this, this.acquireWriteFid(acc === O_WRONLY ? O_WRONLY : O_RDWR), acc);
  }

  // ------------------------------------------------------------------ directories

  /** Shared file access: a cached name is looked up again at each walk (same inode, replaced, or gone). */
  revalidateChild(name: string, child: P9Inode): P9Inode | null {
    if (!this.fs.shared) return child;
    return this.lookup(name);
  }

  lookup(name: string): P9Inode | null {
    if (this.type !== S_IFDIR) return null;
    const known = this.kids.get(name);
    if (known && !this.fs.shared) return known;
    let r: { fid: number; reply: Message };
    try {
      // Twalk + Tgetattr in one round trip.
      r = this.fs.walkThen(this.fs.dirFid(this), [name], (fid) => ({
        op: 'Tgetattr',
        fid,
        requestMask: GETATTR.BASIC,
      }));
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) {
        if (known) this.forget(name);
        return null;
      }
      throw e;
    }
    const st = this.fs.statOf(r.reply as MessageOf<'Rgetattr'>);
    let child: P9Inode;
    if (known && known.ino === st.ino && (known.mode & S_IFMT) === (st.mode & S_IFMT)) {
      // shared: the same file; refresh what we knew of it.
      known.attrs = st;
      known.stale = false;
      child = known;
      if ((child.mode & S_IFMT) === S_IFDIR) this.fs.dropDirFid(child);
    } else {
      if (known) this.forget(name);
      child = new P9Inode(this.fs, this, name, st);
      this.kids.set(name, child);
    }
    if ((child.mode & S_IFMT) === S_IFDIR) this.fs.adoptDirFid(child, r.fid);
    else this.fs.clunk(r.fid);
    return child;
  }

  /** Drops `name` from the children this client knows (removed, or replaced on the server). */
  private forget(name: string): void {
    const k = this.kids.get(name);
    if (!k) return;
    this.kids.delete(name);
    k.unlinkedAs(this, name);
  }

  /** This inode lost its name `dir`/`name`. */
  private unlinkedAs(dir: P9Inode, name: string): void {
    if (this.parent === dir && this.name === name) {
      const next = this.aliases.shift();
      if (next) [this.parent, this.name] = next;
      else {
        if (this.type === S_IFDIR) this.fs.dropDirFid(this);
        this.parent = null;
      }
    } else this.aliases = this.aliases.filter(([d, n]) => d !== dir || n !== name);
    this.stale = true;
  }

  readdir(): DirEntry[] {
    if (this.type !== S_IFDIR) throw new SysError(ENOTDIR);
    if (this.listing && !this.fs.shared) return this.listing;
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
      if (!this.fs.shared) this.listing = out;
      return out;
    } catch (e) {
      if (e instanceof P9ProtocolError) throw new SysError(EIO, e.message);
      throw e;
    } finally {
      this.fs.clunk(fid);
    }
  }

  /**
   * Sends `req` (Tmkdir, Tsymlink, Tmknod in this directory), then walks to the new `name` and
   * reads its attributes, in one round trip with runsc gofer; remembers the new child.
   */
  private make(req: Request, name: string): P9Inode {
    const dfid = this.fs.dirFid(this);
    const fid = this.fs.fids.alloc();
    const [m, w, a] = this.fs.chain([
      req,
      { op: 'Twalk', fid: dfid, newfid: fid, wnames: [toWire(name)] },
      { op: 'Tgetattr', fid, requestMask: GETATTR.BASIC },
    ]);
    const walked = !(w instanceof SysError) && w.op === 'Rwalk' && w.qids.length === 1;
    // The new fid is kept only for a new directory (as its directory fid).
    const keep =
      walked &&
      !(m instanceof SysError) &&
      !(a instanceof SysError) &&
      a.op === 'Rgetattr' &&
      (a.mode & S_IFMT) === S_IFDIR;
    if (!walked) this.fs.fids.release(fid);
    else if (!keep) this.fs.clunk(fid);
    if (m instanceof SysError) throw m;
    this.changed();
    this.forget(name);
    if (!walked)
      throw w instanceof SysError ? w : new SysError(EIO, `${name} is gone right after it was made`);
    if (a instanceof SysError) throw a;
    const c = new P9Inode(this.fs, this, name, this.fs.statOf(a as MessageOf<'Rgetattr'>));
    this.kids.set(name, c);
    if ((c.mode & S_IFMT) === S_IFDIR) this.fs.adoptDirFid(c, fid);
    return c;
  }

  /** The owner a new file gets is the attach user's (root); give it to the creator. */
  private own(child: P9Inode, creds: Credentials): void {
    if (creds.fsuid === child.uid) return;
    child.setattr({ uid: creds.fsuid }, creds);
  }

  /** Fid made by Tlcreate, opened read-write, waiting for the open that follows create(). */
  private createFid?: number;

  private dropCreateFid(): void {
    if (this.createFid === undefined) return;
    this.fs.clunk(this.createFid);
    this.createFid = undefined;
  }

  create(name: string, mode: number, creds: Credentials): P9Inode {
    this.writable();
    // Clone the directory's fid, Tlcreate turns the clone into the new open file, Tgetattr.
    const fid = this.fs.fids.alloc();
    const [w, c, a] = this.fs.chain([
      { op: 'Twalk', fid: this.fs.dirFid(this), newfid: fid, wnames: [] },
      {
        op: 'Tlcreate',
        fid,
        name: toWire(name),
        flags: O_RDWR | O_EXCL,
        mode: mode & 0o7777,
        gid: creds.fsgid,
      },
      { op: 'Tgetattr', fid, requestMask: GETATTR.BASIC },
    ]);
    if (w instanceof SysError) {
      this.fs.fids.release(fid);
      throw w;
    }
    if (c instanceof SysError || a instanceof SysError) {
      this.fs.clunk(fid);
      if (!(c instanceof SysError)) this.changed();
      throw c instanceof SysError ? c : a;
    }
    this.changed();
    const st = this.fs.statOf(a as MessageOf<'Rgetattr'>);
    this.forget(name);
    const child = new P9Inode(this.fs, this, name, st);
    this.kids.set(name, child);
    child.createFid = fid;
    this.own(child, creds);
    return child;
  }

  mkdir(name: string, mode: number, creds: Credentials): P9Inode {
    this.writable();
    const c = this.make(
      { op: 'Tmkdir', dfid: this.fs.dirFid(this), name: toWire(name), mode: mode & 0o7777, gid: creds.fsgid },
      name,
    );
    this.own(c, creds);
    return c;
  }

  mknod(name: string, mode: number, rdev: number, creds: Credentials): P9Inode {
    this.writable();
    const c = this.make(
      {
        op: 'Tmknod',
        dfid: this.fs.dirFid(this),
        name: toWire(name),
        mode,
        major: Math.floor(rdev / 256) & 0xfff,
        minor: (rdev & 0xff) | (Math.floor(rdev / 0x100000) & 0xfff00),
        gid: creds.fsgid,
      },
      name,
    );
    this.own(c, creds);
    return c;
  }

  symlink(name: string, target: string, creds: Credentials): P9Inode {
    this.writable();
    const c = this.make(
      {
        op: 'Tsymlink',
        fid: this.fs.dirFid(this),
        name: toWire(name),
        symtgt: toWire(target),
        gid: creds.fsgid,
      },
      name,
    );
    // The owner of a symlink is changed without following it (Tsetattr of the link fid).
    this.own(c, creds);
    return c;
  }

  link(name: string, target: Inode): void {
    this.writable();
    if (!(target instanceof P9Inode) || target.fs !== this.fs) throw new SysError(18 /* EXDEV */);
    const dfid = this.fs.dirFid(this);
    target.withFid((fid) => this.fs.conn.call({ op: 'Tlink', dfid, fid, name: toWire(name) }));
    this.changed();
    this.forget(name);
    this.kids.set(name, target);
    target.aliases.push([this, name]);
    target.stale = true;
  }

  unlink(name: string): void {
    this.remove(name, 0);
  }

  rmdir(name: string): void {
    this.remove(name, AT_REMOVEDIR);
  }

  private remove(name: string, flags: number): void {
    this.writable();
    const dirfid = this.fs.dirFid(this);
    try {
      this.fs.conn.call({ op: 'Tunlinkat', dirfid, name: toWire(name), flags });
    } catch (e) {
      if (!(e instanceof SysError && e.errno === EOPNOTSUPP)) throw e;
      // Servers without Tunlinkat (diod): Tremove of a walked fid (which clunks it).
      const fid = this.fs.walk(dirfid, [name]);
      try {
        this.fs.conn.call({ op: 'Tremove', fid });
      } finally {
        this.fs.fids.release(fid);
      }
    }
    if (this.kids.get(name)?.type === S_IFDIR) this.fs.dropDirFid(this.kids.get(name)!);
    this.changed();
    this.forget(name);
  }

  rename(oldName: string, newDir: Inode, newName: string, flags: number): void {
    this.writable();
    if (!(newDir instanceof P9Inode) || newDir.fs !== this.fs) throw new SysError(18 /* EXDEV */);
    // 9P2000.L has no exchange or whiteout; RENAME_NOREPLACE was checked by the VFS.
    if (flags & ~RENAME_NOREPLACE) throw new SysError(EINVAL);
    const moved = this.lookup(oldName);
    const olddirfid = this.fs.dirFid(this);
    const newdirfid = this.fs.dirFid(newDir);
    try {
      this.fs.conn.call({
        op: 'Trenameat',
        olddirfid,
        oldname: toWire(oldName),
        newdirfid,
        newname: toWire(newName),
      });
    } catch (e) {
      if (!(e instanceof SysError && e.errno === EOPNOTSUPP)) throw e;
      // Servers without Trenameat (diod): Trename of a walked fid.
      const fid = this.fs.walk(olddirfid, [oldName]);
      try {
        this.fs.conn.call({ op: 'Trename', fid, dfid: newdirfid, name: toWire(newName) });
      } finally {
        this.fs.clunk(fid);
      }
    }
    this.changed();
    newDir.changed();
    newDir.forget(newName);
    if (moved) {
      this.kids.delete(oldName);
      if (moved.parent === this && moved.name === oldName) {
        moved.parent = newDir;
        moved.name = newName;
      } else
        moved.aliases = moved.aliases.map(([d, n]): [P9Inode, string] =>
          d === this && n === oldName ? [newDir, newName] : [d, n],
        );
      newDir.kids.set(newName, moved);
      moved.stale = true;
      if (moved.type === S_IFDIR) this.fs.dropDirFidsUnder(moved);
      // An idle read fid may name the old path on such servers too.
      else moved.dropReadFid();
    }
  }

  // ------------------------------------------------------------------ symlinks

  readlink(): string {
    if (this.type !== S_IFLNK) throw new SysError(EINVAL);
    if (!this.parent) throw new SysError(ENOENT);
    const r = this.fs.walkThen(this.fs.dirFid(this.parent), [this.name], (fid) => ({
      op: 'Treadlink',
      fid,
    }));
    this.fs.clunk(r.fid);
    return fromWire((r.reply as MessageOf<'Rreadlink'>).target);
  }

  // ------------------------------------------------------------------ xattrs

  private xattrRead(name: string): Buffer {
    return this.withFid((fid) => {
      const x = this.fs.fids.alloc();
      let size: number;
      try {
        size = Number(this.fs.conn.call({ op: 'Txattrwalk', fid, newfid: x, name: toWire(name) }).size);
      } catch (e) {
        this.fs.fids.release(x);
        throw e;
      }
      try {
        const buf = Buffer.alloc(size);
        let done = 0;
        while (done < size) {
          const r = this.fs.conn.call({
            op: 'Tread',
            fid: x,
            offset: BigInt(done),
            count: Math.min(size - done, this.fs.maxIo),
          });
          if (r.data.length === 0) break;
          buf.set(r.data.subarray(0, size - done), done);
          done += r.data.length;
        }
        return buf.subarray(0, done);
      } finally {
        this.fs.clunk(x);
      }
    });
  }

  /**
   * Whether xattrs are read from the server: not under the overlay (as before the write path:
   * the read-only lower shows none, so copy-up costs no round trip), nor for symlinks (the
   * gofer does not serve theirs).
   */
  private get xattrsServed(): boolean {
    return this.fs.writable && this.type !== S_IFLNK;
  }

  getxattr(name: string): Uint8Array | null {
    if (!this.xattrsServed) return null;
    try {
      return this.xattrRead(name);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENODATA) return null;
      throw e;
    }
  }

  listxattr(): string[] {
    if (!this.xattrsServed) return [];
    const b = this.xattrRead('');
    return fromWire(b.toString('utf8'))
      .split('\0')
      .filter((n) => n !== '');
  }

  /** Txattrcreate on a clone of this inode's fid, the value written, then the clunk that sets it. */
  private xattrWrite(name: string, value: Uint8Array, flags: number): void {
    this.writable();
    if (this.type === S_IFLNK) throw new SysError(EPERM);
    this.withFid((fid) => {
      const x = this.fs.walk(fid, []);
      try {
        this.fs.conn.call({
          op: 'Txattrcreate',
          fid: x,
          name: toWire(name),
          attrSize: BigInt(value.length),
          flags,
        });
        for (let done = 0; done < value.length;) {
          const n = Math.min(value.length - done, this.fs.maxIo);
          this.fs.conn.call({
            op: 'Twrite',
            fid: x,
            offset: BigInt(done),
            data: value.subarray(done, done + n),
          });
          done += n;
        }
      } catch (e) {
        this.fs.clunk(x);
        throw e;
      }
      // The attribute is set when the fid is clunked: its reply carries the error.
      try {
        this.fs.conn.call({ op: 'Tclunk', fid: x });
      } finally {
        this.fs.fids.release(x);
      }
    });
    this.stale = true;
  }

  setxattr(name: string, value: Uint8Array, flags: number): void {
    this.xattrWrite(name, value, flags);
  }

  removexattr(name: string): void {
    // Linux's 9p client: an empty value with flags 0 removes (ENODATA when absent).
    this.xattrWrite(name, new Uint8Array(0), 0);
  }

  // ------------------------------------------------------------------ regular files

  /** The fid opened for reading that every read-only open file of this inode shares (reads are positional). */
  private readFid?: number;
  private readFidUsers = 0;
  /** Fids opened for writing, by access mode (O_WRONLY, O_RDWR), shared by the open files. */
  private readonly writeFids = new Map<number, SharedFid>();

  acquireReadFid(): number {
    this.readFid ??= this.openFid(O_RDONLY);
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

  acquireWriteFid(acc: number): number {
    let s = this.writeFids.get(acc);
    if (!s) {
      let fid: number;
      if (acc === O_RDWR && this.createFid !== undefined) {
        fid = this.createFid;
        this.createFid = undefined;
      } else {
        this.dropCreateFid();
        fid = this.openFid(acc);
      }
      s = { fid, users: 0 };
      this.writeFids.set(acc, s);
    }
    s.users++;
    return s.fid;
  }

  /** The last open file for writing closed: write back mapped pages, clunk the fid. */
  releaseWriteFid(acc: number): void {
    const s = this.writeFids.get(acc);
    if (!s || --s.users > 0) return;
    try {
      this.writeBack();
    } finally {
      this.writeFids.delete(acc);
      this.fs.clunk(s.fid);
    }
  }

  /** An open fid of this file that can read (the file may have lost its name), if any. */
  readableFid(): number | undefined {
    return this.readFid ?? this.writeFids.get(O_RDWR)?.fid ?? this.createFid;
  }

  /** Any open fid of this file (for attributes when its name may be gone). */
  private anyOpenFid(): number | undefined {
    for (const s of this.writeFids.values()) return s.fid;
    return this.readFid ?? this.createFid;
  }

  /** A fid of this file that can write (an open one, else a new one the caller clunks). */
  private withWriteFid<T>(f: (fid: number) => T): T {
    const s = this.writeFids.get(O_RDWR) ?? this.writeFids.get(O_WRONLY);
    if (s) return f(s.fid);
    const fid = this.openFid(O_WRONLY);
    try {
      return f(fid);
    } finally {
      this.fs.clunk(fid);
    }
  }

  /** A fid of this regular file opened with `flags`. */
  openFid(flags: number): number {
    // Twalk + Tlopen in one round trip.
    if (!this.parent) throw new SysError(ENOENT, 'the file was removed');
    return this.fs.walkThen(this.fs.dirFid(this.parent), [this.name], (fid) => ({
      op: 'Tlopen',
      fid,
      flags,
    })).fid;
  }

  /** Reads up to dst.length bytes at `off` from an open fid; returns the count (short at EOF). */
  readAt(fid: number, dst: Uint8Array, off: number): number {
    if (this.fs.cached) {
      // Cached pages are not served once the file's server is gone (EIO, as every operation).
      if (!this.fs.conn.alive) throw new SysError(EIO, `${this.fs.conn.peer}: connection lost`);
      this.pageCache();
    }
    const c = this.cache;
    if (c) {
      // Cached pages (mapped, written, or read before) may be newer than the file: read them.
      const n = Math.max(0, Math.min(dst.length, this.size - off));
      if (n === 0) return 0;
      if (this.fs.cached) c.readAhead(off, n);
      c.read(off, dst.subarray(0, n));
      if (this.fs.cached) c.trim(off, n);
      return n;
    }
    return this.readServer(fid, dst, off);
  }

  readServer(fid: number, dst: Uint8Array, off: number): number {
    let done = 0;
    while (done < dst.length) {
      const count = Math.min(dst.length - done, this.fs.maxIo);
      let r: MessageOf<'Rread'>;
      try {
        this.fs.stats.treads++;
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

  /** Writes `src` at `off`: into the page cache (exclusive), else through an open fid. */
  writeAt(fid: number, src: Uint8Array, off: number): number {
    if (this.fs.cached) {
      if (!this.fs.conn.alive) throw new SysError(EIO, `${this.fs.conn.peer}: connection lost`);
      const c = this.pageCache();
      c.write(off, src);
      for (let i = Math.floor(off / EXT); i * EXT < off + src.length; i++) c.dirty.add(i);
      this.fs.unsynced.add(this);
      if (off + src.length > this.attrs.size) this.attrs.size = off + src.length;
      c.dirtySize = this.attrs.size;
      const now = Date.now();
      const sec = Math.floor(now / 1000),
        nsec = (now % 1000) * 1e6;
      this.attrs.mtimeSec = this.attrs.ctimeSec = sec;
      this.attrs.mtimeNsec = this.attrs.ctimeNsec = nsec;
      c.dirtyMtime = [sec, nsec];
      if (c.dirty.size * EXT > DIRTY_MAX) {
        // Past the bound: written back now; a failure is this write's error (EIO).
        this.writeBack();
      }
      return src.length;
    }
    return this.writeServer(fid, src, off);
  }

  /** Writes `src` at `off` through an open fid (write-through; mapped pages updated too). */
  private writeServer(fid: number, src: Uint8Array, off: number): number {
    let done = 0;
    // Requests are pipelined, up to 8 MiB in flight.
    const max = this.fs.maxIo;
    while (done < src.length) {
      const reqs: Request[] = [];
      let o = done;
      while (o < src.length && reqs.length < 8) {
        const n = Math.min(src.length - o, max);
        reqs.push({ op: 'Twrite', fid, offset: BigInt(off + o), data: src.subarray(o, o + n) });
        o += n;
      }
      this.fs.stats.twrites += reqs.length;
      const rs = this.fs.conn.callMany(reqs);
      let err: SysError | undefined;
      for (let i = 0; i < rs.length; i++) {
        const r = rs[i];
        if (r instanceof SysError) {
          err ??= r;
          break;
        }
        const c = (r as MessageOf<'Rwrite'>).count;
        const want = (reqs[i] as { data: Uint8Array }).data.length;
        done += Math.min(c, want);
        if (c < want) {
          err = new SysError(0);
          break;
        }
      }
      if (err) {
        if (done > 0) break; // a short write; the error comes with the next call
        if (err.errno) throw err;
        break;
      }
    }
    if (done > 0) {
      this.cache?.write(off, src.subarray(0, done));
      if (off + done > this.attrs.size) this.attrs.size = off + done;
      if (this.cache) this.cache.dirtySize = undefined;
      this.stale = true;
    }
    return done;
  }

  fsync(fid: number, dataOnly: boolean): void {
    this.writeBack();
    this.fs.conn.call({ op: 'Tfsync', fid, datasync: dataOnly ? 1 : 0 });
  }

  /** The page cache of this file (shared mappings; every regular file with exclusive access). */
  pageCache(): P9PageCache {
    if (!this.fs.opts.mf) throw new SysError(ENODEV);
    this.cache ??= new P9PageCache(this.fs.opts.mf, this);
    return this.cache;
  }

  /** Open files of this inode (read and write); at 0 its clean cache becomes idle. */
  private openFiles = 0;

  fileOpened(): void {
    this.openFiles++;
    this.fs.cacheBusy(this);
  }

  fileClosed(): void {
    if (--this.openFiles > 0) return;
    this.cacheMaybeIdle();
  }

  /** No open file, no mapping, nothing dirty: the cache joins the idle ones (bounded in all). */
  cacheMaybeIdle(): void {
    const c = this.cache;
    if (!c || !this.fs.cached || this.openFiles > 0 || c.dirty.size > 0 || c.mapped) return;
    this.fs.cacheIdle(this, c.extents.size * EXT);
  }

  /** Drops this file's page cache (clean, not mapped, no open file). */
  dropCache(): void {
    const c = this.cache;
    if (!c || c.dirty.size > 0 || c.mapped || this.openFiles > 0) return;
    this.cache = null;
    this.fs.cacheBusy(this);
    c.decRef();
  }

  /** Whether a write-back failure of this file was logged already. */
  private writeBackFailed = false;

  /**
   * Writes cached pages back to the file: the dirty ones, and every resident one when a
   * writable shared mapping was made (the memory manager does not say which it wrote). A failure is EIO to the caller (logged once per file);
   * the pages stay readable in the sandbox but are no longer dirty.
   */
  writeBack(): void {
    const c = this.cache;
    if (!c || !this.fs.writable) return;
    this.fs.unsynced.delete(this);
    const dirty = c.dirty.size > 0;
    if (!dirty && !c.mappedWritable) return;
    if (!this.fs.conn.alive) {
      if (!dirty) return;
      this.writeBackFailure(c, new SysError(EIO, `${this.fs.conn.peer}: connection lost`));
    }
    const size = this.size;
    const idxs = [...(c.mappedWritable ? c.extents.keys() : c.dirty)]
      .filter((i) => i * EXT < size && c.extents.has(i))
      .sort((a, b) => a - b);
    try {
      if (idxs.length > 0)
        this.withWriteFid((fid) => {
          // Up to 8 extents' writes in flight at once.
          for (let k = 0; k < idxs.length; k += 8) {
            const reqs: Request[] = [];
            for (const i of idxs.slice(k, k + 8)) {
              const len = Math.min(EXT, size - i * EXT);
              const bytes = Buffer.from(c.mf.view(c.extent(i, false), len));
              for (let o = 0; o < len; o += this.fs.maxIo)
                reqs.push({
                  op: 'Twrite',
                  fid,
                  offset: BigInt(i * EXT + o),
                  data: bytes.subarray(o, Math.min(len, o + this.fs.maxIo)),
                });
            }
            this.fs.stats.twrites += reqs.length;
            for (const r of this.fs.conn.callMany(reqs)) {
              if (r instanceof SysError) throw r;
              if (r.op === 'Rwrite' && r.count === 0) throw new SysError(EIO, 'Rwrite of 0 bytes');
            }
          }
        });
    } catch (e) {
      if (!dirty) throw e;
      this.writeBackFailure(c, e);
    }
    c.dirty.clear();
    c.dirtySize = undefined;
    c.dirtyMtime = undefined;
    this.stale = true;
  }

  private writeBackFailure(c: P9PageCache, e: unknown): never {
    const lost = c.dirty.size * EXT;
    c.dirty.clear();
    c.dirtySize = undefined;
    c.dirtyMtime = undefined;
    if (!this.writeBackFailed) {
      this.writeBackFailed = true;
      this.fs.opts.log?.error(
        { file: this.name, err: (e as Error).message, bytes: lost },
        'gofer: writing back cached writes of %s failed; they are lost (EIO to the app)',
        this.name,
      );
    }
    throw new SysError(EIO, `writing back ${this.name}: ${(e as Error).message}`);
  }
}

/**
 * The page cache of a file, in the memory file: filled from the server on a miss (with
 * read-ahead), written (exclusive file access: written back on fsync, close, and when dirty
 * bytes pass DIRTY_MAX), and shared by MAP_SHARED mappings (written back when one goes away:
 * munmap, exit, each dropping its reference).
 */
export class P9PageCache extends MemObject {
  /** A writable MAP_SHARED mapping was made: its pages may differ from the file. */
  mappedWritable = false;
  /** Size set by the client and not yet re-read from the server. */
  dirtySize?: number;
  /** mtime of cached writes not written back. */
  dirtyMtime?: [number, number];
  /** Extents written by write(2) and not written back. */
  readonly dirty = new Set<number>();
  /** The fid the cache fills from (opened on the first miss). */
  private fid?: number;
  /** References: the inode's, plus one per mapping. */
  private users = 1;

  constructor(
    mf: MemoryFile,
    readonly node: P9Inode,
  ) {
    super(mf, (off, dst) => this.fill(off, dst));
  }

  /** Mapped somewhere (its pages may be in an address space: never dropped). */
  get mapped(): boolean {
    return this.users > 1;
  }

  /** A fid to fill from: an open one of the file's (its name may be gone), else the cache's own. */
  private readFid(): number {
    const open = this.node.readableFid();
    if (open !== undefined) return open;
    this.fid ??= this.node.openFid(O_RDONLY);
    return this.fid;
  }

  private fill(off: number, dst: Uint8Array): void {
    const size = this.node.size;
    let n = 0;
    if (off < size) {
      n = this.node.readServer(this.readFid(), dst.subarray(0, Math.min(dst.length, size - off)), off);
    }
    if (n < dst.length) dst.fill(0, n);
  }

  /**
   * Before reading [off, off+len): the missing extents from the first one missing, at least
   * READ_AHEAD bytes' worth (within the file), are read in one Tread run and cached.
   */
  readAhead(off: number, len: number): void {
    const size = this.node.size;
    const last = Math.ceil(Math.min(size, Math.max(off + len, off + READ_AHEAD)) / EXT);
    let first = Math.floor(off / EXT);
    while (first < last && this.extents.has(first)) first++;
    if (first >= Math.ceil((off + len) / EXT)) return; // the range is cached
    let end = first;
    while (end < last && !this.extents.has(end)) end++;
    // Only the file's bytes are copied: a new extent is zeros already (pages not touched).
    const want = Math.max(0, Math.min((end - first) * EXT, size - first * EXT));
    const bytes = Buffer.allocUnsafe(want);
    const got = want > 0 ? this.node.readServer(this.readFid(), bytes, first * EXT) : 0;
    for (let i = first; i < end; i++) {
      const m = this.mf.allocExtent();
      const from = (i - first) * EXT;
      if (from < got) this.mf.view(m, EXT).set(bytes.subarray(from, Math.min(got, from + EXT)));
      this.extents.set(i, m);
    }
  }

  /** An open file's cache past FILE_CACHE_MAX: its clean extents go, but [off, off+len)'s. */
  trim(off: number, len: number): void {
    if (this.extents.size * EXT <= FILE_CACHE_MAX || this.mapped || this.mappedWritable) return;
    const lo = Math.floor(off / EXT),
      hi = Math.ceil((off + len) / EXT);
    for (const [i, m] of this.extents) {
      if ((i >= lo && i < hi) || this.dirty.has(i) || this.cowIdx.has(i)) continue;
      this.mf.freeExtent(m);
      this.extents.delete(i);
    }
  }

  override incRef(): this {
    this.users++;
    return super.incRef();
  }

  override decRef(): void {
    this.users--;
    try {
      this.node.writeBack();
    } catch (e) {
      this.node.fs.opts.log?.warn(
        { err: (e as Error).message },
        'gofer: writing back a shared mapping of a file failed',
      );
    }
    if (this.users === 0 && this.fid !== undefined) {
      this.node.fs.clunk(this.fid);
      this.fid = undefined;
    }
    super.decRef();
    // The last mapping went: the cache may now be idle.
    if (this.users === 1) this.node.cacheMaybeIdle();
  }

  /** The file is truncated to `size`: cached pages reach it first, then those past the end go. */
  resize(size: number): void {
    this.node.writeBack();
    this.truncate(size);
  }
}

/** An open regular file read and written over 9P. */
export class P9File extends FileDescription implements Mappable {
  private closed = false;
  constructor(
    flags: number,
    readonly node: P9Inode,
    readonly fid: number,
    /** 'r' (the shared read fid), or the access mode of the shared write fid. */
    readonly fidKind: 'r' | number,
  ) {
    super(flags);
    node.fileOpened();
  }

  /**
   * Every close of an fd of a file open for writing writes its cached writes back (as Linux's
   * NFS/9p clients flush at close). A failure (the gofer died) is returned: close(2) reports
   * it (EIO) with the fd closed, as Linux; dup2, close_range and exec ignore it (writeBack
   * has logged it; the data is lost either way).
   */
  override flush(_owner: number): number | void {
    if (this.fidKind === 'r' || !this.node.fs.cached) return;
    try {
      this.node.writeBack();
    } catch (e) {
      return e instanceof SysError ? -e.errno : -EIO;
    }
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    if (!this.readable) return -EBADF;
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

  override write(_t: TaskApi, src: IoSrc, off: number): number {
    if (!this.writable) return -EBADF;
    // O_APPEND: at the end as the client knows it (exclusive), else as the server says.
    if (off < 0 && this.append && this.node.fs.shared) this.node.refresh();
    const pos = off >= 0 ? off : this.append ? this.node.size : this.pos;
    const data = src.length === 1 ? src[0] : Buffer.concat(src);
    if (data.length === 0) return 0;
    const n = this.node.writeAt(this.fid, data, pos);
    if (off < 0) this.pos = pos + n;
    return n;
  }

  override seek(off: number, whence: number): number {
    if (whence === 2 /* SEEK_END */ && this.node.fs.shared) this.node.refresh();
    return this.seekWithSize(off, whence, this.node.size);
  }

  override fsync(dataOnly: boolean): void {
    this.node.fsync(this.fid, dataOnly);
  }

  override mappable(): Mappable {
    return this;
  }
  sharedObject(): MemObject {
    const c = this.node.pageCache();
    if (this.writable) c.mappedWritable = true;
    return c;
  }
  /**
   * Private read-only mappings (program text) share the page cache when the file cannot
   * change beneath them: a read-only tree (under the overlay) with exclusive file access.
   */
  readOnlyPageCache(): MemObject {
    if (this.node.fs.writable || this.node.fs.shared) throw new SysError(EOPNOTSUPP);
    return this.node.pageCache();
  }
  readForMap(off: number, dst: Uint8Array): number {
    return this.node.readAt(this.fid, dst, off);
  }
  size(): number {
    return this.node.size;
  }

  protected override release(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fidKind === 'r') this.node.releaseReadFid();
    else {
      try {
        this.node.releaseWriteFid(this.fidKind);
      } catch (e) {
        // Not a close(2) (exit, or the last of several references): no caller to tell.
        this.node.fs.opts.log?.debug(
          { err: (e as Error).message },
          'gofer: write-back at the last close failed',
        );
      }
    }
    this.node.fileClosed();
  }
}
