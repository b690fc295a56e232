/** Corrupted variants of a valid ELF file, for the bad-input tests. */

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 200 corrupted variants of a valid static ELF. */
export function corruptions(elf: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  const phoff = Number(elf.readBigUInt64LE(32));
  const phnum = elf.readUInt16LE(56);
  const ph = (i: number) => phoff + i * 56;
  const loads: number[] = [];
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(ph(i)) === 1) loads.push(i);
  const edit = (name: string, f: (b: Buffer) => void) => {
    const b = Buffer.from(elf);
    f(b);
    out.push([name, b]);
  };
  // Truncations.
  for (const n of [
    0,
    1,
    3,
    4,
    15,
    16,
    52,
    63,
    64,
    phoff,
    phoff + 30,
    phoff + 56,
    phoff + phnum * 56 - 1,
    phoff + phnum * 56,
  ])
    out.push([`trunc-${n}`, elf.subarray(0, n)]);
  for (let k = 1; k < 16; k++)
    out.push([`trunc-frac-${k}`, elf.subarray(0, Math.floor((elf.length * k) / 16))]);
  // Header fields.
  edit('magic', (b) => (b[1] = 0x46));
  edit('class32', (b) => (b[4] = 1));
  edit('bigendian', (b) => (b[5] = 2));
  edit('machine-arm', (b) => b.writeUInt16LE(183, 18));
  edit('type-rel', (b) => b.writeUInt16LE(1, 16));
  edit('type-core', (b) => b.writeUInt16LE(4, 16));
  edit('entry-zero', (b) => b.writeBigUInt64LE(0n, 24));
  edit('entry-kernel', (b) => b.writeBigUInt64LE(0xffffffff81000000n, 24));
  edit('phentsize-32', (b) => b.writeUInt16LE(32, 54));
  edit('phnum-0', (b) => b.writeUInt16LE(0, 56));
  edit('phnum-big', (b) => b.writeUInt16LE(2000, 56));
  edit('phoff-eof', (b) => b.writeBigUInt64LE(BigInt(elf.length + 4096), 32));
  // Program headers of each PT_LOAD.
  for (const i of loads) {
    const o = ph(i);
    edit(`load${i}-offset-eof`, (b) => b.writeBigUInt64LE(BigInt(elf.length + 0x100000), o + 8));
    edit(`load${i}-filesz-gt-memsz`, (b) => b.writeBigUInt64LE(b.readBigUInt64LE(o + 40) + 4096n, o + 32));
    edit(`load${i}-misaligned`, (b) => b.writeBigUInt64LE(b.readBigUInt64LE(o + 16) + 1n, o + 16));
    edit(`load${i}-vaddr-kernel`, (b) => b.writeBigUInt64LE(0xffff800000000000n, o + 16));
    edit(`load${i}-memsz-huge`, (b) => b.writeBigUInt64LE(0x7fff00000000n, o + 40));
    edit(`load${i}-memsz-zero`, (b) => {
      b.writeBigUInt64LE(0n, o + 40);
      b.writeBigUInt64LE(0n, o + 32);
    });
    edit(`load${i}-noexec`, (b) => b.writeUInt32LE(4, o + 4));
    edit(`load${i}-type-null`, (b) => b.writeUInt32LE(0, o));
  }
  if (loads.length >= 2) {
    edit('overlap-first-two', (b) =>
      b.writeBigUInt64LE(b.readBigUInt64LE(ph(loads[0]) + 16), ph(loads[1]) + 16),
    );
    edit('overlap-last-first', (b) =>
      b.writeBigUInt64LE(b.readBigUInt64LE(ph(loads[0]) + 16), ph(loads[loads.length - 1]) + 16),
    );
  }
  // Random flips in the ELF header and program headers.
  const r = rng(42);
  const span = phoff + phnum * 56;
  while (out.length < 200) {
    const n = out.length;
    edit(`flip-${n}`, (b) => {
      const k = 1 + Math.floor(r() * 3);
      for (let j = 0; j < k; j++) {
        let at = Math.floor(r() * span);
        // Flips of entry point and segment addresses make unrelated random programs; keep to fields the loader checks.
        if (at >= 24 && at < 32) at = 16 + (at % 4);
        b[at] ^= 1 << Math.floor(r() * 8);
      }
    });
  }
  // Unique names (two truncation lengths can coincide).
  return out.slice(0, 200).map(([n, b], i) => [`${String(i).padStart(3, '0')}-${n}`, b]);
}
