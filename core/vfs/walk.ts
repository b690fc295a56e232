/**
 * Path resolution (Linux's namei): turn a path string into a VirtualDentry, one component
 * at a time, following symlinks (at most MAXSYMLINKS = 40 per resolution, else ELOOP),
 * handling '.', '..' (which never climbs above the task's root, and steps out of a mount
 * at its root), mount crossing (always to the top-most mount), search permission on every
 * directory traversed, NAME_MAX per component and PATH_MAX per path (ENAMETOOLONG), and
 * the trailing-slash rule (a path ending in '/' must name a directory, and its last
 * symlink is followed).
 *
 * openat2's RESOLVE_* restrictions are options of the same walker.
 *
 * Everything here is synchronous: a walk never awaits, so the tree cannot change under it.
 */
import { ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EXDEV, SysError } from '../abi/errno';
import type { Credentials, TaskApi } from '../kernel/api';
import { MAXSYMLINKS, MAY_EXEC, MS_NOSYMFOLLOW, NAME_MAX, PATH_MAX, S_IFDIR, S_IFLNK, S_IFMT } from './abi';
import { Dentry, Mount, VirtualDentry } from './mount';
import { permits } from './perm';

/** openat2 resolve flags. */
export const RESOLVE_NO_XDEV = 0x01,
  RESOLVE_NO_MAGICLINKS = 0x02,
  RESOLVE_NO_SYMLINKS = 0x04,
  RESOLVE_BENEATH = 0x08,
  RESOLVE_IN_ROOT = 0x10,
  RESOLVE_CACHED = 0x20;

export interface WalkContext {
  /** The task's root ('/' and the '..' ceiling). */
  root: VirtualDentry;
  creds: Credentials;
  /** RESOLVE_* flags (openat2); 0 normally. */
  resolve?: number;
  /** The walking task, for magic links (procfs) and /proc/self. */
  task?: TaskApi;
}

/**
 * Split into components; empty components are dropped. Validates PATH_MAX.
 * Returns the components and whether the path ended with '/'.
 */
export function splitPath(path: string): { comps: string[]; trailingSlash: boolean } {
  if (path.length >= PATH_MAX) throw new SysError(ENAMETOOLONG);
  const comps: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 47 /* '/' */) {
      if (i > start) comps.push(path.slice(start, i));
      start = i + 1;
    }
  }
  return { comps, trailingSlash: path.length > 0 && path.charCodeAt(path.length - 1) === 47 };
}

/** A resolution in progress. */
export class Walker {
  m: Mount;
  d: Dentry;
  links = 0;
  private readonly root: VirtualDentry;
  private readonly resolve: number;

  constructor(
    readonly ctx: WalkContext,
    start: VirtualDentry,
  ) {
    this.resolve = ctx.resolve ?? 0;
    this.root = this.resolve & RESOLVE_IN_ROOT ? start : ctx.root;
    this.m = start.mount;
    this.d = start.dentry;
  }

  get vd(): VirtualDentry {
    return new VirtualDentry(this.m, this.d);
  }

  private atRoot(): boolean {
    return this.m === this.root.mount && this.d === this.root.dentry;
  }

  /** Jump to the root for an absolute path (or absolute symlink). */
  toRoot(): void {
    if (this.resolve & RESOLVE_BENEATH) throw new SysError(EXDEV);
    this.m = this.root.mount;
    this.d = this.root.dentry;
  }

  private dotdot(): void {
    for (;;) {
      if (this.atRoot()) {
        if (this.resolve & RESOLVE_BENEATH) throw new SysError(EXDEV);
        return;
      }
      if (this.d !== this.m.root) {
        if (this.d.parent) this.d = this.d.parent;
        break;
      }
      if (!this.m.parent || !this.m.point) return; // namespace root
      if (this.resolve & RESOLVE_NO_XDEV) throw new SysError(EXDEV);
      this.d = this.m.point;
      this.m = this.m.parent;
    }
    if (this.resolve & RESOLVE_BENEATH) {
      // Escaping the starting point is detected at the root; '..' below it is fine.
    }
    this.crossDown();
  }

  private crossDown(): void {
    if (this.d.mountCount === 0) return;
    const [m, d] = this.m.ns.crossDown(this.m, this.d);
    if (m !== this.m && this.resolve & RESOLVE_NO_XDEV) throw new SysError(EXDEV);
    this.m = m;
    this.d = d;
  }

