/** core/fs: built-in filesystems (tmpfs, overlay, devtmpfs, pipes, host fds) and the sandbox mount namespace. */
export * from './tmpfs';
export * from './overlay';
export * from './pipe';
export * from './dev';
export * from './host';
export * from './rootfs';
