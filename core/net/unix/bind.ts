/**
 * Where AF_UNIX names live (Linux's unix_bind_bsd / unix_bind_abstract / unix_find_other).
 *
 * Path names: bind(2) creates an S_IFSOCK node with the ordinary VFS helper (mknodAt:
 * mode 0777 & ~umask, the parent's permission and read-only checks, EEXIST becoming
 * EADDRINUSE) and remembers which socket owns that inode, keyed by (st_dev, st_ino) so the
 * binding survives dentry-cache and overlay inode-object churn. connect(2)/sendto(2)
 * resolve the path (following symlinks), need write permission on the node, and find the
 * socket; a node nobody owns (the socket closed, or a file from elsewhere) refuses
 * (ECONNREFUSED), as Linux.
 *
 * Abstract names (sun_path[0] == 0): a map from (socket type, the name's bytes) to the
 * socket; nothing in the filesystem. Linux hashes abstract names with the socket type, so
 * a stream and a datagram socket may hold the same name, and a lookup of another type
 * finds nothing (ECONNREFUSED). One map per sentry process (Linux: per network
 * namespace; the sandbox has one).
 */
import { EADDRINUSE, ECONNREFUSED, EEXIST, SysError } from '../../abi/errno';
import { AT_FDCWD, MAY_WRITE, S_IFMT, S_IFSOCK } from '../../vfs/abi';
import { lookupAt, mknodAt, unlinkAt } from '../../vfs/ops';
import { checkPermission } from '../../vfs/perm';
import type { FileTask } from '../../vfs/task';

/** What is bound: the socket object (opaque here). */
export type Bound = object;

const byInode = new Map<string, Bound>();
const abstract = new Map<string, Bound>();

function inodeKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

/** Bind `path` (a byte string) to `ep`; returns the key to unbind with. */
export function bindPath(t: FileTask, path: string, ep: Bound): string {
  try {
    mknodAt(t, AT_FDCWD, path, S_IFSOCK | 0o777, 0);
  } catch (e) {
    if (e instanceof SysError && e.errno === EEXIST) throw new SysError(EADDRINUSE);
    throw e;
  }
  const st = lookupAt(t, AT_FDCWD, path, false).inode.stat();
  const key = inodeKey(st.dev, st.ino);
  byInode.set(key, ep);
  return key;
}

/** The socket bound at `path`: the walk's errors, EACCES, or ECONNREFUSED. */
export function findPath(t: FileTask, path: string): Bound {
  const vd = lookupAt(t, AT_FDCWD, path, true);
  const inode = vd.inode;
  checkPermission(t.creds, inode, MAY_WRITE);
  if ((inode.mode & S_IFMT) !== S_IFSOCK) throw new SysError(ECONNREFUSED);
  const st = inode.stat();
  const ep = byInode.get(inodeKey(st.dev, st.ino));
  if (!ep) throw new SysError(ECONNREFUSED);
  return ep;
}

/** Undo a bindPath whose socket turned out to be bound already (unix_bind_bsd's out_unlink). */
export function unbindPathNode(t: FileTask, path: string, key: string, ep: Bound): void {
  unbindPath(key, ep);
  try {
    unlinkAt(t, AT_FDCWD, path);
  } catch {
    // Gone already; nothing to undo.
  }
}

export function unbindPath(key: string, ep: Bound): void {
  if (byInode.get(key) === ep) byInode.delete(key);
}

/** Bind an abstract name (its bytes after the leading NUL, as a latin1 string). */
export function bindAbstract(type: number, name: string, ep: Bound): void {
  const k = `${type}:${name}`;
  if (abstract.has(k)) throw new SysError(EADDRINUSE);
  abstract.set(k, ep);
}

/** True if the abstract name is free (autobind probes). */
export function abstractFree(type: number, name: string): boolean {
  return !abstract.has(`${type}:${name}`);
}

export function findAbstract(type: number, name: string): Bound {
  const ep = abstract.get(`${type}:${name}`);
  if (!ep) throw new SysError(ECONNREFUSED);
  return ep;
}

export function unbindAbstract(type: number, name: string, ep: Bound): void {
  const k = `${type}:${name}`;
  if (abstract.get(k) === ep) abstract.delete(k);
}
