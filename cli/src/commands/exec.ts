import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { Args, Flags } from '@oclif/core';
import { passthroughStart, PASSTHROUGH } from '../argv';
import { OciCommand, ociGlobalFlags } from '../oci-base';
import type { SpecCaps } from '../../../core/runtime/oci/caps';

/** Marks the detached helper `runsc exec --detach` leaves behind to wait for the process. */
const HELPER_ENV = 'TSVISOR_EXEC_HELPER';

export default class Exec extends OciCommand {
  static override summary = 'Run a new process in a running container.';
  static override description = `The process gets runsc exec's stdin, stdout and stderr (pipes, files or a terminal), the container's environment unless --process gives one, and exits with its status (128+N if killed by signal N). With --detach runsc exec returns at once; --pid-file then names a helper process that exits with the process's status, as containerd expects.`;
  static override usage = '<%= command.id %> [FLAGS] ID [--] COMMAND [ARG...]';
  static override examples = [
    '<%= config.bin %> exec c1 ps',
    '<%= config.bin %> exec --cwd /tmp --env A=1 --user 1000:1000 c1 sh -c "id; pwd"',
    '<%= config.bin %> exec --process process.json --detach --pid-file exec.pid c1',
  ];
  static override strict = false;
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = {
    ...ociGlobalFlags,
    cwd: Flags.string({ description: 'Working directory. [default: the config.json cwd]', helpValue: 'DIR' }),
    env: Flags.string({
      char: 'e',
      multiple: true,
      multipleNonGreedy: true,
      description: 'Set NAME=VALUE (repeatable).',
      helpValue: 'NAME=VALUE',
    }),
    user: Flags.string({
      char: 'u',
      description: 'UID[:GID] to run as. [default: the config.json user]',
      helpValue: 'UID[:GID]',
    }),
    process: Flags.string({
      char: 'p',
      description: 'Read the process (OCI process JSON) from FILE.',
      helpValue: 'FILE',
    }),
    detach: Flags.boolean({ char: 'd', description: 'Return once the process is started.' }),
    tty: Flags.boolean({
      char: 't',
      description:
        "Give the process a terminal: a new one sent to --console-socket, else runsc exec's own (stdin must be a terminal).",
    }),
    'pid-file': Flags.string({
      description: 'Write the pid of the process that stands for the new one to FILE.',
      helpValue: 'FILE',
    }),
    'console-socket': Flags.string({
      description: 'With --tty: the socket to send the terminal to.',
      helpValue: 'PATH',
    }),
    cap: Flags.string({
      char: 'c',
      multiple: true,
      multipleNonGreedy: true,
      description:
        'Add a capability (CAP_NAME) to the bounding, effective and permitted sets, and to the ambient set when the inheritable set is given (repeatable; as runc).',
      helpValue: 'CAP',
    }),
    'additional-gids': Flags.string({
      char: 'g',
      multiple: true,
      multipleNonGreedy: true,
      description: 'Add a supplementary group id (repeatable).',
      helpValue: 'GID',
    }),
    'no-new-privs': Flags.boolean({ description: 'Set no_new_privs for the process (and what it execs).' }),
    'preserve-fds': Flags.integer({ hidden: true }),
  };

  private split(): { flagArgs: string[]; program: string[] } {
    const argv = this.rawArgv;
    const start = passthroughStart(argv, PASSTHROUGH.exec);
    if (start === -1) return { flagArgs: argv.filter((a) => a !== '--'), program: [] };
    return { flagArgs: argv.slice(0, start).filter((a) => a !== '--'), program: argv.slice(start) };
  }

