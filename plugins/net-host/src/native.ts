/**
 * The net-host addon (plugins/net-host/native): host socket calls on non-blocking fds.
 * Every call returns its result or -errno; nothing throws for a host failure.
 */
import * as path from 'node:path';
import { loadAddon } from '../../../core/native';

/** One edge-triggered host epoll set on the event loop (see nethost.cc). */
export interface HostNotifier {
  /** Report every readiness change of `fd` under `token`; 0 or -errno. */
  add(fd: number, token: number): number;
  del(fd: number): number;
  close(): void;
}

export interface NetHostNative {
  socket(family: number, type: number, protocol: number): number;
  /**
   * socket() on a helper thread that joined the network namespace `nsfd` first (-1: this
   * one) and, with `egid` >= 0, took that effective group id (that thread only).
   */
  socketIn(nsfd: number, family: number, type: number, protocol: number, egid?: number): number;
  /** A fresh network namespace with loopback up: an fd naming it, or -errno. */
  newNetns(): number;
  openNetns(path: string): number;
  /** A file read by a helper thread in namespace `nsfd` (-1: this thread's), or -errno. */
  readIn(nsfd: number, path: string): Buffer | number;
  /** A file written by a helper thread in namespace `nsfd` (-1: this thread's): bytes or -errno. */
  writeIn(nsfd: number, path: string, data: string): number;
  bind(fd: number, addr: Uint8Array): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number): number;
  connect(fd: number, addr: Uint8Array): number;
  getsockname(fd: number): Buffer | number;
  getpeername(fd: number): Buffer | number;
  shutdown(fd: number, how: number): number;
  sendmsg(
    fd: number,
    segs: Uint8Array[],
    flags: number,
    addr: Uint8Array | null,
    ctl: Uint8Array | null,
  ): number;
  /** out = [namelen, controllen, msg_flags]. */
  recvmsg(
    fd: number,
    segs: Uint8Array[],
    flags: number,
    name: Uint8Array,
    ctl: Uint8Array | null,
    out: Int32Array,
  ): number;
  getsockopt(fd: number, level: number, name: number, len: number): Buffer | number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array): number;
  ioctlInt(fd: number, cmd: number): number;
  ioctlIfreq(fd: number, cmd: number, ifreq: Uint8Array): number;
  ifconf(fd: number, len: number): Buffer | number;
  poll(fd: number, events: number): number;
  close(fd: number): number;
  /** `cb` gets [token, events, token, events, ...] (poll(2) bits). */
  Notifier: new (cb: (batch: Float64Array) => void) => HostNotifier;
}

let cached: NetHostNative | undefined;
export function netHostNative(): NetHostNative {
  // dist/plugins/net-host/src/native.js -> <repo>/plugins/net-host/native
  cached ??= loadAddon<NetHostNative>(
    path.resolve(__dirname, '..', '..', '..', '..', 'plugins', 'net-host', 'native'),
    'tsvisor_nethost',
  );
  return cached;
}
