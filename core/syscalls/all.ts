/** Every syscall family, assembled into the x86-64 table the kernel is given. */
import { buildTable } from './table';
import type { SyscallDef } from './types';
import { processSyscalls } from './linux/process';
import { signalSyscalls } from './linux/signal';
import { mmapSyscalls } from './linux/mmap';
import { timeSyscalls } from './linux/time';
import { fdSyscalls } from './linux/fd';
import { fileSyscalls } from './linux/file';
import { statSyscalls } from './linux/stat';
import { dirSyscalls } from './linux/dir';
import { fsSyscalls } from './linux/fs';
import { pipeSyscalls } from './linux/pipe';
import { pollSyscalls } from './linux/poll';
import { ioctlSyscalls } from './linux/ioctl';
import { epollSyscalls } from './linux/epoll';
import { socketSyscalls } from './linux/socket';
import { ipcSyscalls } from './linux/ipc';
import { notifySyscalls } from './linux/notify';
import { spliceSyscalls } from './linux/splice';
import { pidfdSyscalls } from './linux/pidfd';

export const FAMILIES: readonly (readonly SyscallDef[])[] = [
  processSyscalls,
  signalSyscalls,
  mmapSyscalls,
  timeSyscalls,
  fdSyscalls,
  fileSyscalls,
  statSyscalls,
  dirSyscalls,
  fsSyscalls,
  pipeSyscalls,
  pollSyscalls,
  ioctlSyscalls,
  epollSyscalls,
  ipcSyscalls,
  notifySyscalls,
  spliceSyscalls,
  pidfdSyscalls,
  socketSyscalls,
];

export function linuxTable(): (SyscallDef | undefined)[] {
  return buildTable(FAMILIES);
}
