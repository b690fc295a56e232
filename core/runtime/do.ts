/**
 * `runsc do`: run one command in a new sandbox with the host's / (or --root-dir) as a
 * read-only lower layer under a writable tmpfs, as gVisor's `runsc do` does. The sentry
 * runs in this process (no separate `runsc boot` for `do`: it saves a Node start-up);
 * stub processes die with it (PDEATHSIG + PTRACE_O_EXITKILL).
 *
 * Resolves to the exit status to leave with: the program's code, 128+N when it was killed
 * by signal N, 127 when the command is not found, 126 when it cannot be executed.
 */
import * as os from 'node:os';
import * as tty from 'node:tty';
import type { EffectiveConfig } from '../config/types';
import type { Logger } from '../log/index';
import { EACCES, ENOENT, ENOEXEC, SysError, errnoName } from '../abi/errno';
import { Kernel, type KernelVfs } from '../kernel/kernel';
import type { Task } from '../kernel/task';
import { RLIMIT_NOFILE } from '../kernel/threadgroup';
import { MemoryFile } from '../mm/memfile';
import { Platform } from '../plugins/platform';
import { FilesystemType } from '../plugins/filesystem';
import { NetworkStack } from '../plugins/network';
import { attachNetworkStack } from '../net/inet';
import { linuxTable } from '../syscalls/all';
import { StraceFormatter } from '../syscalls/strace';
import { createDoMountNamespace } from '../fs/rootfs';
import { importHostFd } from '../fs/host';
import { FdTable } from '../vfs/fdtable';
import { FsContext } from '../vfs/fscontext';
import { makeCreds } from '../kernel/caps';
import { callerCapSets } from './oci/caps';
import { lookupAt, openForExec } from '../vfs/ops';
import { pathOf } from '../vfs/mount';
import { AT_FDCWD, MS_NOSUID, O_PATH, S_IFMT, S_IFREG } from '../vfs/abi';
import type { FileTask } from '../vfs/task';
import { createSandboxContainer, newSandboxId } from './sandbox-container';
import { ProcFilesystem } from '../fs/proc';
import { SysFilesystem } from '../fs/sys';
import { makeProcSource } from '../kernel/proc-source';

export interface DoOptions {
  config: EffectiveConfig;
  argv: string[];
  cwd?: string;
  env: string[];
  uid?: number;
  gid?: number;
  rootDir?: string;
  log: Logger;
}

/** The VFS as the kernel sees it. */
export function kernelVfs(): KernelVfs {
  return {
    openForExec(t: Task, path: string) {
      const ft = t as unknown as FileTask;
      const { file, stat, vd } = openForExec(ft, path);
      return {
        size: stat.size,
        path: pathOf(vd, ft.fs.root).path,
        dev: stat.dev,
        ino: stat.ino,
        ids: { mode: stat.mode, uid: stat.uid, gid: stat.gid, nosuid: (vd.mount.flags & MS_NOSUID) !== 0 },
        pread(dst: Uint8Array, off: number): number {
          const r = file.read(ft, [dst], off);
          if (typeof r !== 'number') throw new SysError(5, 'asynchronous read of an executable');
          if (r < 0) throw new SysError(-r);
          return r;
        },
        incRef: () => file.incRef(),
        decRef: () => file.decRef(),
        readOnlyPageCache: () => file.mappable()?.readOnlyPageCache?.(),
      };
    },
    mmapSource(t: Task, fd: number) {
      const ft = t as unknown as FileTask;
      const f = ft.files.get(fd);
      if (!f || f.flags & O_PATH) throw new SysError(9 /* EBADF */);
      const m = f.mappable();
      if (!m) throw new SysError(19 /* ENODEV */);
      let name = {};
      if (f.vd) {
        const st = f.stat();
        name = { path: pathOf(f.vd, ft.fs.root).path, dev: st.dev, ino: st.ino };
      }
      return { mappable: m, readable: f.readable, writable: f.writable, append: f.append, name, file: f };
    },
  };
}

