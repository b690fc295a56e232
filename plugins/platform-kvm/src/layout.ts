/**
 * The guest's fixed layout and the machine code and descriptor tables the KVM platform
 * writes into guest memory. See docs/kvm.md ("Guest layout" and "Machine code").
 *
 * Guest physical addresses (GPA):
 *   [0, memSize)                the sentry's memory file (slot 0): GPA = file offset
 *   [KMEM_GPA, +KMEM_SIZE)      kernel memory (slot 1): tables, stubs, page-table pages
 *   DOORBELL_GPA                no memory slot: a load from it exits as MMIO (a syscall)
 * Kernel memory is mapped at kernel virtual address KVA (PML4 slot 402, supervisor only)
 * in every address space, so CPL0 stubs can reach every page-table page.
 */

/** GPA of kernel memory: 1 TiB, above any memory file. */
export const KMEM_GPA = 2 ** 40;
/** Size of kernel memory (sparse: pages are touched only when used). */
export const KMEM_SIZE = 2 ** 30;
/** The doorbell: a GPA with no memory slot behind it. */
export const DOORBELL_GPA = KMEM_GPA + 2 ** 32;
/** Kernel VA of kernel memory, high 32 bits (the low 32 bits are the kmem offset). */
export const KVA_HI = 0xffffc900;
export const KVA = 0xffffc900_00000000n;
/** PML4 index of KVA. */
export const KVA_PML4_INDEX = 402;

// Offsets in kernel memory.
export const IDT_OFF = 0x0;
export const STUBS_OFF = 0x1000;
export const FLUSH_STUB_OFF = STUBS_OFF + 0x400;
export const LANDING_OFF = 0x2000;
export const KPDPT_OFF = 0x3000;
export const KPD_OFF = 0x4000;
/** Kernel page tables: KMEM_SIZE / 2 MiB pages of 4 KiB PTEs. */
export const KPT_OFF = 0x5000;
export const KPT_PAGES = KMEM_SIZE / 2 ** 21;
/** Per-vCPU area: a kernel stack page, then a page with the GDT (at 0) and the TSS (at 0x80). */
export const VCPU_OFF = 0x400000;
export const VCPU_AREA = 0x2000;
/** KVM's limit on this host (KVM_CAP_MAX_VCPUS); one vCPU per app thread. */
export const MAX_VCPUS = 1024;
/** The page-table command buffer read by the flush stub: entries of 3 u64 (entry KVA, value, VA to invlpg). */
export const CMD_OFF = VCPU_OFF + MAX_VCPUS * VCPU_AREA;
export const CMD_SIZE = 0x400000;
export const CMD_ENTRY = 24;
export const CMD_MAX = Math.floor(CMD_SIZE / CMD_ENTRY);
/** Page-table pages of address spaces come from here up to KMEM_SIZE. */
export const POOL_OFF = CMD_OFF + CMD_SIZE;

/** User VA of the landing page (LSTAR) and of the doorbell page; the app gets everything below. */
export const LANDING_VA = 0x7fff_ffff_e000;
export const DOORBELL_VA = 0x7fff_ffff_f000;
export const MAX_USER_ADDRESS = LANDING_VA;

/** Selectors (Linux's layout). */
export const KERNEL_CS = 0x10;
export const KERNEL_DS = 0x18;
export const USER_CS32 = 0x23;
export const USER_DS = 0x2b;
export const USER_CS = 0x33;
export const TSS_SEL = 0x40;
/** STAR: sysret bases 0x23 (user CS = +16, SS = +8), syscall base 0x10. */
export const STAR = (0x23n << 48n) | (0x10n << 32n);

/** Vectors whose exception frame carries an error code. */
export const ERROR_CODE_VECTORS: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
/** First I/O port of the exception stubs (port = base + vector) and the flush stub's port. */
export const VECTOR_PORT_BASE = 0x80;
export const FLUSH_PORT = 0xf0;

/** A kernel VA (BigInt) of a kernel-memory offset. */
export function kva(off: number): bigint {
  return KVA + BigInt(off);
}

