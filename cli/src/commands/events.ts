import { Args, Flags } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Events extends OciCommand {
  static override summary =
    'Print container statistics as JSON lines (once with --stats, else every --interval).';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = {
    ...ociGlobalFlags,
    stats: Flags.boolean({ description: 'Print the statistics once and exit.' }),
    interval: Flags.string({
      default: '5s',
      description: 'Time between two statistics lines (e.g. 500ms, 5s).',
      helpValue: 'DURATION',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Events);
    const { rpc, readRecord } = await import('../../../core/runtime/oci/lifecycle');
    const store = await this.store();
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(flags.interval);
    if (!m)
      throw Object.assign(
        new Error(`--interval ${JSON.stringify(flags.interval)}: expected a duration like 500ms or 5s`),
        { exitCode: 2 },
      );
    const ms = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2]];
    readRecord(store, args.id);
    const once = async (): Promise<void> => {
      const s = await rpc<{ pids: number; cpuUserNs: number; cpuSysNs: number; memoryBytes: number }>(
        store,
        args.id,
        'stats',
      );
      const data = {
        cpu: { usage: { total: s.cpuUserNs + s.cpuSysNs, user: s.cpuUserNs, kernel: s.cpuSysNs } },
        memory: { usage: { usage: s.memoryBytes } },
        pids: { current: s.pids },
      };
      process.stdout.write(`${JSON.stringify({ type: 'stats', id: args.id, data })}\n`);
    };
    if (flags.stats) return once();
    for (;;) {
      try {
        await once();
      } catch (e) {
        if ((e as Error).message === 'container not running') return;
        throw e;
      }
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}