/** Find `cmd` as execvp would: a name with a slash is used as is; otherwise search PATH. */
export function resolveCommand(t: FileTask, cmd: string, env: string[]): string | null {
  if (cmd.includes('/')) return cmd;
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
  for (const dir of pathVar.split(':')) {
    const candidate = `${dir || '.'}/${cmd}`;
    try {
      const vd = lookupAt(t, AT_FDCWD, candidate, true);
      if ((vd.inode.mode & S_IFMT) === S_IFREG && vd.inode.mode & 0o111) return candidate;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** A host string (decoded from UTF-8 by Node) as a sentry byte string (one char per byte). */
export function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

export async function runDo(opts: DoOptions): Promise<number> {
  const argv = opts.argv.map(bytes);
  const env = opts.env.map(bytes);
  // Every line the sandbox logs names it (and kernel lines name their task: { tid }).
  const sandboxId = newSandboxId();
  const sc = await createSandboxContainer(opts.config, { sandboxId, log: opts.log.child({ sandboxId }) });
  const log = sc.log;
  const mf = new MemoryFile();
  let kernel: Kernel | undefined;
  const forwarded: [NodeJS.Signals, () => void][] = [];
  let detachNetwork: (() => void) | undefined;
  try {
    const platform = sc.container.resolve<Platform>(Platform);
    platform.init({ memoryFd: mf.fd, log });
    // network: none registers no stack (AF_INET/AF_INET6 give EAFNOSUPPORT).
    if (sc.container.isRegistered(NetworkStack)) {
      const stack = sc.container.resolve<NetworkStack>(NetworkStack);
      await stack.init({ log });
      detachNetwork = attachNetworkStack(stack);
    }
    const types = sc.container.isRegistered(FilesystemType)
      ? sc.container.resolveAll<FilesystemType>(FilesystemType)
      : [];
    // The root's read-only lower layer: layer images (rootfs: containerfs), or the host's /
    // (or --root-dir) through gofer.mode: directfs (default) or 9p (a runsc gofer process).
    const goferOpts = opts.config.values.rootfs === 'gofer' ? (opts.config.pluginOptions.gofer ?? {}) : {};
    const lowerName = types.some((t) => t.name === 'containerfs')
      ? 'containerfs'
      : goferOpts.mode === '9p'
        ? '9p'
        : 'directfs';
    if (goferOpts.overlay === 'none' && lowerName !== '9p')
      throw new Error('gofer.overlay: none needs gofer.mode: 9p (directfs only reads the host)');
    const lowerType = types.find((t) => t.name === lowerName);
    if (!lowerType)
      throw new Error(
        `rootfs plugin "${opts.config.values.rootfs}" provides no "${lowerName}" filesystem, which runsc do needs`,
      );
    const lower = await lowerType.mount(opts.rootDir ?? '/', { ...goferOpts, mf, log });
    kernel = new Kernel({
      platform,
      mf,
      log,
      table: linuxTable(),
      vfs: kernelVfs(),
      tracer: opts.config.values.strace ? new StraceFormatter(log) : undefined,
    });
    const k0 = kernel;
    const cpus = os.cpus().length;
    const { root } = createDoMountNamespace({
      mf,
      lower,
      // gofer overlay: none — the gofer's filesystem is the root, written through to the host.
      noOverlay: lowerName !== 'containerfs' && goferOpts.overlay === 'none',
      procfs: () => new ProcFilesystem(makeProcSource(k0, { cpus })),
      sysfs: () => new SysFilesystem({ cpus }),
    });
    const files = new FdTable();
    files.limit = Number(kernel.defaultLimits[RLIMIT_NOFILE][0]);
    for (const fd of [0, 1, 2]) files.installAt(fd, importHostFd(fd, { isTty: tty.isatty(fd) }), false);
    const fsc = new FsContext(root, root);
    const uid = opts.uid ?? 0,
      gid = opts.gid ?? 0;
    // The sandbox's root holds no capability that runsc's caller lacks.
    const creds = makeCreds(uid, gid, [], uid === 0 ? callerCapSets() : undefined);
    // A task-shaped view for path lookups before pid 1 exists.
    const pre = { files, fs: fsc, creds } as unknown as FileTask;
    if (opts.cwd) {
      try {
        const vd = lookupAt(pre, AT_FDCWD, bytes(opts.cwd), true);
        fsc.cwd = vd;
      } catch (e) {
        process.stderr.write(
          `runsc: do: cannot use working directory ${opts.cwd} in the sandbox: ${describe(e)}\n`,
        );
        return 1;
      }
    }
    const cmd = argv[0];
    const path = resolveCommand(pre, cmd, env);
    if (!path) {
      process.stderr.write(`runsc: do: ${cmd}: executable file not found in $PATH\n`);
      return 127;
    }
    try {
      kernel.startInit({ path, argv, envp: env, creds, files, fs: fsc });
    } catch (e) {
      const errno = e instanceof SysError ? e.errno : 0;
      process.stderr.write(`runsc: do: cannot execute ${path}: ${describe(e)}\n`);
      log.debug({ err: e instanceof Error ? e.stack : String(e) }, 'exec of the first process failed');
      return errno === ENOENT ? 127 : errno === EACCES || errno === ENOEXEC || errno ? 126 : 125;
    }
    const k = kernel;
    // Signals sent to runsc go to the sandbox. SIGINT and SIGQUIT are what a terminal
    // sends to its whole foreground process group (Ctrl-C, Ctrl-\\), so they go to init's
    // process group; the others go to init, as gVisor's do forwards them. A second
    // SIGINT kills the sandbox outright.
    let interrupts = 0;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]) {
      const h = () => {
        const init = k.init;
        if (!init) return;
        const signo = os.constants.signals[sig] as number;
        const info = { signo, code: 0, pid: 0, uid: 0 };
        log.debug({ signal: sig }, 'forwarding signal to the sandbox');
        if (sig === 'SIGINT' && ++interrupts > 1) {
          for (const tg of [...k.tgs.values()]) k.groupExit(tg, 9);
          return;
        }
        if (sig === 'SIGINT' || sig === 'SIGQUIT')
          for (const tg of k.processGroup(init.pgid)) k.signalGroup(tg, info);
        else k.signalGroup(init, info);
      };
      process.on(sig, h);
      forwarded.push([sig, h]);
    }
    // The sandbox is alive until init exits, even while every task waits on the sentry.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const status = await kernel.finished.finally(() => clearInterval(keepAlive));
    const sig = status & 0x7f;
    return sig ? 128 + sig : (status >> 8) & 0xff;
  } finally {
    for (const [sig, h] of forwarded) process.off(sig, h);
    try {
      kernel?.shutdown();
    } finally {
      detachNetwork?.();
      await sc.dispose();
      mf.close();
    }
  }
}

export function describe(e: unknown): string {
  if (e instanceof SysError) {
    const m: Record<number, string> = {
      2: 'no such file or directory',
      13: 'permission denied',
      8: 'exec format error',
      20: 'not a directory',
      40: 'too many levels of symbolic links',
    };
    return `${m[e.errno] ?? e.message} (${errnoName(e.errno)})`;
  }
  return e instanceof Error ? e.message : String(e);
}
