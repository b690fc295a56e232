/**
 * What the rest of the sentry sees of memory management.
 *
 * UserMemory: a task's view of its address space. Every address is a Number (user
 * addresses are below 2^47). Access checks follow the app's protections: reading memory
 * mapped without PROT_READ, or writing memory without PROT_WRITE, fails with EFAULT, as
 * copy_from_user/copy_to_user do. Views are zero-copy windows onto the memory file.
 *
 * Mappable: what a file offers mmap(2).
 */
import type { MemObject } from './memobject';

export interface UserMemory {
  /** Zero-copy views covering [addr, addr+len) for reading; throws SysError(EFAULT). */
  readViews(addr: number, len: number): Uint8Array[];
  /** Zero-copy views covering [addr, addr+len) for writing; throws SysError(EFAULT). */
  writeViews(addr: number, len: number): Uint8Array[];
  /** A copy of [addr, addr+len). */
  copyIn(addr: number, len: number): Uint8Array;
  /** Copy `data` to `addr`. */
  copyOut(addr: number, data: Uint8Array): void;
  /**
   * A NUL-terminated string of at most `max` bytes (excluding NUL), as a byte string (one
   * char per byte, latin1): EFAULT, or ENAMETOOLONG when longer.
   */
  readCString(addr: number, max: number): string;
  readU32(addr: number): number;
  readI32(addr: number): number;
  /** 64-bit read as a Number (exact below 2^53). */
  readU64(addr: number): number;
  readBigU64(addr: number): bigint;
  writeU32(addr: number, v: number): void;
  writeI32(addr: number, v: number): void;
  writeU64(addr: number, v: number | bigint): void;
}

/** What a file description provides to mmap. */
export interface Mappable {
  /** The object backing MAP_SHARED mappings of this file (tmpfs: the file's data; others: a page cache). */
  sharedObject(): MemObject;
  /** Read file bytes at `off` into `dst` (private mappings are filled from this); returns bytes read. */
  readForMap(off: number, dst: Uint8Array): number;
  /** Current file size (access beyond EOF in a mapping raises SIGBUS). */
  size(): number;
  /**
   * The file's page cache when its bytes cannot change or shrink under a mapping (a
   * read-only host file): private read-only mappings then map it directly, copy-on-write,
   * instead of filling a private copy. Absent: every private mapping gets its own copy.
   */
  readOnlyPageCache?(): MemObject;
}
