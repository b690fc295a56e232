/**
 * Injection tokens the core registers in every sandbox's container, for plugins and core
 * services to resolve. As with Platform and NetworkStack, each token is also the name of
 * the type it resolves to: `container.resolve<Logger>(Logger)`.
 */
import 'reflect-metadata';
import type { EffectiveConfig } from '../config/types';
import type { Logger as CoreLogger } from '../log/index';

/** The sandbox's effective configuration (values and the source of each). */
export const Config = Symbol('Config');
export type Config = EffectiveConfig;

/** The sandbox's structured logger; lines carry `sandboxId`. Use `child({ ... })` for more fields. */
export const Logger = Symbol('Logger');
export type Logger = CoreLogger;

/** The sandbox (container) id, a string. */
export const SandboxId = Symbol('SandboxId');
export type SandboxId = string;

/**
 * tsyringe's lifecycles, re-exported so a plugin need not depend on tsyringe itself:
 * `container.register(Platform, { useClass: MyPlatform }, { lifecycle: Lifecycle.ContainerScoped })`
 * gives one instance per sandbox, made when the kernel first resolves it.
 */
export { Lifecycle } from 'tsyringe';
export type { DependencyContainer } from 'tsyringe';