/**
 * Which entry path the host needs (research/pvm-kvm.md):
 *  - 'pvm': a user `syscall` stays in user mode (kvm_pvm native mode): the landing page is
 *    user-executable and ends in `jmp *%rcx`.
 *  - 'hw': VMX/SVM: `syscall` enters CPL0 at LSTAR: the landing page is supervisor-only and
 *    ends in `sysretq`.
 */
export type EntryMode = 'pvm' | 'hw';

/**
 * The landing page code: `movabs DOORBELL_VA, %rax` (the load exits as MMIO with the
 * syscall number still in rax; the VMM completes it with the result), then return.
 */
export function landingCode(mode: EntryMode): Uint8Array {
  const b: number[] = [0x48, 0xa1];
  let v = DOORBELL_VA;
  for (let i = 0; i < 8; i++) {
    b.push(v % 256);
    v = Math.floor(v / 256);
  }
  if (mode === 'pvm')
    b.push(0xff, 0xe1); // jmp *%rcx
  else b.push(0x48, 0x0f, 0x07); // sysretq
  return Uint8Array.from(b);
}

/**
 * The exception stub of `vector`: `out %al, $(0x80+vector)`; [`add $8, %rsp`]; `iretq`.
 * The page-fault stub (vector 14, unless `cr2InStub` is false) also hands the VMM the
 * faulting address without a KVM_GET_SREGS: `push %rax; mov %cr2,%rax; out; pop %rax;
 * add $8,%rsp; iretq` (at the exit rax = CR2 and the app's rax is on top of the frame).
 */
export function vectorStub(vector: number, cr2InStub = true): Uint8Array {
  const pf = vector === 14 && cr2InStub;
  const b = pf ? [0x50, 0x0f, 0x20, 0xd0] : [];
  b.push(0xe6, VECTOR_PORT_BASE + vector);
  if (pf) b.push(0x58);
  if (ERROR_CODE_VECTORS.has(vector)) b.push(0x48, 0x83, 0xc4, 0x08);
  b.push(0x48, 0xcf);
  return Uint8Array.from(b);
}

/**
 * The page-table flush stub (CPL0, rsi = command buffer, rcx = count >= 1):
 *   1: mov (%rsi),%rdi; mov 8(%rsi),%rax; mov %rax,(%rdi); mov 16(%rsi),%rdx
 *      invlpg (%rdx); add $24,%rsi; dec %rcx; jnz 1b; out %al,$0xf0; hlt
 * The store is made by the guest, so KVM's shadow MMU (kvm_pvm) sees it.
 */
export const FLUSH_STUB = Uint8Array.from([
  0x48,
  0x8b,
  0x3e,
  0x48,
  0x8b,
  0x46,
  0x08,
  0x48,
  0x89,
  0x07,
  0x48,
  0x8b,
  0x56,
  0x10,
  0x0f,
  0x01,
  0x3a,
  0x48,
  0x83,
  0xc6,
  0x18,
  0x48,
  0xff,
  0xc9,
  0x75,
  0xe6,
  0xe6,
  FLUSH_PORT,
  0xf4,
]);

// Page-table entry bits.
export const PTE_P = 0x1;
export const PTE_W = 0x2;
export const PTE_U = 0x4;
export const PTE_A = 0x20;
export const PTE_D = 0x40;
/** Software bit (ignored by the CPU): "mapped, but PROT_NONE" (the frame address is kept). */
export const PTE_SW_NONE = 0x200;
/** NX is bit 63: bit 31 of the high half. */
export const PTE_NX_HI = 0x80000000;

