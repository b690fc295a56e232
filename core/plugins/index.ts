/** The plugin API: everything a plugin may import from the core. */
export * from './platform';
export * from './network';
export * from './filesystem';
export * from './manifest';
export * from './tokens';
