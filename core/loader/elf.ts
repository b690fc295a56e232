/**
 * ELF loading (Linux fs/binfmt_elf.c): static, static-PIE and dynamically linked (PT_INTERP)
 * x86-64 executables, mapped into a fresh MemoryManager, and the initial stack with argv,
 * envp and the auxiliary vector.
 *
 * Segments are private file mappings whose pages are copied in from the file on first
 * touch (the MemObject filler); the part of the last page beyond p_filesz and the rest of
 * p_memsz (.bss) read as zero.
 *
 * Everything that can fail with an errno is checked before the caller commits the exec
 * (Linux's point of no return): a malformed file gives ENOEXEC/EINVAL/ENOMEM, not a crash.
 */
import { EFAULT, EINVAL, ENOEXEC, ENOMEM, SysError } from '../abi/errno';
import { MemObject } from '../mm/memobject';
import {
  MemoryManager,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  pageRoundDown,
  pageRoundUp,
} from '../mm/mm';
import { PAGE_SIZE } from '../mm/memfile';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomFillSync } from 'node:crypto';

/** A file the loader reads from. */
export interface ExecFile {
  /** Read up to dst.length bytes at `off`; returns the count (0 at EOF). */
  pread(dst: Uint8Array, off: number): number;
  readonly size: number;
  /** Path shown in /proc/<pid>/maps. */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** References held by mappings filled from this file (each segment holds one). */
  incRef(): unknown;
  decRef(): void;
  /** The file's mode and owner, and whether its mount is nosuid (execve's set-ID rules). */
  readonly ids?: { mode: number; uid: number; gid: number; nosuid: boolean };
  /** The file's immutable page cache (Mappable.readOnlyPageCache), if it has one. */
  readOnlyPageCache?(): MemObject | undefined;
}

const ET_EXEC = 2,
  ET_DYN = 3,
  EM_X86_64 = 62,
  PT_LOAD = 1,
  PT_INTERP = 3,
  PT_PHDR = 6,
  PT_GNU_STACK = 0x6474e551,
  PF_X = 1,
  PF_W = 2,
  PF_R = 4;

export const AT_NULL = 0,
  AT_PHDR = 3,
  AT_PHENT = 4,
  AT_PHNUM = 5,
  AT_PAGESZ = 6,
  AT_BASE = 7,
  AT_FLAGS = 8,
  AT_ENTRY = 9,
  AT_UID = 11,
  AT_EUID = 12,
  AT_GID = 13,
  AT_EGID = 14,
  AT_PLATFORM = 15,
  AT_HWCAP = 16,
  AT_CLKTCK = 17,
  AT_SECURE = 23,
  AT_RANDOM = 25,
  AT_HWCAP2 = 26,
  AT_EXECFN = 31,
  AT_SYSINFO_EHDR = 33,
  AT_MINSIGSTKSZ = 51;

/** Base for ET_DYN executables without a fixed address (Linux ELF_ET_DYN_BASE, unrandomized). */
const ET_DYN_BASE = 0x555555554000;

interface Phdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfInfo {
  type: number;
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  phdrs: Phdr[];
  interp?: string;
}

function u64(d: DataView, o: number): number {
  const lo = d.getUint32(o, true),
    hi = d.getUint32(o + 4, true);
  if (hi >= 0x200000) return Number.MAX_SAFE_INTEGER; // absurd values: caught by range checks
  return hi * 4294967296 + lo;
}

