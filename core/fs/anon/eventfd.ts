/**
 * eventfd (Linux's fs/eventfd.c): a 64-bit counter as a file.
 *
 * read(8+ bytes): the counter (then 0), or 1 (then counter-1) in EFD_SEMAPHORE mode;
 * -EAGAIN while it is 0. write(8+ bytes): adds the value; a value of 2^64-1 is EINVAL and
 * a sum that would reach 2^64-1 is -EAGAIN (the syscall layer blocks on POLLOUT unless
 * O_NONBLOCK). Buffers shorter than 8 bytes are EINVAL. Readable while the counter is
 * non-zero, writable while it is below 2^64-2; POLLERR at 2^64-1 (only reachable by an
 * in-kernel overflow, which we never do).
 */
import { EAGAIN, EINVAL, ESPIPE } from '../../abi/errno';
import type { TaskApi } from '../../kernel/api';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../util/waiter';
import { copyToSegs, gatherSegs, ioLength, type IoDst, type IoSrc } from '../../vfs/file';
import { AnonFile } from './anon';

export const EFD_SEMAPHORE = 1,
  EFD_NONBLOCK = 0o4000,
  EFD_CLOEXEC = 0o2000000;

const ULLONG_MAX = (1n << 64n) - 1n;

export class EventFd extends AnonFile {
  /** The counter. */
  count: bigint;
  readonly semaphore: boolean;
  private readonly scratch = new Uint8Array(8);
  private readonly dv = new DataView(this.scratch.buffer);

  /** `flags`: file status flags (O_RDWR | O_NONBLOCK?). */
  constructor(initval: number, flags: number, semaphore: boolean) {
    super(flags, '[eventfd]');
    this.count = BigInt(initval);
    this.semaphore = semaphore;
  }

  override read(_t: TaskApi, dst: IoDst, off: number): number {
    if (off >= 0) return -ESPIPE;
    if (ioLength(dst) < 8) return -EINVAL;
    if (this.count === 0n) return -EAGAIN;
    const v = this.semaphore ? 1n : this.count;
    this.count -= v;
    this.dv.setBigUint64(0, v, true);
    copyToSegs(dst, this.scratch);
    this.waitQueue().notify(POLLOUT | POLLWRNORM);
    return 8;
  }

  override write(_t: TaskApi, src: IoSrc, off: number): number {
    if (off >= 0) return -ESPIPE;
    if (ioLength(src) < 8) return -EINVAL;
    const b = gatherSegs(src, 8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v === ULLONG_MAX) return -EINVAL;
    if (ULLONG_MAX - this.count <= v) return -EAGAIN;
    this.count += v;
    // Linux wakes readers even for a write of 0 (a fresh edge for EPOLLET watchers).
    this.waitQueue().notify(POLLIN | POLLRDNORM);
    return 8;
  }

  override readiness(mask: number): number {
    let r = 0;
    if (this.count > 0n) r |= POLLIN | POLLRDNORM;
    if (this.count === ULLONG_MAX) r |= POLLERR;
    if (ULLONG_MAX - 1n > this.count) r |= POLLOUT | POLLWRNORM;
    return r & (mask | POLLERR | POLLHUP);
  }
}
