/**
 * Device and fifo openers: opening a character/block device node or a fifo on any
 * filesystem goes through here (Linux's chrdev table / fifo_open). Drivers (core/fs/dev,
 * devpts, ...) register by (major, minor); the pipe module registers the fifo opener.
 */
import { ENXIO, SysError } from '../abi/errno';
import type { TaskApi } from '../kernel/api';
import { major, minor } from './abi';
import type { FileDescription } from './file';
import type { Inode } from './inode';
import type { VirtualDentry } from './mount';

export type DeviceOpener = (
  t: TaskApi,
  flags: number,
  vd: VirtualDentry,
) => FileDescription | Promise<FileDescription>;

const chr = new Map<number, DeviceOpener>();

const key = (maj: number, min: number): number => maj * 0x100000 + min;

/** Register a character device; minor -1 registers the whole major. */
export function registerCharDevice(maj: number, min: number, open: DeviceOpener): void {
  chr.set(key(maj, min < 0 ? 0xfffff : min), open);
}

/** Open the character device `rdev`; ENXIO when no driver is registered (as Linux). */
export function openCharDevice(
  t: TaskApi,
  rdev: number,
  flags: number,
  vd: VirtualDentry,
): FileDescription | Promise<FileDescription> {
  const o = chr.get(key(major(rdev), minor(rdev))) ?? chr.get(key(major(rdev), 0xfffff));
  if (!o) throw new SysError(ENXIO);
  return o(t, flags, vd);
}

export type FifoOpener = (
  t: TaskApi,
  inode: Inode,
  flags: number,
) => FileDescription | Promise<FileDescription>;
let fifoOpener: FifoOpener | null = null;

/** Installed by core/fs/pipe. */
export function registerFifoOpener(o: FifoOpener): void {
  fifoOpener = o;
}

export function openFifo(
  t: TaskApi,
  inode: Inode,
  flags: number,
): FileDescription | Promise<FileDescription> {
  if (!fifoOpener) throw new SysError(ENXIO);
  return fifoOpener(t, inode, flags);
}
