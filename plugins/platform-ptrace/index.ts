/**
 * The ptrace platform plugin: app code runs in stub processes traced with PTRACE_SYSEMU
 * by the sentry's main thread. Config block (`ptrace:`): see configSchema.
 */
import { Platform, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { PtracePlatform, type PtraceOptions } from './src/platform';

export { PtracePlatform, PtraceAddressSpace, PtraceContext, type PtraceOptions } from './src/platform';
export { measureGetpidRoundTrip } from './src/measure';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    pin: {
      type: 'boolean',
      default: true,
      description:
        'Pin the sentry main thread and every stub thread to one CPU. Avoids a cross-CPU wake-up per system call (5-6x faster on VMs); all app code of the sandbox then shares that CPU.',
    },
    cpu: {
      type: 'integer',
      minimum: 0,
      description: 'The CPU to pin to (default: the CPU the sentry main thread is on at start).',
    },
    drainBudgetMs: {
      type: 'number',
      minimum: 0.1,
      maximum: 1000,
      default: 2,
      description: 'Longest time one event-loop turn spends collecting app stops before timers and I/O run.',
    },
    spinUs: {
      type: 'integer',
      minimum: 0,
      maximum: 1000000,
      default: 100,
      description:
        'How long (µs) a drain waits for the next app stop, yielding the CPU, before the event loop sleeps until SIGCHLD.',
    },
  },
  additionalProperties: false,
};

function toOptions(options: Record<string, unknown>): PtraceOptions {
  const o: PtraceOptions = {};
  if (options.pin !== undefined) o.pin = Boolean(options.pin);
  if (options.cpu !== undefined) o.cpu = Number(options.cpu);
  if (options.drainBudgetMs !== undefined) o.drainBudgetMs = Number(options.drainBudgetMs);
  if (options.spinUs !== undefined) o.spinUs = Number(options.spinUs);
  return o;
}

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'platform',
  name: 'ptrace',
  version: '0.1.0',
  description: 'Runs app code in stub processes under PTRACE_SYSEMU; the sentry serves every system call.',
  configSchema,
  register(container, options) {
    container.registerInstance(Platform, new PtracePlatform(toOptions(options)));
  },
};

export default manifest;
