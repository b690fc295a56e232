/**
 * Guest page tables of one address space, built in kernel memory by TypeScript.
 *
 * The host's paging model decides how an entry may change (research/pvm-kvm.md): under
 * kvm_pvm's shadow paging, KVM only notices page-table writes the *guest* makes. So:
 *  - before the address space has ever run (not `live`), every entry is written directly;
 *  - after, an entry going from not-present to present is written directly (the next
 *    access faults, and KVM then reads the guest table afresh), but every change of a
 *    present entry is also queued as a guest store (`pending`), which the platform makes
 *    the vCPU perform (the flush stub: store + invlpg) before it runs app code again;
 *  - a page-table page that was ever part of a live address space is never reused (KVM
 *    may keep a shadow of it); its memory is discarded instead.
 * The host copy is always written at once, so this class reads its own tables.
 */
import {
  KPDPT_OFF,
  KVA_HI,
  KVA_PML4_INDEX,
  KMEM_GPA,
  PTE_A,
  PTE_D,
  PTE_NX_HI,
  PTE_P,
  PTE_SW_NONE,
  PTE_U,
  PTE_W,
  LANDING_OFF,
  LANDING_VA,
  DOORBELL_VA,
  DOORBELL_GPA,
  type EntryMode,
} from './layout';

const PAGE = 4096;
const TWO32 = 2 ** 32;
/** Bytes covered by one entry at each level (1: PTE ... 4: PML4E). */
const SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;

/** Where page-table pages come from (kernel memory offsets). */
export interface PagePool {
  /** A zeroed page; returns its kernel-memory offset. */
  alloc(): number;
  /** A page that was never seen by KVM (may be reused). */
  free(off: number): void;
  /** A page KVM may have shadowed: its memory goes back to the host, its address is never reused. */
  retire(off: number): void;
}

/** A page pool over a kmem range: bump allocation, reuse of never-shadowed pages only. */
export class BumpPool implements PagePool {
  private next: number;
  private readonly freed: number[] = [];
  retired = 0;
  constructor(
    private readonly u32: Uint32Array,
    start: number,
    private readonly end: number,
    private readonly discard: (off: number, len: number) => void = () => {},
  ) {
    this.next = start;
  }
  alloc(): number {
    const f = this.freed.pop();
    if (f !== undefined) {
      this.u32.fill(0, f / 4, (f + PAGE) / 4);
      return f;
    }
    if (this.next + PAGE > this.end)
      throw new Error(
        `kvm platform: out of page-table memory (${(this.end / 2 ** 20) | 0} MiB of kernel memory used up)`,
      );
    const off = this.next;
    this.next += PAGE;
    return off;
  }
  free(off: number): void {
    this.freed.push(off);
  }
  retire(off: number): void {
    this.retired++;
    this.discard(off, PAGE);
  }
  /** Pages handed out and not freed (retired ones included). */
  get used(): number {
    return this.next;
  }
}

