/**
 * Tiny fakes for unit tests of the VFS and file syscalls: a UserMemory over a plain
 * buffer (addresses [base, base+size); anything else is EFAULT), SyscallArgs from numbers,
 * and a FileTask whose block() waits on the real WaitQueue.
 */
import { EFAULT, ENAMETOOLONG, ERESTARTSYS, ETIMEDOUT, SysError } from '../../core/abi/errno';
import type { Credentials, SyscallArgs } from '../../core/kernel/api';
import { makeCreds } from '../../core/kernel/caps';
import type { UserMemory } from '../../core/mm/api';
import type { WaitQueue } from '../../core/util/waiter';
import type { FdTable } from '../../core/vfs/fdtable';
import type { FsContext } from '../../core/vfs/fscontext';
import type { FileTask } from '../../core/vfs/task';

export class FakeMemory implements UserMemory {
  readonly buf: Buffer;
  private brk: number;
  constructor(
    readonly base = 0x10000,
    readonly size = 1 << 20,
  ) {
    this.buf = Buffer.alloc(size);
    this.brk = base;
  }
  /** Bump-allocate `len` bytes of app memory (8-byte aligned); returns the address. */
  alloc(len: number): number {
    const a = this.brk;
    this.brk += (len + 7) & ~7;
    if (this.brk > this.base + this.size) throw new Error('FakeMemory exhausted');
    return a;
  }
  /** Allocate and store a NUL-terminated latin1 string. */
  str(s: string): number {
    const a = this.alloc(s.length + 1);
    this.buf.write(s + '\0', a - this.base, 'latin1');
    return a;
  }
  /** Allocate and store bytes. */
  bytes(b: Uint8Array | string): number {
    const data = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    const a = this.alloc(data.length || 1);
    this.buf.set(data, a - this.base);
    return a;
  }
  /** Read back bytes as a latin1 string. */
  read(addr: number, len: number): string {
    return this.range(addr, len).toString('latin1');
  }
  private range(addr: number, len: number): Buffer {
    if (addr < this.base || len < 0 || addr + len > this.base + this.size) throw new SysError(EFAULT);
    return this.buf.subarray(addr - this.base, addr - this.base + len);
  }
  readViews(addr: number, len: number): Uint8Array[] {
    return [this.range(addr, len)];
  }
  writeViews(addr: number, len: number): Uint8Array[] {
    return [this.range(addr, len)];
  }
  copyIn(addr: number, len: number): Uint8Array {
    return Uint8Array.from(this.range(addr, len));
  }
  copyOut(addr: number, data: Uint8Array): void {
    this.range(addr, data.length).set(data);
  }
  readCString(addr: number, max: number): string {
    if (addr < this.base || addr >= this.base + this.size) throw new SysError(EFAULT);
    const start = addr - this.base;
    const end = this.buf.indexOf(0, start);
    if (end < 0) throw new SysError(EFAULT);
    if (end - start > max) throw new SysError(ENAMETOOLONG);
    return this.buf.toString('latin1', start, end);
  }
  readU32(addr: number): number {
    return this.range(addr, 4).readUInt32LE(0);
  }
  readI32(addr: number): number {
    return this.range(addr, 4).readInt32LE(0);
  }
  readU64(addr: number): number {
    return Number(this.range(addr, 8).readBigUInt64LE(0));
  }
  readBigU64(addr: number): bigint {
    return this.range(addr, 8).readBigUInt64LE(0);
  }
  writeU32(addr: number, v: number): void {
    this.range(addr, 4).writeUInt32LE(v >>> 0, 0);
  }
  writeI32(addr: number, v: number): void {
    this.range(addr, 4).writeInt32LE(v | 0, 0);
  }
  writeU64(addr: number, v: number | bigint): void {
    this.range(addr, 8).writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), 0);
  }
}

/** SyscallArgs over plain numbers/bigints (negative numbers are two's-complement 64-bit). */
export function fakeArgs(...vals: (number | bigint)[]): SyscallArgs {
  const raw = vals.map((v) => BigInt.asUintN(64, BigInt(v)));
  while (raw.length < 6) raw.push(0n);
  return {
    int: (i) => Number(BigInt.asIntN(32, raw[i])),
    uint: (i) => Number(BigInt.asUintN(32, raw[i])),
    ptr: (i) => Number(raw[i]),
    i64: (i) => Number(BigInt.asIntN(64, raw[i])),
    big: (i) => raw[i],
  };
}

export function rootCreds(): Credentials {
  return makeCreds(0, 0);
}

export function userCreds(uid: number, gid = uid, groups: number[] = []): Credentials {
  return makeCreds(uid, gid, groups);
}

export class FakeTask implements FileTask {
  tid = 1;
  tgid = 1;
  pgid = 1;
  sid = 1;
  readonly mem = new FakeMemory();
  creds: Credentials = rootCreds();
  /** Signals sent with sendSignal, in order. */
  readonly signals: number[] = [];
  /** Set to make blocking calls return -ERESTARTSYS (a pending signal). */
  pendingSignal = false;
  private interruptors = new Set<() => void>();

  constructor(
    public files: FdTable,
    public fs: FsContext,
  ) {}

  block(q: WaitQueue, mask: number, timeoutNs?: number): Promise<number> {
    if (this.pendingSignal) return Promise.resolve(-ERESTARTSYS);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (r: number): void => {
        q.unsubscribe(entry);
        if (timer) clearTimeout(timer);
        this.interruptors.delete(intr);
        resolve(r);
      };
      const entry = q.subscribe(mask, () => done(0));
      const intr = (): void => done(-ERESTARTSYS);
      this.interruptors.add(intr);
      if (timeoutNs !== undefined) timer = setTimeout(() => done(-ETIMEDOUT), Math.max(0, timeoutNs / 1e6));
    });
  }
  interrupted(): boolean {
    return this.pendingSignal;
  }
  sendSignal(signo: number): void {
    this.signals.push(signo);
  }
  /** Simulate a signal arriving: wakes blocked calls with -ERESTARTSYS. */
  interrupt(): void {
    this.pendingSignal = true;
    for (const f of [...this.interruptors]) f();
  }
}

// ---- a tiny world: a tmpfs root, a task with an fd table and fs context ----
import { MemoryFile } from '../../core/mm/memfile';
import { Tmpfs } from '../../core/fs/tmpfs';
import { FdTable as FdTableImpl } from '../../core/vfs/fdtable';
import { FsContext as FsContextImpl } from '../../core/vfs/fscontext';
import { MountNamespace } from '../../core/vfs/mount';
import type { Filesystem } from '../../core/vfs/inode';

let sharedMf: MemoryFile | undefined;
/** One 1 GiB (sparse) memory file shared by all unit tests. */
export function testMemoryFile(): MemoryFile {
  return (sharedMf ??= new MemoryFile(1 << 30));
}

/** A task whose root is `rootFs` (default: a fresh tmpfs). */
export function newWorld(rootFs?: Filesystem): { t: FakeTask; ns: MountNamespace; fs: Filesystem } {
  const fs = rootFs ?? new Tmpfs({ mf: testMemoryFile(), mode: 0o755 });
  const ns = new MountNamespace(fs);
  const root = ns.rootVd();
  const t = new FakeTask(new FdTableImpl(), new FsContextImpl(root, root));
  return { t, ns, fs };
}
