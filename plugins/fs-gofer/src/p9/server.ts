/**
 * The 9P2000.L file server of `runsc gofer`: serves one host directory (the root) to any
 * number of connections (a socketpair from runsc, or TCP for `--listen`).
 *
 * Confinement: every fid holds an O_PATH|O_NOFOLLOW fd. A walk opens one component at a time
 * with openat(parent fd, name, O_PATH|O_NOFOLLOW), so a host symlink is never followed (it is
 * returned as a symlink fid; walking through it gives ENOTDIR), and '..' is never passed to the
 * host: the fid's component list is re-walked from the root without its last element, so '..'
 * at the root stays at the root. Opening an fid reopens its O_PATH fd through /proc/self/fd
 * (no path walk). Creation calls take the parent fd and one validated component. Device nodes
 * are never opened or created (EPERM).
 *
 * Concurrency: each request is served to completion before the next one is read (host calls
 * are synchronous), so responses carry their request's tag and Tflush always finds the
 * flushed request already answered (it replies Rflush at once, as the protocol allows).
 * Clients may pipeline any number of tagged requests.
 *
 * Robustness: a frame that does not decode gets Rlerror (EINVAL, or EOPNOTSUPP for an unknown
 * type) under its tag; a size field outside 7..msize closes the connection (the stream cannot
 * be resynchronised). No request can make the server throw: host errors become Rlerror with
 * the host errno, anything else is logged and answered EIO.
 */
import * as fs from 'node:fs';
import type { Duplex } from 'node:stream';
import {
  EBADF,
  EBUSY,
  EFBIG,
  EINVAL,
  EIO,
  EISDIR,
  ELOOP,
  EMFILE,
  ENOENT,
  ENOTDIR,
  EOPNOTSUPP,
  EPERM,
  E2BIG,
  ERANGE,
  SysError,
} from '../../../../core/abi/errno';
import type { Logger } from '../../../../core/log';
import {
  Framer,
  GETATTR,
  HEADER_SIZE,
  IOHDRSZ,
  LOCK_BLOCKED,
  LOCK_ERROR,
  LOCK_SUCCESS,
  MAXWELEM,
  NOFID,
  NONUNAME,
  P9ProtocolError,
  QTDIR,
  QTFILE,
  QTSYMLINK,
  SETATTR,
  VERSION_9P2000_L,
  decode,
  encode,
  encodeDirents,
  peekHeader,
  type Dirent,
  type Message,
  type MessageOf,
  type Qid,
} from './codec';
import { goferNative, type GoferNative } from './native';

const O_ACCMODE = 0o3,
  O_WRONLY = 0o1,
  O_RDWR = 0o2,
  O_CREAT = 0o100,
  O_EXCL = 0o200,
  O_TRUNC = 0o1000,
  O_APPEND = 0o2000,
  O_NONBLOCK = 0o4000,
  O_DSYNC = 0o10000,
  O_DIRECTORY = 0o200000,
  O_SYNC = 0o4010000,
  O_PATH = 0o10000000,
  S_IFMT = 0o170000,
  S_IFDIR = 0o040000,
  S_IFREG = 0o100000,
  S_IFLNK = 0o120000,
  S_IFIFO = 0o010000,
  S_IFSOCK = 0o140000,
  AT_REMOVEDIR = 0x200,
  UTIME_NOW = 0x3fffffff,
  UTIME_OMIT = 0x3ffffffe,
  XATTR_SIZE_MAX = 65536,
  DT_DIR = 4,
  DT_LNK = 10;

/** Open flags a client may pass through to the host (others are dropped). */
const OPEN_FLAGS_PASSED = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECTORY;

/** The largest msize the server offers. */
export const MAX_MSIZE = 1 << 20;
/** Most fids one connection may hold (each holds a host fd). */
export const MAX_FIDS = 4096;

interface XattrState {
  kind: 'read' | 'write';
  name: string;
  data: Buffer;
  /** write: declared size and setxattr flags. */
  size: number;
  flags: number;
}

interface Fid {
  /** O_PATH|O_NOFOLLOW fd of the file. */
  fd: number;
  /** Components from the root (for '..'). */
  path: string[];
  /** S_IFMT bits. */
  type: number;
  uid: number;
  /** Open fd after Tlopen/Tlcreate. */
  open?: number;
  openFlags?: number;
  /** Directory entries read at offset 0 (Treaddir offsets index into them). */
  dirents?: Dirent[];
  xattr?: XattrState;
}