  /**
   * Walk `comps` from the current position. The last component's symlink is followed when
   * `followLast`; `mustBeDir` requires the result to be a directory.
   */
  walk(comps: string[], followLast: boolean, mustBeDir: boolean): void {
    let i = 0;
    while (i < comps.length) {
      const name = comps[i];
      const last = i === comps.length - 1;
      const dir = this.d.inode;
      if ((dir.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
      if (!permits(this.ctx.creds, dir.mode, dir.uid, dir.gid, MAY_EXEC)) throw new SysError(13 /* EACCES */);
      if (name === '.') {
        i++;
        continue;
      }
      if (name === '..') {
        this.dotdot();
        i++;
        continue;
      }
      if (name.length > NAME_MAX) throw new SysError(ENAMETOOLONG);
      const c = this.d.child(name);
      if (!c) throw new SysError(ENOENT);
      let cm = this.m;
      let cd = c;
      if (c.mountCount > 0) {
        [cm, cd] = this.m.ns.crossDown(this.m, c);
        if (cm !== this.m && this.resolve & RESOLVE_NO_XDEV) throw new SysError(EXDEV);
      }
      if ((cd.inode.mode & S_IFMT) === S_IFLNK && (!last || followLast || mustBeDir)) {
        const magic = this.followMagic(cm, cd);
        if (magic) {
          this.m = magic.mount;
          this.d = magic.dentry;
          i++;
          continue;
        }
        const target = this.readLink(cm, cd);
        const sp = splitPath(target);
        if (last && sp.trailingSlash) mustBeDir = true;
        if (target.charCodeAt(0) === 47) this.toRoot();
        comps = i + 1 < comps.length ? sp.comps.concat(comps.slice(i + 1)) : sp.comps;
        i = 0;
        continue;
      }
      this.m = cm;
      this.d = cd;
      i++;
    }
    if (mustBeDir && (this.d.inode.mode & S_IFMT) !== S_IFDIR) throw new SysError(ENOTDIR);
  }

  /** A magic link's object (Inode.followLink), counted as a link traversal; null: follow its text. */
  followMagic(m: Mount, d: Dentry): VirtualDentry | null {
    if (!d.inode.followLink || !this.ctx.task) return null;
    if (m.flags & MS_NOSYMFOLLOW) throw new SysError(ELOOP);
    const vd = d.inode.followLink(this.ctx.task);
    if (!vd) return null;
    if (this.resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)) throw new SysError(ELOOP);
    if (this.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) throw new SysError(EXDEV);
    if (++this.links > MAXSYMLINKS) throw new SysError(ELOOP);
    return vd;
  }

  /** Count a symlink traversal and return its target. */
  readLink(m: Mount, d: Dentry): string {
    if (this.resolve & RESOLVE_NO_SYMLINKS) throw new SysError(ELOOP);
    if (m.flags & MS_NOSYMFOLLOW) throw new SysError(ELOOP);
    if (++this.links > MAXSYMLINKS) throw new SysError(ELOOP);
    const ino = d.inode;
    if (ino.readlink === undefined) throw new SysError(ENOENT);
    const target = ino.readlink(this.ctx.task);
    if (target.length === 0) throw new SysError(ENOENT);
    return target;
  }
}

/** Resolve `path` from `start` (absolute paths from ctx.root). ENOENT for ''. */
export function resolve(
  ctx: WalkContext,
  start: VirtualDentry,
  path: string,
  follow: boolean,
): VirtualDentry {
  if (path.length === 0) throw new SysError(ENOENT);
  const { comps, trailingSlash } = splitPath(path);
  const w = new Walker(ctx, start);
  if (path.charCodeAt(0) === 47) w.toRoot();
  w.walk(comps, follow, trailingSlash);
  return w.vd;
}

export interface ParentResult {
  walker: Walker;
  /** The directory that holds (or would hold) the last component. */
  dir: VirtualDentry;
  /** The last component; '' when the path is '/' (or only slashes), possibly '.' or '..'. */
  name: string;
  trailingSlash: boolean;
}

/** Resolve all but the last component (for create/unlink/rename). The directory is not yet permission-checked. */
export function resolveParent(ctx: WalkContext, start: VirtualDentry, path: string): ParentResult {
  if (path.length === 0) throw new SysError(ENOENT);
  const { comps, trailingSlash } = splitPath(path);
  const w = new Walker(ctx, start);
  if (path.charCodeAt(0) === 47) w.toRoot();
  const name = comps.length ? comps.pop()! : '';
  w.walk(comps, true, true);
  if (name.length > NAME_MAX) throw new SysError(ENAMETOOLONG);
  return { walker: w, dir: w.vd, name, trailingSlash };
}
