/**
 * The sandbox's mount namespace for `runsc do` (and the rootfs of containers):
 *   /          overlay(tmpfs upper, `lower`)      writes stay in the sandbox
 *   /dev       devtmpfs                            null, zero, full, random, urandom, tty...
 *   /dev/shm   tmpfs
 *   /dev/pts   devpts (gid=5,mode=620,ptmxmode=000, as distributions mount it)
 *   /proc      the procfs given (else an empty read-only tmpfs hiding the host's /proc)
 *   /sys       the sysfs given (else an empty read-only tmpfs)
 *   /tmp       stays in the overlay
 * Also sets the hidden tmpfs memfd_create uses, and the types mount(2) may create.
 */
import type { MemoryFile } from '../mm/memfile';
import { rootCreds } from '../kernel/caps';
import { mountableTypes } from '../syscalls/linux/fs';
import { setMemfdFilesystem } from '../syscalls/linux/file';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, S_IFDIR, S_IFMT } from '../vfs/abi';
import type { Filesystem } from '../vfs/inode';
import { Dentry, MountNamespace, VirtualDentry } from '../vfs/mount';
import { newDevtmpfs } from './dev';
import { DevptsFs, parseDevptsData } from './devpts';
import { Overlay } from './overlay';
import './pipe';
import { Tmpfs } from './tmpfs';

const ROOT = rootCreds();

export interface DoMountOptions {
  /** Memory file for tmpfs data. */
  mf: MemoryFile;
  /** The read-only lower layer (e.g. directfs of the host '/'). */
  lower: Filesystem;
  /**
   * No overlay: `lower` is writable and is the root itself (gofer `overlay: none`, writes
   * reach the host through the gofer). Missing mount points are made in it.
   */
  noOverlay?: boolean;
  /** Size limit of the writable upper layer in bytes (default: half the memory file). */
  tmpfsSize?: number;
  /** procfs to mount at /proc; a factory is also used for mount -t proc. */
  procfs?: Filesystem | (() => Filesystem);
  /** sysfs to mount at /sys; a factory is also used for mount -t sysfs. */
  sysfs?: Filesystem | (() => Filesystem);
  /** Leave the lower layer's /tmp mode alone (an OCI bundle's root, as runc) instead of making it 1777. */
  keepTmpMode?: boolean;
}

export interface DoMountNamespace {
  ns: MountNamespace;
  /** The root location (give it to FsContext as root and cwd). */
  root: VirtualDentry;
  /** Absent with noOverlay. */
  overlay?: Overlay;
  dev: Tmpfs;
}

/** Find or create directory `name` under (ns root) dentry `d` of a writable fs. */
function ensureDir(d: Dentry, name: string, keep = false): Dentry {
  const c = d.child(name);
  if (c && (c.inode.mode & S_IFMT) === S_IFDIR) return c;
  // Never replace a file of a root that is not ours (no overlay: the host's).
  if (c && keep) throw new Error(`the root's /${name} is not a directory; it is needed as a mount point`);
  if (c) d.inode.unlink!(name);
  d.drop(name, true);
  return d.insert(name, d.inode.mkdir!(name, 0o755, ROOT));
}

export function createDoMountNamespace(opts: DoMountOptions): DoMountNamespace {
  const overlay = opts.noOverlay
    ? undefined
    : new Overlay({
        upper: new Tmpfs({ mf: opts.mf, size: opts.tmpfsSize, mode: 0o755 }),
        lower: opts.lower,
      });
  const ns = overlay ? new MountNamespace(overlay, 'overlay') : new MountNamespace(opts.lower, 'none');
  const root = ns.rootVd();
  const rd = root.dentry;
  const at = (d: Dentry): VirtualDentry => new VirtualDentry(ns.root, d);

  const devD = ensureDir(rd, 'dev', !overlay);
  const dev = newDevtmpfs(opts.mf);
  const devMount = ns.mount(dev, at(devD), MS_NOSUID, 'devtmpfs');
  const shmD = devMount.root.child('shm')!;
  ns.mount(
    new Tmpfs({ mf: opts.mf, mode: 0o1777 }),
    new VirtualDentry(devMount, shmD),
    MS_NOSUID | MS_NODEV,
    'shm',
  );
  ns.mount(
    new DevptsFs({ gid: 5, mode: 0o620, ptmxmode: 0 }),
    new VirtualDentry(devMount, devMount.root.child('pts')!),
    MS_NOSUID | MS_NOEXEC,
    'devpts',
  );

  const inst = (x: Filesystem | (() => Filesystem) | undefined): Filesystem | undefined =>
    typeof x === 'function' ? x() : x;
  const procD = ensureDir(rd, 'proc', !overlay);
  const proc = inst(opts.procfs);
  ns.mount(
    proc ?? new Tmpfs({ mf: opts.mf, mode: 0o555, size: 0 }),
    at(procD),
    MS_NOSUID | MS_NODEV | MS_NOEXEC | (proc ? 0 : MS_RDONLY),
    'proc',
  );
  const sysD = ensureDir(rd, 'sys', !overlay);
  const sys = inst(opts.sysfs);
  ns.mount(
    sys ?? new Tmpfs({ mf: opts.mf, mode: 0o555, size: 0 }),
    at(sysD),
    MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
    'sysfs',
  );
  const tmpD = ensureDir(rd, 'tmp', !overlay);
  // (Without an overlay, /tmp is the host's directory: its mode is left alone; a container
  // keeps its bundle's /tmp mode, as runc.)
  if (overlay && !opts.keepTmpMode && (tmpD.inode.mode & 0o7777) !== 0o1777)
    tmpD.inode.setattr({ mode: 0o1777 }, ROOT);

  setMemfdFilesystem(new Tmpfs({ mf: opts.mf, mode: 0o777 }));
  mountableTypes.set('tmpfs', (_src, data) => new Tmpfs({ mf: opts.mf, ...parseTmpfsData(data) }));
  mountableTypes.set('devpts', (_src, data) => new DevptsFs(parseDevptsData(data)));
  if (typeof opts.procfs === 'function') mountableTypes.set('proc', opts.procfs);
  if (typeof opts.sysfs === 'function') mountableTypes.set('sysfs', opts.sysfs);
  return { ns, root, overlay, dev };
}

/** tmpfs mount data: size=N[kmg%], mode=octal, uid=, gid=. */
export function parseTmpfsData(data: string): { size?: number; mode?: number; uid?: number; gid?: number } {
  const out: { size?: number; mode?: number; uid?: number; gid?: number } = {};
  for (const kv of data.split(',')) {
    const [k, v] = kv.split('=');
    if (v === undefined) continue;
    if (k === 'size') {
      const m = /^(\d+)([kmg]?)$/i.exec(v);
      if (m)
        out.size =
          Number(m[1]) *
          ({ '': 1, k: 1024, m: 1 << 20, g: 1 << 30 } as Record<string, number>)[m[2].toLowerCase()];
    } else if (k === 'mode') out.mode = parseInt(v, 8) & 0o7777;
    else if (k === 'uid') out.uid = Number(v);
    else if (k === 'gid') out.gid = Number(v);
  }
  return out;
}
