/**
 * Mounting the 9p mode: either a connection to the sandbox's `runsc gofer` (the normal path:
 * ONE confined gofer process per sandbox, serving every gofer-backed mount of it on a
 * socketpair of its own, and exiting when the sandbox's ends of the sockets close), or a
 * connection to an existing 9P2000.L server over TCP (`gofer.server`, for tests and
 * debugging, e.g. Debian's diod).
 *
 * One gofer for several mounts: the caller passes the same `group` object ({sources: every
 * host directory the sandbox will mount with this type, in any order; writable: which of
 * them it writes}) to each mount. The
 * first such mount starts the gofer with a socketpair per source; each mount then takes the
 * connection of its own source. A mount without a group gets a gofer of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../../core/log';
import type { MemoryFile } from '../../../core/mm/memfile';
import { goferNative } from './p9/native';
import { P9fs, SyncP9Conn } from './p9fs';

export interface MountP9Options {
  mf?: MemoryFile;
  log?: Logger;
  /** IPv4 HOST:PORT of a 9P2000.L server to use instead of starting runsc gofer. */
  server?: string;
  /** Attach name for `server`. */
  aname?: string;
  /** Writes reach the server (overlay: none). */
  writable?: boolean;
  fileAccess?: 'exclusive' | 'shared';
  /** The sandbox's 9p mounts, served by one gofer (see above). Without it: a gofer of its own. */
  group?: GoferGroup;
}

/** The runsc entry script (bin/run.js) to start `runsc gofer` with. */
function runscEntry(): string {
  const argv1 = process.argv[1];
  if (argv1 && /(^|\/)run(\.js)?$/.test(argv1) && fs.existsSync(argv1)) return argv1;
  // dist/plugins/fs-gofer/src -> <repo>/bin/run.js
  return path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'run.js');
}

export function mountP9(source: string, o: MountP9Options): P9fs {
  const n = goferNative();
  if (o.server !== undefined) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(o.server);
    if (!m) throw new Error(`gofer.server ${JSON.stringify(o.server)}: expected an IPv4 HOST:PORT`);
    let fd: number;
    try {
      fd = n.connectTcp(m[1], Number(m[2]));
    } catch (e) {
      throw new Error(`gofer.server ${o.server}: ${(e as Error).message}`);
    }
    const conn = new SyncP9Conn(fd, o.log, `9P server ${o.server}`);
    try {
      return new P9fs(conn, {
        mf: o.mf,
        aname: o.aname ?? source,
        log: o.log,
        writable: o.writable,
        fileAccess: o.fileAccess,
      });
    } catch (e) {
      conn.close();
      throw new Error(`gofer.server ${o.server}: attaching ${o.aname ?? source}: ${(e as Error).message}`);
    }
  }
  const group = o.group ?? { sources: [source], writable: [o.writable === true] };
  let g = started.get(group);
  if (!g) {
    g = startGofer(group, o.log);
    started.set(group, g);
  }
  const want = path.resolve(source);
  const k = g.sources.findIndex((s, j) => s === want && !g.taken[j]);
  if (k < 0)
    throw new Error(
      `9p mount of ${want}: not among the directories its gofer was started for (${g.sources.join(', ')})`,
    );
  g.taken[k] = true;
  const conn = g.conns[k];
  try {
    return new P9fs(conn, {
      mf: o.mf,
      aname: '',
      log: o.log,
      writable: o.writable,
      fileAccess: o.fileAccess,
    });
  } catch (e) {
    conn.close();
    g.child.kill('SIGKILL');
    throw new Error(`runsc gofer for ${want} did not start serving: ${(e as Error).message}`);
  }
}

/** The host directories a sandbox will mount with the 9p type: one gofer serves them all. */
export interface GoferGroup {
  sources: string[];
  /**
   * Whether the sandbox writes sources[i] (a mount with overlay: none). One it only reads is
   * bind-mounted read-only in the gofer. Absent: all writable.
   */
  writable?: boolean[];
}

interface StartedGofer {
  child: ChildProcess;
  sources: string[];
  conns: SyncP9Conn[];
  taken: boolean[];
}

const started = new WeakMap<GoferGroup, StartedGofer>();

/** Starts one `runsc gofer` serving the group's sources, the i-th on the i-th socketpair. */
function startGofer(group: GoferGroup, log: Logger | undefined): StartedGofer {
  const n = goferNative();
  if (group.sources.length === 0) throw new Error('a gofer needs at least one directory');
  const resolved = group.sources.map((s) => path.resolve(s));
  const mine: number[] = [];
  const theirs: number[] = [];
  const args = [runscEntry(), 'gofer'];
  try {
    for (const [i, dir] of resolved.entries()) {
      const [a, b] = n.socketpair();
      mine.push(a);
      theirs.push(b);
      // The child's fd 3 + i (spawn's stdio array places them there).
      args.push('--fd', String(3 + i), '--root-dir', dir);
      if (group.writable && !group.writable[i]) args.push('--read-only-fd', String(3 + i));
    }
  } catch (e) {
    for (const fd of [...mine, ...theirs]) fs.closeSync(fd);
    throw e;
  }
  const child = spawn(process.execPath, args, {
    env: { ...process.env, TSVISOR_INTERNAL: 'gofer' },
    stdio: ['ignore', 'ignore', 'inherit', ...theirs],
  });
  for (const fd of theirs) fs.closeSync(fd);
  // The gofer lives as long as its sockets: it exits when this process closes its ends.
  child.unref();
  // runsc gofer serves requests in order, so dependent requests may be pipelined.
  const conns = mine.map(
    (fd, i) => new SyncP9Conn(fd, log, `runsc gofer (pid ${child.pid}) for ${resolved[i]}`, true),
  );
  // Its death is logged with the cause as soon as the sentry hears of it, for every mount it
  // served (a closed connection says it too, at the next request; each line is logged once).
  child.once('exit', (code, signal) => {
    for (const c of conns) c.peerGone(signal ? `killed by ${signal}` : `exited with status ${code}`);
  });
  return { child, sources: resolved, conns, taken: resolved.map(() => false) };
}
