/**
 * The KVM platform's guest page tables (src/pagetables.ts) against a simple model: a map
 * from page to (GPA, prot). Random map/unmap/protect sequences over ranges that cross
 * 2 MiB, 1 GiB and 512 GiB table boundaries; after each step every touched page must
 * translate as the model says (walked by an independent x86-64 walker reading the raw
 * entries), and the guest-store queue must hold exactly the changes of present entries.
 * No KVM needed.
 */
import * as assert from 'node:assert/strict';
import { BumpPool, PageTables } from '../src/pagetables';
import { DOORBELL_GPA, DOORBELL_VA, KMEM_GPA, LANDING_OFF, LANDING_VA, POOL_OFF } from '../src/layout';

const PAGE = 4096;
const KMEM = POOL_OFF + 4096 * PAGE;

interface ModelEntry {
  gpa: number;
  prot: number;
}

/** An x86-64 4-level walk over the raw entries: {gpa, writable, user, nx} or undefined. */
function walk(u32: Uint32Array, pml4: number, va: number) {
  let table = pml4;
  let user = true;
  let writable = true;
  for (let level = 4; level >= 1; level--) {
    const i = Math.floor(va / 2 ** (12 + 9 * (level - 1))) % 512;
    const lo = u32[table / 4 + i * 2];
    const hi = u32[table / 4 + i * 2 + 1];
    if (!(lo & 1)) return undefined;
    assert.equal(lo & 0x80, 0, 'no huge pages expected');
    user &&= (lo & 4) !== 0;
    writable &&= (lo & 2) !== 0;
    const addr = lo - (lo % PAGE) + (hi & 0xfffff) * 2 ** 32;
    if (level === 1) return { gpa: addr, writable, user, nx: (hi & 0x80000000) !== 0 };
    assert.ok(
      addr >= KMEM_GPA && addr < KMEM_GPA + KMEM,
      `table at GPA 0x${addr.toString(16)} is in kernel memory`,
    );
    table = addr - KMEM_GPA;
  }
  return undefined;
}

function protOf(w: { writable: boolean; nx: boolean }): number {
  return 1 | (w.writable ? 2 : 0) | (w.nx ? 0 : 4);
}

