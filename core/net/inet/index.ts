/**
 * Attaching a NetworkStack plugin (core/plugins/network.ts) to the socket layer: each
 * family the stack serves is registered in the address-family registry for as long as the
 * sandbox runs, and the stack becomes the one /proc/net asks. `runsc do` runs one sandbox
 * per sentry process, so there is one attached stack at a time.
 */
import type { NetworkStack } from '../../plugins/network';
import { registerSocketFamily } from '../families';

let current: NetworkStack | null = null;

/** Register `stack`'s families; returns the undo (call it when the sandbox ends). */
export function attachNetworkStack(stack: NetworkStack): () => void {
  const undos = stack.families.map((family) =>
    registerSocketFamily({
      family,
      socket: (t, type, protocol, flags) => stack.socket(t, family, type, protocol, flags),
    }),
  );
  const prev = current;
  current = stack;
  return () => {
    for (const u of undos) u();
    if (current === stack) current = prev;
  };
}

/** The attached stack, or null (network: none). */
export function networkStack(): NetworkStack | null {
  return current;
}