/** Writes the shared kernel part of guest memory: IDT, stubs, landing, kernel mappings, vCPU areas. */
export function writeKernelImage(kmem: ArrayBuffer, mode: EntryMode, cr2InStub = true): void {
  const u8 = new Uint8Array(kmem);
  const dv = new DataView(kmem);
  const put64 = (off: number, lo: number, hi: number): void => {
    dv.setUint32(off, lo >>> 0, true);
    dv.setUint32(off + 4, hi >>> 0, true);
  };
  // Stubs and IDT: interrupt gates, DPL 0 except #BP/#OF (int3/into from user mode).
  for (let v = 0; v < 32; v++) {
    const code = vectorStub(v, cr2InStub);
    const off = STUBS_OFF + v * 16;
    u8.set(code, off);
    const dpl = v === 3 || v === 4 ? 3 : 0;
    const typeAttr = 0x8e | (dpl << 5);
    const g = IDT_OFF + v * 16;
    dv.setUint16(g, off & 0xffff, true);
    dv.setUint16(g + 2, KERNEL_CS, true);
    dv.setUint8(g + 4, 0);
    dv.setUint8(g + 5, typeAttr);
    dv.setUint16(g + 6, (off >>> 16) & 0xffff, true);
    dv.setUint32(g + 8, KVA_HI, true);
    dv.setUint32(g + 12, 0, true);
  }
  u8.set(FLUSH_STUB, FLUSH_STUB_OFF);
  u8.set(landingCode(mode), LANDING_OFF);
  // Kernel mapping of all of kernel memory: PDPT[0] -> PD, PD[i] -> PT i, 4 KiB pages.
  const kgpaHi = Math.floor(KMEM_GPA / 2 ** 32);
  const table = PTE_P | PTE_W | PTE_A;
  put64(KPDPT_OFF, KPD_OFF + table, kgpaHi);
  for (let i = 0; i < KPT_PAGES; i++) {
    put64(KPD_OFF + i * 8, KPT_OFF + i * 4096 + table, kgpaHi);
    const pt = KPT_OFF + i * 4096;
    for (let j = 0; j < 512; j++) {
      const off = i * 2 ** 21 + j * 4096;
      put64(pt + j * 8, off + (PTE_P | PTE_W | PTE_A | PTE_D), kgpaHi);
    }
  }
}

/** The kernel VAs of vCPU `c`'s GDT, TSS and kernel stack top. */
export function vcpuAddresses(c: number): { gdt: bigint; tss: bigint; stackTop: bigint } {
  const base = VCPU_OFF + c * VCPU_AREA;
  return { gdt: kva(base + 0x1000), tss: kva(base + 0x1080), stackTop: kva(base + 0x1000) };
}

/** Writes vCPU `c`'s GDT and TSS (done when the slot is first used). */
export function writeVcpuArea(kmem: ArrayBuffer, c: number): void {
  const dv = new DataView(kmem);
  const base = VCPU_OFF + c * VCPU_AREA;
  const gdt = base + 0x1000;
  const tss = base + 0x1080;
  const seg = (sel: number, lo: number, hi: number): void => {
    const at = gdt + (sel & 0xf8); // selector -> descriptor offset (RPL bits dropped)
    dv.setUint32(at, lo, true);
    dv.setUint32(at + 4, hi, true);
  };
  seg(0, 0, 0);
  seg(KERNEL_CS, 0x0000ffff, 0x00af9b00); // 64-bit code, DPL 0
  seg(KERNEL_DS, 0x0000ffff, 0x00cf9300); // data, DPL 0
  seg(USER_CS32, 0x0000ffff, 0x00cffb00); // 32-bit code, DPL 3
  seg(USER_DS, 0x0000ffff, 0x00cff300); // data, DPL 3
  seg(USER_CS, 0x0000ffff, 0x00affb00); // 64-bit code, DPL 3
  // 64-bit TSS descriptor (16 bytes): limit 0x67, type 9 (available), present.
  const tssLo = tss; // low 32 bits of the TSS's kernel VA
  dv.setUint32(gdt + TSS_SEL, ((tssLo & 0xffff) << 16) | 0x67, true);
  dv.setUint32(
    gdt + TSS_SEL + 4,
    ((tssLo >>> 16) & 0xff) | (0x89 << 8) | (((tssLo >>> 24) & 0xff) << 24),
    true,
  );
  dv.setUint32(gdt + TSS_SEL + 8, KVA_HI, true);
  dv.setUint32(gdt + TSS_SEL + 12, 0, true);
  // TSS: RSP0 = stack top; no I/O bitmap.
  dv.setUint32(tss + 4, base + 0x1000, true);
  dv.setUint32(tss + 8, KVA_HI, true);
  dv.setUint16(tss + 0x66, 0x68, true);
}
