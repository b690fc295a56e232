/**
 * Dentries, mounts and mount namespaces.
 *
 * A Dentry names an inode within one filesystem (name + parent), and caches looked-up
 * children; a Mount places a filesystem's root dentry in the tree; a VirtualDentry (Linux's
 * struct path) is the pair (mount, dentry) that identifies a location a task can see.
 * Mounts on a dentry are found through the MountNamespace (keyed by (parent mount,
 * dentry)); stacked mounts follow Linux: the walk always lands on the top-most one.
 *
 * The dentry cache never holds negative entries; ops.ts keeps it coherent on unlink,
 * rmdir, rename and link. Dentries and mounts are garbage collected (no refcounts): a
 * file description keeps its VirtualDentry alive.
 */
import { EINVAL } from '../abi/errno';
import { SysError } from '../abi/errno';
import type { Filesystem, Inode } from './inode';

export class Dentry {
  /** Cached positive children. */
  readonly children = new Map<string, Dentry>();
  /** Number of mounts whose mountpoint is this dentry (fast check during walks). */
  mountCount = 0;
  /** Set when unlinked / removed: getcwd and /proc print " (deleted)". */
  dead = false;

  constructor(
    public name: string,
    public parent: Dentry | null,
    public inode: Inode,
  ) {}

  /** Cached child (revalidated when the filesystem asks for it) or a fresh lookup; null when absent. */
  child(name: string): Dentry | null {
    let c = this.children.get(name);
    if (c) {
      // A mount point stays (Linux does not drop a mounted dentry on revalidation either).
      if (!this.inode.revalidateChild || c.mountCount > 0) return c;
      const now = this.inode.revalidateChild(name, c.inode);
      if (now === c.inode) return c;
      this.drop(name, true);
      if (!now) return null;
      c = new Dentry(name, this, now);
      this.children.set(name, c);
      return c;
    }
    const ino = this.inode.lookup ? this.inode.lookup(name) : null;
    if (!ino) return null;
    c = new Dentry(name, this, ino);
    this.children.set(name, c);
    return c;
  }

  /** Add a freshly created inode to the cache. */
  insert(name: string, inode: Inode): Dentry {
    const c = new Dentry(name, this, inode);
    this.children.set(name, c);
    return c;
  }

  /** Forget child `name` (unlinked or renamed away); marks it dead when `dead`. */
  drop(name: string, dead: boolean): void {
    const c = this.children.get(name);
    if (!c) return;
    this.children.delete(name);
    if (dead) c.dead = true;
  }
}

let nextMountId = 1;

export class Mount {
  readonly id = nextMountId++;
  /** Child mounts (for umount EBUSY checks and /proc/mounts). */
  readonly children = new Set<Mount>();
  constructor(
    readonly ns: MountNamespace,
    readonly fs: Filesystem,
    readonly root: Dentry,
    public parent: Mount | null,
    public point: Dentry | null,
    /** MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME ... */
    public flags: number,
    /** Source string (/proc/mounts first field). */
    public source: string,
  ) {}

  get readOnly(): boolean {
    return (this.flags & 1) !== 0;
  }
}

/** (mount, dentry): a location in the tree. */
export class VirtualDentry {
  constructor(
    readonly mount: Mount,
    readonly dentry: Dentry,
  ) {}
  get inode(): Inode {
    return this.dentry.inode;
  }
  equals(o: VirtualDentry): boolean {
    return this.mount === o.mount && this.dentry === o.dentry;
  }
}

export class MountNamespace {
  /** dentry -> mounts directly on it (any parent mount). */
  private readonly onDentry = new Map<Dentry, Mount[]>();
  readonly root: Mount;

  constructor(rootFs: Filesystem, source = 'none', flags = 0) {
    this.root = new Mount(this, rootFs, new Dentry('/', null, rootFs.root()), null, null, flags, source);
  }

  rootVd(): VirtualDentry {
    return new VirtualDentry(this.root, this.root.root);
  }

  /** The mount attached at (parent, d), if any. */
  mountAt(parent: Mount, d: Dentry): Mount | undefined {
    const list = this.onDentry.get(d);
    if (!list) return undefined;
    for (const m of list) if (m.parent === parent) return m;
    return undefined;
  }

  /** Follow mounts downwards from (m, d) to the top-most mount's root. */
  crossDown(m: Mount, d: Dentry): [Mount, Dentry] {
    while (d.mountCount > 0) {
      const c = this.mountAt(m, d);
      if (!c) break;
      m = c;
      d = c.root;
    }
    return [m, d];
  }

  /** Attach `fs` at `at` (on top of anything already mounted there). */
  mount(fs: Filesystem, at: VirtualDentry, flags: number, source: string, root?: Dentry): Mount {
    const [pm, pd] = this.crossDown(at.mount, at.dentry);
    const m = new Mount(this, fs, root ?? new Dentry('/', null, fs.root()), pm, pd, flags, source);
    this.attach(m);
    return m;
  }

  /** Bind mount: the subtree at `src` appears at `at` as well. */
  bind(src: VirtualDentry, at: VirtualDentry, flags: number): Mount {
    const [pm, pd] = this.crossDown(at.mount, at.dentry);
    const m = new Mount(this, src.mount.fs, src.dentry, pm, pd, flags, src.mount.source);
    this.attach(m);
    return m;
  }

  private attach(m: Mount): void {
    const pd = m.point!;
    let list = this.onDentry.get(pd);
    if (!list) this.onDentry.set(pd, (list = []));
    list.push(m);
    pd.mountCount++;
    m.parent!.children.add(m);
  }

  /** Detach mount `m` (EINVAL for the root; EBUSY is the caller's check). */
  umount(m: Mount): void {
    if (!m.parent || !m.point) throw new SysError(EINVAL);
    const list = this.onDentry.get(m.point);
    if (list) {
      const i = list.indexOf(m);
      if (i >= 0) list.splice(i, 1);
      if (!list.length) this.onDentry.delete(m.point);
    }
    m.point.mountCount--;
    m.parent.children.delete(m);
    m.parent = null;
  }

  /** Every mount, parents before children (for /proc/mounts). */
  all(): Mount[] {
    const out: Mount[] = [];
    const visit = (m: Mount): void => {
      out.push(m);
      for (const c of m.children) visit(c);
    };
    visit(this.root);
    return out;
  }
}

/**
 * The absolute path of `vd` as seen from `root` (getcwd, /proc/self/fd). Locations
 * outside `root` print from their own mount root (Linux prints them as unreachable;
 * getcwd then returns ENOENT — the caller decides via `reachable`).
 */
export function pathOf(vd: VirtualDentry, root: VirtualDentry): { path: string; reachable: boolean } {
  const parts: string[] = [];
  let m: Mount | null = vd.mount;
  let d: Dentry = vd.dentry;
  let reachable = true;
  for (;;) {
    if (m === root.mount && d === root.dentry) break;
    if (d === m!.root) {
      if (!m!.parent || !m!.point) {
        reachable = false;
        break;
      }
      d = m!.point;
      m = m!.parent;
      continue;
    }
    parts.push(d.name);
    d = d.parent!;
    if (!d) {
      reachable = false;
      break;
    }
  }
  parts.reverse();
  return { path: '/' + parts.join('/'), reachable };
}
