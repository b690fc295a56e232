/**
 * CLI start-up: wall time of `runsc --version` (target: under 150 ms on the project's
 * machines), against `node -e 0` (the floor any Node CLI pays) and gVisor's `runsc --version`.
 */
import type { Benchmark } from './index';

const TARGET_MS = 150;

export const benchmark: Benchmark = {
  name: 'startup',
  description: `runsc --version wall time (target < ${TARGET_MS} ms) vs node -e 0 and gVisor's runsc --version`,
  async run(ctx) {
    await ctx.measureCommand('--version', 'native', [process.execPath, '-e', '0']);
    const ours = await ctx.measureCommand('--version', 'tsvisor', [...ctx.runsc, '--version']);
    if (ctx.gvisor) await ctx.measureCommand('--version', 'gvisor', [ctx.gvisor, '--version']);
    else ctx.skip('--version', 'gvisor', 'gVisor runsc is not installed (apt-get install runsc)');
    await ctx.measureCommand('help', 'tsvisor', [...ctx.runsc, '--help']);
    ctx.note(
      `runsc --version median ${ours.median.toFixed(1)} ms (best ${ours.best.toFixed(1)} ms): target < ${TARGET_MS} ms ${
        ours.median < TARGET_MS ? 'met' : 'MISSED'
      }; "native" here is node -e 0`,
    );
  },
};
