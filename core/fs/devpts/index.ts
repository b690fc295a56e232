/**
 * core/fs/devpts: pseudo-terminals. `DevptsFs` is the filesystem mounted at /dev/pts,
 * `Pty` a master/slave pair with its line discipline (ldisc.ts) and termios
 * (termios.ts). See README.md for the Linux semantics served and what is missing.
 */
import { EIO, SysError } from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import { registerCharDevice } from '../../vfs/devices';
import { openPtmx } from './fs';
import { controllingPty, PTMX_MAJOR, PTMX_MINOR, type SlaveFile } from './pty';

export { DevptsFs, openPtmx, parseDevptsData, ptsRootFor, type DevptsOptions } from './fs';
export { controllingPty, MasterFile, Pty, resetControllingPtys, SlaveFile, type TtyKernel } from './pty';
export { LineDiscipline } from './ldisc';
export { Termios } from './termios';

let registered = false;
/** Register /dev/ptmx (5:2) with the VFS (idempotent). */
export function registerPtyDevices(): void {
  if (registered) return;
  registered = true;
  registerCharDevice(PTMX_MAJOR, PTMX_MINOR, (t, flags, vd) => openPtmx(t, flags, vd));
}

/**
 * /dev/tty for a task whose controlling terminal is a pty: a new description of the
 * slave; null when its controlling terminal is not a pty (the caller falls back to the
 * host terminal). EIO once the pty hung up.
 */
export function openControllingPty(t: TaskApi, flags: number): SlaveFile | null {
  const p = controllingPty(t);
  if (!p) return null;
  if (p.hungUp) throw new SysError(EIO);
  return p.openSlave(t, flags, true);
}
