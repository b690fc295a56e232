/**
 * The OCI lifecycle of runsc with a busybox bundle, step by step, and the error cases
 * compared with runc itself (Debian's runc: same message, same exit status) where runc
 * is installed. Every container is deleted and every sandbox killed in after().
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlive, processStart } from '../../core/runtime/oci/state';
import {
  cleanupRoot,
  cleanupRuncRoot,
  haveBusybox,
  haveRunc,
  isRoot,
  makeBundle,
  runc,
  runcMessage,
  runsc,
  tmpDir,
  until,
  type Result,
} from './helpers';

function state(r: Result): { status: string; pid: number; id: string; bundle: string; ociVersion: string } {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('oci: lifecycle (runsc create/start/state/exec/ps/kill/wait/delete)', function () {
  this.timeout(120_000);
  let work: string;
  let root: string;
  let runcRoot: string;
  let bundle: string;

  before(function () {
    if (!haveBusybox()) this.skip();
    work = tmpDir('tsvisor-oci-');
    root = path.join(work, 'state');
    runcRoot = path.join(work, 'runc-state');
    bundle = makeBundle(path.join(work, 'sleep'), ['sleep', '1000']);
  });
  after(async () => {
    if (!work) return;
    await cleanupRoot(root);
    await cleanupRuncRoot(runcRoot);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('create → created → start → running → exec → ps → kill → wait → stopped → delete', async () => {
    const pidFile = path.join(work, 'c1.pid');
    let r = await runsc(root, ['create', '--bundle', bundle, '--pid-file', pidFile, 'c1']);
    assert.equal(r.code, 0, r.stderr);
    let st = state(await runsc(root, ['state', 'c1']));
    assert.equal(st.status, 'created');
    assert.equal(st.id, 'c1');
    assert.equal(st.bundle, bundle);
    assert.match(st.ociVersion, /^1\.\d+\.\d+/);
    assert.equal(Number(fs.readFileSync(pidFile, 'utf8')), st.pid);
    assert.ok(processStart(st.pid) !== undefined, 'the sandbox process lives');
    const sandboxPid = st.pid;

    r = await runsc(root, ['start', 'c1']);
    assert.equal(r.code, 0, r.stderr);
    st = state(await runsc(root, ['state', 'c1']));
    assert.equal(st.status, 'running');
    assert.equal(st.pid, sandboxPid);

    r = await runsc(root, [
      'exec',
      '--env',
      'X=6',
      '--cwd',
      '/tmp',
      'c1',
      'sh',
      '-c',
      'echo $((X*7)) $(pwd); echo err >&2; exit 5',
    ]);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, '42 /tmp\n');
    assert.equal(r.stderr, 'err\n');

    r = await runsc(root, ['exec', '--user', '1000:1001', 'c1', 'id']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^uid=1000 gid=1001/);

    r = await runsc(root, ['ps', '--format', 'json', 'c1']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [1], 'only the init (pid 1 inside) runs');
    r = await runsc(root, ['ps', 'c1']);
    assert.match(r.stdout, /^UID +PID +PPID/);
    assert.match(r.stdout, /\n0 +1 +0 +S +1 +sleep 1000\n/);

    r = await runsc(root, ['list', '--format', 'json']);
    const list = JSON.parse(r.stdout) as { id: string; status: string; pid: number }[];
    assert.deepEqual(
      list.map((c) => [c.id, c.status, c.pid]),
      [['c1', 'running', sandboxPid]],
    );
    r = await runsc(root, ['list']);
    assert.match(r.stdout, /^ID +PID +STATUS +BUNDLE +CREATED +OWNER\nc1 +\d+ +running +\//);

    r = await runsc(root, ['kill', 'c1', 'KILL']);
    assert.equal(r.code, 0, r.stderr);
    r = await runsc(root, ['wait', 'c1']);
    assert.deepEqual(JSON.parse(r.stdout), { id: 'c1', exitStatus: 137 });
    st = state(await runsc(root, ['state', 'c1']));
    assert.equal(st.status, 'stopped');
    assert.equal(st.pid, 0);
    await until(() => !isAlive(sandboxPid, 0));

    r = await runsc(root, ['delete', 'c1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(root, 'c1')), 'the state folder is gone');
    r = await runsc(root, ['state', 'c1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /container does not exist/);
  });

  it('kill takes signal names and numbers; --all reaches every process', async () => {
    const b = makeBundle(path.join(work, 'trap'), [
      'sh',
      '-c',
      'trap "echo got USR1 >&2" USR1; trap "exit 9" TERM; sleep 1000 & wait; wait; echo after; sleep 1000',
    ]);
    const out = path.join(work, 'trap.err');
    assert.equal((await runsc(root, ['create', '--bundle', b, 'k1'])).code, 0);
    assert.equal((await runsc(root, ['start', 'k1'])).code, 0);
    await until(
      async () => JSON.parse((await runsc(root, ['ps', '--format', 'json', 'k1'])).stdout).length === 2,
    );
    let r = await runsc(root, ['kill', 'k1', 'FOO']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown signal "FOO"/);
    r = await runsc(root, ['kill', 'k1', '15']);
    assert.equal(r.code, 0, r.stderr);
    r = await runsc(root, ['wait', 'k1']);
    assert.deepEqual(JSON.parse(r.stdout), { id: 'k1', exitStatus: 9 });
    assert.equal((await runsc(root, ['delete', 'k1'])).code, 0);
    void out;

    assert.equal((await runsc(root, ['create', '--bundle', b, 'k2'])).code, 0);
    assert.equal((await runsc(root, ['start', 'k2'])).code, 0);
    await until(
      async () => JSON.parse((await runsc(root, ['ps', '--format', 'json', 'k2'])).stdout).length === 2,
    );
    r = await runsc(root, ['kill', '--all', 'k2', 'SIGKILL']);
    assert.equal(r.code, 0, r.stderr);
    r = await runsc(root, ['wait', 'k2']);
    assert.deepEqual(JSON.parse(r.stdout), { id: 'k2', exitStatus: 137 });
    assert.equal((await runsc(root, ['delete', 'k2'])).code, 0);
  });

  it('run returns the program exit code, as runc run does', async () => {
    const b = makeBundle(path.join(work, 'fail'), ['sh', '-c', 'echo out; echo err >&2; exit 7']);
    const ours = await runsc(root, ['run', '--bundle', b, 'r1']);
    assert.equal(ours.code, 7, ours.stderr);
    assert.equal(ours.stdout, 'out\n');
    assert.match(ours.stderr, /^err\n/);
    assert.ok(!fs.existsSync(path.join(root, 'r1')), 'run deletes the container after it exits');
    if (haveRunc()) {
      const theirs = await runc(runcRoot, ['run', '--bundle', b, 'r1']);
      assert.equal(ours.code, theirs.code);
      assert.equal(ours.stdout, theirs.stdout);
    }
    const nf = makeBundle(path.join(work, 'nf'), ['/bin/nosuch']);
    const r = await runsc(root, ['run', '--bundle', nf, 'r2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nosuch/);
    assert.ok(!fs.existsSync(path.join(root, 'r2')));
  });

  it('run --detach leaves a running container; hostname, env and umask from config.json are seen', async () => {
    const b = makeBundle(path.join(work, 'host'), ['sleep', '1000'], (s) => {
      s.hostname = 'box1';
      s.process!.env!.push('GREETING=hello');
      s.process!.user.umask = 0o027;
    });
    let r = await runsc(root, ['run', '--detach', '--bundle', b, 'd1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(state(await runsc(root, ['state', 'd1'])).status, 'running');
    r = await runsc(root, ['exec', 'd1', 'sh', '-c', 'echo $(hostname) $GREETING $(umask)']);
    assert.equal(r.stdout, 'box1 hello 0027\n');
    r = await runsc(root, ['delete', '--force', 'd1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(root, 'd1')));
  });

  it('pause freezes every process and resume lets them go on', async () => {
    // A read-only root with a tmpfs at /tmp (a spec mount) to write in.
    const b = makeBundle(
      path.join(work, 'count'),
      ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'],
      (s) =>
        s.mounts!.push({
          destination: '/tmp',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'mode=1777'],
        }),
    );
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', b, 'p1'])).code, 0);
    const read = async (): Promise<number> =>
      Number((await runsc(root, ['exec', 'p1', 'cat', '/tmp/n'])).stdout);
    await until(async () => (await read()) > 0);
    let r = await runsc(root, ['pause', 'p1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(state(await runsc(root, ['state', 'p1'])).status, 'paused');
    const a = await read();
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(await read(), a, 'nothing advances while paused');
    r = await runsc(root, ['resume', 'p1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(state(await runsc(root, ['state', 'p1'])).status, 'running');
    await until(async () => (await read()) > a);
    r = await runsc(root, ['resume', 'p1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /container not paused/);
    assert.equal((await runsc(root, ['delete', '--force', 'p1'])).code, 0);
  });

  it('events --stats prints one stats line', async () => {
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', bundle, 'e1'])).code, 0);
    const r = await runsc(root, ['events', '--stats', 'e1']);
    assert.equal(r.code, 0, r.stderr);
    const ev = JSON.parse(r.stdout) as {
      type: string;
      id: string;
      data: { pids: { current: number }; memory: { usage: { usage: number } } };
    };
    assert.equal(ev.type, 'stats');
    assert.equal(ev.id, 'e1');
    assert.equal(ev.data.pids.current, 1);
    assert.ok(ev.data.memory.usage.usage > 0);
    assert.equal((await runsc(root, ['delete', '--force', 'e1'])).code, 0);
  });

  it('exec --process FILE --detach --pid-file (as containerd calls it) and streamed events', async () => {
    const b = makeBundle(path.join(work, 'execd'), ['sleep', '1000'], (s) =>
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777'] }),
    );
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', b, 'x9'])).code, 0);
    const pf = path.join(work, 'x9-exec.pid');
    const procFile = path.join(work, 'x9-proc.json');
    fs.writeFileSync(
      procFile,
      JSON.stringify({
        user: { uid: 0, gid: 0 },
        args: ['sh', '-c', 'echo $MSG > /tmp/out; sleep 0.3; exit 3'],
        env: ['MSG=detached'],
        cwd: '/',
      }),
    );
    let r = await runsc(root, ['exec', '--process', procFile, '--detach', '--pid-file', pf, 'x9']);
    assert.equal(r.code, 0, r.stderr);
    const helper = Number(fs.readFileSync(pf, 'utf8'));
    assert.ok(helper > 0 && helper !== process.pid);
    // The helper stands for the process while it runs and goes when it ends.
    await until(() => !isAlive(helper, 0));
    r = await runsc(root, ['exec', 'x9', 'cat', '/tmp/out']);
    assert.equal(r.stdout, 'detached\n');
    const bad = path.join(work, 'x9-bad.json');
    fs.writeFileSync(bad, JSON.stringify({ user: { uid: 0, gid: 0 }, args: [], cwd: 'x' }));
    r = await runsc(root, ['exec', '--process', bad, 'x9']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /x9-bad\.json: 2 invalid fields: process\.args: .*process\.cwd: must be an absolute path/,
    );
    // events without --stats streams one line per interval until the container stops.
    const ev = runsc(root, ['events', '--interval', '100ms', 'x9']);
    await new Promise((res) => setTimeout(res, 800));
    assert.equal((await runsc(root, ['kill', 'x9', 'KILL'])).code, 0);
    const e = await ev;
    assert.equal(e.code, 0, e.stderr);
    const lines = e.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id: string });
    assert.ok(lines.length >= 2, `several stats lines, got ${lines.length}`);
    assert.ok(lines.every((l) => l.type === 'stats' && l.id === 'x9'));
    assert.equal((await runsc(root, ['delete', 'x9'])).code, 0);
  });

  it('kill -9 of the sandbox process: state says stopped, delete cleans up', async () => {
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', bundle, 's1'])).code, 0);
    const st = state(await runsc(root, ['state', 's1']));
    process.kill(st.pid, 'SIGKILL');
    await until(() => !isAlive(st.pid, 0));
    assert.equal(state(await runsc(root, ['state', 's1'])).status, 'stopped');
    const r = await runsc(root, ['delete', 's1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(root, 's1')));
  });

  it('a bad config.json is refused at create with the JSON path of the field', async () => {
    const b = makeBundle(path.join(work, 'bad'), ['sh'], (s) => {
      s.process!.cwd = 'relative';
      s.mounts![0].type = 'nfs';
    });
    const r = await runsc(root, ['create', '--bundle', b, 'b1']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /config\.json: 2 invalid fields: process\.cwd: must be an absolute path.*mounts\[0\]\.type: mount type "nfs" is not supported/,
    );
    assert.ok(!fs.existsSync(path.join(root, 'b1')), 'nothing is left behind');
  });

  it('runs the OCI hooks on the host with the state on stdin, at their points of the lifecycle', async () => {
    const log = path.join(work, 'hooks.log');
    const hook = (kind: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${kind} $(cat) >> ${log}`] });
    const b = makeBundle(path.join(work, 'hooks'), ['sleep', '1000'], (s) => {
      s.hooks = {
        prestart: [hook('prestart')],
        createRuntime: [hook('createRuntime')],
        createContainer: [hook('createContainer')],
        startContainer: [hook('startContainer')],
        poststart: [hook('poststart')],
        poststop: [hook('poststop')],
      };
    });
    const lines = (): { kind: string; status: string; id: string }[] =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((l) => {
              const sp = l.indexOf(' ');
              return {
                kind: l.slice(0, sp),
                ...(JSON.parse(l.slice(sp + 1)) as { status: string; id: string }),
              };
            })
        : [];
    assert.equal((await runsc(root, ['create', '--bundle', b, 'h1'])).code, 0);
    assert.deepEqual(
      lines().map((l) => [l.kind, l.id, l.status]),
      [
        ['prestart', 'h1', 'created'],
        ['createRuntime', 'h1', 'created'],
        ['createContainer', 'h1', 'created'],
      ],
    );
    assert.equal((await runsc(root, ['start', 'h1'])).code, 0);
    assert.deepEqual(
      lines()
        .slice(3)
        .map((l) => [l.kind, l.status]),
      [
        ['startContainer', 'created'],
        ['poststart', 'running'],
      ],
    );
    assert.equal((await runsc(root, ['delete', '--force', 'h1'])).code, 0);
    assert.deepEqual(
      lines()
        .slice(5)
        .map((l) => [l.kind, l.status]),
      [['poststop', 'stopped']],
    );
  });

  it('a failing createRuntime hook fails create and leaves nothing behind', async () => {
    const b = makeBundle(path.join(work, 'badhook'), ['sleep', '1000'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo no way >&2; exit 3'] }] };
    });
    const r = await runsc(root, ['create', '--bundle', b, 'h2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hooks\.createRuntime\[0\] \(\/bin\/sh\): exited with status 3: no way/);
    assert.ok(!fs.existsSync(path.join(root, 'h2')));
  });

  it('linux.resources go to the sandbox cgroup (memory, pids, cpu), removed by delete', async function () {
    const v1 =
      fs.existsSync('/sys/fs/cgroup/pids/cgroup.procs') &&
      fs.existsSync('/sys/fs/cgroup/memory/cgroup.procs');
    if (!isRoot() || (!v1 && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers'))) this.skip();
    const cg = `/tsvisor-test/${path.basename(work)}`;
    const b = makeBundle(path.join(work, 'res'), ['sleep', '1000'], (s) => {
      s.linux!.cgroupsPath = cg;
      s.linux!.resources = {
        memory: { limit: 512 * 1024 * 1024 },
        pids: { limit: 200 },
        cpu: { quota: 50000, period: 100000 },
      };
    });
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', b, 'cg1'])).code, 0);
    const pid = state(await runsc(root, ['state', 'cg1'])).pid;
    const read = (f: string): string => fs.readFileSync(f, 'utf8').trim();
    const dirs = v1
      ? {
          mem: `/sys/fs/cgroup/memory${cg}`,
          pids: `/sys/fs/cgroup/pids${cg}`,
          cpu: `/sys/fs/cgroup/cpu${cg}`,
        }
      : { mem: `/sys/fs/cgroup${cg}`, pids: `/sys/fs/cgroup${cg}`, cpu: `/sys/fs/cgroup${cg}` };
    try {
      assert.equal(
        read(`${dirs.mem}/${v1 ? 'memory.limit_in_bytes' : 'memory.max'}`),
        String(512 * 1024 * 1024),
      );
      assert.equal(read(`${dirs.pids}/pids.max`), '200');
      if (v1) assert.equal(read(`${dirs.cpu}/cpu.cfs_quota_us`), '50000');
      else assert.equal(read(`${dirs.cpu}/cpu.max`), '50000 100000');
      assert.ok(
        read(`${dirs.pids}/cgroup.procs`).split('\n').map(Number).includes(pid),
        'the sandbox process is in the cgroup',
      );
      // The stubs that run the app are in it too (they are the sandbox's children, started after it moved).
      assert.ok(Number(read(`${dirs.pids}/pids.current`)) > 1);
    } finally {
      assert.equal((await runsc(root, ['delete', '--force', 'cg1'])).code, 0);
    }
    for (const d of new Set(Object.values(dirs))) assert.ok(!fs.existsSync(d), `${d} is removed`);
    for (const c of v1 ? ['memory', 'pids', 'cpu'] : ['']) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', c, 'tsvisor-test'));
      } catch {
        /* already gone */
      }
    }
  });

  it('--log FILE --log-format json before the command (as containerd passes them): the error is a JSON line, as runc writes it', async () => {
    const ours = path.join(work, 'ours.log.json');
    const r = await runsc(root, ['--log', ours, '--log-format', 'json', 'kill', 'nosuch', 'KILL']);
    assert.equal(r.code, 1);
    const line = JSON.parse(fs.readFileSync(ours, 'utf8').trim().split('\n').pop()!) as {
      level: string;
      msg: string;
    };
    assert.equal(line.level, 'error');
    assert.equal(line.msg, 'container does not exist');
    if (haveRunc()) {
      const theirs = path.join(work, 'runc.log.json');
      const t = await runc(runcRoot, ['--log', theirs, '--log-format', 'json', 'kill', 'nosuch', 'KILL']);
      assert.equal(t.code, r.code);
      const tl = JSON.parse(fs.readFileSync(theirs, 'utf8').trim().split('\n').pop()!) as {
        level: string;
        msg: string;
      };
      assert.deepEqual([tl.level, tl.msg], [line.level, line.msg]);
    }
  });

  describe('errors, compared with runc', () => {
    // [what, runsc steps before, the failing call]; runc gets the same sequence.
    const cases: [string, string[][], string[]][] = [
      ['kill of an unknown container', [], ['kill', 'nosuch', 'KILL']],
      ['state of an unknown container', [], ['state', 'nosuch']],
      ['delete of an unknown container', [], ['delete', 'nosuch']],
      ['start of an unknown container', [], ['start', 'nosuch']],
      ['double create', [['create', '--bundle', '{b}', 'x1']], ['create', '--bundle', '{b}', 'x1']],
      [
        'start of a running container',
        [
          ['create', '--bundle', '{b}', 'x2'],
          ['start', 'x2'],
        ],
        ['start', 'x2'],
      ],
      [
        'delete of a running container without --force',
        [
          ['create', '--bundle', '{b}', 'x3'],
          ['start', 'x3'],
        ],
        ['delete', 'x3'],
      ],
      ['kill with an unknown signal', [['create', '--bundle', '{b}', 'x4']], ['kill', 'x4', 'FOO']],
      [
        'start of a stopped container',
        [
          ['create', '--bundle', '{b}', 'x5'],
          ['start', 'x5'],
          ['kill', 'x5', 'KILL'],
          ['wait-stopped', 'x5'],
        ],
        ['start', 'x5'],
      ],
      [
        'kill of a stopped container',
        [
          ['create', '--bundle', '{b}', 'x6'],
          ['start', 'x6'],
          ['kill', 'x6', 'KILL'],
          ['wait-stopped', 'x6'],
        ],
        ['kill', 'x6', 'KILL'],
      ],
    ];
    for (const [what, steps, failing] of cases) {
      it(`${what}: same message and exit status as runc`, async () => {
        const sub = (a: string[]): string[] => a.map((x) => (x === '{b}' ? bundle : x));
        const ours = async (a: string[]): Promise<Result> => {
          if (a[0] === 'wait-stopped') {
            await until(async () => state(await runsc(root, ['state', a[1]])).status === 'stopped');
            return { code: 0, stdout: '', stderr: '' };
          }
          return runsc(root, sub(a));
        };
        const theirs = async (a: string[]): Promise<Result> => {
          if (a[0] === 'wait-stopped') {
            await until(
              async () => JSON.parse((await runc(runcRoot, ['state', a[1]])).stdout).status === 'stopped',
            );
            return { code: 0, stdout: '', stderr: '' };
          }
          return runc(runcRoot, sub(a));
        };
        for (const s of steps) assert.equal((await ours(s)).code, 0, `runsc ${s.join(' ')}`);
        const r = await ours(failing);
        assert.equal(r.code, 1);
        if (haveRunc()) {
          for (const s of steps) assert.equal((await theirs(s)).code, 0, `runc ${s.join(' ')}`);
          const t = await theirs(failing);
          assert.equal(r.code, t.code, `exit status of runc: ${t.stderr}`);
          const msg = runcMessage(t.stderr).replace(/^runc create failed: /, '');
          assert.equal(r.stderr.trim(), `runsc: ${msg}`);
        }
      });
    }
  });
});
