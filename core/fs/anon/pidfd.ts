/**
 * Process file descriptors (Linux's kernel/pid.c pidfd_fops; "anon_inode:[pidfd]"): a file
 * that names a process. It is readable (POLLIN) once the process has exited — every
 * thread gone, zombie or reaped — and also hangs up (POLLHUP) once it was reaped. read and
 * write are EINVAL; the syscalls pidfd_send_signal, pidfd_getfd and waitid(P_PIDFD) act on
 * the process (core/syscalls/linux/pidfd.ts).
 *
 * The process is described by the few fields this file needs (a kernel ThreadGroup fits),
 * so core/fs does not depend on core/kernel. The owner of the process calls
 * `pidfdExited(target)` when it exits.
 */
import { POLLHUP, POLLIN, POLLRDNORM, WaitQueue } from '../../util/waiter';
import { AnonFile } from './anon';

/** The process a pidfd names. */
export interface PidTarget {
  readonly pid: number;
  /** Wait status once every thread has exited, else -1. */
  readonly exitStatus: number;
  readonly zombie: boolean;
  readonly reaped: boolean;
}

export const PIDFD_NONBLOCK = 0o4000,
  PIDFD_THREAD = 0o200;

const queues = new WeakMap<PidTarget, WaitQueue>();

function queueOf(p: PidTarget): WaitQueue {
  let q = queues.get(p);
  if (!q) queues.set(p, (q = new WaitQueue()));
  return q;
}

/** Wake pidfd pollers of `p` (it exited, or was reaped). */
export function pidfdExited(p: PidTarget): void {
  queues.get(p)?.notify(POLLIN | POLLRDNORM | POLLHUP);
}

export class PidFd extends AnonFile {
  constructor(
    readonly target: PidTarget,
    flags: number,
  ) {
    super(flags, '[pidfd]');
  }

  override readiness(mask: number): number {
    const p = this.target;
    if (p.exitStatus < 0) return 0;
    let r = POLLIN | POLLRDNORM;
    if (p.reaped || !p.zombie) r |= POLLHUP;
    return r & (mask | POLLHUP);
  }

  override waitQueue(): WaitQueue {
    return queueOf(this.target);
  }
}
