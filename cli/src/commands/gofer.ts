import { Flags } from '@oclif/core';
import { RunscCommand } from '../base';
import { ExitCode, INTERNAL_ENV } from '../exit-codes';

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) -> parts, or a message naming the flag. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw Object.assign(new Error(`gofer: --listen ${v}: expected HOST:PORT (port 0..65535)`), {
      exitCode: ExitCode.USAGE,
    });
  return { host: m[1] ?? m[2], port };
}

export default class Gofer extends RunscCommand {
  static override hidden = true;
  static override summary =
    'The file proxy of a sandbox: serves a root directory over 9P2000.L. Internal: started by runsc; --listen is a test/debug mode.';
  static override description = `Serves DIR (--root-dir) over 9P2000.L (docs/gofer.md).

Internal mode (TSVISOR_INTERNAL=gofer, started by runsc): one process per sandbox serves
every gofer-backed mount of it: the i-th --fd (an inherited socket) serves the i-th
--root-dir, each connection with its own attach root. Before serving, the gofer enters a
private mount namespace whose root holds only bind mounts of those directories
(pivot_root; read-only for each --read-only-fd), and drops capabilities. It exits when all its sockets have closed.

Test/debug mode: --listen HOST:PORT serves TCP connections (unconfined, no authentication:
use a loopback address) for one --root-dir. The first line on stdout is "listening on HOST:PORT".`;

  static override flags = {
    'root-dir': Flags.string({
      description: 'The directory served as / (internal mode: once per --fd, in the same order).',
      helpValue: 'DIR',
      required: true,
      multiple: true,
    }),
    listen: Flags.string({
      description: 'Serve TCP connections on HOST:PORT (tests, debugging).',
      helpValue: 'HOST:PORT',
    }),
    fd: Flags.integer({
      description: 'Internal: serve this inherited socket fd (once per --root-dir).',
      min: 3,
      multiple: true,
    }),
    'read-only-fd': Flags.integer({
      description:
        'Internal: the directory of this --fd is bind-mounted read-only in the gofer (the sandbox only reads it).',
      min: 3,
      multiple: true,
    }),
    aname: Flags.string({
      description: 'Also accept this attach name (besides "", "/" and DIR itself), e.g. ctl for diodload.',
      multiple: true,
      helpValue: 'NAME',
    }),
    msize: Flags.integer({ description: 'Largest message size offered. [default: 1048576]', min: 4096 }),
  };

  protected override async init(): Promise<void> {
    // Refuse before anything else (config loading included), unless this is the test/debug mode.
    const listen = this.argv.some((a) => a === '--listen' || a.startsWith('--listen='));
    if (process.env[INTERNAL_ENV] !== 'gofer' && !listen) {
      this.logToStderr(
        'runsc gofer: internal command: used by runsc create/run; not for direct use (`runsc gofer --listen HOST:PORT --root-dir DIR` serves a directory for tests)',
      );
      this.exit(ExitCode.USAGE);
    }
    await super.init();
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Gofer);
    const { GoferServer } = await import('../../../plugins/fs-gofer/src/p9/server');
    const log = await this.logger();
    const net = await import('node:net');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const usage = (msg: string): Error =>
      Object.assign(new Error(`gofer: ${msg}`), { exitCode: ExitCode.USAGE });
    const roots = flags['root-dir'].map((d) => path.resolve(d));
    for (const root of roots) {
      let st: import('node:fs').Stats;
      try {
        st = fs.statSync(root);
      } catch (e) {
        throw usage(`--root-dir ${root}: ${(e as Error).message}`);
      }
      if (!st.isDirectory()) throw usage(`--root-dir ${root}: not a directory`);
    }

    if (flags.listen !== undefined) {
      const { host, port } = parseListen(flags.listen);
      if (roots.length !== 1) throw usage('--listen serves one --root-dir');
      const root = roots[0];
      const server = new GoferServer({ root, maxMsize: flags.msize, anames: flags.aname, log });
      const tcp = net.createServer((sock) => {
        sock.setNoDelay(true);
        server.serve(sock);
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', (e) =>
          reject(Object.assign(new Error(`gofer: --listen ${flags.listen}: ${e.message}`), { exitCode: 1 })),
        );
        tcp.listen(port, host, () => resolve());
      });
      const addr = tcp.address() as import('node:net').AddressInfo;
      process.stdout.write(
        `listening on ${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          tcp.close();
          server.close();
          resolve();
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return;
    }

    const fds = flags.fd ?? [];
    if (fds.length === 0) throw usage('give --fd N (internal) or --listen HOST:PORT');
    if (fds.length !== roots.length)
      throw usage(`${fds.length} --fd for ${roots.length} --root-dir: give one --fd per --root-dir`);
    // Internal mode: confine first (every directory is reachable only through its bind mount
    // in the gofer's own root), then serve the i-th directory on the i-th socket.
    const { goferNative } = await import('../../../plugins/fs-gofer/src/p9/native');
    const ro = new Set(flags['read-only-fd'] ?? []);
    for (const fd of ro) if (!fds.includes(fd)) throw usage(`--read-only-fd ${fd}: not one of the --fd`);
    let inside: string[];
    try {
      inside = goferNative().confineMounts(
        roots,
        fds.map((fd) => ro.has(fd)),
      );
    } catch (e) {
      throw Object.assign(new Error(`gofer: confining to ${roots.join(', ')}: ${(e as Error).message}`), {
        exitCode: 1,
      });
    }
    const servers = inside.map((root) => new GoferServer({ root, maxMsize: flags.msize, log }));
    const closed = servers.map((server, i) => {
      const sock = new net.Socket({ fd: fds[i], readable: true, writable: true });
      server.serve(sock);
      return new Promise<void>((resolve) =>
        sock.once('close', () => {
          server.close();
          resolve();
        }),
      );
    });
    // The sandbox holds the other ends: when they are gone, so is the gofer.
    await Promise.all(closed);
  }
}
