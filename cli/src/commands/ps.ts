import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';
import { table } from './list';

export default class Ps extends OciCommand {
  static override summary = 'List the processes inside a container (pids as the container sees them).';
  static override description = '--format json prints the pids as a JSON array, as runc ps does.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = {
    ...ociGlobalFlags,
    format: Flags.string({
      char: 'f',
      options: ['table', 'json'],
      default: 'table',
      description: 'Output format.',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Ps);
    const { ps } = await import('../../../core/runtime/oci/lifecycle');
    const procs = await ps(await this.store(), args.id);
    if (flags.format === 'json') {
      process.stdout.write(`${JSON.stringify(procs.map((p) => p.pid))}\n`);
      return;
    }
    const rows = [['UID', 'PID', 'PPID', 'STAT', 'THREADS', 'CMD']];
    for (const p of procs)
      rows.push([
        String(p.uid),
        String(p.pid),
        String(p.ppid),
        p.state,
        String(p.threads),
        p.cmdline || p.comm,
      ]);
    process.stdout.write(table(rows));
  }
}
