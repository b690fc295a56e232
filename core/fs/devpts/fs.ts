/**
 * devpts (Linux's fs/devpts/inode.c): a directory holding `ptmx` (5:2; opening it creates
 * a pty pair in this instance) and one slave node N (136:N) per live pty, created when
 * the master is opened and removed when it is closed.
 *
 * Mount options as Linux's: uid=, gid= (owner of new slaves; default the opener's fsuid
 * and fsgid), mode= (slave permissions, default 0600), ptmxmode= (default 0000), max=
 * (number of ptys, default 4096); `newinstance` is accepted (every mount is a new
 * instance, as since Linux 4.7). The sandbox mounts /dev/pts with gid=5,mode=620 as
 * distributions do, and /dev/ptmx (a 5:2 node in devtmpfs) opens the devpts instance
 * mounted at the `pts` directory next to it (devpts_ptmx_path), else ENODEV.
 */
import { EINVAL, ENODEV, ENOSPC, EPERM, SysError } from '../../abi/errno';
import type { Credentials, TaskApi } from '../../kernel/api';
import { makedev, S_IFCHR, S_IFDIR, S_IFMT, dtype } from '../../vfs/abi';
import { DirectoryFile, FileDescription } from '../../vfs/file';
import {
  allocAnonDev,
  blankStat,
  DEVPTS_SUPER_MAGIC,
  DirEntry,
  Filesystem,
  Inode,
  nowTime,
  SetAttr,
  Stat,
  Statfs,
} from '../../vfs/inode';
import { MountNamespace, VirtualDentry } from '../../vfs/mount';
import { MasterFile, Pty, PtyOwner, PTMX_MAJOR, PTMX_MINOR, PTS_MAJOR, ttyKernelOf } from './pty';

export const NR_UNIX98_PTY_MAX = 4096;

export interface DevptsOptions {
  /** Owner of new slave nodes (default: the opener's fsuid / fsgid). */
  uid?: number;
  gid?: number;
  /** Permissions of slave nodes (default 0600). */
  mode?: number;
  /** Permissions of the ptmx node (default 0000). */
  ptmxmode?: number;
  /** Most ptys at once (default 4096). */
  max?: number;
}

/** Parse devpts mount data ("gid=5,mode=620,ptmxmode=666,newinstance"): EINVAL on a bad option. */
export function parseDevptsData(data: string): DevptsOptions {
  const o: DevptsOptions = {};
  for (const kv of data.split(',')) {
    if (kv === '' || kv === 'newinstance') continue;
    const [k, v] = kv.split('=');
    const num = (base: number): number => {
      const n = v !== undefined && /^[0-9a-f]+$/i.test(v) ? parseInt(v, base) : NaN;
      if (!Number.isFinite(n)) throw new SysError(EINVAL);
      return n;
    };
    if (k === 'uid') o.uid = num(10);
    else if (k === 'gid') o.gid = num(10);
    else if (k === 'mode') o.mode = num(8) & 0o777;
    else if (k === 'ptmxmode') o.ptmxmode = num(8) & 0o777;
    else if (k === 'max') o.max = Math.min(num(10), NR_UNIX98_PTY_MAX);
    else throw new SysError(EINVAL);
  }
  return o;
}

/** Attributes shared by devpts inodes (chmod/chown allowed on nodes, as Linux's simple_setattr). */
abstract class DevptsNode {
  uid: number;
  gid: number;
  mode: number;
  protected readonly times: [number, number, number, number, number, number];

  constructor(
    readonly fs: DevptsFs,
    readonly ino: number,
    mode: number,
    uid: number,
    gid: number,
    readonly rdev = 0,
  ) {
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    const [s, ns] = nowTime();
    this.times = [s, ns, s, ns, s, ns];
  }

  stat(): Stat {
    const st = blankStat(this.fs.dev, this.ino, this.mode);
    st.uid = this.uid;
    st.gid = this.gid;
    st.rdev = this.rdev;
    st.blksize = 1024;
    st.nlink = (this.mode & S_IFMT) === S_IFDIR ? 2 : 1;
    [st.atimeSec, st.atimeNsec, st.mtimeSec, st.mtimeNsec, st.ctimeSec, st.ctimeNsec] = this.times;
    return st;
  }

  setattr(a: SetAttr, _c: Credentials): void {
    if (a.size !== undefined) throw new SysError(EINVAL);
    if (a.mode !== undefined) this.mode = (this.mode & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined) this.uid = a.uid;
    if (a.gid !== undefined) this.gid = a.gid;
    const now = nowTime();
    const at = (x: SetAttr['atime']): [number, number] => (x === 'now' || !x ? now : [x[0], x[1]]);
    if (a.atime !== undefined) [this.times[0], this.times[1]] = at(a.atime);
    if (a.mtime !== undefined) [this.times[2], this.times[3]] = at(a.mtime);
    [this.times[4], this.times[5]] = now;
  }
}

class RootInode extends DevptsNode implements Inode {
  constructor(fs: DevptsFs) {
    super(fs, 1, S_IFDIR | 0o755, 0, 0);
  }
  open(_t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    return new DirectoryFile(flags, this, () => (vd.mount.point ? vd.mount.point.inode.ino : this.ino));
  }
  lookup(name: string): Inode | null {
    if (name === 'ptmx') return this.fs.ptmx;
    if (!/^(0|[1-9][0-9]*)$/.test(name)) return null;
    return this.fs.slaveInode(Number(name));
  }
  readdir(): DirEntry[] {
    const out: DirEntry[] = [{ name: 'ptmx', ino: this.fs.ptmx.ino, type: dtype(S_IFCHR) }];
    for (const i of [...this.fs.nodes.keys()].sort((a, b) => a - b))
      out.push({ name: String(i), ino: this.fs.nodes.get(i)!.ino, type: dtype(S_IFCHR) });
    return out;
  }
  override setattr(): void {
    throw new SysError(EPERM);
  }
}

