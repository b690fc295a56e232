/**
 * Container lifecycle: wall time of `run` (create + start + wait + delete) of `true` in a
 * busybox bundle under our runsc, gVisor's runsc (`--network=none --platform=ptrace`) and
 * runc, with `busybox true` run directly as native; plus our create, start and delete
 * separately. Needs busybox-static (and root for runc and gVisor).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Benchmark } from './index';
import { defaultSpec } from '../core/runtime/oci/spec';

export const benchmark: Benchmark = {
  name: 'oci',
  description:
    'runsc run of true in a busybox bundle vs gVisor runsc run and runc run; create/start/delete apart',
  async run(ctx) {
    if (!fs.existsSync('/bin/busybox')) {
      ctx.skip('run true', 'tsvisor', 'busybox-static is not installed');
      return;
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-oci-'));
    try {
      const bundle = path.join(work, 'bundle');
      fs.mkdirSync(path.join(bundle, 'rootfs', 'bin'), { recursive: true });
      fs.copyFileSync('/bin/busybox', path.join(bundle, 'rootfs', 'bin', 'busybox'));
      fs.symlinkSync('busybox', path.join(bundle, 'rootfs', 'bin', 'true'));
      const spec = defaultSpec(['/bin/true'], false);
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      const ours = path.join(work, 'ours'),
        gv = path.join(work, 'gvisor'),
        rc = path.join(work, 'runc');
      let n = 0;
      await ctx.measureCommand('run true', 'native', ['/bin/busybox', 'true']);
      await ctx.measure('run true', 'tsvisor', () => {
        const r = spawnSync(
          ctx.runsc[0],
          [ctx.runsc[1], '--root', ours, 'run', '--bundle', bundle, `b${n++}`],
          { stdio: 'ignore' },
        );
        if (r.status !== 0) throw new Error(`runsc run exited ${r.status}`);
      });
      const root = process.getuid?.() === 0;
      if (ctx.gvisor && root)
        await ctx.measure('run true', 'gvisor', () => {
          const r = spawnSync(
            ctx.gvisor!,
            ['--root', gv, '--network=none', '--platform=ptrace', 'run', '--bundle', bundle, `g${n++}`],
            {
              stdio: 'ignore',
            },
          );
          if (r.status !== 0) throw new Error(`gVisor runsc run exited ${r.status}`);
        });
      else ctx.skip('run true', 'gvisor', ctx.gvisor ? 'needs root' : 'gVisor runsc is not installed');
      if (fs.existsSync('/usr/sbin/runc') && root)
        await ctx.measure('run true', 'runc', () => {
          const r = spawnSync('runc', ['--root', rc, 'run', '--bundle', bundle, `r${n++}`], {
            stdio: 'ignore',
          });
          if (r.status !== 0) throw new Error(`runc run exited ${r.status}`);
        });
      else ctx.skip('run true', 'runc', 'runc is not installed or not root');
      // One container through its steps per round, each step timed apart.
      const times: Record<string, number[]> = { create: [], start: [], delete: [] };
      const runscStep = (args: string[]): number => {
        const t0 = process.hrtime.bigint();
        // The sandbox inherits stdio: give it none, so nothing waits on a pipe.
        const r = spawnSync(ctx.runsc[0], [ctx.runsc[1], '--root', ours, ...args], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`runsc ${args[0]} exited ${r.status}`);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };
      for (let i = 0; i < ctx.warmup + ctx.rounds; i++) {
        const id = `s${n++}`;
        const c = runscStep(['create', '--bundle', bundle, id]);
        const st = runscStep(['start', id]);
        runscStep(['wait', id]);
        const d = runscStep(['delete', id]);
        if (i < ctx.warmup) continue;
        times.create.push(c);
        times.start.push(st);
        times.delete.push(d);
      }
      for (const [step, t] of Object.entries(times)) ctx.record(`${step} alone`, 'tsvisor', t, 'ms');
    } finally {
      for (const r of ['ours', 'gvisor', 'runc']) {
        const dir = path.join(work, r);
        for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
          if (r === 'ours')
            spawnSync(ctx.runsc[0], [ctx.runsc[1], '--root', dir, 'delete', '--force', id], {
              stdio: 'ignore',
            });
          else if (r === 'runc')
            spawnSync('runc', ['--root', dir, 'delete', '--force', id], { stdio: 'ignore' });
          else if (ctx.gvisor)
            spawnSync(ctx.gvisor, ['--root', dir, 'delete', '--force', id], { stdio: 'ignore' });
        }
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};
