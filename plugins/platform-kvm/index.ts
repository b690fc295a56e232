/**
 * The KVM platform plugin: app code runs in a KVM virtual machine (no guest kernel on the
 * system-call path; see docs/kvm.md). Config block (`kvm:`): see configSchema.
 */
import { Platform, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { KvmPlatform, type KvmOptions } from './src/platform';

export { KvmPlatform, KvmAddressSpace, KvmContext, unusableError, type KvmOptions } from './src/platform';
export { PageTables, BumpPool } from './src/pagetables';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    sliceMs: {
      type: 'number',
      minimum: 0.1,
      maximum: 1000,
      default: 2,
      description:
        'Longest time one event-loop turn runs app code (vCPUs run on the sentry main thread) before timers and I/O get their turn.',
    },
  },
  additionalProperties: false,
};

function toOptions(options: Record<string, unknown>): KvmOptions {
  const o: KvmOptions = {};
  if (options.sliceMs !== undefined) o.sliceMs = Number(options.sliceMs);
  return o;
}

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'platform',
  name: 'kvm',
  version: '0.1.0',
  description:
    'Runs app code in a KVM virtual machine: system calls exit through an MMIO doorbell, faults through IDT stubs; works on kvm_pvm hosts.',
  configSchema,
  register(container, options) {
    container.registerInstance(Platform, new KvmPlatform(toOptions(options)));
  },
};

export default manifest;
export { measureGetpidRoundTrip, type KvmGetpidTimes } from './src/measure';