/** PTE bits for a protection. */
function leafBits(prot: number): { lo: number; nx: boolean; present: boolean } {
  if ((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0)
    return { lo: PTE_SW_NONE, nx: true, present: false };
  let lo = PTE_P | PTE_U | PTE_A | PTE_D;
  if (prot & PROT_WRITE) lo |= PTE_W;
  return { lo, nx: (prot & PROT_EXEC) === 0, present: true };
}

export class PageTables {
  /** Kmem offset of the PML4 page. */
  readonly pml4: number;
  /** Set once a vCPU has run with these tables. */
  live = false;
  /**
   * Entries the vCPU must store (their current value, read at flush time) before app code
   * runs again: kmem offset of the entry -> the VA to invalidate. Reading the value late
   * means a later direct write to the same entry is never undone by an older store.
   */
  pending = new Map<number, number>();
  /** Every table page of this address space (for release). */
  private readonly pages = new Set<number>();
  /** Table page (not the PML4) -> where it is linked: parent table, index, level, VA of its span. */
  private readonly links = new Map<number, { parent: number; index: number; level: number; va: number }>();
  private released = false;

  constructor(
    private readonly u32: Uint32Array,
    private readonly pool: PagePool,
    mode: EntryMode = 'pvm',
  ) {
    this.pml4 = this.newTable();
    // The kernel half: kernel memory at KVA (supervisor only).
    this.setRaw(this.pml4, KVA_PML4_INDEX, KPDPT_OFF + (PTE_P | PTE_W | PTE_A), Math.floor(KMEM_GPA / TWO32));
    // The landing page (user-executable on PVM; supervisor on VMX/SVM) and the doorbell.
    const user = mode === 'pvm' ? PTE_U : 0;
    this.setLeaf(LANDING_VA, KMEM_GPA + LANDING_OFF, PTE_P | PTE_A | user, false);
    this.setLeaf(DOORBELL_VA, DOORBELL_GPA, PTE_P | PTE_W | PTE_A | PTE_D | user, true);
  }

  /** GPA of the PML4 (the CR3 value). */
  get cr3(): number {
    return KMEM_GPA + this.pml4;
  }

  /** Map [va, va+len) to GPAs [gpa, gpa+len) with `prot`, replacing what is there. */
  map(va: number, len: number, gpa: number, prot: number): void {
    this.checkLive();
    const bits = leafBits(prot);
    for (let off = 0; off < len; off += PAGE) {
      const a = va + off;
      const pt = this.walkCreate(a);
      const i = index(a, 1);
      const g = gpa + off;
      const lo = (g % TWO32) + bits.lo;
      const hi = Math.floor(g / TWO32) + (bits.nx ? PTE_NX_HI : 0);
      this.setEntry(pt, i, lo >>> 0, hi >>> 0, a);
    }
  }

  /** Remove mappings in [va, va+len). Whole tables covered by the range are dropped. */
  unmap(va: number, len: number): void {
    this.checkLive();
    this.clearRange(this.pml4, 4, 0, va, va + len);
  }

  /** Change the protection of mapped pages in [va, va+len); unmapped pages stay unmapped. */
  protect(va: number, len: number, prot: number): void {
    this.checkLive();
    const bits = leafBits(prot);
    const end = va + len;
    for (let a = va; a < end;) {
      const pt = this.walkFind(a);
      if (pt.table < 0) {
        a = (Math.floor(a / SPAN[pt.level]) + 1) * SPAN[pt.level];
        continue;
      }
      const i = index(a, 1);
      const lo = this.u32[pt.table / 4 + i * 2];
      const hi = this.u32[pt.table / 4 + i * 2 + 1];
      if (lo & (PTE_P | PTE_SW_NONE)) {
        const frameLo = lo - (lo % PAGE);
        const frameHi = hi & 0xfffff; // bits 32..51
        this.setEntry(pt.table, i, (frameLo + bits.lo) >>> 0, (frameHi + (bits.nx ? PTE_NX_HI : 0)) >>> 0, a);
      }
      a += PAGE;
    }
  }

  /** The mapping of one page: its GPA and protection, or undefined. */
  lookup(va: number): { gpa: number; prot: number } | undefined {
    const pt = this.walkFind(va);
    if (pt.table < 0) return undefined;
    const i = index(va, 1);
    const lo = this.u32[pt.table / 4 + i * 2];
    const hi = this.u32[pt.table / 4 + i * 2 + 1];
    if (!(lo & (PTE_P | PTE_SW_NONE))) return undefined;
    const gpa = lo - (lo % PAGE) + (hi & 0xfffff) * TWO32;
    let prot = 0;
    if (lo & PTE_P) {
      prot = PROT_READ;
      if (lo & PTE_W) prot |= PROT_WRITE;
      if (!(hi & PTE_NX_HI)) prot |= PROT_EXEC;
    }
    return { gpa, prot };
  }

  /** Number of table pages (PML4 included). */
  get tablePages(): number {
    return this.pages.size;
  }

  /** Returns every table page to the pool (retired if the tables were ever live). */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const p of this.pages) {
      if (this.live) this.pool.retire(p);
      else this.pool.free(p);
    }
    this.pages.clear();
    this.pending.clear();
  }

  // ---- internals ----

  private checkLive(): void {
    if (this.released) throw new Error('kvm platform: page tables of a released address space');
  }

  private newTable(): number {
    const p = this.pool.alloc();
    this.pages.add(p);
    return p;
  }

  private setRaw(table: number, i: number, lo: number, hi: number): void {
    this.u32[table / 4 + i * 2] = lo >>> 0;
    this.u32[table / 4 + i * 2 + 1] = hi >>> 0;
  }

  /**
   * Write entry i of `table` (covering `va`). The host copy is written at once; a change
   * to a present entry of live tables is also queued as a guest store.
   */
  private setEntry(table: number, i: number, lo: number, hi: number, va: number): void {
    const k = table / 4 + i * 2;
    const oldLo = this.u32[k];
    if (oldLo === lo && this.u32[k + 1] === hi) return;
    this.u32[k] = lo;
    this.u32[k + 1] = hi;
    if (this.live && (oldLo & PTE_P || this.pending.has(table + i * 8))) this.pending.set(table + i * 8, va);
  }

  private setLeaf(va: number, gpa: number, bitsLo: number, nx: boolean): void {
    const pt = this.walkCreate(va);
    this.setEntry(
      pt,
      index(va, 1),
      ((gpa % TWO32) + bitsLo) >>> 0,
      (Math.floor(gpa / TWO32) + (nx ? PTE_NX_HI : 0)) >>> 0,
      va,
    );
  }

  /** The PT page for va, creating missing tables (intermediate entries are P|W|U). */
  private walkCreate(va: number): number {
    let table = this.pml4;
    for (let level = 4; level > 1; level--) {
      const i = index(va, level);
      const k = table / 4 + i * 2;
      const lo = this.u32[k];
      if (lo & PTE_P) {
        table = lo - (lo % PAGE) - KMEM_GPA_LO;
      } else {
        const t = this.newTable();
        // not-present -> present: a direct write is seen by the shadow MMU.
        this.setRaw(table, i, KMEM_GPA_LO + t + (PTE_P | PTE_W | PTE_U | PTE_A), KMEM_GPA_HI);
        this.links.set(t, {
          parent: table,
          index: i,
          level: level - 1,
          va: Math.floor(va / SPAN[level]) * SPAN[level],
        });
        table = t;
      }
    }
    return table;
  }

  /** The PT page for va, or {table: -1, level} where the walk found no table at `level`. */
  private walkFind(va: number): { table: number; level: number } {
    let table = this.pml4;
    for (let level = 4; level > 1; level--) {
      const lo = this.u32[table / 4 + index(va, level) * 2];
      if (!(lo & PTE_P)) return { table: -1, level };
      table = lo - (lo % PAGE) - KMEM_GPA_LO;
    }
    return { table, level: 1 };
  }

  private clearRange(table: number, level: number, base: number, from: number, to: number): void {
    const span = SPAN[level];
    const first = Math.max(0, Math.floor((from - base) / span));
    const last = Math.min(511, Math.floor((to - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      if (level === 4 && i === KVA_PML4_INDEX) continue;
      const k = table / 4 + i * 2;
      const lo = this.u32[k];
      if (!(lo & (PTE_P | PTE_SW_NONE))) continue;
      const eStart = base + i * span;
      const eEnd = eStart + span;
      if (level === 1) {
        this.setEntry(table, i, 0, 0, eStart);
      } else if (from <= eStart && to >= eEnd) {
        // The whole table goes: one store, then the pages below are dropped.
        const child = lo - (lo % PAGE) - KMEM_GPA_LO;
        this.setEntry(table, i, 0, 0, eStart);
        this.dropTable(child, level - 1);
      } else {
        this.clearRange(lo - (lo % PAGE) - KMEM_GPA_LO, level - 1, eStart, from, to);
      }
    }
  }

  private dropTable(table: number, level: number): void {
    if (level > 1)
      for (let i = 0; i < 512; i++) {
        const lo = this.u32[table / 4 + i * 2];
        if (lo & PTE_P) this.dropTable(lo - (lo % PAGE) - KMEM_GPA_LO, level - 1);
      }
    if (this.pending.size > 0) for (let i = 0; i < 512; i++) this.pending.delete(table + i * 8);
    this.pages.delete(table);
    this.links.delete(table);
    if (this.live) this.pool.retire(table);
    else this.pool.free(table);
  }

  /**
   * Cuts the number of guest stores owed: a table page with more than `threshold` queued
   * stores is replaced by a fresh copy (a page KVM has never seen, so its host-written
   * content is what KVM will read), linked in with one store in its parent; the old page
   * is retired. A munmap or mprotect of many pages then costs a few stores instead of
   * one per page. Deepest tables first, so a parent that is replaced too copies the new link.
   */
  compactPending(threshold = 8): void {
    if (this.pending.size <= threshold) return;
    const perTable = new Map<number, number>();
    for (const off of this.pending.keys()) {
      const t = off - (off % PAGE);
      perTable.set(t, (perTable.get(t) ?? 0) + 1);
    }
    const busy = [...perTable]
      .filter(([t, n]) => n > threshold && this.links.has(t))
      .map(([t]) => t)
      .sort((a, b) => this.links.get(a)!.level - this.links.get(b)!.level);
    for (const old of busy) {
      const link = this.links.get(old)!;
      const fresh = this.newTable();
      this.u32.copyWithin(fresh / 4, old / 4, (old + PAGE) / 4);
      if (link.level > 1)
        for (let i = 0; i < 512; i++) {
          const lo = this.u32[fresh / 4 + i * 2];
          if (!(lo & PTE_P)) continue;
          const child = this.links.get(lo - (lo % PAGE) - KMEM_GPA_LO);
          if (child) child.parent = fresh;
        }
      for (let i = 0; i < 512; i++) this.pending.delete(old + i * 8);
      this.links.delete(old);
      this.links.set(fresh, link);
      this.pages.delete(old);
      this.pool.retire(old);
      const k = link.parent / 4 + link.index * 2;
      this.setEntry(
        link.parent,
        link.index,
        KMEM_GPA_LO + fresh + (this.u32[k] % PAGE),
        this.u32[k + 1],
        link.va,
      );
    }
  }
}

// KMEM_GPA is 2^40: its low 32 bits are 0, the high half is 256.
const KMEM_GPA_LO = KMEM_GPA % TWO32;
const KMEM_GPA_HI = Math.floor(KMEM_GPA / TWO32);

function index(va: number, level: number): number {
  return Math.floor(va / SPAN[level]) % 512;
}

/** The kernel VA (hi, lo) of a kmem offset. */
export function kvaParts(off: number): [number, number] {
  return [KVA_HI, off];
}
