/** The syscall table is data: names match numbers, and docs/syscalls.md is generated from it. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linuxTable } from '../../core/syscalls/all';
import { renderSyscallDoc } from '../../core/syscalls/table';
import { SYSCALL_NAMES } from '../../core/syscalls/names';

const REPO = path.resolve(__dirname, '..', '..', '..');

describe('syscall table', () => {
  const table = linuxTable();

  it('has an entry, named as Linux names it, for every x86-64 syscall number', () => {
    for (const [nr, name] of Object.entries(SYSCALL_NAMES))
      assert.equal(table[Number(nr)]?.name, name, `syscall ${nr}`);
  });

  it('marks handled syscalls full or partial, and every partial one says what is missing', () => {
    for (const d of table) {
      if (!d) continue;
      if (d.handler) assert.ok(d.support === 'full' || d.support === 'partial', `${d.name}: ${d.support}`);
      if (d.support === 'partial')
        assert.ok(d.note && d.note.length > 5, `${d.name} is partial without a note`);
      if (!d.handler) assert.equal(d.support, 'none', `${d.name} has no handler but claims ${d.support}`);
    }
  });

  it('serves the syscalls busybox and glibc start-up need', () => {
    for (const name of [
      'read',
      'write',
      'openat',
      'close',
      'mmap',
      'brk',
      'execve',
      'wait4',
      'clone',
      'clone3',
      'futex',
      'rt_sigaction',
      'getdents64',
      'newfstatat',
      'pipe2',
      'poll',
    ])
      assert.ok(table.find((d) => d?.name === name)?.handler, `${name} has no handler`);
  });

  it('docs/syscalls.md is generated from the current table (run npm run docs:syscalls)', () => {
    const doc = fs.readFileSync(path.join(REPO, 'docs', 'syscalls.md'), 'utf8');
    assert.equal(doc, renderSyscallDoc(table));
  });
});
