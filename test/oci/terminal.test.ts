/**
 * A terminal container: `runsc run` with process.terminal and --console-socket hands the
 * pty master to a console-socket receiver (here a small Python script, as runc's recvtty):
 * a shell prompt appears, typed input echoes, and a window resize made on the master is
 * what the app reads with TIOCGWINSZ (stty size).
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanupRoot, haveBusybox, makeBundle, runsc, tmpDir, until } from './helpers';

const RECEIVER = String.raw`
import array, fcntl, json, os, select, socket, struct, sys, termios, time
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
master = fds[0]
out = {"name": msg.decode(), "steps": []}
buf = b""
def read_until(needle, timeout=30):
    global buf
    end = time.time() + timeout
    while needle.encode() not in buf:
        left = end - time.time()
        if left <= 0:
            raise SystemExit("timed out waiting for %r; got %r" % (needle, buf))
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                d = os.read(master, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
    i = buf.index(needle.encode()) + len(needle)
    got, buf = buf[:i], buf[i:]
    return got.decode(errors="replace")
out["prompt"] = read_until("# ")
os.write(master, b"echo typed-$((2+3))\n")
out["echo"] = read_until("typed-5\r\n")
out["echo"] += read_until("# ")
os.write(master, b"stty size\n")
out["size1"] = read_until("# ")
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
# The shell may redraw its prompt on SIGWINCH: let that pass first.
time.sleep(0.5)
while select.select([master], [], [], 0.2)[0]:
    buf += os.read(master, 4096)
buf = b""
os.write(master, b"stty size\n")
out["size2"] = read_until("stty size\r\n") + read_until("# ")
if len(sys.argv) > 2:
    # ^C stops the foreground job; a resize signals the foreground group (SIGWINCH).
    os.write(master, b"sleep 100\n")
    read_until("sleep 100\r\n")
    time.sleep(0.5)
    os.write(master, b"\x03")
    read_until("# ")  # (^C also flushes pending input, so type only after the prompt)
    os.write(master, b"echo rc=$?\n")
    out["intr"] = read_until("# ")
    os.write(master, b"sh -c 'trap \"echo got-winch; exit 0\" WINCH; while :; do sleep 0.1; done'\n")
    read_until("done'\r\n")
    time.sleep(0.5)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out["winch"] = read_until("# ")
os.write(master, b"exit 6\n")
# Keep the master open until the container has gone (closing it would hang up the shell).
end = time.time() + 30
while time.time() < end:
    r, _, _ = select.select([master], [], [], 1)
    if r:
        try:
            if not os.read(master, 4096):
                break
        except OSError:
            break
print(json.dumps(out), flush=True)
`;

describe('oci: terminal container (--console-socket)', function () {
  this.timeout(120_000);
  let work: string;
  let root: string;

  before(function () {
    if (!haveBusybox() || !fs.existsSync('/usr/bin/python3')) this.skip();
    work = tmpDir('tsvisor-oci-tty-');
    root = path.join(work, 'state');
  });
  after(async () => {
    if (!work) return;
    await cleanupRoot(root);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a shell prompt appears, input echoes, a resize reaches TIOCGWINSZ and SIGWINCH, ^C interrupts', async () => {
    const bundle = makeBundle(path.join(work, 'b'), ['sh'], (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 24, width: 80 };
    });
    const sock = path.join(work, 'console.sock');
    const recv = spawn('/usr/bin/python3', ['-c', RECEIVER, sock, 'signals'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    recv.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    recv.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const recvDone = new Promise<number | null>((r) => recv.on('exit', r));
    try {
      await until(() => out.includes('listening'));
      const run = await runsc(root, ['run', '--bundle', bundle, '--console-socket', sock, 't1']);
      assert.equal(await recvDone, 0, err);
      assert.equal(run.code, 6, run.stderr);
      const t = JSON.parse(out.slice(out.indexOf('{'))) as Record<string, string>;
      assert.match(t.name, /^\/dev\/pts\/\d+$/);
      assert.match(t.prompt, /# $/);
      assert.match(
        t.echo,
        /echo typed-\$\(\(2\+3\)\)\r\ntyped-5\r\n/,
        'the typed line is echoed, then the output',
      );
      assert.match(t.size1, /\r\n24 80\r\n/);
      assert.match(t.size2, /\r\n33 111\r\n/);
      assert.match(t.intr, /rc=130\r\n/, '^C ended the foreground sleep with SIGINT');
      assert.match(t.winch, /got-winch\r\n/, 'the resize sent SIGWINCH to the foreground job');
    } finally {
      recv.kill('SIGKILL');
    }
  });

  it("exec --tty --console-socket gives an exec'd shell its own terminal; ^C and resizes signal its foreground job", async () => {
    const bundle = makeBundle(path.join(work, 'b3'), ['sleep', '1000']);
    assert.equal((await runsc(root, ['run', '--detach', '--bundle', bundle, 't3'])).code, 0);
    const sock = path.join(work, 'console3.sock');
    const recv = spawn('/usr/bin/python3', ['-c', RECEIVER, sock, 'signals'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    recv.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    recv.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const recvDone = new Promise<number | null>((r) => recv.on('exit', r));
    try {
      await until(() => out.includes('listening'));
      const ex = await runsc(root, ['exec', '--tty', '--console-socket', sock, 't3', 'sh']);
      assert.equal(await recvDone, 0, err);
      assert.equal(ex.code, 6, ex.stderr);
      const t = JSON.parse(out.slice(out.indexOf('{'))) as Record<string, string>;
      assert.match(t.prompt, /# $/);
      assert.match(t.echo, /typed-5\r\n/);
      assert.match(t.size2, /\r\n33 111\r\n/);
      assert.match(t.intr, /rc=130\r\n/, "^C ended the exec'd shell's foreground sleep with SIGINT");
      assert.match(t.winch, /got-winch\r\n/, "the resize sent SIGWINCH to the exec'd shell's foreground job");
      // The container's init (sleep) was not touched by them.
      const st = JSON.parse((await runsc(root, ['state', 't3'])).stdout) as { status: string };
      assert.equal(st.status, 'running');
    } finally {
      recv.kill('SIGKILL');
      await runsc(root, ['delete', '--force', 't3']);
    }
  });

  it('create refuses a terminal container without --console-socket, as runc', async () => {
    const bundle = makeBundle(path.join(work, 'b2'), ['sh'], (s) => (s.process!.terminal = true));
    const r = await runsc(root, ['create', '--bundle', bundle, 't2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot allocate tty if runc will detach without setting console socket/);
    assert.ok(!fs.existsSync(path.join(root, 't2')));
  });
});
