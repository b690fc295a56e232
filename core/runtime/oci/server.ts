/**
 * The sandbox side of a container (`runsc boot`): builds the Sandbox from the bundle,
 * serves the control socket, and ends when the init does.
 *
 * Methods (JSON-RPC, see rpc.ts): start, started, kill {signal, all}, exec {process,
 * stdioPid} → {pid}, waitpid {pid} → wait status, wait → init's wait status, ps, pause,
 * resume, stats.
 *
 * exec's stdio: the sandbox reopens /proc/<stdioPid>/fd/0..2 of the runsc exec process
 * (pipes, fifos, files and terminals can be reopened; sockets cannot, and are refused with
 * a message saying so).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EffectiveConfig } from '../../config/types';
import type { Logger } from '../../log/index';
import { ContainerSetupError, Sandbox, type ProcessSpec } from '../sandbox';
import { RpcError, serve } from './rpc';
import { loadSpec } from './spec';
import { applyCgroups, hasLimits, type Resources } from './cgroups';
import { ociNative } from './native';
import { coreNative } from '../../native/index';
import { StateStore } from './state';

export interface ServeOptions {
  config: EffectiveConfig;
  id: string;
  bundle: string;
  root: string;
  consoleSocket?: string;
  log: Logger;
  /** Tells the parent (runsc create) the sandbox is ready, or why it is not. */
  ready(msg: Record<string, unknown>): void;
}

/**
 * A host pty for a terminal container: the master goes to the console socket (SCM_RIGHTS,
 * with the terminal's name as data, as runc sends it); the slave is the init's stdio.
 */
function consoleTerminal(socket: string, size?: { height: number; width: number }): [number, number, number] {
  const pty = ociNative().openPty();
  try {
    if (size) {
      const ws = new Uint8Array(8);
      new DataView(ws.buffer).setUint16(0, size.height, true);
      new DataView(ws.buffer).setUint16(2, size.width, true);
      coreNative().hostTtyIoctl(pty.slave, 0x5414 /* TIOCSWINSZ */, ws);
    }
    ociNative().sendFd(socket, pty.master, pty.name);
  } catch (e) {
    fs.closeSync(pty.slave);
    throw new ContainerSetupError(
      `--console-socket ${socket}: cannot send the terminal: ${(e as Error).message}`,
    );
  } finally {
    fs.closeSync(pty.master);
  }
  return [pty.slave, pty.slave, pty.slave];
}

