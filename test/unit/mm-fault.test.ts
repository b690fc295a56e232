/**
 * The fault path's retry rule (MemoryManager.handleFault): ptrace does not say why an
 * access faulted, so a fault on an installed extent is retried once — another thread may
 * have installed it meanwhile — and a second fault at the same address with no host
 * mapping change in between is a real violation. Any removal (MADV_DONTNEED, mprotect,
 * munmap) in between makes the next fault there a retry again.
 */
import * as assert from 'node:assert/strict';
import { MemoryManager, PROT_READ, PROT_WRITE, type LastFault } from '../../core/mm/mm';
import type { AddressSpace } from '../../core/plugins/platform';
import { testMemoryFile } from '../helpers/fake-task';

function fakeSpace(): AddressSpace & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    mapFile: (a: number, l: number) => void calls.push(`map ${a.toString(16)} ${l}`),
    unmap: (a: number, l: number) => void calls.push(`unmap ${a.toString(16)} ${l}`),
    protect: (a: number, l: number) => void calls.push(`protect ${a.toString(16)} ${l}`),
    release: () => undefined,
  } as unknown as AddressSpace & { calls: string[] };
}

describe('mm: fault retry', () => {
  it('retries once per address, and again after host mappings changed', () => {
    const as = fakeSpace();
    const mm = new MemoryManager(testMemoryFile(), as);
    const base = mm.mapAnon(0x10000000, 1 << 20, PROT_READ | PROT_WRITE, true);
    const x = base + 0x800;
    const last: LastFault = { addr: -1, gen: -1 };
    assert.equal(mm.handleFault(x, last).signo, 0, 'first fault installs');
    // Another thread's fault on the same (now installed) extent: retried once...
    assert.equal(mm.handleFault(x, last).signo, 0);
    // ...and a second one with nothing changed is a violation.
    assert.equal(mm.handleFault(x, last).signo, 11);
    // The pages are discarded (a thread freeing its stack) and installed again by another
    // thread: this thread's next fault there is a race again, not a violation.
    assert.equal(mm.dontNeed(base, 1 << 20), 0);
    assert.ok(as.calls.some((c) => c.startsWith('unmap')));
    assert.equal(mm.handleFault(base + 0x40, undefined).signo, 0);
    assert.equal(mm.handleFault(x, last).signo, 0);
    assert.equal(mm.handleFault(x, last).signo, 11);
    mm.decUsers();
  });
});
