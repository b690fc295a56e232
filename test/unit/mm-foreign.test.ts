/**
 * Objects whose pages are a host file's (MemObject.ofForeign: files in layer images):
 * the fault path maps them with AddressSpace.mapForeign — at the file offset of the page,
 * never writable, clipped to the file's last page — and uses no memory-file extent; an
 * address space without mapForeign (or one whose mapForeign cannot reach the file) gets a
 * copy in the memory file instead. Making the mapping writable gives it a private copy;
 * the sentry reads the pages straight from its own view of the file.
 */
import * as assert from 'node:assert/strict';
import { MemoryManager, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../core/mm/mm';
import { MemObject } from '../../core/mm/memobject';
import type { AddressSpace, ForeignFile } from '../../core/plugins/platform';
import { testMemoryFile } from '../helpers/fake-task';

const PAGE = 4096;

function space(foreign: 'yes' | 'refuses' | 'absent'): AddressSpace & { calls: string[] } {
  const calls: string[] = [];
  const as = {
    calls,
    mapFile: (a: number, l: number, off: number, prot: number) =>
      void calls.push(`memfile ${a.toString(16)} ${l} ${off} ${prot}`),
    unmap: (a: number, l: number) => void calls.push(`unmap ${a.toString(16)} ${l}`),
    protect: (a: number, l: number) => void calls.push(`protect ${a.toString(16)} ${l}`),
    release: () => undefined,
  } as unknown as AddressSpace & { calls: string[] };
  if (foreign !== 'absent')
    as.mapForeign = (a, l, f, off, prot) => {
      calls.push(`foreign ${a.toString(16)} ${l} ${f.name} ${off} ${prot}`);
      return foreign === 'yes';
    };
  return as;
}

/** A 3.5-page "file" at offset 8 pages of an image: its pages are 4 pages long (zero padded). */
function imageObject(mf: ReturnType<typeof testMemoryFile>): { obj: MemObject; bytes: Uint8Array } {
  const bytes = new Uint8Array(4 * PAGE);
  for (let i = 0; i < 3.5 * PAGE; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const file: ForeignFile = { fd: 99, name: 'img' };
  return { obj: MemObject.ofForeign(mf, { file, offset: 8 * PAGE, bytes }), bytes };
}

function mapIt(mm: MemoryManager, obj: MemObject, prot: number): number {
  const addr = mm.map({
    addr: 0x20000000,
    len: 16 * PAGE,
    prot,
    fixed: true,
    shared: false,
    obj,
    objOff: 0,
    name: { path: '/f' },
    objLimit: 3.5 * PAGE,
  });
  const v = mm.findVma(addr)!;
  v.cow = true;
  v.pageCache = true;
  return addr;
}

describe('mm: pages of a host file (foreign objects)', () => {
  it('maps the file itself, read-only, clipped to its last page, with no memory-file pages', () => {
    const mf = testMemoryFile();
    const as = space('yes');
    const mm = new MemoryManager(mf, as);
    const { obj, bytes } = imageObject(mf);
    const before = mf.allocatedBytes;
    const addr = mapIt(mm, obj, PROT_READ | PROT_EXEC);
    assert.equal(mm.handleFault(addr + 5, undefined).signo, 0);
    assert.deepEqual(as.calls, [`foreign 20000000 ${4 * PAGE} img ${8 * PAGE} ${PROT_READ | PROT_EXEC}`]);
    // Beyond the file's last page: SIGBUS, as Linux.
    assert.equal(mm.handleFault(addr + 4 * PAGE, undefined).signo, 7);
    assert.equal(mf.allocatedBytes, before, 'no memory-file extent');
    // The sentry reads app memory there from its view of the file (no copy either).
    assert.deepEqual(mm.copyIn(addr + 100, 5000), bytes.subarray(100, 5100));
    assert.equal(mf.allocatedBytes, before);
    assert.throws(() => mm.copyIn(addr + 4 * PAGE - 10, 20), /EFAULT|Bad address/);
    mm.decUsers();
  });

  it('falls back to one memory-file copy without mapForeign, or when it cannot reach the file', () => {
    for (const kind of ['absent', 'refuses'] as const) {
      const mf = testMemoryFile();
      const as = space(kind);
      const mm = new MemoryManager(mf, as);
      const { obj, bytes } = imageObject(mf);
      const addr = mapIt(mm, obj, PROT_READ);
      assert.equal(mm.handleFault(addr, undefined).signo, 0);
      const mapped = as.calls.filter((c) => c.startsWith('memfile'));
      assert.equal(mapped.length, 1, `${kind}: ${as.calls.join('; ')}`);
      assert.ok(mf.allocatedBytes > 0);
      // The copy holds the file's bytes, zeros after EOF.
      const off = obj.extent(0, false);
      assert.deepEqual(mf.view(off, 4 * PAGE), bytes);
      mm.decUsers();
    }
  });

  it('gives a mapping made writable a private copy; the file pages stay as they are', () => {
    const mf = testMemoryFile();
    const as = space('yes');
    const mm = new MemoryManager(mf, as);
    const { obj, bytes } = imageObject(mf);
    const snapshot = bytes.slice();
    const addr = mapIt(mm, obj, PROT_READ);
    assert.equal(mm.handleFault(addr, undefined).signo, 0);
    assert.equal(mm.protect(addr, 16 * PAGE, PROT_READ | PROT_WRITE), 0);
    const v = mm.findVma(addr)!;
    assert.notEqual(v.obj, obj);
    assert.equal(v.obj.foreign, undefined);
    as.calls.length = 0;
    assert.equal(mm.handleFault(addr, undefined).signo, 0);
    assert.ok(as.calls[0].startsWith('memfile'), as.calls.join('; '));
    mm.copyOut(addr + 10, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...mm.copyIn(addr + 9, 5)], [snapshot[9], 1, 2, 3, snapshot[13]]);
    assert.deepEqual(bytes, snapshot);
    assert.throws(() => obj.viewWithinExtent(0, 10, true), /read-only/);
    mm.decUsers();
  });
});
