/**
 * FdTable: a process's file descriptor table (Linux's files_struct). Maps small integers
 * to file descriptions plus the per-fd close-on-exec flag. New fds take the lowest free
 * number; the table never grows past `limit` (RLIMIT_NOFILE, set by the kernel).
 *
 * Reference rule: install()/installAt() take over the caller's reference to the file
 * (and drop it if they fail); close() drops the table's reference.
 */
import { EBADF, EINVAL, EMFILE, SysError } from '../abi/errno';
import type { FileDescription } from './file';
import { releasePosixLocks } from './lock';

/** close_range(2) flags. */
export const CLOSE_RANGE_UNSHARE = 2,
  CLOSE_RANGE_CLOEXEC = 4;

/** Linux's hard ceiling for nr_open. */
export const NR_OPEN = 1 << 20;

export class FdTable {
  private files: (FileDescription | undefined)[] = [];
  private cloexec: boolean[] = [];
  /** Lowest index that may be free (allocation hint). */
  private hint = 0;
  /** RLIMIT_NOFILE soft limit: fds must be below this. */
  limit = 1024;
  /** Owner id passed to FileDescription.flush on close (the process's tgid; set by the kernel). */
  owner = 0;

  /** The file at `fd`, or undefined. Hot path. */
  get(fd: number): FileDescription | undefined {
    return this.files[fd];
  }

  getCloexec(fd: number): boolean {
    return this.cloexec[fd] === true;
  }

  setCloexec(fd: number, on: boolean): void {
    if (!this.files[fd]) throw new SysError(EBADF);
    this.cloexec[fd] = on;
  }

  /** Install at the lowest free fd >= minFd; returns the fd. EMFILE when none is below the limit. */
  install(file: FileDescription, cloexec = false, minFd = 0): number {
    let fd = Math.max(minFd, this.hint);
    while (this.files[fd] !== undefined) fd++;
    if (fd >= this.limit) {
      file.decRef();
      throw new SysError(minFd >= this.limit ? EINVAL : EMFILE);
    }
    this.files[fd] = file;
    this.cloexec[fd] = cloexec;
    if (minFd <= this.hint) this.hint = fd + 1;
    return fd;
  }

  /** Install at exactly `fd` (dup2/dup3), closing what was there. EBADF when fd is out of range. */
  installAt(fd: number, file: FileDescription, cloexec: boolean): void {
    if (fd < 0 || fd >= this.limit) {
      file.decRef();
      throw new SysError(EBADF);
    }
    const old = this.files[fd];
    this.files[fd] = file;
    this.cloexec[fd] = cloexec;
    if (old) {
      if (old.locked) releasePosixLocks(old, this.owner);
      old.flush(this.owner);
      old.decRef();
    }
  }

  /** close(2): 0, -EBADF, or the error flush reported (the fd is closed all the same). */
  close(fd: number): number {
    const f = this.files[fd];
    if (f === undefined) return -EBADF;
    this.remove(fd);
    if (f.locked) releasePosixLocks(f, this.owner);
    const r = f.flush(this.owner);
    f.decRef();
    return typeof r === 'number' && r < 0 ? r : 0;
  }

  private remove(fd: number): void {
    this.files[fd] = undefined;
    this.cloexec[fd] = false;
    if (fd < this.hint) this.hint = fd;
    // Keep the arrays short so iteration stays cheap.
    while (this.files.length && this.files[this.files.length - 1] === undefined) {
      this.files.length--;
      this.cloexec.length = this.files.length;
    }
  }

  /** close_range(2) over [first, last] (inclusive). */
  closeRange(first: number, last: number, flags: number): void {
    const end = Math.min(last, this.files.length - 1);
    for (let fd = first; fd <= end; fd++) {
      if (this.files[fd] === undefined) continue;
      if (flags & CLOSE_RANGE_CLOEXEC) this.cloexec[fd] = true;
      else this.close(fd);
    }
  }

  /** An independent copy sharing the same descriptions (fork without CLONE_FILES). */
  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    t.owner = this.owner;
    t.hint = this.hint;
    for (let fd = 0; fd < this.files.length; fd++) {
      const f = this.files[fd];
      if (f) {
        t.files[fd] = f.incRef();
        t.cloexec[fd] = this.cloexec[fd];
      }
    }
    return t;
  }

  /** execve: close every close-on-exec fd. */
  closeOnExec(): void {
    for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd] && this.cloexec[fd]) this.close(fd);
  }

  /** Process exit: close everything. */
  releaseAll(): void {
    for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd]) this.close(fd);
    this.files = [];
    this.cloexec = [];
    this.hint = 0;
  }

  /** Open fds in ascending order (for /proc/self/fd, fdinfo). */
  *entries(): IterableIterator<[number, FileDescription]> {
    for (let fd = 0; fd < this.files.length; fd++) {
      const f = this.files[fd];
      if (f) yield [fd, f];
    }
  }

  /** Number of open fds. */
  get count(): number {
    let n = 0;
    for (const f of this.files) if (f) n++;
    return n;
  }
}
