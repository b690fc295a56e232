/**
 * The mutating half of the Inode contract for a read-only tree — the lower layers under
 * the root's overlay (directfs, the 9P client, containerfs images): every change fails with
 * EROFS (the overlay copies up before changing anything), and there are no extended
 * attributes unless the subclass reads some.
 */
import { ENODATA, EROFS, SysError } from '../abi/errno';
import type { Credentials } from '../kernel/api';
import type { Inode, SetAttr } from './inode';

export abstract class ReadOnlyInode {
  setattr(_attr: SetAttr, _creds: Credentials): void {
    throw new SysError(EROFS);
  }
  create(): Inode {
    throw new SysError(EROFS);
  }
  mkdir(): Inode {
    throw new SysError(EROFS);
  }
  mknod(): Inode {
    throw new SysError(EROFS);
  }
  symlink(): Inode {
    throw new SysError(EROFS);
  }
  link(): void {
    throw new SysError(EROFS);
  }
  unlink(): void {
    throw new SysError(EROFS);
  }
  rmdir(): void {
    throw new SysError(EROFS);
  }
  rename(): void {
    throw new SysError(EROFS);
  }
  setxattr(): void {
    throw new SysError(EROFS);
  }
  removexattr(): void {
    throw new SysError(EROFS);
  }
  getxattr(_name: string): Uint8Array | null {
    throw new SysError(ENODATA);
  }
  listxattr(): string[] {
    return [];
  }
}
