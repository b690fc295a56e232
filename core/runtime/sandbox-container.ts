/**
 * One dependency-injection container per sandbox: a tsyringe child container holding the
 * sandbox's effective config, logger and id, with every configured plugin registered into
 * it. The kernel resolves Platform, NetworkStack and the filesystem types from here and
 * never names a plugin. dispose() shuts down what was resolved and disposes the container.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { EffectiveConfig } from '../config/types';
import { createLogger, loggerOptions, type Logger } from '../log/index';
import { loadPlugins, type LoadedPlugin, type LoadedPlugins } from '../plugins/loader';
import { FilesystemType } from '../plugins/filesystem';
import { NetworkStack } from '../plugins/network';
import { Platform } from '../plugins/platform';
import { Config, Logger as LoggerToken, SandboxId } from '../plugins/tokens';

export interface SandboxContainerOptions {
  /** The sandbox (container) id; default a random 12-hex-digit id. */
  sandboxId?: string;
  /** The sandbox's logger; default one made from the config (createLogger). */
  log?: Logger;
  /** Plugins already loaded (loadPlugins); default loaded from the config here. */
  plugins?: LoadedPlugins;
  /** Parent container; default tsyringe's root container. */
  parent?: DependencyContainer;
}

export interface SandboxContainer {
  readonly container: DependencyContainer;
  readonly sandboxId: string;
  /** The logger registered under the Logger token (carries sandboxId). */
  readonly log: Logger;
  readonly plugins: readonly LoadedPlugin[];
  /**
   * Calls shutdown() on the NetworkStack and Platform instances that were resolved (in that
   * order), then disposes the container (which disposes its Disposable instances).
   * Idempotent: later calls return the first call's promise.
   */
  dispose(): Promise<void>;
}

/** The token each slot's plugin must bind. */
const SLOT_TOKEN: Record<LoadedPlugin['slot'], { token: symbol; name: string }> = {
  platform: { token: Platform, name: 'Platform' },
  network: { token: NetworkStack, name: 'NetworkStack' },
  rootfs: { token: FilesystemType, name: 'FilesystemType' },
};

/** Tokens whose resolved instances get shutdown() on dispose, in this order. */
const SHUTDOWN_TOKENS = [
  { token: NetworkStack, name: 'NetworkStack' },
  { token: Platform, name: 'Platform' },
];

export function newSandboxId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Builds the container for one sandbox. Throws ConfigError for a bad plugin config, and an
 * Error naming the plugin when a plugin's register() throws or binds nothing for its slot.
 */
export async function createSandboxContainer(
  config: EffectiveConfig,
  opts: SandboxContainerOptions = {},
): Promise<SandboxContainer> {
  const sandboxId = opts.sandboxId ?? newSandboxId();
  const loaded = opts.plugins ?? (await loadPlugins(config));
  const log = opts.log ?? createLogger(loggerOptions(config.values, sandboxId));
  const container = (opts.parent ?? rootContainer).createChildContainer();

  container.register(Config, { useValue: config });
  container.register(LoggerToken, { useValue: log });
  container.register(SandboxId, { useValue: sandboxId });

  // Remember each resolved instance that needs shutdown(), without resolving anything ourselves.
  const toShutdown: { token: string; instance: { shutdown(): void } }[] = [];
  for (const { token, name } of SHUTDOWN_TOKENS) {
    container.afterResolution(
      token,
      (_t, result) => {
        for (const r of Array.isArray(result) ? result : [result]) {
          const inst = r as { shutdown?: unknown };
          if (typeof inst?.shutdown === 'function' && !toShutdown.some((s) => s.instance === inst)) {
            toShutdown.push({ token: name, instance: inst as { shutdown(): void } });
          }
        }
      },
      { frequency: 'Always' },
    );
  }

  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      const errors: unknown[] = [];
      // Network first (it may hold sockets the platform's tasks use), then the platform.
      const order = SHUTDOWN_TOKENS.map((t) => t.name);
      toShutdown.sort((a, b) => order.indexOf(a.token) - order.indexOf(b.token));
      for (const { token, instance } of toShutdown) {
        try {
          instance.shutdown();
        } catch (e) {
          errors.push(e);
          log.error({ err: e, token }, `${token}.shutdown() failed`);
        }
      }
      try {
        await container.dispose();
      } catch (e) {
        errors.push(e);
        log.error({ err: e }, 'disposing the sandbox container failed');
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1)
        throw new AggregateError(errors, `sandbox ${sandboxId}: ${errors.length} errors during dispose`);
    })();
    return disposing;
  };

  try {
    for (const plugin of loaded.plugins) {
      const { manifest } = plugin;
      try {
        manifest.register(container, plugin.options);
      } catch (e) {
        throw new Error(
          `plugin "${manifest.name}" (${plugin.slot} = ${JSON.stringify(plugin.spec)}, ${plugin.modulePath}) failed in register(): ${(e as Error).message ?? String(e)}`,
          { cause: e },
        );
      }
      const need = SLOT_TOKEN[plugin.slot];
      if (!container.isRegistered(need.token)) {
        throw new Error(
          `plugin "${manifest.name}" (${plugin.slot} = ${JSON.stringify(plugin.spec)}, ${plugin.modulePath}) registered no ${need.name} provider: its register(container) must call container.register(${need.name}, ...) with the ${need.name} token exported by tsvisor's plugin API`,
        );
      }
      log.debug(
        { plugin: manifest.name, version: manifest.version, slot: plugin.slot, module: plugin.modulePath },
        'plugin registered',
      );
    }
  } catch (e) {
    await dispose().catch(() => undefined);
    throw e;
  }

  return { container, sandboxId, log, plugins: loaded.plugins, dispose };
}
