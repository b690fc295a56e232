/**
 * The plugin slots of the config and the built-in plugins each slot knows by name.
 * A built-in name maps to its folder under `plugins/` (compiled to `dist/plugins/<folder>`);
 * the loader computes that path at run time, so the core never imports a plugin.
 */
import type { PluginKind } from '../plugins/manifest';

export type PluginSlot = 'platform' | 'network' | 'rootfs';

export interface SlotInfo {
  /** The manifest `kind` a plugin in this slot must declare. */
  kind: PluginKind;
  /** Built-in name → folder under plugins/. */
  builtins: Readonly<Record<string, string>>;
  /** A value that selects no plugin of the user's (network: none). */
  none?: string;
  /**
   * What `none` still loads, if anything: `network: none` is a sandbox with only loopback
   * (as a fresh Linux network namespace, and gVisor's --network=none), served by a
   * built-in plugin with fixed options. Skipped when that plugin is not built.
   */
  noneLoads?: { builtin: string; options: Readonly<Record<string, unknown>> };
}

export const SLOTS: Readonly<Record<PluginSlot, SlotInfo>> = {
  platform: { kind: 'platform', builtins: { ptrace: 'platform-ptrace', kvm: 'platform-kvm' } },
  network: {
    kind: 'network',
    builtins: { netstack: 'net-netstack', host: 'net-host' },
    none: 'none',
    noneLoads: { builtin: 'host', options: { netns: 'loopback' } },
  },
  rootfs: { kind: 'filesystem', builtins: { gofer: 'fs-gofer', containerfs: 'fs-containerfs' } },
};

export const PLUGIN_SLOTS: readonly PluginSlot[] = ['platform', 'network', 'rootfs'];

/** Every built-in plugin name, in any slot. */
export function allBuiltinNames(): string[] {
  return PLUGIN_SLOTS.flatMap((s) => Object.keys(SLOTS[s].builtins));
}

/** The slot a built-in name belongs to, if it is one. */
export function builtinSlot(name: string): PluginSlot | undefined {
  return PLUGIN_SLOTS.find((s) => Object.hasOwn(SLOTS[s].builtins, name));
}

/** "ptrace, kvm, an npm package name or a path" for messages. */
export function allowedSpecs(slot: PluginSlot): string {
  const names = [...Object.keys(SLOTS[slot].builtins), ...(SLOTS[slot].none ? [SLOTS[slot].none] : [])];
  return `${names.join(', ')}, an npm package name or a path to a plugin module`;
}
