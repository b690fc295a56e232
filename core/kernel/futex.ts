/**
 * Futexes (Linux kernel/futex): wait queues keyed by a user address.
 * Private futexes are keyed by (address space, address); shared ones by the backing
 * memory object and offset, so processes sharing memory meet on the same key.
 */
import { EAGAIN, EINVAL, ETIMEDOUT, SysError } from '../abi/errno';

export interface FutexWaiter {
  key: string;
  bitset: number;
  wake: (() => void) | null;
  next: FutexWaiter | null;
  prev: FutexWaiter | null;
}

class Bucket {
  head: FutexWaiter | null = null;
  tail: FutexWaiter | null = null;
}

export class FutexTable {
  private readonly buckets = new Map<string, Bucket>();

  enqueue(w: FutexWaiter): void {
    let b = this.buckets.get(w.key);
    if (!b) {
      b = new Bucket();
      this.buckets.set(w.key, b);
    }
    w.prev = b.tail;
    w.next = null;
    if (b.tail) b.tail.next = w;
    else b.head = w;
    b.tail = w;
  }

  remove(w: FutexWaiter): boolean {
    const b = this.buckets.get(w.key);
    if (!b) return false;
    let found = false;
    for (let x = b.head; x; x = x.next)
      if (x === w) {
        found = true;
        break;
      }
    if (!found) return false;
    if (w.prev) w.prev.next = w.next;
    else b.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else b.tail = w.prev;
    w.next = w.prev = null;
    if (!b.head) this.buckets.delete(w.key);
    return true;
  }

  /** Wake up to n waiters whose bitset intersects `bitset`. Returns the number woken. */
  wake(key: string, n: number, bitset = 0xffffffff): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    let woken = 0;
    for (let w = b.head; w && woken < n;) {
      const next = w.next;
      if (w.bitset & bitset) {
        this.remove(w);
        const f = w.wake;
        w.wake = null;
        f?.();
        woken++;
      }
      w = next;
    }
    return woken;
  }

  /** Wake up to nWake waiters on `from`, move up to nRequeue others to `to`. Returns woken + moved. */
  requeue(from: string, to: string, nWake: number, nRequeue: number): number {
    const woken = this.wake(from, nWake);
    const b = this.buckets.get(from);
    let moved = 0;
    while (b && b.head && moved < nRequeue) {
      const w = b.head;
      this.remove(w);
      w.key = to;
      this.enqueue(w);
      moved++;
    }
    return woken + moved;
  }
}

export const FUTEX_WAIT = 0,
  FUTEX_WAKE = 1,
  FUTEX_FD = 2,
  FUTEX_REQUEUE = 3,
  FUTEX_CMP_REQUEUE = 4,
  FUTEX_WAKE_OP = 5,
  FUTEX_LOCK_PI = 6,
  FUTEX_UNLOCK_PI = 7,
  FUTEX_TRYLOCK_PI = 8,
  FUTEX_WAIT_BITSET = 9,
  FUTEX_WAKE_BITSET = 10,
  FUTEX_WAIT_REQUEUE_PI = 11,
  FUTEX_CMP_REQUEUE_PI = 12,
  FUTEX_LOCK_PI2 = 13,
  FUTEX_PRIVATE_FLAG = 128,
  FUTEX_CLOCK_REALTIME = 256;

/** FUTEX_WAKE_OP's operation on the old value, and its comparison (include/uapi/linux/futex.h). */
export function futexWakeOp(encoded: number, oldval: number): { newval: number; cond: boolean } {
  const op = (encoded >>> 28) & 7;
  const cmp = (encoded >>> 24) & 15;
  let oparg = (encoded << 8) >> 20; // sign-extended 12 bits
  const cmparg = (encoded << 20) >> 20;
  if (encoded & (8 << 28)) {
    if (oparg < 0 || oparg > 31) throw new SysError(EINVAL);
    oparg = 1 << oparg;
  }
  let newval: number;
  switch (op) {
    case 0:
      newval = oparg;
      break;
    case 1:
      newval = oldval + oparg;
      break;
    case 2:
      newval = oldval | oparg;
      break;
    case 3:
      newval = oldval & ~oparg;
      break;
    case 4:
      newval = oldval ^ oparg;
      break;
    default:
      throw new SysError(ENOSYS_OP);
  }
  const o = oldval | 0;
  let cond: boolean;
  switch (cmp) {
    case 0:
      cond = o === cmparg;
      break;
    case 1:
      cond = o !== cmparg;
      break;
    case 2:
      cond = o < cmparg;
      break;
    case 3:
      cond = o <= cmparg;
      break;
    case 4:
      cond = o > cmparg;
      break;
    case 5:
      cond = o >= cmparg;
      break;
    default:
      throw new SysError(ENOSYS_OP);
  }
  return { newval: newval >>> 0, cond };
}
const ENOSYS_OP = 38;
export { EAGAIN, ETIMEDOUT };