/** Parse and validate an ELF header and program headers (Linux's checks in load_elf_binary/load_elf_phdrs). */
export function parseElf(f: ExecFile): ElfInfo {
  const hdr = new Uint8Array(64);
  if (f.pread(hdr, 0) < 64) throw new SysError(ENOEXEC, 'short ELF header');
  if (hdr[0] !== 0x7f || hdr[1] !== 0x45 || hdr[2] !== 0x4c || hdr[3] !== 0x46)
    throw new SysError(ENOEXEC, 'bad magic');
  const d = new DataView(hdr.buffer);
  // Like Linux's binfmt_elf, EI_CLASS and EI_DATA are not checked: e_machine decides.
  const type = d.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN) throw new SysError(ENOEXEC, 'not an executable');
  if (d.getUint16(18, true) !== EM_X86_64) throw new SysError(ENOEXEC, 'not x86-64');
  const entry = u64(d, 24);
  const phoff = u64(d, 32);
  const phentsize = d.getUint16(54, true);
  const phnum = d.getUint16(56, true);
  if (phentsize !== 56) throw new SysError(ENOEXEC, 'bad e_phentsize');
  if (phnum < 1 || phnum * 56 > 65536) throw new SysError(ENOEXEC, 'bad e_phnum');
  const ph = new Uint8Array(phnum * 56);
  if (phoff > f.size || f.pread(ph, phoff) !== ph.length)
    throw new SysError(ENOEXEC, 'program headers beyond EOF');
  const pd = new DataView(ph.buffer);
  const phdrs: Phdr[] = [];
  let interp: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * 56;
    const p: Phdr = {
      type: pd.getUint32(o, true),
      flags: pd.getUint32(o + 4, true),
      offset: u64(pd, o + 8),
      vaddr: u64(pd, o + 16),
      filesz: u64(pd, o + 32),
      memsz: u64(pd, o + 40),
      align: u64(pd, o + 48),
    };
    phdrs.push(p);
    if (p.type === PT_INTERP) {
      if (interp !== undefined) throw new SysError(EINVAL, 'two PT_INTERP');
      if (p.filesz > 4096 || p.filesz < 2) throw new SysError(ENOEXEC, 'bad PT_INTERP size');
      const b = new Uint8Array(p.filesz);
      if (f.pread(b, p.offset) !== p.filesz) throw new SysError(ENOEXEC, 'PT_INTERP beyond EOF');
      if (b[p.filesz - 1] !== 0) throw new SysError(ENOEXEC, 'PT_INTERP not NUL-terminated');
      interp = Buffer.from(b.subarray(0, p.filesz - 1)).toString('latin1');
    }
  }
  return { type, entry, phoff, phentsize, phnum, phdrs, interp };
}

/**
 * Segment checks Linux makes only after the point of no return (so a bad segment kills
 * the new image with SIGSEGV instead of failing execve): sizes, alignment, range, and the heuristic overcommit limit on a single mapping.
 */
export function validateSegments(info: ElfInfo, bias: number, memLimit: number): void {
  const loads = info.phdrs.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) throw new SysError(ENOEXEC, 'no PT_LOAD');
  for (const p of loads) {
    if (p.filesz > p.memsz) throw new SysError(EINVAL, 'p_filesz > p_memsz');
    if (p.vaddr % PAGE_SIZE !== p.offset % PAGE_SIZE) throw new SysError(EINVAL, 'misaligned segment');
    if (p.vaddr + bias + p.memsz > TASK_SIZE || p.vaddr + bias < 0x10000 - PAGE_SIZE)
      throw new SysError(ENOMEM, 'segment out of range');
    if (p.memsz > memLimit) throw new SysError(ENOMEM, 'segment larger than memory');
  }
}

/** Map the PT_LOAD segments of `f` at `bias`. Returns [lowest, highest) mapped addresses. */
function mapSegments(
  mm: MemoryManager,
  f: ExecFile,
  info: ElfInfo,
  bias: number,
): { lo: number; hi: number; brk: number } {
  let lo = Infinity,
    hi = 0,
    brk = 0;
  for (const p of info.phdrs) {
    if (p.type !== PT_LOAD || p.memsz === 0) continue;
    const vaddr = p.vaddr + bias;
    const start = pageRoundDown(vaddr);
    const end = pageRoundUp(vaddr + p.memsz);
    const fileStart = pageRoundDown(p.offset);
    const prot =
      (p.flags & PF_R ? PROT_READ : 0) | (p.flags & PF_W ? PROT_WRITE : 0) | (p.flags & PF_X ? PROT_EXEC : 0);
    // As Linux's elf_load: the pages holding p_filesz bytes map the file (pages past the
    // file's end raise SIGBUS when touched); the rest of p_memsz is anonymous zero memory.
    // In a writable segment the tail of the last file page is zeroed (padzero); a
    // read-only one keeps the file's bytes there.
    const fileEnd = p.filesz ? Math.min(end, pageRoundUp(vaddr + p.filesz)) : start;
    // Linux zeroes the tail of the last file page of a writable segment with bss in the
    // kernel; when that page lies past the end of the file the write faults and the new
    // image is killed (SIGSEGV).
    const tail = (vaddr + p.filesz) % PAGE_SIZE;
    if (p.flags & PF_W && p.memsz > p.filesz && tail && pageRoundDown(p.offset + p.filesz) >= f.size)
      throw new SysError(EFAULT, 'bss tail page beyond end of file');
    // A read-only segment maps the file's page cache copy-on-write when the file has one
    // (every process running the program shares its text), as Linux maps it.
    const cache = p.flags & PF_W ? undefined : pageCacheOf(f);
    if (fileEnd > start && cache) {
      mm.map({
        addr: start,
        len: fileEnd - start,
        prot,
        fixed: true,
        shared: false,
        obj: cache.incRef(),
        objOff: fileStart,
        name: { path: f.path, dev: f.dev, ino: f.ino },
        fileOff: fileStart,
        objLimit: f.size,
      });
      const v = mm.findVma(start);
      if (v) {
        v.cow = true;
        v.pageCache = true;
      }
    } else if (fileEnd > start) {
      const dataLen = p.flags & PF_W ? vaddr - start + p.filesz : fileEnd - start;
      f.incRef();
      const obj = new MemObject(
        mm.mf,
        (objOff, dst) => {
          const n = Math.min(dst.length, dataLen - objOff);
          if (n > 0) f.pread(dst.subarray(0, n), fileStart + objOff);
        },
        f,
      );
      mm.map({
        addr: start,
        len: fileEnd - start,
        prot,
        fixed: true,
        shared: false,
        obj,
        objOff: 0,
        name: { path: f.path, dev: f.dev, ino: f.ino },
        fileOff: fileStart,
        objLimit: Math.max(0, f.size - fileStart),
      });
    }
    if (end > fileEnd) mm.mapAnon(fileEnd, end - fileEnd, prot, true);
    lo = Math.min(lo, start);
    hi = Math.max(hi, end);
    brk = Math.max(brk, vaddr + p.memsz);
  }
  return { lo, hi, brk };
}

