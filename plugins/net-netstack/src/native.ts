/**
 * net-netstack's native addon (native/src/link.cc): TAP open, uv_poll readiness and
 * batched non-blocking reads/writes. Loaded on first use, so the pure-TS parts of the
 * stack work without it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon } from '../../../core/native';

export interface PollHandle {
  readonly __poll: unique symbol;
}

export interface NetstackNative {
  /** Creates (or attaches to) TAP device `name` in this thread's network namespace. */
  tapOpen(name: string): { fd: number; name: string };
  /**
   * An AF_PACKET socket bound to `ifname` (ETH_P_ALL, no outgoing copies, 4 MiB buffers),
   * in this process's network namespace or in the one `netns` (a file path) names.
   */
  packetOpen(ifname: string, netns?: string): { fd: number; ifindex: number; mac: Uint8Array };
  pollStart(fd: number, cb: (status: number, events: number) => void): PollHandle;
  pollStop(h: PollHandle): void;
  /** Reads up to lens.length frames into buf at i*slot; returns the count or -errno. */
  readBatch(fd: number, buf: Uint8Array, slot: number, lens: Int32Array): number;
  /** Writes one frame; returns bytes or -errno. */
  writeFrame(fd: number, buf: Uint8Array): number;
  writeBatch(fd: number, buf: Uint8Array, offs: Int32Array, lens: Int32Array, n: number): number;
  closeFd(fd: number): void;
}

let cached: NetstackNative | undefined;

export function netstackNative(): NetstackNative {
  if (cached) return cached;
  // Compiled: <repo>/dist/plugins/net-netstack/src -> <repo>/plugins/net-netstack/native.
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', '..', 'plugins', 'net-netstack', 'native'),
    path.resolve(__dirname, '..', 'native'),
  ];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'binding.gyp'))) ?? candidates[0];
  cached = loadAddon<NetstackNative>(dir, 'tsvisor_netstack');
  return cached;
}
