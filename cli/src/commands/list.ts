import { Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class List extends OciCommand {
  static override summary = 'List the containers in the state folder.';
  static override flags = {
    ...ociGlobalFlags,
    format: Flags.string({
      char: 'f',
      options: ['table', 'json'],
      default: 'table',
      description: 'Output format.',
    }),
    quiet: Flags.boolean({ char: 'q', description: 'Print only the ids.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const { stateOf } = await import('../../../core/runtime/oci/lifecycle');
    const store = await this.store();
    const states = [];
    for (const id of store.list()) {
      try {
        states.push(stateOf(store, store.read(id)));
      } catch {
        /* deleted meanwhile */
      }
    }
    if (flags.quiet) {
      for (const s of states) process.stdout.write(`${s.id}\n`);
    } else if (flags.format === 'json') {
      process.stdout.write(`${JSON.stringify(states)}\n`);
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
      for (const s of states) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]);
      process.stdout.write(table(rows));
    }
  }
}

/** Columns padded as Go's tabwriter(minwidth 12, padding 3) in runc list. */
export function table(rows: string[][]): string {
  const w = rows[0].map((_, c) => Math.max(12, ...rows.map((r) => r[c].length + 3)));
  return rows.map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(w[c]))).join('') + '\n').join('');
}