function pageCacheOf(f: ExecFile): MemObject | undefined {
  try {
    return f.readOnlyPageCache?.();
  } catch {
    return undefined;
  }
}

function loadSpan(info: ElfInfo): { lo: number; hi: number } {
  let lo = Infinity,
    hi = 0;
  if (!info.phdrs.some((p) => p.type === PT_LOAD)) return { lo: 0, hi: 0 };
  for (const p of info.phdrs)
    if (p.type === PT_LOAD) {
      lo = Math.min(lo, pageRoundDown(p.vaddr));
      hi = Math.max(hi, pageRoundUp(p.vaddr + p.memsz));
    }
  return { lo, hi };
}

let hostAuxv: Map<number, bigint> | undefined;
/** AT_HWCAP/AT_HWCAP2/AT_MINSIGSTKSZ as the host kernel gave them to us. */
function hostAux(key: number): bigint {
  if (!hostAuxv) {
    hostAuxv = new Map();
    try {
      const b = fs.readFileSync('/proc/self/auxv');
      for (let o = 0; o + 16 <= b.length; o += 16)
        hostAuxv.set(Number(b.readBigUInt64LE(o)), b.readBigUInt64LE(o + 8));
    } catch {
      /* no /proc: zeros */
    }
  }
  return hostAuxv.get(key) ?? 0n;
}

export interface LoadResult {
  entry: number;
  sp: number;
}

export interface StackArgs {
  argv: string[];
  envp: string[];
  execfn: string;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  secure: boolean;
}

/**
 * Load `f` (already parsed as `info`) into the empty `mm`, with `interp` already opened
 * when info.interp is set, and build the initial stack.
 */
