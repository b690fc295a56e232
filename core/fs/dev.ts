/**
 * devtmpfs: /dev as a tmpfs populated with the standard device nodes, served by the
 * sentry's own drivers (registered here by major:minor, so a device node created with
 * mknod anywhere opens the same driver):
 *   1:3 null, 1:5 zero, 1:7 full, 1:8 random, 1:9 urandom,
 *   5:0 tty (the controlling terminal: the session's pty, else the imported host
 *       terminal, else ENXIO),
 *   5:1 console (the host terminal),
 *   5:2 ptmx (a new pty in the devpts mounted at /dev/pts; see core/fs/devpts).
 * Symlinks: fd -> /proc/self/fd, stdin/stdout/stderr -> /proc/self/fd/0..2.
 * Directories: shm (a separate tmpfs is mounted there by the mount-namespace builder),
 * pts (the mount-namespace builder mounts devpts there).
 */
import { randomFillSync } from 'node:crypto';
import { ENOSPC } from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import { rootCreds } from '../kernel/caps';
import type { MemoryFile } from '../mm/memfile';
import { makedev, S_IFCHR } from '../vfs/abi';
import { registerCharDevice } from '../vfs/devices';
import { FileDescription, IoDst, IoSrc, ioLength } from '../vfs/file';
import { openControllingPty, registerPtyDevices } from './devpts';
import { openControllingTty } from './host';
import { Tmpfs } from './tmpfs';

const ROOT = rootCreds();

type Kind = 'null' | 'zero' | 'full' | 'random';

/** A simple character device file. */
export class DevFile extends FileDescription {
  constructor(
    flags: number,
    readonly kind: Kind,
  ) {
    super(flags);
  }
  override read(_t: TaskApi, dst: IoDst, _off: number): number {
    if (this.kind === 'null') return 0;
    let n = 0;
    for (const seg of dst) {
      if (this.kind === 'random') randomFillSync(seg);
      else seg.fill(0);
      n += seg.length;
    }
    return n;
  }
  override write(_t: TaskApi, src: IoSrc, _off: number): number {
    if (this.kind === 'full') return -ENOSPC;
    return ioLength(src);
  }
  override seek(): number {
    return (this.pos = 0);
  }
}

let registered = false;
/** Register the memory and tty char devices (idempotent). */
export function registerDevices(): void {
  if (registered) return;
  registered = true;
  const simple = (min: number, kind: Kind): void =>
    registerCharDevice(1, min, (_t, flags) => new DevFile(flags, kind));
  simple(3, 'null');
  simple(5, 'zero');
  simple(7, 'full');
  simple(8, 'random');
  simple(9, 'random');
  registerCharDevice(5, 0, (t, flags) => openControllingPty(t, flags) ?? openControllingTty(flags));
  registerCharDevice(5, 1, (_t, flags) => openControllingTty(flags));
  registerPtyDevices();
}

/** A devtmpfs instance with the standard nodes. */
export function newDevtmpfs(mf: MemoryFile): Tmpfs {
  registerDevices();
  const fs = new Tmpfs({ mf, typeName: 'devtmpfs', mode: 0o755, size: 1 << 20 });
  const root = fs.root();
  const node = (name: string, maj: number, min: number, mode: number): void => {
    root.mknod(name, S_IFCHR | mode, makedev(maj, min), ROOT);
  };
  node('null', 1, 3, 0o666);
  node('zero', 1, 5, 0o666);
  node('full', 1, 7, 0o666);
  node('random', 1, 8, 0o666);
  node('urandom', 1, 9, 0o666);
  node('tty', 5, 0, 0o666);
  node('console', 5, 1, 0o600);
  node('ptmx', 5, 2, 0o666);
  root.symlink('fd', '/proc/self/fd', ROOT);
  root.symlink('stdin', '/proc/self/fd/0', ROOT);
  root.symlink('stdout', '/proc/self/fd/1', ROOT);
  root.symlink('stderr', '/proc/self/fd/2', ROOT);
  root.mkdir('shm', 0o1777, ROOT);
  root.mkdir('pts', 0o755, ROOT);
  return fs;
}
