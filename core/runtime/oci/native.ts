/** The OCI runtime's small native addon (core/runtime/oci/native): host ptys and SCM_RIGHTS. */
import * as path from 'node:path';
import { loadAddon } from '../../native/index';

export interface OciNative {
  /** A host pseudo-terminal pair (both O_CLOEXEC, O_NOCTTY). Throws {errno, syscall}. */
  openPty(): { master: number; slave: number; name: string };
  /** Connects to unix socket `socketPath` and sends `fd` (SCM_RIGHTS) with `name` as the data. */
  sendFd(socketPath: string, fd: number, name: string): void;
  /** ioctl(fd, TIOCSCTTY): the terminal becomes the (session-leader) caller's controlling tty. */
  setControllingTty(fd: number): void;
  /**
   * A host process holding terminal `fd` as its controlling tty, in the foreground, that
   * writes each terminal signal it gets (one byte: the number) to the returned pipe `fd`.
   */
  ttySignalRelay(fd: number): { pid: number; fd: number };
  /** waitpid(pid, 0): reaps a relay; returns its wait status. */
  waitPid(pid: number): number;
}

let cached: OciNative | undefined;
export function ociNative(): OciNative {
  // dist/core/runtime/oci/native.js -> <repo>/core/runtime/oci/native
  cached ??= loadAddon<OciNative>(
    path.resolve(__dirname, '..', '..', '..', '..', 'core', 'runtime', 'oci', 'native'),
    'tsvisor_oci',
  );
  return cached;
}
