/**
 * The NetworkStack plugin API: what a network plugin (the built-in net-host, the
 * user-space net-netstack, or a third-party module) provides to the core.
 *
 * A stack serves the address families it lists (AF_INET, AF_INET6, and AF_NETLINK when it
 * answers NETLINK_ROUTE itself). The core registers each of them in the address-family
 * registry (core/net/families.ts) while the sandbox runs, so socket(2) for such a family
 * reaches `socket()` below; everything after that (bind, connect, send, readiness, options)
 * goes through the SocketFile the stack returned — see core/net/socket.ts for the
 * operation set and its conventions (results are numbers or -errno, or a Promise when the
 * call blocks; the wait is registered with `sockWait` in the same synchronous run as the
 * failed readiness check; `readiness(mask)` answers poll/epoll; `waitQueue()` is notified
 * when readiness changes). AF_UNIX always stays in the core.
 *
 * Life cycle: the plugin's register(container, options) binds an instance to the
 * `NetworkStack` token; `runsc do` and `runsc boot` (create/run) resolve it, await init(),
 * attach it, run the sandbox, then call shutdown() (which must close every host resource
 * the stack holds, including sockets the sandbox never closed). `network: none` is net-host
 * in a loopback-only namespace; a sandbox that resolves no stack has no AF_INET/AF_INET6
 * (EAFNOSUPPORT).
 *
 * See docs/net.md for a worked example.
 */
import type { SocketFile } from '../net/socket';
import type { FileTask } from '../vfs/task';

export const NetworkStack = Symbol('NetworkStack');

/** What init() is told about the sandbox. */
export interface NetworkInitContext {
  /** Structured logger of the sandbox (pino-like). */
  log?: { debug(o: object, msg?: string): void; warn(o: object, msg?: string): void };
  /**
   * The network namespace the container was given (`runsc create/run`: the OCI spec's
   * `linux.namespaces` network entry): a path to a namespace file, `'new'` for an entry
   * without a path (a fresh namespace), or undefined when the spec has no network entry
   * (the namespace runsc runs in, as runc) and under `runsc do`. A stack that lives in a
   * namespace should use it unless its own config names one.
   */
  netns?: string;
  /**
   * The spec's `linux.sysctl` entries under `net.` (e.g. Docker's
   * `net.ipv4.ping_group_range`), to be set in the container's network namespace before
   * it starts. A stack that cannot set one throws an Error naming it.
   */
  sysctl?: Readonly<Record<string, string>>;
}

export interface NetworkStack {
  readonly name: string;
  /** Address families this stack serves (e.g. [2, 10] for AF_INET, AF_INET6; 16 for AF_NETLINK). */
  readonly families: readonly number[];
  /** Prepare the stack for one sandbox (namespaces, links). Throws an Error naming what failed. */
  init(ctx?: NetworkInitContext): Promise<void> | void;
  /**
   * socket(2) for one of `families`: a new socket (refcount 1) or -errno. `type` has
   * SOCK_NONBLOCK/SOCK_CLOEXEC removed; `flags` carries O_NONBLOCK for the description.
   */
  socket(t: FileTask, family: number, type: number, protocol: number, flags: number): SocketFile | number;
  /**
   * The text of /proc/net/<name> (tcp, tcp6, udp, udp6, dev, route, if_inet6...) as the
   * stack sees its namespace, or null when the stack has no such file.
   */
  procNet?(name: string): string | null;
  /** Tear everything down; idempotent. */
  shutdown(): void;
}
