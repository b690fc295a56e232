/** Small helpers shared by the suites that set up network namespaces and veths (net-oci, netstack-*). */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Spec } from '../../core/runtime/oci/spec';
import type { Result } from '../oci/helpers';

/** Runs argv to completion; its stdout, or an Error naming the command, status and stderr. */
export function run(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}
export const ip = (...args: string[]): string => run(['/usr/sbin/ip', ...args]);
export const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sets the container's network namespace entry: a path, 'new' (no path) or none at all. */
export function netnsEntry(which: string | null): (s: Spec) => void {
  return (s) => {
    const l = (s.linux ??= {});
    l.namespaces = (l.namespaces ?? []).filter((n) => n.type !== 'network');
    if (which === 'new') l.namespaces.push({ type: 'network' });
    else if (which !== null) l.namespaces.push({ type: 'network', path: which });
  };
}

/** Asserts a runsc/runc call exited 0 (showing its output otherwise). */
export function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
  return r;
}

export interface VethNamespace {
  ns: string;
  hostIf: string;
  nsIf: string;
  hostAddr: string;
  nsAddr: string;
}

/**
 * A network namespace `ns` joined to the host by a veth (hostIf/hostAddr on the host,
 * nsIf/nsAddr inside, /24s, lo up). `netstack`: transmit checksum offload off on the host
 * end (the user-space stack checks every checksum) and a default route via the host.
 */
export function makeVethNamespace(v: VethNamespace, opts: { netstack?: boolean } = {}): void {
  ip('netns', 'add', v.ns);
  ip('link', 'add', v.hostIf, 'type', 'veth', 'peer', 'name', v.nsIf);
  ip('link', 'set', v.nsIf, 'netns', v.ns);
  ip('addr', 'add', `${v.hostAddr}/24`, 'dev', v.hostIf);
  ip('link', 'set', v.hostIf, 'up');
  if (opts.netstack) run(['/usr/sbin/ethtool', '-K', v.hostIf, 'tx', 'off']);
  ip('-n', v.ns, 'addr', 'add', `${v.nsAddr}/24`, 'dev', v.nsIf);
  ip('-n', v.ns, 'link', 'set', v.nsIf, 'up');
  ip('-n', v.ns, 'link', 'set', 'lo', 'up');
  if (opts.netstack) ip('-n', v.ns, 'route', 'add', 'default', 'via', v.hostAddr);
}

/** Removes what makeVethNamespace made (quietly: for `after`, whatever state it is in). */
export function removeVethNamespace(v: Pick<VethNamespace, 'ns' | 'hostIf'>): void {
  spawnSync('/usr/sbin/ip', ['link', 'del', v.hostIf]);
  spawnSync('/usr/sbin/ip', ['netns', 'del', v.ns]);
}

/** A Python http.server on the host side, once it listens: the process, its port, its request log. */
export interface HostHttpServer {
  srv: ChildProcess;
  port: number;
  /** What it wrote to stderr so far (one line per request, "CLIENT - - [...] "GET /PATH ..."). */
  log: () => string;
}

/**
 * Starts `py -m http.server` on `bind` (port chosen by the kernel) serving `dir`, records it
 * in `procs` (for the suite's cleanup), and resolves once it prints its port; rejects if it
 * exits or stays silent for 30 s.
 */
export function hostHttpServer(
  py: string,
  bind: string,
  dir: string,
  procs: ChildProcess[],
): Promise<HostHttpServer> {
  const srv = spawn(py, ['-u', '-m', 'http.server', '0', '--bind', bind, '--directory', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(srv);
  let out = '';
  let log = '';
  srv.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`http.server did not start in 30 s: ${out}${log}`)), 30000);
    srv.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res({ srv, port: Number(m[1]), log: () => log });
      }
    });
    srv.on('exit', (c) => {
      clearTimeout(t);
      rej(new Error(`http.server exited ${c}: ${out}${log}`));
    });
  });
}