export interface GoferServerOptions {
  /** Host directory served as '/'. */
  root: string;
  /** Largest msize offered (default MAX_MSIZE). */
  maxMsize?: number;
  /** Attach names accepted besides '', '/' and the root's own path (e.g. 'ctl' for diodload). */
  anames?: string[];
  log?: Logger;
}

/** Converts any thrown value into an errno for Rlerror. */
function errnoOf(e: unknown): number | undefined {
  if (e instanceof SysError) return e.errno;
  const n = (e as { errno?: unknown } | null)?.errno;
  if (typeof n === 'number' && n !== 0) return Math.abs(n);
  return undefined;
}

function fail(errno: number, detail?: string): never {
  throw new SysError(errno, detail);
}

function qidOf(st: fs.BigIntStats): Qid {
  const t = Number(st.mode) & S_IFMT;
  return {
    type: t === S_IFDIR ? QTDIR : t === S_IFLNK ? QTSYMLINK : QTFILE,
    version: Number(BigInt.asUintN(32, st.mtimeNs)),
    path: st.ino,
  };
}

/** Validates a client-supplied path component. */
function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    fail(EINVAL, `bad name ${JSON.stringify(name)}`);
}

export class GoferServer {
  readonly rootFd: number;
  readonly maxMsize: number;
  private readonly native: GoferNative;
  private readonly conns = new Set<GoferConnection>();
  readonly log?: Logger;

  constructor(readonly opts: GoferServerOptions) {
    this.native = goferNative();
    this.maxMsize = Math.max(4096, Math.min(opts.maxMsize ?? MAX_MSIZE, MAX_MSIZE));
    this.log = opts.log;
    let fd: number;
    try {
      fd = fs.openSync(opts.root, fs.constants.O_DIRECTORY | O_PATH);
    } catch (e) {
      throw new Error(`gofer root ${opts.root}: ${(e as Error).message}`);
    }
    this.rootFd = fd;
  }

  /** Serve one connection; resolves when it closes. */
  serve(stream: Duplex): GoferConnection {
    const c = new GoferConnection(this, this.native, stream);
    this.conns.add(c);
    stream.once('close', () => {
      c.release();
      this.conns.delete(c);
    });
    return c;
  }

  /** Closes every connection and the root fd. */
  close(): void {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    try {
      fs.closeSync(this.rootFd);
    } catch {
      /* already closed */
    }
  }
}

export class GoferConnection {
  private readonly fids = new Map<number, Fid>();
  private msize: number;
  private readonly framer: Framer;
  private dead = false;

  constructor(
    private readonly server: GoferServer,
    private readonly n: GoferNative,
    private readonly stream: Duplex,
  ) {
    this.msize = server.maxMsize;
    this.framer = new Framer(this.msize);
    stream.on('data', (d: Buffer) => this.onData(d));
    stream.on('error', (e) => {
      server.log?.debug({ err: e.message }, 'gofer: connection error');
    });
  }

  destroy(): void {
    this.release();
    this.stream.destroy();
  }

  /** Closes every fid's host fds. */
  release(): void {
    for (const f of this.fids.values()) this.closeFid(f);
    this.fids.clear();
    this.dead = true;
  }

