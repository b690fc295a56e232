/**
 * Debian programs (issue 4): python3 start-up, a set of stdlib imports, a shell loop of
 * 1,000 /bin/true forks, and sort of 1e6 lines — natively (chrooted into the Debian root),
 * under tsvisor (`runsc do --root-dir`) and under gVisor (`runsc do chroot ROOT`), in one
 * run. Needs root (the root is built by scripts/debian-rootfs.sh).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { BenchContext, Benchmark } from './index';

const CASES: [string, string[]][] = [
  ['python3 -c pass', ['/usr/bin/python3', '-c', 'pass']],
  ['python3 imports', ['/usr/bin/python3', '-c', 'import json, email, http.client, sqlite3']],
  ['1,000 /bin/true forks', ['/bin/bash', '-c', 'for i in $(seq 1000); do /bin/true; done']],
  ['sort 1e6 lines', ['/bin/bash', '-c', 'seq 1000000 | sort -r > /dev/null']],
];

export const benchmark: Benchmark = {
  name: 'debian',
  description: 'python3 start-up and imports, 1,000 forks of /bin/true, sort of 1e6 lines (Debian root)',
  async run(ctx: BenchContext) {
    if (process.getuid?.() !== 0) {
      ctx.note('skipped: needs root to build and chroot into the Debian root');
      return;
    }
    const r = spawnSync('bash', [path.join(ctx.repo, 'scripts', 'debian-rootfs.sh')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`debian-rootfs.sh: ${r.stderr}`);
    const root = r.stdout.trim().split('\n').pop()!;
    for (const [name, argv] of CASES) {
      await ctx.measureCommand(name, 'native', ['chroot', root, ...argv]);
      await ctx.measureCommand(name, 'tsvisor', [
        ...ctx.runsc,
        'do',
        '--root-dir',
        root,
        '--cwd',
        '/',
        '--',
        ...argv,
      ]);
      const g = ctx.gvisorDo(['chroot', root, ...argv]);
      if (g) await ctx.measureCommand(name, 'gvisor', g);
      else ctx.skip(name, 'gvisor', 'gVisor runsc not installed');
    }
  },
};