/** What the hardware can express for a Linux protection (write implies read, exec implies read). */
function effective(prot: number): number {
  if ((prot & 7) === 0) return 0;
  return 1 | (prot & 2) | (prot & 4);
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup() {
  const u32 = new Uint32Array(KMEM / 4);
  const retired: number[] = [];
  const pool = new BumpPool(u32, POOL_OFF, KMEM, (off) => retired.push(off));
  const pt = new PageTables(u32, pool, 'pvm');
  return { u32, pool, pt, retired };
}

function check(
  u32: Uint32Array,
  pt: PageTables,
  model: Map<number, ModelEntry>,
  pages: Iterable<number>,
): void {
  for (const p of pages) {
    const m = model.get(p);
    const w = walk(u32, pt.pml4, p);
    const label = `page 0x${p.toString(16)}`;
    if (!m || m.prot === 0) {
      assert.equal(w, undefined, `${label} must not be accessible`);
      assert.equal(pt.lookup(p)?.prot ?? 0, 0, `${label} lookup`);
    } else {
      assert.ok(w, `${label} must be mapped`);
      assert.equal(w.gpa, m.gpa, `${label} gpa`);
      assert.equal(w.user, true, `${label} user`);
      assert.equal(protOf(w), effective(m.prot), `${label} prot`);
      assert.deepEqual(pt.lookup(p), { gpa: m.gpa, prot: effective(m.prot) }, `${label} lookup`);
    }
  }
}

describe('platform-kvm page tables (model check)', () => {
  it('maps the landing page and the doorbell, and the kernel half supervisor-only', () => {
    const { u32, pt } = setup();
    const l = walk(u32, pt.pml4, LANDING_VA);
    assert.deepEqual(l, { gpa: KMEM_GPA + LANDING_OFF, writable: false, user: true, nx: false });
    const d = walk(u32, pt.pml4, DOORBELL_VA);
    assert.equal(d?.gpa, DOORBELL_GPA);
    assert.equal(d?.nx, true);
    // PML4 entry 402 (kernel memory) is present but not user-accessible.
    const lo = u32[pt.pml4 / 4 + 402 * 2];
    assert.equal(lo & 1, 1);
    assert.equal(lo & 4, 0);
    assert.equal(pt.cr3, KMEM_GPA + pt.pml4);
  });

  for (const live of [false, true])
    it(`map / unmap / protect across table boundaries agree with the model (random, ${live ? 'live, compacted' : 'not live'})`, () => {
      randomRun(live);
    });

  it('compaction replaces a table with many queued stores by a fresh copy linked with one store', () => {
    const { u32, pt, retired } = setup();
    pt.map(0x200000, 512 * PAGE, 0x1000000, 3); // one whole PT
    pt.map(0x400000, PAGE, 0x3000000, 3); // a neighbour PT under the same PD
    pt.live = true;
    pt.protect(0x200000, 512 * PAGE, 1);
    assert.equal(pt.pending.size, 512);
    const oldPt = [...pt.pending.keys()][0] - ([...pt.pending.keys()][0] % PAGE);
    pt.compactPending();
    assert.equal(pt.pending.size, 1, 'one store: the PD entry pointing at the fresh PT');
    assert.deepEqual(retired, [oldPt]);
    const [entryOff, va] = [...pt.pending][0];
    assert.equal(va, 0x200000);
    const lo = u32[entryOff / 4];
    assert.notEqual(lo - (lo % PAGE), oldPt, 'the PD entry points at another page');
    for (let i = 0; i < 512; i += 37)
      assert.deepEqual(walk(u32, pt.pml4, 0x200000 + i * PAGE), {
        gpa: 0x1000000 + i * PAGE,
        writable: false,
        user: true,
        nx: true,
      });
    assert.equal(walk(u32, pt.pml4, 0x400000)?.gpa, 0x3000000);
  });

  function randomRun(live: boolean): void {
    const { u32, pt } = setup();
    if (live) pt.live = true;
    const model = new Map<number, ModelEntry>();
    const touched = new Set<number>();
    const r = rng(42);
    // Bases near 2 MiB, 1 GiB and 512 GiB boundaries.
    const bases = [0x400000 - 8 * PAGE, 0x40000000 - 8 * PAGE, 0x8000000000 - 8 * PAGE, 0x7fffff000000];
    for (let step = 0; step < 600; step++) {
      const base = bases[Math.floor(r() * bases.length)];
      const start = base + Math.floor(r() * 16) * PAGE;
      const n = 1 + Math.floor(r() * 12);
      const op = r();
      if (op < 0.45) {
        const gpa = Math.floor(r() * 2 ** 20) * PAGE;
        const prot = Math.floor(r() * 8);
        pt.map(start, n * PAGE, gpa, prot);
        for (let i = 0; i < n; i++) model.set(start + i * PAGE, { gpa: gpa + i * PAGE, prot });
      } else if (op < 0.75) {
        pt.unmap(start, n * PAGE);
        for (let i = 0; i < n; i++) model.delete(start + i * PAGE);
      } else {
        const prot = Math.floor(r() * 8);
        pt.protect(start, n * PAGE, prot);
        for (let i = 0; i < n; i++) {
          const m = model.get(start + i * PAGE);
          if (m) m.prot = prot;
        }
      }
      for (let i = -1; i <= n; i++) touched.add(start + i * PAGE);
      if (live) {
        pt.compactPending(4);
        // Every queued store is an entry of a table page still in use.
        const tables = new Set<number>([pt.pml4]);
        for (const p of touched) {
          let t = pt.pml4;
          for (let level = 4; level > 1; level--) {
            const lo = u32[t / 4 + (Math.floor(p / 2 ** (12 + 9 * (level - 1))) % 512) * 2];
            if (!(lo & 1)) break;
            t = lo - (lo % PAGE) - (KMEM_GPA % 2 ** 32); // table offset (high half is KMEM_GPA)
            tables.add(t);
          }
        }
        for (const off of pt.pending.keys())
          assert.ok(tables.has(off - (off % PAGE)), `store 0x${off.toString(16)} is in a live table`);
        if (step % 50 === 0) pt.pending.clear(); // as a flush would
      } else assert.equal(pt.pending.size, 0, 'tables that never ran need no guest stores');
      check(u32, pt, model, touched);
    }
  }

  it('a range covering whole tables drops them (huge range split at its ends)', () => {
    const { u32, pt, pool } = setup();
    const start = 0x40000000 - 3 * PAGE; // 3 pages below a 1 GiB boundary
    const len = 2 ** 30 + 6 * PAGE; // all of the next GiB and 3 pages past it
    // Populate sparsely (one page per 2 MiB) so every PT of the range exists.
    for (let a = start; a < start + len; a += 2 ** 21) pt.map(a, PAGE, a, 3);
    pt.map(start, 3 * PAGE, 0x1000000, 3);
    pt.map(start + len - 3 * PAGE, 3 * PAGE, 0x2000000, 1);
    const tables = pt.tablePages;
    const before = pool.used;
    pt.unmap(start + PAGE, len - 2 * PAGE); // leaves the first and the last page
    assert.ok(pt.tablePages < tables - 500, `whole tables dropped (${tables} -> ${pt.tablePages})`);
    assert.equal(walk(u32, pt.pml4, start)?.gpa, 0x1000000);
    assert.equal(walk(u32, pt.pml4, start + PAGE), undefined);
    assert.equal(walk(u32, pt.pml4, start + 2 ** 30), undefined);
    assert.equal(walk(u32, pt.pml4, start + len - PAGE)?.gpa, 0x2000000 + 2 * PAGE);
    assert.equal(walk(u32, pt.pml4, start + len - 2 * PAGE), undefined);
    // Dropped tables of never-run tables are reused.
    pt.map(0x7000000000, PAGE, 0, 1);
    assert.equal(pool.used, before, 'a freed table page was reused');
  });

  it('live tables: changes to present entries are queued as guest stores; new mappings are not', () => {
    const { u32, pt, retired } = setup();
    pt.map(0x10000, 4 * PAGE, 0x50000, 3);
    pt.live = true;
    pt.map(0x20000, 2 * PAGE, 0x60000, 3); // not-present -> present: direct write suffices
    assert.equal(pt.pending.size, 0);
    pt.protect(0x10000, 2 * PAGE, 1);
    assert.equal(pt.pending.size, 2);
    pt.unmap(0x12000, PAGE);
    pt.protect(0x13000, PAGE, 0); // PROT_NONE: not present, frame kept
    assert.equal(pt.pending.size, 4);
    // Back from PROT_NONE: not-present -> present, but a store for this entry is queued
    // already, so it stays queued (and stores the newest value, read at flush time).
    pt.protect(0x13000, PAGE, 3);
    assert.equal(walk(u32, pt.pml4, 0x13000)?.gpa, 0x53000);
    assert.deepEqual([...pt.pending.values()].sort(), [0x10000, 0x11000, 0x12000, 0x13000]);
    pt.pending.clear();
    pt.protect(0x13000, PAGE, 0);
    pt.protect(0x13000, PAGE, 3);
    assert.equal(pt.pending.size, 1, 'present -> none -> present: one store');
    // Dropping a whole table of live tables: one store, and the page is retired, not reused.
    pt.map(0x40000000, PAGE, 0x70000, 3);
    pt.pending.clear();
    pt.unmap(0x40000000, 2 ** 21);
    assert.equal(pt.pending.size, 1);
    assert.equal(retired.length, 1);
    pt.release();
    assert.ok(retired.length > 3, 'released live tables are retired');
  });

  it('refuses use after release', () => {
    const { pt } = setup();
    pt.release();
    assert.throws(() => pt.map(0x10000, PAGE, 0, 3), /released/);
  });
});