/** /dev/pts/ptmx: opening it creates a pty in this instance. */
class PtmxInode extends DevptsNode implements Inode {
  constructor(fs: DevptsFs, mode: number) {
    super(fs, 2, S_IFCHR | mode, 0, 0, makedev(PTMX_MAJOR, PTMX_MINOR));
  }
  open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    return this.openSpecial(t, flags, vd);
  }
  openSpecial(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    return this.fs.openMaster(t, flags, new VirtualDentry(vd.mount, vd.mount.root));
  }
}

/** /dev/pts/N. */
class SlaveInode extends DevptsNode implements Inode {
  constructor(
    fs: DevptsFs,
    readonly pty: Pty,
    mode: number,
    uid: number,
    gid: number,
  ) {
    super(fs, pty.index + 3, S_IFCHR | mode, uid, gid, makedev(PTS_MAJOR, pty.index));
  }
  open(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    return this.openSpecial(t, flags, vd);
  }
  openSpecial(t: TaskApi, flags: number, vd: VirtualDentry): FileDescription {
    this.fs.noteNamespace(vd.mount.ns);
    return this.pty.openSlave(t, flags, (flags & O_NOCTTY_FLAG) !== 0);
  }
}

/** O_NOCTTY, passed through to terminal openers by the VFS. */
const O_NOCTTY_FLAG = 0o400;

export class DevptsFs implements Filesystem, PtyOwner {
  readonly typeName = 'devpts';
  readonly dev = allocAnonDev();
  private readonly rootInode: RootInode;
  readonly ptmx: PtmxInode;
  /** Live slave nodes by index. */
  readonly nodes = new Map<number, SlaveInode>();
  /** Indexes in use (a pty keeps its index until both sides are closed). */
  private readonly used = new Set<number>();
  /** Namespaces whose dentry caches may hold our nodes (dropped when a node goes). */
  private readonly namespaces = new Set<MountNamespace>();

  constructor(readonly opts: DevptsOptions = {}) {
    this.rootInode = new RootInode(this);
    this.ptmx = new PtmxInode(this, opts.ptmxmode ?? 0);
  }

  root(): Inode {
    return this.rootInode;
  }

  statfs(): Statfs {
    return {
      type: DEVPTS_SUPER_MAGIC,
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
    const o = ['rw'];
    if (this.opts.uid !== undefined) o.push(`uid=${this.opts.uid}`);
    if (this.opts.gid !== undefined) o.push(`gid=${this.opts.gid}`);
    o.push(`mode=${(this.opts.mode ?? 0o600).toString(8).padStart(3, '0')}`);
    o.push(`ptmxmode=${(this.opts.ptmxmode ?? 0).toString(8).padStart(3, '0')}`);
    if (this.opts.max !== undefined && this.opts.max < NR_UNIX98_PTY_MAX) o.push(`max=${this.opts.max}`);
    return o.join(',');
  }

  noteNamespace(ns: MountNamespace): void {
    this.namespaces.add(ns);
  }

  /** Create a pty pair (ptmx_open); `ptsRoot` is where this instance is mounted. */
  openMaster(t: TaskApi, flags: number, ptsRoot: VirtualDentry): MasterFile {
    this.noteNamespace(ptsRoot.mount.ns);
    const max = this.opts.max ?? NR_UNIX98_PTY_MAX;
    let index = 0;
    while (this.used.has(index)) index++;
    if (index >= max) throw new SysError(ENOSPC);
    this.used.add(index);
    const pty = new Pty(this, index, ptsRoot, ttyKernelOf(t));
    this.nodes.set(
      index,
      new SlaveInode(
        this,
        pty,
        this.opts.mode ?? 0o600,
        this.opts.uid ?? t.creds.fsuid,
        this.opts.gid ?? t.creds.fsgid,
      ),
    );
    return new MasterFile(pty, flags);
  }

  slaveInode(index: number): SlaveInode | null {
    return this.nodes.get(index) ?? null;
  }

  removeNode(index: number): void {
    if (!this.nodes.delete(index)) return;
    const name = String(index);
    for (const ns of this.namespaces) for (const m of ns.all()) if (m.fs === this) m.root.drop(name, true);
  }

  freeIndex(index: number): void {
    this.used.delete(index);
  }
}

/**
 * The devpts instance /dev/ptmx at `vd` opens: the one mounted on the `pts` directory
 * beside it (Linux's devpts_ptmx_path), or `vd`'s own when the node is on devpts.
 */
export function ptsRootFor(vd: VirtualDentry): VirtualDentry {
  if (vd.mount.fs instanceof DevptsFs) return new VirtualDentry(vd.mount, vd.mount.root);
  const parent = vd.dentry.parent;
  const pts = parent?.child('pts');
  if (!pts) throw new SysError(ENODEV);
  const [m, d] = vd.mount.ns.crossDown(vd.mount, pts);
  if (!(m.fs instanceof DevptsFs) || d !== m.root) throw new SysError(ENODEV);
  return new VirtualDentry(m, d);
}

/** Open /dev/ptmx (the 5:2 character device on any filesystem). */
export function openPtmx(t: TaskApi, flags: number, vd: VirtualDentry): MasterFile {
  const root = ptsRootFor(vd);
  return (root.mount.fs as DevptsFs).openMaster(t, flags, root);
}
