/** core/vfs: mounts, dentries, path walk, file descriptions, fd tables, permissions. See README.md. */
export * from './abi';
export * from './inode';
export * from './file';
export * from './mount';
export * from './perm';
export * from './walk';
export * from './fdtable';
export * from './fscontext';
export type { FileTask } from './task';
export * from './devices';
export * from './ops';
export * from './lock';
