/**
 * Mounting the 9p mode: either start `runsc gofer` on a socketpair (the normal path: one
 * confined gofer per sandbox, which exits when the sandbox's end of the socket closes), or
 * connect to an existing 9P2000.L server over TCP (`gofer.server`, for tests and debugging,
 * e.g. Debian's diod).
 */
import { spawn } from 'node:child_process';
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
  const [mine, theirs] = n.socketpair();
  const child = spawn(process.execPath, [runscEntry(), 'gofer', '--fd', '3', '--root-dir', source], {
    env: { ...process.env, TSVISOR_INTERNAL: 'gofer' },
    stdio: ['ignore', 'ignore', 'inherit', theirs],
  });
  fs.closeSync(theirs);
  // The gofer lives as long as its socket: it exits when this process closes its end.
  child.unref();
  // runsc gofer serves requests in order, so dependent requests may be pipelined.
  const conn = new SyncP9Conn(mine, o.log, `runsc gofer (pid ${child.pid})`, true);
  // Its death is logged with the cause as soon as the sentry hears of it (a closed
  // connection says it too, at the next request; the line is logged once).
  child.once('exit', (code, signal) =>
    conn.peerGone(signal ? `killed by ${signal}` : `exited with status ${code}`),
  );
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
    child.kill('SIGKILL');
    throw new Error(`runsc gofer for ${source} did not start serving: ${(e as Error).message}`);
  }
}