/** Reopens fd `n` of host process `pid` for the sandbox. */
function reopenFd(pid: number, n: number): number {
  const p = `/proc/${pid}/fd/${n}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw new RpcError(`exec: cannot see fd ${n} of runsc exec (${p}): ${(e as Error).message}`);
  }
  if (st.isSocket())
    throw new RpcError(
      `exec: fd ${n} of runsc exec is a socket, which the sandbox cannot reopen; give runsc exec pipes, files or a terminal`,
    );
  const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_NOCTTY, O_NONBLOCK } = fs.constants;
  const flags = st.isCharacterDevice()
    ? O_RDWR | O_NOCTTY
    : n === 0
      ? O_RDONLY
      : O_WRONLY | (st.isFile() ? O_APPEND : 0);
  try {
    return fs.openSync(p, flags | (st.isFIFO() ? O_NONBLOCK & 0 : 0));
  } catch (e) {
    throw new RpcError(`exec: cannot reopen fd ${n} of runsc exec (${p}): ${(e as Error).message}`);
  }
}

function asProcess(v: unknown): ProcessSpec {
  const p = v as ProcessSpec;
  if (!p || !Array.isArray(p.args) || p.args.length === 0) throw new RpcError('exec: no process args');
  return p;
}

/** Runs the container's sandbox; resolves with the exit status for the sandbox process. */
export async function serveContainer(o: ServeOptions): Promise<number> {
  const store = new StateStore(o.root);
  const log = o.log;
  let sb: Sandbox;
  let ttySignals = false;
  try {
    const spec = loadSpec(o.bundle, (p) => fs.readFileSync(p, 'utf8'));
    // Enter the cgroup before any stub exists, so every host process of the sandbox is in it.
    const res = spec.linux?.resources as Resources | undefined;
    if (hasLimits(res)) {
      try {
        const dirs = applyCgroups(process.pid, o.id, spec.linux?.cgroupsPath, res);
        fs.writeFileSync(path.join(store.dir(o.id), 'cgroups.json'), JSON.stringify(dirs));
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'linux.resources ignored: cgroups are not writable here');
      }
    }
    let stdio: [number, number, number] = [0, 1, 2];
    if (spec.process?.terminal && o.consoleSocket) {
      stdio = consoleTerminal(o.consoleSocket, spec.process.consoleSize);
      // The pty becomes this session's controlling terminal, so the host's line discipline
      // sends us ^C, ^\, ^Z and window changes; they go on to the app's foreground group.
      try {
        ociNative().setControllingTty(stdio[0]);
        ttySignals = true;
      } catch (e) {
        log.warn(
          { err: (e as Error).message },
          'the container terminal cannot be our controlling tty: ^C and resizes will not signal the app',
        );
      }
    }
    sb = await Sandbox.boot({ config: o.config, id: o.id, spec, bundle: o.bundle, log, stdio });
  } catch (e) {
    const internal = !(e instanceof ContainerSetupError) && !(e instanceof Error && e.name === 'SpecError');
    log.error({ err: e instanceof Error ? e.stack : String(e) }, 'the sandbox could not be built');
    o.ready({
      error: internal ? `cannot build the sandbox: ${(e as Error).message}` : (e as Error).message,
      exitCode: e instanceof ContainerSetupError ? 1 : 1,
    });
    return 1;
  }
  const execs = new Map<number, Promise<number>>();
  /**
   * ^C, ^\\, ^Z, resizes and hang-up of an exec'd process's own terminal: a host relay
   * process holds it as its controlling tty (the sandbox has one already: the container's)
   * and passes each signal on to the process's foreground group, until the process exits.
   */
  const relayTerminalSignals = (tty: number, pid: number, exited: Promise<number>): void => {
    let relay: { pid: number; fd: number };
    try {
      relay = ociNative().ttySignalRelay(tty);
    } catch (e) {
      log.warn(
        { err: (e as Error).message, pid },
        'exec --tty: no signal relay; ^C and resizes will not reach the process',
      );
      return;
    }
    const pipe = new net.Socket({ fd: relay.fd, readable: true, writable: false });
    let reaped = false;
    const reap = () => {
      if (reaped) return;
      reaped = true;
      try {
        process.kill(relay.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      pipe.destroy();
      try {
        ociNative().waitPid(relay.pid);
      } catch (e) {
        log.debug({ err: (e as Error).message }, 'terminal signal relay already reaped');
      }
    };
    pipe.on('data', (b: Buffer) => {
      for (const signo of b) sb.signalExecForeground(pid, signo);
    });
    pipe.on('error', reap);
    pipe.on('close', reap);
    void exited.finally(reap);
  };
  let server: net.Server | undefined;
  const sock = store.socketPath(o.id);
  try {
    fs.rmSync(sock, { force: true });
    server = await serve(
      sock,
      {
        start: () => {
          try {
            sb.start();
          } catch (e) {
            throw new RpcError((e as Error).message);
          }
          return true;
        },
        started: () => sb.started,
        kill: (p) => {
          const { signal, all } = p as { signal: number; all?: boolean };
          if (!Number.isInteger(signal) || signal < 0 || signal > 64)
            throw new RpcError(`invalid signal ${signal}`);
          try {
            sb.signal(signal, !!all);
          } catch (e) {
            throw new RpcError((e as Error).message);
          }
          return true;
        },
        exec: (p) => {
          const {
            process: proc,
            stdioPid,
            consoleSocket,
            consoleSize,
          } = p as {
            process: unknown;
            stdioPid: number;
            consoleSocket?: string;
            consoleSize?: { height: number; width: number };
          };
          const spec = asProcess(proc);
          const fds: number[] = [];
          try {
            if (consoleSocket) {
              // Each stdio file owns its fd: the pty slave, then two more opens of it.
              const [slave] = consoleTerminal(consoleSocket, consoleSize);
              fds.push(slave);
              for (let i = 0; i < 2; i++)
                fds.push(fs.openSync(`/proc/self/fd/${slave}`, fs.constants.O_RDWR | fs.constants.O_NOCTTY));
            } else for (const n of [0, 1, 2]) fds.push(reopenFd(stdioPid, n));
            const r = sb.exec(spec, fds);
            if (consoleSocket) relayTerminalSignals(fds[0], r.pid, r.exited);
            execs.set(r.pid, r.exited);
            void r.exited.then(() => setTimeout(() => execs.delete(r.pid), 60_000).unref());
            return { pid: r.pid };
          } catch (e) {
            for (const fd of fds) fs.closeSync(fd);
            if (e instanceof RpcError) throw e;
            throw new RpcError((e as Error).message);
          }
        },
        waitpid: async (p) => {
          const w = execs.get((p as { pid: number }).pid);
          if (!w) throw new RpcError(`no process ${(p as { pid: number }).pid} started by exec`);
          return w;
        },
        wait: () => sb.finished,
        ps: () => sb.ps(),
        pause: () => sb.pause(),
        resume: () => sb.resume(),
        stats: () => sb.stats(),
      },
      (e) => log.warn({ err: e instanceof Error ? e.stack : String(e) }, 'control socket error'),
    );
  } catch (e) {
    o.ready({ error: `cannot serve the control socket ${sock}: ${(e as Error).message}` });
    await sb.dispose();
    return 1;
  }
  // Only the owner (root, normally) may drive the sandbox.
  fs.chmodSync(sock, 0o600);
  process.chdir('/');
  log.debug({ socket: sock, pid: process.pid }, 'sandbox ready');
  o.ready({ ok: true, pid: process.pid });
  if (ttySignals) {
    for (const sig of ['SIGINT', 'SIGQUIT', 'SIGTSTP', 'SIGWINCH', 'SIGHUP'] as NodeJS.Signals[]) {
      process.on(sig, () => {
        if (sb.started) sb.signalForeground(os.constants.signals[sig]);
      });
    }
  }
  // The sandbox is alive until init exits, even while every task waits on the sentry.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const status = await sb.finished.finally(() => clearInterval(keepAlive));
  log.debug({ status }, 'init exited');
  try {
    const exitFile = store.exitPath(o.id);
    const tmp = path.join(path.dirname(exitFile), `.exit.${process.pid}`);
    fs.writeFileSync(tmp, JSON.stringify({ status, at: new Date().toISOString() }));
    fs.renameSync(tmp, exitFile);
  } catch (e) {
    log.warn({ err: String(e) }, 'cannot record the exit status (the container was deleted?)');
  }
  // Let waiters read their answers before the socket goes.
  await new Promise((r) => setTimeout(r, 20));
  server.close();
  fs.rmSync(sock, { force: true });
  await sb.dispose().catch((e: unknown) => log.warn({ err: String(e) }, 'sandbox teardown failed'));
  const sig = status & 0x7f;
  return sig ? 128 + sig : (status >> 8) & 0xff;
}