export function loadElf(
  mm: MemoryManager,
  f: ExecFile,
  info: ElfInfo,
  interp: { file: ExecFile; info: ElfInfo } | undefined,
  args: StackArgs,
  stackTop: number,
  /** The largest single mapping allowed (Linux's heuristic overcommit: RAM + swap). */
  memLimit: number = os.totalmem(),
  /** Maps [vvar] + [vdso] and returns the image address for AT_SYSINFO_EHDR. */
  vdso?: { mapInto(mm: MemoryManager, hint: number): number },
): LoadResult {
  let bias = 0;
  if (info.type === ET_DYN) {
    const span = loadSpan(info);
    bias = ET_DYN_BASE - span.lo;
  }
  validateSegments(info, bias, memLimit);
  const segs = mapSegments(mm, f, info, bias);
  mm.brkStart = mm.brk = pageRoundUp(segs.brk);
  mm.mmapBase = pageRoundDown(stackTop - 64 * 1024 * 1024 - 8 * 1024 * 1024) - 0x1000000;
  let entry = info.entry + bias;
  let interpBase = 0;
  if (interp) {
    const span = loadSpan(interp.info);
    const base = interp.info.type === ET_DYN ? mm.findFree(span.hi - span.lo) - span.lo : 0;
    validateSegments(interp.info, base, memLimit);
    mapSegments(mm, interp.file, interp.info, base);
    interpBase = base + (interp.info.type === ET_DYN ? span.lo : 0);
    entry = interp.info.entry + base;
  }
  // AT_PHDR: PT_PHDR if present, else the PT_LOAD that contains the headers.
  let phdrAddr = 0;
  const pt = info.phdrs.find((p) => p.type === PT_PHDR);
  if (pt) phdrAddr = pt.vaddr + bias;
  else {
    const l = info.phdrs.find(
      (p) => p.type === PT_LOAD && p.offset <= info.phoff && info.phoff < p.offset + p.filesz,
    );
    if (l) phdrAddr = l.vaddr + (info.phoff - l.offset) + bias;
  }
  // The stack: 8 MiB growing down, lazily backed; exec stack irrelevant on x86-64 (NX honoured by prot).
  const gnuStack = info.phdrs.find((p) => p.type === PT_GNU_STACK);
  const stackProt = PROT_READ | PROT_WRITE | (gnuStack && gnuStack.flags & PF_X ? PROT_EXEC : 0);
  const stackSize = 8 * 1024 * 1024;
  mm.map({
    addr: stackTop - stackSize,
    len: stackSize,
    prot: stackProt,
    fixed: true,
    shared: false,
    obj: new MemObject(mm.mf),
    objOff: 0,
    name: { special: '[stack]' },
    growsDown: true,
  });
  mm.stackTop = stackTop;
  mm.exePath = f.path;
  // The vDSO goes just above the stack, as Linux places it (two guard pages between).
  const vdsoAddr = vdso ? vdso.mapInto(mm, stackTop + 2 * PAGE_SIZE) : 0;

  // Strings, from the top: execfn, envp strings, argv strings (as Linux's copy_strings).
  // argv, envp and execfn are byte strings (latin1), as everything the sentry reads from the app.
  const enc = (s: string) => Buffer.from(s + '\0', 'latin1');
  let p = stackTop;
  const push = (b: Uint8Array): number => {
    p -= b.length;
    mm.forceCopyOut(p, b);
    return p;
  };
  p -= 8; // Linux leaves a NULL pointer at the very top
  const execfnAddr = push(enc(args.execfn));
  const envAddrs: number[] = [];
  const argAddrs: number[] = [];
  mm.envEnd = p;
  for (let i = args.envp.length - 1; i >= 0; i--) envAddrs[i] = push(enc(args.envp[i]));
  mm.envStart = p;
  mm.argEnd = p;
  for (let i = args.argv.length - 1; i >= 0; i--) argAddrs[i] = push(enc(args.argv[i]));
  mm.argStart = p;
  p -= p % 16;
  const platformAddr = push(enc('x86_64'));
  const rnd = new Uint8Array(16);
  randomFillSync(rnd);
  p -= p % 16;
  const randomAddr = push(rnd);

  const aux: [number, number | bigint][] = [
    ...(vdsoAddr ? ([[AT_SYSINFO_EHDR, vdsoAddr]] as [number, number][]) : []),
    [AT_HWCAP, hostAux(AT_HWCAP)],
    [AT_PAGESZ, PAGE_SIZE],
    [AT_CLKTCK, 100],
    [AT_PHDR, phdrAddr],
    [AT_PHENT, 56],
    [AT_PHNUM, info.phnum],
    [AT_BASE, interpBase],
    [AT_FLAGS, 0],
    [AT_ENTRY, info.entry + bias],
    [AT_UID, args.uid],
    [AT_EUID, args.euid],
    [AT_GID, args.gid],
    [AT_EGID, args.egid],
    [AT_SECURE, args.secure ? 1 : 0],
    [AT_RANDOM, randomAddr],
    [AT_HWCAP2, hostAux(AT_HWCAP2)],
    [AT_EXECFN, execfnAddr],
    [AT_PLATFORM, platformAddr],
    [AT_MINSIGSTKSZ, hostAux(AT_MINSIGSTKSZ) || 2048],
    [AT_NULL, 0],
  ];
  const words = 1 + argAddrs.length + 1 + envAddrs.length + 1 + aux.length * 2;
  p -= words * 8;
  p -= p % 16;
  const sp = p;
  const buf = Buffer.alloc(words * 8);
  let o = 0;
  const put = (v: number | bigint) => {
    buf.writeBigUInt64LE(BigInt(v), o);
    o += 8;
  };
  put(args.argv.length);
  for (const a of argAddrs) put(a);
  put(0);
  for (const e of envAddrs) put(e);
  put(0);
  mm.auxv = [];
  for (const [k, v] of aux) {
    put(k);
    put(v);
    mm.auxv.push(k, Number(v));
  }
  mm.forceCopyOut(sp, buf);
  return { entry, sp };
}

/** Parse a `#!` line (Linux binfmt_script): interpreter and at most one optional argument. */
export function parseShebang(head: Uint8Array): { interp: string; arg?: string } | null {
  if (head.length < 2 || head[0] !== 0x23 || head[1] !== 0x21) return null;
  let end = head.indexOf(0x0a);
  if (end < 0) end = head.length;
  const line = Buffer.from(head.subarray(2, end))
    .toString('latin1')
    .replace(/^[ \t]+/, '')
    .replace(/[ \t]+$/, '');
  if (!line) throw new SysError(ENOEXEC, 'empty #! line');
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) throw new SysError(ENOEXEC);
  return { interp: m[1], arg: m[2] };
}
