/** pipe(2) and pipe2(2). */
import { EINVAL } from '../../abi/errno';
import type { SyscallArgs } from '../../kernel/api';
import { newPipe } from '../../fs/pipe';
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK } from '../../vfs/abi';
import type { FileTask } from '../../vfs/task';
import type { SyscallDef } from '../types';

function makePipe(t: FileTask, addr: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
  // Check the destination first so a bad pointer leaks no fds.
  t.mem.writeViews(addr, 8);
  const [r, w] = newPipe(flags & (O_NONBLOCK | O_DIRECT));
  const cloexec = (flags & O_CLOEXEC) !== 0;
  let rfd: number;
  try {
    rfd = t.files.install(r, cloexec);
  } catch (e) {
    w.decRef();
    throw e;
  }
  let wfd: number;
  try {
    wfd = t.files.install(w, cloexec);
  } catch (e) {
    t.files.close(rfd);
    throw e;
  }
  t.mem.writeI32(addr, rfd);
  t.mem.writeI32(addr + 4, wfd);
  return 0;
}

/** Pipe implements Linux syscall pipe(2). */
export function Pipe(t: FileTask, a: SyscallArgs): number {
  return makePipe(t, a.ptr(0), 0);
}
/** Pipe2 implements Linux syscall pipe2(2). */
export function Pipe2(t: FileTask, a: SyscallArgs): number {
  return makePipe(t, a.ptr(0), a.int(1));
}

export const pipeSyscalls: SyscallDef<FileTask>[] = [
  { nr: 22, name: 'pipe', handler: Pipe, support: 'full', args: ['ptr'] },
  {
    nr: 293,
    name: 'pipe2',
    handler: Pipe2,
    support: 'partial',
    note: 'O_DIRECT (packet mode) is accepted but the pipe stays a byte stream',
    args: ['ptr', 'oflags'],
  },
];