  protected override flagArgv(): string[] {
    return this.split().flagArgs;
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Exec, this.flagArgv());
    const { program } = this.split();
    const lc = await import('../../../core/runtime/oci/lifecycle');
    const { validateProcess } = await import('../../../core/runtime/oci/spec');
    const store = await this.store();
    const fail = (msg: string, code = 1): never => {
      throw Object.assign(new Error(msg), { exitCode: code });
    };
    const rec = lc.readRecord(store, args.id);
    const spec = JSON.parse(fs.readFileSync(rec.configPath, 'utf8')) as {
      process?: {
        env?: string[];
        cwd: string;
        user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
        capabilities?: SpecCaps;
        noNewPrivileges?: boolean;
      };
    };
    let proc: {
      args: string[];
      env: string[];
      cwd: string;
      uid: number;
      gid: number;
      additionalGids?: number[];
      umask?: number;
      rlimits?: [];
      noNewPrivileges?: boolean;
      capabilities?: SpecCaps;
    };
    if (flags.process) {
      let raw: unknown;
      try {
        raw = JSON.parse(fs.readFileSync(flags.process, 'utf8'));
      } catch (e) {
        return fail(`--process ${flags.process}: ${(e as Error).message}`);
      }
      const p = validateProcess(raw, flags.process);
      proc = {
        args: p.args,
        env: p.env ?? [],
        cwd: p.cwd,
        uid: p.user.uid,
        gid: p.user.gid,
        additionalGids: p.user.additionalGids,
        umask: p.user.umask,
        noNewPrivileges: p.noNewPrivileges,
        capabilities: p.capabilities,
      };
    } else {
      if (program.length === 0)
        fail('exec: missing the command to run; usage: runsc exec [FLAGS] ID COMMAND [ARG...]', 2);
      proc = {
        args: program,
        env: [...(spec.process?.env ?? [])],
        cwd: spec.process?.cwd ?? '/',
        uid: spec.process?.user.uid ?? 0,
        gid: spec.process?.user.gid ?? 0,
        additionalGids: spec.process?.user.additionalGids,
        umask: spec.process?.user.umask,
        // As runc: the container's process capabilities and no_new_privs.
        capabilities: spec.process?.capabilities,
        noNewPrivileges: spec.process?.noNewPrivileges,
      };
    }
    if (flags.cap?.length) {
      const { CAP_NAMES } = await import('../../../core/kernel/caps');
      const c: SpecCaps = { ...(proc.capabilities ?? {}) };
      if (!proc.capabilities) c.bounding = c.effective = c.permitted = [...CAP_NAMES];
      for (const raw of flags.cap) {
        const name = raw.toUpperCase().startsWith('CAP_') ? raw.toUpperCase() : `CAP_${raw.toUpperCase()}`;
        if (!CAP_NAMES.includes(name))
          fail(`--cap ${JSON.stringify(raw)}: unknown capability (expected CAP_...)`, 2);
        c.bounding = [...(c.bounding ?? []), name];
        c.effective = [...(c.effective ?? []), name];
        c.permitted = [...(c.permitted ?? []), name];
        if (c.inheritable) c.ambient = [...(c.ambient ?? []), name];
      }
      proc.capabilities = c;
    }
    for (const g of flags['additional-gids'] ?? []) {
      if (!/^\d+$/.test(g)) fail(`--additional-gids ${JSON.stringify(g)}: expected a number`, 2);
      proc.additionalGids = [...(proc.additionalGids ?? []), Number(g)];
    }
    if (flags['no-new-privs']) proc.noNewPrivileges = true;
    for (const e of flags.env ?? []) {
      const eq = e.indexOf('=');
      if (eq <= 0) fail(`--env ${JSON.stringify(e)}: expected NAME=VALUE`, 2);
      proc.env = proc.env.filter((x) => !x.startsWith(e.slice(0, eq + 1)));
      proc.env.push(e);
    }
    if (flags.cwd) {
      if (!flags.cwd.startsWith('/')) fail(`--cwd ${JSON.stringify(flags.cwd)}: must be an absolute path`, 2);
      proc.cwd = flags.cwd;
    }
    if (flags.user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(flags.user);
      if (!m) fail(`--user ${JSON.stringify(flags.user)}: expected UID or UID:GID (numbers)`, 2);
      proc.uid = Number(m![1]);
      if (m![2] !== undefined) proc.gid = Number(m![2]);
    }
    let terminal = flags.tty;
    let consoleSize: { height: number; width: number } | undefined;
    if (flags.process) {
      const raw = JSON.parse(fs.readFileSync(flags.process, 'utf8')) as {
        terminal?: boolean;
        consoleSize?: { height: number; width: number };
      };
      terminal ||= raw.terminal === true;
      consoleSize = raw.consoleSize;
    }
    const consoleSocket = terminal ? flags['console-socket'] : undefined;
    if (terminal && !consoleSocket && !tty.isatty(0))
      fail('exec --tty: needs --console-socket, or a terminal on stdin');
    if (!terminal && flags['console-socket'])
      fail('cannot use console socket if runc will not detach or allocate tty');
    if (flags.detach && process.env[HELPER_ENV] !== '1') {
      // Leave a helper (this command without --detach) that waits for the process and
      // exits with its status; the pid file names the helper.
      const argv = this.rawArgv.filter((a) => a !== '--detach' && a !== '-d');
      const pf = argv.indexOf('--pid-file');
      if (pf >= 0) argv.splice(pf, 2);
      const withoutPidFile = argv.filter((a) => !a.startsWith('--pid-file='));
      const r = await lc.spawnReady(
        ['exec', ...withoutPidFile],
        { ...process.env, [HELPER_ENV]: '1' },
        !consoleSocket,
      );
      if (flags['pid-file']) lc.writePidFile(flags['pid-file'], r.pid);
      return;
    }
    const helper = process.env[HELPER_ENV] === '1';
    delete process.env[HELPER_ENV];
    const ready = (msg: Record<string, unknown>): void => {
      if (!helper) return;
      try {
        fs.writeSync(3, `${JSON.stringify(msg)}\n`);
        fs.closeSync(3);
      } catch {
        /* parent gone */
      }
    };
    let pid: number;
    try {
      ({ pid } = await lc.exec(
        store,
        args.id,
        proc,
        process.pid,
        consoleSocket && path.resolve(consoleSocket),
        consoleSize,
      ));
    } catch (e) {
      ready({ error: (e as Error).message, exitCode: 1 });
      throw e;
    }
    ready({ ok: true, pid });
    if (flags['pid-file']) lc.writePidFile(flags['pid-file'], process.pid);
    let status: number;
    try {
      status = await lc.rpc<number>(store, args.id, 'waitpid', { pid });
    } catch {
      status = 9; // the container ended under the process
    }
    this.exit(lc.statusCode(status));
  }
}
