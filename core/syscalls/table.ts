/**
 * The x86-64 syscall table: number -> SyscallDef, assembled from the families in linux/.
 * Numbers without an entry return ENOSYS through Kernel.missingSyscall (logged once, and
 * shown by --strace). docs/syscalls.md is generated from this table (scripts/gen-syscall-docs.js).
 */
import type { SyscallDef } from './types';
import { SYSCALL_NAMES } from './names';

export function buildTable(families: readonly (readonly SyscallDef[])[]): (SyscallDef | undefined)[] {
  const table: (SyscallDef | undefined)[] = new Array(512).fill(undefined);
  for (const fam of families)
    for (const d of fam) {
      if (SYSCALL_NAMES[d.nr] !== d.name)
        throw new Error(`syscall table: ${d.name} is not number ${d.nr} (that is ${SYSCALL_NAMES[d.nr]})`);
      if (table[d.nr]?.handler && d.handler)
        throw new Error(`syscall table: ${d.name} (${d.nr}) defined twice`);
      if (!table[d.nr] || d.handler) table[d.nr] = d;
    }
  // Every number gets at least a named, unsupported entry (for strace and docs).
  for (const [nr, name] of Object.entries(SYSCALL_NAMES)) {
    const n = Number(nr);
    if (!table[n]) table[n] = { nr: n, name, support: 'none' };
  }
  return table;
}

/** Render docs/syscalls.md from a table. */
export function renderSyscallDoc(table: readonly (SyscallDef | undefined)[]): string {
  const rows = table.filter((d): d is SyscallDef => !!d).sort((a, b) => a.nr - b.nr);
  const count = (s: string) => rows.filter((d) => (d.handler ? d.support : 'none') === s).length;
  const out = [
    '# Syscall support (x86-64)',
    '',
    'Generated from the syscall table (`core/syscalls/table.ts`) by `npm run docs:syscalls`; do not edit by hand.',
    '',
    `${count('full')} full, ${count('partial')} partial, ${count('none')} not supported (ENOSYS, logged under \`--strace\`).`,
    '',
    '| nr | name | support | notes |',
    '|---:|---|---|---|',
  ];
  for (const d of rows) {
    const support = d.handler ? d.support : 'not supported';
    out.push(`| ${d.nr} | ${d.name} | ${support} | ${(d.note ?? '').replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n') + '\n';
}
