/**
 * Shared by netstack-scapy.test.ts and netstack-fuzz.test.ts: two network namespaces joined
 * by a veth, one for a raw-frame peer (no address: the peer speaks from an address no kernel
 * owns and answers ARP itself, so no kernel answers for it) and one for the system under
 * test (SUT: the kernel itself, or a sandbox whose netstack takes the interface over).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, RUNSC } from './harness';
import { ip, run, sleep } from './net-helpers';

export const PY = '/usr/bin/python3';
export const SCAPY_DIR = path.join(REPO, 'plugins', 'net-netstack', 'test', 'scapy');
export const PEER_IP = '10.63.0.1';
export const SUT_IP = '10.63.0.2';

/** Root, iproute2, ethtool and Debian's python3-scapy. */
export function canRunScapy(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (!['/usr/sbin/ip', '/usr/sbin/ethtool', PY].every((f) => fs.existsSync(f))) return false;
  return spawnSync(PY, ['-c', 'import scapy.all'], { timeout: 60000 }).status === 0;
}

export interface PeerPair {
  peerNs: string;
  sutNs: string;
  peerIf: string;
  sutIf: string;
}

/** Names from a tag (keep it short: interface names have 15 characters). */
export function peerPair(tag: string): PeerPair {
  return { peerNs: `tsp${tag}`, sutNs: `tss${tag}`, peerIf: `tspv${tag}`, sutIf: `tssv${tag}` };
}

/**
 * Makes both namespaces and the veth; the SUT's end gets SUT_IP/24. Forwarding and IPv6 are
 * off in both (no stray answers or chatter); transmit checksum offload is off on both ends
 * (the peer and the stack check every checksum).
 */
export function makePeerPair(p: PeerPair): void {
  ip('netns', 'add', p.peerNs);
  ip('netns', 'add', p.sutNs);
  ip('-n', p.peerNs, 'link', 'add', p.peerIf, 'type', 'veth', 'peer', 'name', p.sutIf);
  ip('-n', p.peerNs, 'link', 'set', p.sutIf, 'netns', p.sutNs);
  for (const ns of [p.peerNs, p.sutNs]) {
    run([
      '/usr/sbin/ip',
      'netns',
      'exec',
      ns,
      '/usr/sbin/sysctl',
      '-qw',
      'net.ipv4.ip_forward=0',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ]);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', p.peerNs, 'link', 'set', p.peerIf, 'up');
  run(['/usr/sbin/ip', 'netns', 'exec', p.peerNs, '/usr/sbin/ethtool', '-K', p.peerIf, 'tx', 'off']);
  run(['/usr/sbin/ip', 'netns', 'exec', p.sutNs, '/usr/sbin/ethtool', '-K', p.sutIf, 'tx', 'off']);
  ip('-n', p.sutNs, 'addr', 'add', `${SUT_IP}/24`, 'dev', p.sutIf);
  ip('-n', p.sutNs, 'link', 'set', p.sutIf, 'up');
}

/** Removes both namespaces (and so the veth), quietly, whatever state they are in. */
export function removePeerPair(p: PeerPair): void {
  spawnSync('/usr/sbin/ip', ['netns', 'del', p.sutNs]);
  spawnSync('/usr/sbin/ip', ['netns', 'del', p.peerNs]);
}

export interface Background {
  p: ChildProcess;
  out: () => string;
}

/** Starts argv, collecting its output; resolves once it printed `ready` (or fails naming what it said). */
export async function startUntilReady(argv: string[], what: string, timeoutMs = 90000): Promise<Background> {
  const p = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!/^ready$/m.test(out)) {
    if (p.exitCode !== null || p.signalCode !== null || Date.now() > deadline) {
      await stop(p);
      throw new Error(`${what} did not become ready: ${out}`);
    }
    await sleep(100);
  }
  return { p, out: () => out };
}

/** The SUT's server.py: natively in the namespace, or in a sandbox taking the namespace's veth. */
export function serverArgv(
  p: PeerPair,
  where: 'linux' | 'netstack',
  config: string,
  script: string,
): string[] {
  if (where === 'linux') return ['/usr/sbin/ip', 'netns', 'exec', p.sutNs, PY, script];
  return [process.execPath, RUNSC, 'do', `--config=${config}`, '--cwd', '/', '--', PY, script];
}

/** SIGTERM, then SIGKILL after 10 s; resolves when it is gone. */
export async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await Promise.race([done, sleep(5000)]);
  }
}

/** Runs a python script in the peer's namespace; its stdout (rejects with its output on failure). */
export function runInPeer(p: PeerPair, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('/usr/sbin/ip', ['netns', 'exec', p.peerNs, PY, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${args[0]}: exit ${code ?? sig}: ${err}${out}`));
    });
  });
}
