/**
 * The IPC namespace (Linux's struct ipc_namespace): System V shared memory, semaphores and
 * message queues, and POSIX message queues. A sandbox has exactly one; it is attached to
 * the Kernel lazily (ipcNamespace(kernel)) so the kernel itself knows nothing of IPC.
 */
import type { MemoryFile } from '../../mm/memfile';
import { MqRegistry } from './mqueue';
import { MsgRegistry } from './msg';
import { SemRegistry } from './sem';
import { ShmRegistry } from './shm';

export class IpcNamespace {
  readonly shm: ShmRegistry;
  readonly sem = new SemRegistry();
  readonly msg = new MsgRegistry();
  readonly mq = new MqRegistry();

  constructor(mf: MemoryFile) {
    this.shm = new ShmRegistry(mf);
  }
}

const namespaces = new WeakMap<object, IpcNamespace>();

/** The IPC namespace of `owner` (the Kernel of a sandbox), created on first use. */
export function ipcNamespace(owner: { readonly mf: MemoryFile }): IpcNamespace {
  let ns = namespaces.get(owner);
  if (!ns) {
    ns = new IpcNamespace(owner.mf);
    namespaces.set(owner, ns);
  }
  return ns;
}
