/**
 * ioctl(2): the generic requests (FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC, FIONREAD for
 * regular files) are answered here; everything else (terminal requests, FIONREAD on
 * pipes and sockets) is delegated to the file.
 */
import { EBADF, ENOTTY } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { O_ASYNC, O_NONBLOCK, S_IFDIR, S_IFMT, S_IFREG } from '../../vfs/abi';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';

export const FIONREAD = 0x541b,
  FIONBIO = 0x5421,
  FIONCLEX = 0x5450,
  FIOCLEX = 0x5451,
  FIOASYNC = 0x5452,
  FIGETBSZ = 2;

/** Ioctl implements Linux syscall ioctl(2). */
export function Ioctl(t: FileTask, a: SyscallArgs): number | Promise<number> {
  const fd = a.int(0);
  const f = t.files.get(fd);
  if (!f || f.isPath) return -EBADF;
  const cmd = a.uint(1);
  const arg = a.ptr(2);
  switch (cmd) {
    case FIOCLEX:
      t.files.setCloexec(fd, true);
      return 0;
    case FIONCLEX:
      t.files.setCloexec(fd, false);
      return 0;
    case FIONBIO: {
      const on = t.mem.readI32(arg) !== 0;
      f.setStatusFlags(on ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK);
      return 0;
    }
    case FIOASYNC: {
      const on = t.mem.readI32(arg) !== 0;
      f.setStatusFlags(on ? f.flags | O_ASYNC : f.flags & ~O_ASYNC);
      return 0;
    }
    case FIONREAD:
      if (f.inode && (f.inode.mode & S_IFMT) === S_IFREG && !f.stream) {
        const size = f.stat().size;
        t.mem.writeI32(arg, Math.max(0, Math.min(0x7fffffff, size - f.pos)));
        return 0;
      }
      break;
    case FIGETBSZ:
      if (f.inode && ((f.inode.mode & S_IFMT) === S_IFREG || (f.inode.mode & S_IFMT) === S_IFDIR)) {
        t.mem.writeI32(arg, f.stat().blksize);
        return 0;
      }
      break;
  }
  const r = f.ioctl(t, cmd, arg);
  return r === undefined ? -ENOTTY : r;
}

export const ioctlSyscalls: SyscallDef<FileTask>[] = [
  {
    nr: 16,
    name: 'ioctl',
    handler: Ioctl,
    support: 'partial',
    note: 'generic FIO* requests; terminal requests on host terminals and on ptys (termios, window size, process groups, TIOCSCTTY/TIOCNOTTY, TIOCGPTN/TIOCSPTLCK/TIOCGPTPEER); FIONREAD on pipes; no TIOCPKT modes',
    args: ['fd', 'hex', 'hex'],
  },
];
