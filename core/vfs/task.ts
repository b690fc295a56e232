/** The task as the VFS and file syscalls need it. Implemented by kernel/Task. */
import type { TaskApi } from '../kernel/api';
import type { FdTable } from './fdtable';
import type { FsContext } from './fscontext';

export interface FileTask extends TaskApi {
  /** The fd table (shared with CLONE_FILES). */
  readonly files: FdTable;
  /** root, cwd, umask (shared with CLONE_FS). */
  readonly fs: FsContext;
  /** Process group and session ids, when the kernel knows them (terminal ioctls). */
  readonly pgid?: number;
  readonly sid?: number;
}
