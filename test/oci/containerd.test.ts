/**
 * containerd running tsvisor containers: Debian's containerd, started here in the
 * background with its own root, state and socket (stopped in after()), and ctr with
 * `--runc-binary <our runsc>` (the io.containerd.runc.v2 shim calls it as it calls runc:
 * `--root R --log F --log-format json create --bundle B --pid-file P ID`, then start,
 * exec --process --detach, kill, delete). Needs containerd, ctr and busybox-static (.ci/run
 * installs them); skipped without them.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, haveBusybox, isRoot, makeBundle, runTo, tmpDir, until, type Result } from './helpers';

function have(cmd: string): boolean {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => fs.existsSync(path.join(d, cmd)));
}

/** Writes an OCI image archive (oci-layout, index.json, blobs) of `rootfs` to `out`, named `name`. */
async function buildImage(rootfs: string, work: string, out: string, name: string): Promise<void> {
  const layout = path.join(work, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layerTar = path.join(work, 'layer.tar');
  const t = await runTo('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '-C',
    rootfs,
    '-cf',
    layerTar,
    '.',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const layer = blob(fs.readFileSync(layerTar));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          Cmd: ['sh'],
          Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          WorkingDir: '/',
        },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'latest' },
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    }),
  );
  const a = await runTo('tar', ['-C', layout, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  assert.equal(a.code, 0, a.stderr);
}

describe('oci: containerd runs tsvisor containers (ctr --runc-binary)', function () {
  this.timeout(180_000);
  let work: string;
  let containerd: ChildProcess | undefined;
  let sock: string;
  let runscRoot: string;
  let rootfs: string;
  const IMAGE = 'docker.io/tsvisor/busybox:latest';

  const ctr = (args: string[], opts: { stdin?: string } = {}): Promise<Result> =>
    runTo('ctr', ['--address', sock, ...args], opts);
  const runtimeFlags = (): string[] => ['--runc-binary', BIN, '--runc-root', runscRoot];

  before(async function () {
    if (!haveBusybox() || !isRoot() || !have('containerd') || !have('ctr')) this.skip();
    work = tmpDir('tsvisor-ctd-');
    sock = path.join(work, 'containerd.sock');
    runscRoot = path.join(work, 'runsc-root');
    rootfs = path.join(makeBundle(path.join(work, 'bundle'), ['sh']), 'rootfs');
    fs.writeFileSync(
      path.join(work, 'config.toml'),
      [
        'version = 2',
        `root = "${work}/root"`,
        `state = "${work}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[ttrpc]',
        `  address = "${sock}.ttrpc"`,
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(work, 'containerd.log'), 'w');
    containerd = spawn('containerd', ['--config', path.join(work, 'config.toml')], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    await until(async () => fs.existsSync(sock) && (await ctr(['version'])).code === 0, 30_000);
  });

  after(async () => {
    if (!work) return;
    if (containerd) {
      // Remove what a failed test left, then stop containerd (and wait for it).
      const tasks = await ctr(['task', 'ls', '-q']).catch(() => undefined);
      for (const id of tasks?.stdout.split('\n').filter(Boolean) ?? []) {
        await ctr(['task', 'kill', '-s', 'KILL', id]).catch(() => undefined);
        await ctr(['task', 'rm', '-f', id]).catch(() => undefined);
      }
      const cs = await ctr(['containers', 'ls', '-q']).catch(() => undefined);
      for (const id of cs?.stdout.split('\n').filter(Boolean) ?? [])
        await ctr(['containers', 'rm', id]).catch(() => undefined);
      const exited = new Promise((r) => containerd!.once('exit', r));
      containerd.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (containerd.exitCode === null) containerd.kill('SIGKILL');
    }
    // Unmount anything the snapshotter or shims left mounted under our folder, then remove it.
    const mounts = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m?.startsWith(work));
    for (const m of mounts.reverse()) await runTo('umount', ['-l', m]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('ctr run: output captured and the exit code seen by ctr', async () => {
    const r = await ctr([
      'run',
      '--rm',
      '--rootfs',
      ...runtimeFlags(),
      rootfs,
      'ctd1',
      'sh',
      '-c',
      'echo hello from tsvisor; echo to-stderr >&2; exit 3',
    ]);
    assert.equal(r.stdout, 'hello from tsvisor\n');
    assert.match(r.stderr, /to-stderr/);
    assert.equal(r.code, 3);
  });

  it('ctr task exec, task ps, task pause/resume, task kill, task rm: no leftovers', async () => {
    let r = await ctr(['run', '-d', '--rootfs', ...runtimeFlags(), rootfs, 'ctd2', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctr(['task', 'ls']);
    assert.match(r.stdout, /ctd2\s+\d+\s+RUNNING/);
    const sandboxPid = Number(/ctd2\s+(\d+)/.exec(r.stdout)![1]);
    r = await ctr([
      'task',
      'exec',
      '--exec-id',
      'e1',
      'ctd2',
      'sh',
      '-c',
      'echo exec says $((40+2)); exit 4',
    ]);
    assert.equal(r.stdout, 'exec says 42\n');
    assert.equal(r.code, 4);
    r = await ctr(['task', 'ps', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PID\s+INFO\n1\s/);
    r = await ctr(['task', 'pause', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await ctr(['task', 'ls'])).stdout, /ctd2\s+\d+\s+PAUSED/);
    r = await ctr(['task', 'resume', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await ctr(['task', 'ls'])).stdout, /ctd2\s+\d+\s+RUNNING/);
    r = await ctr(['task', 'kill', '-s', 'SIGKILL', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    await until(async () => /ctd2\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout));
    r = await ctr(['task', 'rm', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctr(['containers', 'rm', 'ctd2']);
    assert.equal(r.code, 0, r.stderr);
    // Nothing left: no task, no sandbox process, no state folder.
    assert.doesNotMatch((await ctr(['task', 'ls'])).stdout, /ctd2/);
    assert.ok(!fs.existsSync(`/proc/${sandboxPid}`), 'the sandbox process is gone');
    const left = fs.existsSync(runscRoot) ? fs.readdirSync(path.join(runscRoot, 'default')) : [];
    assert.deepEqual(left, []);
  });

  it("ctr run -t: a terminal through the shim's console socket (driven under script(1))", async function () {
    if (!have('script')) this.skip();
    const cmd = `ctr --address ${sock} run -t --rm --rootfs --runc-binary ${BIN} --runc-root ${runscRoot} ${rootfs} ctd4 sh`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(() => out.includes('# '), 60_000);
      child.stdin.write('[ -t 0 ] && [ -t 1 ] && echo on-a-tty; echo typed-$((1+1)); exit 5\n');
      assert.equal(await exited, 5, out);
      // (Two terminals in a row, script's and the container's, each turn \n into \r\n.)
      assert.match(out, /\non-a-tty\r+\n/, 'stdin and stdout are a terminal in the container');
      assert.match(out, /\ntyped-2\r+\n/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("ctr task exec -t: an exec'd shell with its own terminal", async function () {
    if (!have('script')) this.skip();
    let r = await ctr(['run', '-d', '--rootfs', ...runtimeFlags(), rootfs, 'ctd5', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const cmd = `ctr --address ${sock} task exec -t --exec-id t1 ctd5 sh`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      await until(() => out.includes('# '), 60_000);
      child.stdin.write('[ -t 0 ] && echo exec-on-a-tty; exit 7\n');
      assert.equal(await exited, 7, out);
      assert.match(out, /\nexec-on-a-tty\r+\n/);
    } finally {
      child.kill('SIGKILL');
      await ctr(['task', 'kill', '-s', 'SIGKILL', 'ctd5']);
      await until(async () => !/ctd5\s+\d+\s+RUNNING/.test((await ctr(['task', 'ls'])).stdout));
      r = await ctr(['task', 'rm', 'ctd5']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await ctr(['containers', 'rm', 'ctd5'])).code, 0);
    }
  });

  it('an OCI image built from busybox-static, imported with ctr, runs', async () => {
    const tar = path.join(work, 'image.tar');
    await buildImage(rootfs, work, tar, IMAGE);
    let r = await ctr(['images', 'import', '--snapshotter', 'native', tar]);
    assert.equal(r.code, 0, r.stderr);
    r = await ctr([
      'run',
      '--rm',
      '--snapshotter',
      'native',
      ...runtimeFlags(),
      IMAGE,
      'ctd3',
      'sh',
      '-c',
      'echo from the image; ls /bin/busybox',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from the image\n/bin/busybox\n');
  });
});
