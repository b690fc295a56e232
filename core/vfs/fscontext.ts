/**
 * FsContext: a task's root, working directory and umask (Linux's fs_struct). Shared by
 * threads created with CLONE_FS, copied by fork().
 */
import type { VirtualDentry } from './mount';

export class FsContext {
  constructor(
    public root: VirtualDentry,
    public cwd: VirtualDentry,
    public umask = 0o022,
  ) {}

  /** An independent copy (fork without CLONE_FS). */
  fork(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask);
  }
}
