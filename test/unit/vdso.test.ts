/**
 * The vDSO's clock steering (core/kernel/vdso.ts): the formula the app reads follows the
 * host's clocks, never goes backwards while the sentry re-steers it, and the vDSO is left
 * out where it cannot work.
 */
import * as assert from 'node:assert/strict';
import { MemoryFile } from '../../core/mm/memfile';
import { MemoryManager } from '../../core/mm/mm';
import { VDSO_MONO, VDSO_REAL, Vdso, tscUnusableReason } from '../../core/kernel/vdso';
import type { AddressSpace } from '../../core/plugins/platform';
import { EINVAL } from '../../core/abi/errno';

const lines: string[] = [];
const log = {
  debug: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`),
  warn: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`),
};

describe('vDSO clock steering', function () {
  this.timeout(20000);
  let mf: MemoryFile;
  let vdso: Vdso | undefined;
  before(() => (mf = new MemoryFile(1 << 30)));
  after(() => {
    vdso?.dispose();
    mf.close();
  });

  it('is left out when the CPU has no invariant TSC or the platform does not run the app on it', () => {
    assert.match(tscUnusableReason('flags\t\t: fpu tsc msr constant_tsc\n'), /nonstop_tsc/);
    assert.match(tscUnusableReason('flags\t\t: fpu msr\n'), /lacks tsc/);
    assert.equal(tscUnusableReason('flags\t\t: fpu tsc constant_tsc nonstop_tsc\n'), '');
    lines.length = 0;
    assert.equal(Vdso.create(mf, log, { hostTsc: false }), undefined);
    assert.match(lines.join('\n'), /does not run the app on the host TSC/);
  });

  it('follows the host clocks and never goes backwards across re-steering', async function () {
    if (tscUnusableReason()) this.skip();
    vdso = Vdso.create(mf, log, { hostTsc: true });
    assert.ok(vdso, lines.join('\n'));
    let last = vdso.clockNs(VDSO_MONO);
    let worst = 0n;
    const until = Date.now() + 1600; // spans three re-steering ticks
    while (Date.now() < until) {
      await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 200; i++) {
        const now = vdso.clockNs(VDSO_MONO);
        assert.ok(now >= last, `went backwards by ${last - now} ns`);
        last = now;
      }
      // Distance from the host clock read just before and just after; samples where this
      // thread was preempted in between (a loaded machine) say nothing and are skipped.
      const h1 = process.hrtime.bigint();
      const v = vdso.clockNs(VDSO_MONO);
      const h2 = process.hrtime.bigint();
      if (h2 - h1 > 100_000n) continue;
      const off = v < h1 ? h1 - v : v > h2 ? v - h2 : 0n;
      if (off > worst) worst = off;
    }
    // Within a millisecond of the host's CLOCK_MONOTONIC at all times (typically microseconds).
    assert.ok(worst < 1_000_000n, `monotonic off the host's by up to ${worst} ns`);
    const real = vdso.clockNs(VDSO_REAL);
    const hostReal = BigInt(Date.now()) * 1_000_000n;
    const d = real - hostReal;
    assert.ok((d < 0n ? -d : d) < 20_000_000n, `realtime off by ${d} ns`);
  });

  it('maps a read-only [vvar] that cannot be made writable or discarded, and a [vdso] image', function () {
    if (!vdso) this.skip();
    const as = {
      mapFile: () => undefined,
      unmap: () => undefined,
      protect: () => undefined,
      release: () => undefined,
    } as unknown as AddressSpace;
    const mm = new MemoryManager(mf, as);
    const ehdr = vdso.mapInto(mm, 0x7fff00000000);
    assert.equal(ehdr, 0x7fff00001000);
    const vvar = mm.findVma(0x7fff00000000);
    const text = mm.findVma(ehdr);
    assert.equal(vvar?.name.special, '[vvar]');
    assert.equal(text?.name.special, '[vdso]');
    // The image starts with an ELF header; the page below holds the live parameters.
    assert.deepEqual([...mm.forceViews(ehdr, 4)[0]], [0x7f, 0x45, 0x4c, 0x46]);
    // mprotect(2) refuses PROT_WRITE where mayWrite is false (EACCES, as Linux's VM_MAYWRITE).
    assert.equal(vvar?.mayWrite, false);
    assert.equal(text?.mayWrite, true);
    assert.equal(mm.dontNeed(0x7fff00000000, 4096), -EINVAL);
    mm.decUsers();
  });
});
