/**
 * The address-family registry (Linux's net_families[] / sock_register; gVisor's
 * socket.RegisterProvider): socket(2) and socketpair(2) look the family up here.
 *
 * AF_UNIX registers itself from core/net/unix. A network plugin (net-netstack, net-host)
 * adds AF_INET/AF_INET6 by calling registerSocketFamily with a provider of its own —
 * nothing in the syscall layer or in AF_UNIX changes. A family with no provider gives
 * EAFNOSUPPORT, as Linux does for a family whose module is not loaded.
 */
import type { FileTask } from '../vfs/task';
import type { SocketFile } from './socket';

export interface SocketFamilyProvider {
  readonly family: number;
  /**
   * A new socket (refcount 1) for socket(2), or -errno (ESOCKTNOSUPPORT,
   * EPROTONOSUPPORT...). `type` has SOCK_NONBLOCK/SOCK_CLOEXEC removed; `flags` carries
   * O_NONBLOCK for the description.
   */
  socket(t: FileTask, type: number, protocol: number, flags: number): SocketFile | number;
  /** socketpair(2); absent = EOPNOTSUPP (as Linux for AF_INET). */
  socketpair?(t: FileTask, type: number, protocol: number, flags: number): [SocketFile, SocketFile] | number;
}

const providers = new Map<number, SocketFamilyProvider>();

/** Register (or replace) the provider of an address family. Returns an undo. */
export function registerSocketFamily(p: SocketFamilyProvider): () => void {
  const prev = providers.get(p.family);
  providers.set(p.family, p);
  return () => {
    if (providers.get(p.family) !== p) return;
    if (prev) providers.set(p.family, prev);
    else providers.delete(p.family);
  };
}

/** The provider for `family`, or undefined (EAFNOSUPPORT). */
export function socketFamily(family: number): SocketFamilyProvider | undefined {
  return providers.get(family);
}

/** Registered families, ascending (for docs and diagnostics). */
export function socketFamilies(): number[] {
  return [...providers.keys()].sort((a, b) => a - b);
}