  private onData(d: Buffer): void {
    if (this.dead) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(d);
    } catch (e) {
      this.server.log?.warn(
        { err: (e as Error).message },
        'gofer: unframeable input; closing the connection',
      );
      this.destroy();
      return;
    }
    for (const f of frames) {
      if (this.dead) return;
      const reply = this.handleFrame(f);
      if (reply) this.stream.write(reply);
    }
  }

  /** Decode one frame and produce its response frame (undefined: no response possible). */
  handleFrame(frame: Buffer): Buffer | undefined {
    let msg: Message;
    try {
      msg = decode(frame);
    } catch (e) {
      const h = peekHeader(frame);
      if (!h) return undefined;
      // An R-message or an odd type number from a client is not a request.
      const errno =
        e instanceof P9ProtocolError && /unknown message type/.test(e.message) ? EOPNOTSUPP : EINVAL;
      this.server.log?.debug({ err: (e as Error).message, tag: h.tag }, 'gofer: malformed request');
      return encode({ op: 'Rlerror', tag: h.tag, ecode: errno });
    }
    try {
      const r = this.dispatch(msg);
      return encode(r);
    } catch (e) {
      let errno = errnoOf(e);
      if (errno === undefined) {
        errno = EIO;
        this.server.log?.error(
          { err: (e as Error)?.stack ?? String(e), req: msg.op },
          'gofer: internal error',
        );
      }
      return encode({ op: 'Rlerror', tag: msg.tag, ecode: errno });
    }
  }

  private fid(n: number): Fid {
    const f = this.fids.get(n);
    if (!f) fail(EBADF, `fid ${n} is not in use`);
    return f;
  }

  private newFidSlot(n: number, allowSame = -1): void {
    if (n === NOFID) fail(EBADF, 'NOFID is not a usable fid');
    if (n !== allowSame && this.fids.has(n)) fail(EBADF, `fid ${n} is already in use`);
    if (this.fids.size >= MAX_FIDS) fail(EMFILE, `more than ${MAX_FIDS} fids`);
  }

  private closeFid(f: Fid): void {
    for (const fd of [f.fd, f.open]) {
      if (fd === undefined || fd < 0) continue;
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    f.fd = -1;
    f.open = undefined;
  }

  /** Runs fn on a read-only fd of a regular file or directory fid (fchmod, f*xattr). */
  private withReadFd<T>(f: Fid, fn: (fd: number) => T): T {
    if (f.type !== S_IFREG && f.type !== S_IFDIR) fail(EOPNOTSUPP, 'not a regular file or directory');
    const fd = this.n.reopen(f.fd, f.type === S_IFDIR ? O_DIRECTORY : 0);
    try {
      return fn(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private stat(fd: number): fs.BigIntStats {
    return fs.fstatSync(fd, { bigint: true });
  }

  /** O_PATH fd, type and qid of `name` in directory fd `dirfd`. */
  private lookup(dirfd: number, name: string): { fd: number; st: fs.BigIntStats } {
    const fd = this.n.openat(dirfd, name, O_PATH, 0);
    try {
      return { fd, st: this.stat(fd) };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Walk `components` from the root: a fresh O_PATH fd. */
  private walkFromRoot(components: readonly string[]): { fd: number; st: fs.BigIntStats } {
    let fd = this.n.dup(this.server.rootFd);
    try {
      let st = this.stat(fd);
      for (const c of components) {
        if ((Number(st.mode) & S_IFMT) !== S_IFDIR) fail(ENOTDIR);
        const next = this.lookup(fd, c);
        fs.closeSync(fd);
        fd = next.fd;
        st = next.st;
      }
      return { fd, st };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private dir(f: Fid): Fid {
    if (f.type !== S_IFDIR) fail(ENOTDIR);
    return f;
  }

  private dispatch(m: Message): Message {
    switch (m.op) {
      case 'Tversion':
        return this.version(m);
      case 'Tauth':
        // No authentication: clients attach with afid = NOFID. ENOENT is how libnpclient
        // (diod's clients) recognises "authentication not required".
        return fail(ENOENT, 'no authentication required');
      case 'Tattach':
        return this.attach(m);
      case 'Tflush':
        return { op: 'Rflush', tag: m.tag };
      case 'Twalk':
        return this.walk(m);
      case 'Tlopen':
        return this.lopen(m);
      case 'Tlcreate':
        return this.lcreate(m);
      case 'Tread':
        return this.read(m);
      case 'Twrite':
        return this.write(m);
      case 'Tclunk':
        return this.clunk(m);
      case 'Tremove':
        return this.remove(m);
      case 'Tgetattr':
        return this.getattr(m);
      case 'Tsetattr':
        return this.setattr(m);
      case 'Treaddir':
        return this.readdir(m);
      case 'Tmkdir':
        return this.mkdir(m);
      case 'Tsymlink':
        return this.symlink(m);
      case 'Tmknod':
        return this.mknod(m);
      case 'Treadlink': {
        const f = this.fid(m.fid);
        if (f.type !== S_IFLNK) fail(EINVAL);
        return { op: 'Rreadlink', tag: m.tag, target: this.n.readlinkFd(f.fd).toString('utf8') };
      }
      case 'Tlink':
        return this.link(m);
      case 'Trenameat':
        return this.renameat(m);
      case 'Tunlinkat': {
        const d = this.dir(this.fid(m.dirfid));
        checkName(m.name);
        this.n.unlinkat(d.fd, m.name, m.flags & AT_REMOVEDIR);
        return { op: 'Runlinkat', tag: m.tag };
      }
      case 'Tstatfs': {
        const s = this.n.fstatfsFd(this.fid(m.fid).fd);
        return {
          op: 'Rstatfs',
          tag: m.tag,
          fstype: s[0],
          bsize: s[1],
          blocks: s[2],
          bfree: s[3],
          bavail: s[4],
          files: s[5],
          ffree: s[6],
          fsid: s[7],
          namelen: s[8],
        };
      }
      case 'Tfsync': {
        const f = this.fid(m.fid);
        if (f.open === undefined) fail(EBADF, 'fid is not open');
        if (m.datasync) fs.fdatasyncSync(f.open);
        else fs.fsyncSync(f.open);
        return { op: 'Rfsync', tag: m.tag };
      }
      case 'Tlock':
        return this.lock(m);
      case 'Tgetlock':
        return this.getlock(m);
      case 'Txattrwalk':
        return this.xattrwalk(m);
      case 'Txattrcreate':
        return this.xattrcreate(m);
      case 'Trename':
        return fail(EOPNOTSUPP, 'use Trenameat');
      default:
        // An R-message sent to the server.
        return fail(EOPNOTSUPP, `${m.op} is not a request`);
    }
  }

  private version(m: MessageOf<'Tversion'>): Message {
    // A new session: every fid of the old one is clunked.
    for (const f of this.fids.values()) this.closeFid(f);
    this.fids.clear();
    if (m.msize < HEADER_SIZE + IOHDRSZ + 64) fail(EINVAL, `msize ${m.msize} is too small`);
    this.msize = Math.min(m.msize, this.server.maxMsize);
    this.framer.maxSize = this.msize;
    const version = m.version === VERSION_9P2000_L ? VERSION_9P2000_L : 'unknown';
    return { op: 'Rversion', tag: m.tag, msize: this.msize, version };
  }

  private attach(m: MessageOf<'Tattach'>): Message {
    if (m.afid !== NOFID) fail(EINVAL, 'no authentication: afid must be NOFID');
    const aname = m.aname.replace(/\/+$/, '');
    const ok =
      aname === '' ||
      aname === this.server.opts.root.replace(/\/+$/, '') ||
      this.server.opts.anames?.includes(m.aname);
    if (!ok) fail(ENOENT, `no export ${m.aname}`);
    this.newFidSlot(m.fid);
    const { fd, st } = this.walkFromRoot([]);
    this.fids.set(m.fid, { fd, path: [], type: S_IFDIR, uid: m.nUname === NONUNAME ? 0 : m.nUname });
    return { op: 'Rattach', tag: m.tag, qid: qidOf(st) };
  }

  private walk(m: MessageOf<'Twalk'>): Message {
    const from = this.fid(m.fid);
    // Walking from an open fid is allowed (diodls walks entries from the directory it reads).
    this.newFidSlot(m.newfid, m.fid);
    if (m.wnames.length > MAXWELEM) fail(EINVAL);
    let fd = this.n.dup(from.fd);
    let path = from.path.slice();
    let st: fs.BigIntStats | undefined;
    const qids: Qid[] = [];
    try {
      st = this.stat(fd);
      for (const name of m.wnames) {
        try {
          let next: { fd: number; st: fs.BigIntStats };
          if (name === '..') {
            const up = path.slice(0, -1);
            next = this.walkFromRoot(up);
            path = up;
          } else {
            if ((Number(st.mode) & S_IFMT) !== S_IFDIR) fail(ENOTDIR);
            if (name === '.') next = { fd: this.n.dup(fd), st };
            else {
              checkName(name);
              next = this.lookup(fd, name);
              path.push(name);
            }
          }
          fs.closeSync(fd);
          fd = next.fd;
          st = next.st;
          qids.push(qidOf(st));
        } catch (e) {
          if (qids.length === 0) throw e;
          // A partial walk: the qids so far, and newfid is not created.
          fs.closeSync(fd);
          fd = -1;
          return { op: 'Rwalk', tag: m.tag, qids };
        }
      }
    } catch (e) {
      if (fd >= 0) fs.closeSync(fd);
      throw e;
    }
    if (m.newfid === m.fid) this.closeFid(from);
    this.fids.set(m.newfid, { fd, path, type: Number(st.mode) & S_IFMT, uid: from.uid });
    return { op: 'Rwalk', tag: m.tag, qids };
  }

  private openFlags(flags: number): number {
    return flags & OPEN_FLAGS_PASSED;
  }

  private lopen(m: MessageOf<'Tlopen'>): Message {
    const f = this.fid(m.fid);
    if (f.open !== undefined || f.xattr) fail(EBADF, 'fid is already open');
    if (f.type === S_IFLNK) fail(ELOOP);
    if (f.type !== S_IFREG && f.type !== S_IFDIR) fail(EPERM, 'special files are not opened by the gofer');
    let flags = this.openFlags(m.flags);
    if (f.type === S_IFDIR) {
      if ((flags & O_ACCMODE) !== 0) fail(EISDIR);
      flags |= O_DIRECTORY;
    }
    f.open = this.n.reopen(f.fd, flags);
    f.openFlags = flags;
    f.dirents = undefined;
    return { op: 'Rlopen', tag: m.tag, qid: qidOf(this.stat(f.fd)), iounit: 0 };
  }

  private chownNew(fd: number, uid: number, gid: number): void {
    if (process.getuid?.() !== 0) return;
    try {
      this.n.fchownFd(fd, uid, gid === NONUNAME ? -1 : gid);
    } catch (e) {
      this.server.log?.debug({ err: (e as Error).message }, 'gofer: chown of a new file failed');
    }
  }

  private lcreate(m: MessageOf<'Tlcreate'>): Message {
    const d = this.dir(this.fid(m.fid));
    if (d.open !== undefined) fail(EBADF, 'fid is open');
    checkName(m.name);
    const flags = this.openFlags(m.flags) & ~O_DIRECTORY;
    const open = this.n.openat(d.fd, m.name, flags | O_CREAT | (m.flags & O_EXCL), m.mode & 0o7777);
    let pfd: number;
    try {
      pfd = this.n.reopen(open, O_PATH);
    } catch (e) {
      fs.closeSync(open);
      throw e;
    }
    this.chownNew(pfd, d.uid, m.gid);
    const st = this.stat(pfd);
    fs.closeSync(d.fd);
    d.fd = pfd;
    d.path = [...d.path, m.name];
    d.type = Number(st.mode) & S_IFMT;
    d.open = open;
    d.openFlags = flags;
    return { op: 'Rlcreate', tag: m.tag, qid: qidOf(st), iounit: 0 };
  }

  private maxIo(): number {
    return this.msize - IOHDRSZ;
  }

  private read(m: MessageOf<'Tread'>): Message {
    const f = this.fid(m.fid);
    const count = Math.min(m.count, this.maxIo());
    if (f.xattr) {
      if (f.xattr.kind !== 'read') fail(EBADF);
      const off = m.offset > BigInt(f.xattr.data.length) ? f.xattr.data.length : Number(m.offset);
      return { op: 'Rread', tag: m.tag, data: f.xattr.data.subarray(off, off + count) };
    }
    if (f.open === undefined) fail(EBADF, 'fid is not open');
    if (f.type === S_IFDIR) fail(EISDIR);
    if (((f.openFlags ?? 0) & O_ACCMODE) === O_WRONLY) fail(EBADF);
    // pread(2) takes a signed loff_t: an offset past 2^63-1 is negative there, EINVAL.
    if (m.offset > 0x7fffffffffffffffn) fail(EINVAL, 'offset past 2^63-1');
    const buf = Buffer.allocUnsafe(count);
    const n = fs.readSync(f.open, buf, 0, count, m.offset);
    return { op: 'Rread', tag: m.tag, data: buf.subarray(0, n) };
  }

  private write(m: MessageOf<'Twrite'>): Message {
    const f = this.fid(m.fid);
    if (m.data.length > this.maxIo()) fail(EINVAL, 'write larger than msize');
    if (f.xattr) {
      const x = f.xattr;
      if (x.kind !== 'write') fail(EBADF);
      if (m.offset + BigInt(m.data.length) > BigInt(x.size)) fail(ERANGE, 'xattr value larger than declared');
      x.data.set(m.data, Number(m.offset));
      return { op: 'Rwrite', tag: m.tag, count: m.data.length };
    }
    if (f.open === undefined) fail(EBADF, 'fid is not open');
    const acc = (f.openFlags ?? 0) & O_ACCMODE;
    if (acc !== O_WRONLY && acc !== O_RDWR) fail(EBADF);
    // pwrite(2): an offset past 2^63-1 is negative there (EINVAL); past what this server can
    // address, the file would exceed its maximum size (EFBIG).
    if (m.offset > 0x7fffffffffffffffn) fail(EINVAL, 'offset past 2^63-1');
    if (m.offset > BigInt(Number.MAX_SAFE_INTEGER)) fail(EFBIG);
    const n = fs.writeSync(
      f.open,
      m.data,
      0,
      m.data.length,
      (f.openFlags ?? 0) & O_APPEND ? null : Number(m.offset),
    );
    return { op: 'Rwrite', tag: m.tag, count: n };
  }

  private clunk(m: MessageOf<'Tclunk'>): Message {
    const f = this.fid(m.fid);
    this.fids.delete(m.fid);
    const x = f.xattr;
    try {
      if (x?.kind === 'write')
        this.withReadFd(f, (fd) => {
          if (x.size === 0 && x.flags === 0) this.n.removexattrFd(fd, x.name);
          else this.n.setxattrFd(fd, x.name, x.data, x.flags);
        });
    } finally {
      this.closeFid(f);
    }
    return { op: 'Rclunk', tag: m.tag };
  }

  private remove(m: MessageOf<'Tremove'>): Message {
    // 9P2000 remove: unlink the fid's name (re-walked from the root), then clunk.
    const f = this.fid(m.fid);
    this.fids.delete(m.fid);
    try {
      if (f.path.length === 0) fail(EBUSY, 'the root cannot be removed');
      const parent = this.walkFromRoot(f.path.slice(0, -1));
      try {
        this.n.unlinkat(parent.fd, f.path[f.path.length - 1], f.type === S_IFDIR ? AT_REMOVEDIR : 0);
      } finally {
        fs.closeSync(parent.fd);
      }
    } finally {
      this.closeFid(f);
    }
    return { op: 'Rremove', tag: m.tag };
  }

  private getattr(m: MessageOf<'Tgetattr'>): Message {
    const f = this.fid(m.fid);
    const st = this.stat(f.fd);
    const sec = (ns: bigint) => ns / 1000000000n;
    const nsec = (ns: bigint) => ns % 1000000000n;
    return {
      op: 'Rgetattr',
      tag: m.tag,
      valid: GETATTR.BASIC,
      qid: qidOf(st),
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      nlink: st.nlink,
      rdev: st.rdev,
      size: st.size,
      blksize: st.blksize,
      blocks: st.blocks,
      atimeSec: sec(st.atimeNs),
      atimeNsec: nsec(st.atimeNs),
      mtimeSec: sec(st.mtimeNs),
      mtimeNsec: nsec(st.mtimeNs),
      ctimeSec: sec(st.ctimeNs),
      ctimeNsec: nsec(st.ctimeNs),
      btimeSec: 0n,
      btimeNsec: 0n,
      gen: 0n,
      dataVersion: 0n,
    };
  }

  private setattr(m: MessageOf<'Tsetattr'>): Message {
    const f = this.fid(m.fid);
    const v = m.valid;
    if (v & SETATTR.MODE) {
      if (f.type === S_IFLNK) fail(EOPNOTSUPP, 'symlinks have no mode');
      this.withReadFd(f, (fd) => fs.fchmodSync(fd, m.mode & 0o7777));
    }
    if (v & (SETATTR.UID | SETATTR.GID))
      this.n.fchownFd(f.fd, v & SETATTR.UID ? m.uid : -1, v & SETATTR.GID ? m.gid : -1);
    if (v & SETATTR.SIZE) {
      if (f.type !== S_IFREG) fail(f.type === S_IFDIR ? EISDIR : EINVAL);
      if (m.size > BigInt(Number.MAX_SAFE_INTEGER)) fail(EINVAL, 'size too large');
      const acc = (f.openFlags ?? 0) & O_ACCMODE;
      if (f.open !== undefined && (acc === O_WRONLY || acc === O_RDWR))
        fs.ftruncateSync(f.open, Number(m.size));
      else {
        const w = this.n.reopen(f.fd, O_WRONLY);
        try {
          fs.ftruncateSync(w, Number(m.size));
        } finally {
          fs.closeSync(w);
        }
      }
    }
    if (v & (SETATTR.ATIME | SETATTR.MTIME)) {
      if (f.type === S_IFLNK) fail(EOPNOTSUPP, 'times of a symlink are not set through the gofer');
      const t = (set: boolean, setGiven: boolean, sec: bigint, ns: bigint): [number, number] => {
        if (!set) return [0, UTIME_OMIT];
        if (!setGiven) return [0, UTIME_NOW];
        if (ns >= 1000000000n || sec > BigInt(Number.MAX_SAFE_INTEGER)) fail(EINVAL, 'bad time');
        return [Number(sec), Number(ns)];
      };
      const a = t(!!(v & SETATTR.ATIME), !!(v & SETATTR.ATIME_SET), m.atimeSec, m.atimeNsec);
      const mt = t(!!(v & SETATTR.MTIME), !!(v & SETATTR.MTIME_SET), m.mtimeSec, m.mtimeNsec);
      this.n.utimensFd(f.fd, a[0], a[1], mt[0], mt[1]);
    }
    return { op: 'Rsetattr', tag: m.tag };
  }

  private readdir(m: MessageOf<'Treaddir'>): Message {
    const f = this.dir(this.fid(m.fid));
    if (f.open === undefined) fail(EBADF, 'directory is not open');
    if (m.offset === 0n || !f.dirents) f.dirents = this.listDir(f.open);
    const start = m.offset > BigInt(f.dirents.length) ? f.dirents.length : Number(m.offset);
    const count = Math.min(m.count, this.maxIo());
    const { data } = encodeDirents(f.dirents.slice(start), count);
    return { op: 'Rreaddir', tag: m.tag, data };
  }

  /** Every entry of an open directory, offsets 1..n (the next entry's index). */
  private listDir(fd: number): Dirent[] {
    const raw = this.n.getdents(fd);
    const out: Dirent[] = [];
    let o = 0;
    while (o + 19 <= raw.length) {
      const ino = raw.readBigUInt64LE(o);
      const reclen = raw.readUInt16LE(o + 16);
      const dtype = raw[o + 18];
      let end = raw.indexOf(0, o + 19);
      if (end < 0 || end > o + reclen) end = o + reclen;
      const name = raw.toString('utf8', o + 19, end);
      out.push({
        qid: {
          type: dtype === DT_DIR ? QTDIR : dtype === DT_LNK ? QTSYMLINK : QTFILE,
          version: 0,
          path: ino,
        },
        offset: BigInt(out.length + 1),
        type: dtype,
        name,
      });
      if (reclen === 0) break;
      o += reclen;
    }
    return out;
  }

  private created(d: Fid, name: string, gid: number): Qid {
    const { fd, st } = this.lookup(d.fd, name);
    try {
      this.chownNew(fd, d.uid, gid);
      return qidOf(st);
    } finally {
      fs.closeSync(fd);
    }
  }

  private mkdir(m: MessageOf<'Tmkdir'>): Message {
    const d = this.dir(this.fid(m.dfid));
    checkName(m.name);
    this.n.mkdirat(d.fd, m.name, m.mode & 0o7777);
    return { op: 'Rmkdir', tag: m.tag, qid: this.created(d, m.name, m.gid) };
  }

  private symlink(m: MessageOf<'Tsymlink'>): Message {
    const d = this.dir(this.fid(m.fid));
    checkName(m.name);
    this.n.symlinkat(m.symtgt, d.fd, m.name);
    return { op: 'Rsymlink', tag: m.tag, qid: this.created(d, m.name, m.gid) };
  }

  private mknod(m: MessageOf<'Tmknod'>): Message {
    const d = this.dir(this.fid(m.dfid));
    checkName(m.name);
    const t = m.mode & S_IFMT;
    if (t !== S_IFREG && t !== S_IFIFO && t !== S_IFSOCK && t !== 0)
      fail(EPERM, 'the gofer creates no device nodes');
    this.n.mknodat(d.fd, m.name, (t || S_IFREG) | (m.mode & 0o7777), 0, 0);
    return { op: 'Rmknod', tag: m.tag, qid: this.created(d, m.name, m.gid) };
  }

  private link(m: MessageOf<'Tlink'>): Message {
    const d = this.dir(this.fid(m.dfid));
    const f = this.fid(m.fid);
    checkName(m.name);
    if (f.type === S_IFDIR) fail(EPERM, 'hard link to a directory');
    if (f.type === S_IFLNK) fail(EPERM, 'hard link to a symlink is not served');
    this.n.linkFd(f.fd, d.fd, m.name);
    return { op: 'Rlink', tag: m.tag };
  }

  private renameat(m: MessageOf<'Trenameat'>): Message {
    const od = this.dir(this.fid(m.olddirfid));
    const nd = this.dir(this.fid(m.newdirfid));
    checkName(m.oldname);
    checkName(m.newname);
    this.n.renameat(od.fd, m.oldname, nd.fd, m.newname);
    // Keep the component lists of fids below the moved name right (they are used for '..').
    const from = [...od.path, m.oldname];
    const to = [...nd.path, m.newname];
    for (const f of this.fids.values()) {
      if (f.path.length >= from.length && from.every((c, i) => f.path[i] === c))
        f.path = [...to, ...f.path.slice(from.length)];
    }
    return { op: 'Rrenameat', tag: m.tag };
  }

  private lock(m: MessageOf<'Tlock'>): Message {
    const f = this.fid(m.fid);
    if (f.open === undefined) fail(EBADF, 'fid is not open');
    if (m.lockType > 2) fail(EINVAL, 'bad lock type');
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    if (m.start > max || m.length > max) fail(EINVAL, 'lock range too large');
    const r = this.n.ofdLock(f.open, 0, m.lockType, Number(m.start), Number(m.length));
    const status = r === 0 ? LOCK_SUCCESS : r === 11 || r === 13 ? LOCK_BLOCKED : LOCK_ERROR;
    return { op: 'Rlock', tag: m.tag, status };
  }

  private getlock(m: MessageOf<'Tgetlock'>): Message {
    const f = this.fid(m.fid);
    if (f.open === undefined) fail(EBADF, 'fid is not open');
    if (m.lockType > 2) fail(EINVAL, 'bad lock type');
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    if (m.start > max || m.length > max) fail(EINVAL, 'lock range too large');
    const out = new Float64Array(4);
    const r = this.n.ofdLock(f.open, 1, m.lockType, Number(m.start), Number(m.length), out);
    if (r !== 0) fail(r);
    const pid = out[3] < 0 ? 0 : out[3];
    return {
      op: 'Rgetlock',
      tag: m.tag,
      lockType: out[0],
      start: BigInt(Math.max(0, out[1])),
      length: BigInt(Math.max(0, out[2])),
      procId: pid,
      clientId: m.clientId,
    };
  }

  private xattrwalk(m: MessageOf<'Txattrwalk'>): Message {
    const f = this.fid(m.fid);
    this.newFidSlot(m.newfid, m.fid);
    // Extended attributes are reached through /proc/self/fd, which for a symlink fid could
    // name what the link points to: not served.
    if (f.type === S_IFLNK) fail(EOPNOTSUPP, 'xattrs of symlinks are not served');
    const data = this.withReadFd(f, (fd) =>
      m.name === '' ? this.n.listxattrFd(fd) : this.n.getxattrFd(fd, m.name),
    );
    const fd = this.n.dup(f.fd);
    if (m.newfid === m.fid) this.closeFid(f);
    this.fids.set(m.newfid, {
      fd,
      path: f.path.slice(),
      type: f.type,
      uid: f.uid,
      xattr: { kind: 'read', name: m.name, data, size: data.length, flags: 0 },
    });
    return { op: 'Rxattrwalk', tag: m.tag, size: BigInt(data.length) };
  }

  private xattrcreate(m: MessageOf<'Txattrcreate'>): Message {
    const f = this.fid(m.fid);
    if (f.open !== undefined || f.xattr) fail(EBADF, 'fid is open');
    if (f.type === S_IFLNK) fail(EOPNOTSUPP, 'xattrs of symlinks are not served');
    if (m.name === '') fail(EINVAL, 'empty xattr name');
    if (m.attrSize > BigInt(XATTR_SIZE_MAX)) fail(E2BIG);
    if (m.flags & ~3) fail(EINVAL, 'bad xattr flags');
    const size = Number(m.attrSize);
    f.xattr = { kind: 'write', name: m.name, data: Buffer.alloc(size), size, flags: m.flags };
    return { op: 'Rxattrcreate', tag: m.tag };
  }
}
