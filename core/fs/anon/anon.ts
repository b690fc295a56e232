/**
 * Anonymous-inode files (Linux's fs/anon_inodes.c): eventfd, epoll, timerfd and signalfd
 * descriptions have no name in any filesystem. Linux backs them all with one shared inode
 * on the internal anon_inodefs (mode 0600 with no file-type bits, owned by root), and
 * /proc/<pid>/fd shows them as "anon_inode:[<name>]".
 *
 * AnonFile is the base: Linux's answers for such a file — fstat gives the shared inode,
 * lseek is noop_llseek (returns the position, 0), pread/pwrite fail with ESPIPE (the file
 * has no FMODE_PREAD) — and `procLinkName()` for core/fs/proc/fdlinks.ts.
 */
import { blankStat, allocAnonDev, type Stat } from '../../vfs/inode';
import { FileDescription } from '../../vfs/file';

/** st_dev of anon_inodefs and the ino of its single shared inode. */
export const ANON_DEV = allocAnonDev();
export const ANON_INO = 1;

const anonStat: Stat = blankStat(ANON_DEV, ANON_INO, 0o600);

export abstract class AnonFile extends FileDescription {
  /** `name` is Linux's anon_inode_getfile name, e.g. "[eventfd]". */
  constructor(
    flags: number,
    readonly anonName: string,
  ) {
    super(flags);
  }

  /** readlink text of /proc/<pid>/fd/N. */
  procLinkName(): string {
    return `anon_inode:${this.anonName}`;
  }

  override stat(): Stat {
    return { ...anonStat };
  }

  /** noop_llseek: the position never moves. */
  override seek(): number {
    return this.pos;
  }
}

/**
 * Whether epoll may watch `f` (Linux's file_can_poll: the file has a ->poll). A file says
 * so with an optional `pollable()` method; otherwise a file that implements readiness()
 * itself polls, and one left with FileDescription's default ("always ready": regular
 * files, directories, /dev/null) does not, so epoll_ctl(ADD) fails with EPERM as Linux.
 */
export function canPoll(f: FileDescription): boolean {
  const h = f as FileDescription & { pollable?: () => boolean };
  if (typeof h.pollable === 'function') return h.pollable();
  return f.readiness !== FileDescription.prototype.readiness;
}
