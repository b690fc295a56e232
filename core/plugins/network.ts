/**
 * The NetworkStack plugin API (net-host, net-netstack, or a third-party module).
 * The core's socket layer (AF_INET/AF_INET6 and friends) asks the configured stack for
 * socket endpoints; AF_UNIX and AF_NETLINK live in the core.
 * The full socket operation set is defined by the networking issue; this is the token and
 * the entry points the core resolves.
 */
export const NetworkStack = Symbol('NetworkStack');

export interface NetworkStack {
  readonly name: string;
  /** Address families this stack serves (e.g. [2, 10] for AF_INET, AF_INET6). */
  readonly families: readonly number[];
  /** Prepare the stack for one sandbox (namespaces, links). */
  init(): Promise<void> | void;
  /** Tear everything down; idempotent. */
  shutdown(): void;
}
