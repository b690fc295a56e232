/**
 * Interoperability of our 9P2000.L gofer with clients we did not write: Debian's diod
 * package (diodls, diodcat, diodload, all built on diod's libnpclient). `runsc gofer
 * --listen` serves a test tree on loopback; the listings, file contents and a 16-thread load
 * run are compared with the tree on the host.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytes, startGofer, walkTree, type RunningGofer } from '../../plugins/fs-gofer/test/helpers';

const DIOD_BIN = '/usr/sbin';

function diod(tool: string, args: string[], timeoutMs = 30_000) {
  const r = spawnSync(path.join(DIOD_BIN, tool), args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${tool} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** "-rw-r--r--" for a mode (type letter d for directories, '-' otherwise). */
function permString(mode: number): string {
  const rwx = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : '-';
  return s;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface LsEntry {
  mode: string;
  nlink: number;
  size: number;
  mon: string;
  day: number;
  hhmm: string;
  name: string;
}

/** Parses `diodls -l` lines: "drwxr-xr-x.    3 root root   4096 Nov 29 02:35 name". */
function parseLs(out: string): LsEntry[] {
  return out
    .split('\n')
    .filter((l) => l.length)
    .map((l) => {
      const m = /^(\S{10})\.?\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s+(\w{3})\s+(\d+)\s+(\d\d:\d\d)\s(.*)$/.exec(l);
      assert.ok(m, `unparsed diodls line: ${JSON.stringify(l)}`);
      return {
        mode: m[1],
        nlink: Number(m[2]),
        size: Number(m[3]),
        mon: m[4],
        day: Number(m[5]),
        hhmm: m[6],
        name: m[7],
      };
    });
}

describe('gofer interop: diod clients read our 9P2000.L server', function () {
  this.timeout(120_000);
  let tmp: string;
  let root: string;
  let g: RunningGofer | undefined;
  let server: string;

  before(async function () {
    for (const t of ['diodls', 'diodcat', 'diodload'])
      if (!fs.existsSync(path.join(DIOD_BIN, t)))
        throw new Error(`${DIOD_BIN}/${t} is missing: install Debian's diod package (apt-get install diod)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-diod-'));
    root = path.join(tmp, 'root');
    fs.mkdirSync(root);
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('hello\n'),
      empty: Buffer.alloc(0),
      'one-byte': Buffer.from('x'),
      'page-minus-1': bytes(4095, 1),
      page: bytes(4096, 2),
      'msize-payload': bytes(65536 - 24, 3),
      'msize-plus': bytes(65537, 4),
      'big.bin': bytes(300_000, 5),
      'with space.txt': Buffer.from('spaced\n'),
      'héllo-ütf8.txt': Buffer.from('unicode name\n'),
      'sub/b.txt': bytes(1234, 6),
      'sub/deep/deeper/c.bin': bytes(100_000, 7),
      'sub/deep/d.txt': Buffer.from('deep\n'),
      // diodload copies from ctl:zero to ctl:null.
      zero: Buffer.alloc(70_000),
      null: Buffer.alloc(0),
    };
    for (const [rel, data] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), data);
    }
    fs.chmodSync(path.join(root, 'a.txt'), 0o600);
    fs.chmodSync(path.join(root, 'page'), 0o755);
    fs.chmodSync(path.join(root, 'sub/deep'), 0o750);
    fs.mkdirSync(path.join(root, 'emptydir'));
    fs.symlinkSync('a.txt', path.join(root, 'link'));
    fs.symlinkSync('/nonexistent/target', path.join(root, 'dangling'));
    fs.linkSync(path.join(root, 'sub/b.txt'), path.join(root, 'hardlink-to-b'));
    g = await startGofer(root, ['--aname', 'ctl']);
    server = `${g.host}:${g.port}`;
  });

  after(async () => {
    await g?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('diodls -l lists every directory as the host sees it (names, types, modes, sizes, links, mtimes)', () => {
    const dirs = [
      '',
      ...walkTree(root)
        .filter((e) => e.st.isDirectory())
        .map((e) => e.rel),
    ];
    for (const d of dirs) {
      const r = diod('diodls', ['-s', server, '-a', root, '-l', `/${d}`]);
      assert.equal(r.status, 0, `diodls /${d}: ${r.stderr}`);
      assert.equal(r.stderr, '', `diodls /${d} stderr`);
      const got = parseLs(r.stdout.toString());
      const names = got.map((e) => e.name).sort();
      const want = ['.', '..', ...fs.readdirSync(path.join(root, d))].sort();
      assert.deepEqual(names, want, `names of /${d}`);
      for (const e of got) {
        // '..' of the root is the root itself: the gofer never leaves it.
        const host =
          e.name === '..' ? (d === '' ? root : path.dirname(path.join(root, d))) : path.join(root, d, e.name);
        const st = fs.lstatSync(host);
        const what = `/${d}/${e.name}`;
        assert.equal(
          e.mode[0],
          st.isDirectory() ? 'd' : st.isSymbolicLink() ? e.mode[0] : '-',
          `${what} type`,
        );
        if (st.isSymbolicLink()) assert.ok('l-'.includes(e.mode[0]), `${what} type`);
        assert.equal(e.mode.slice(1), permString(st.mode), `${what} mode`);
        assert.equal(e.nlink, st.nlink, `${what} nlink`);
        if (!st.isDirectory()) assert.equal(e.size, st.size, `${what} size`);
        const mt = st.mtime;
        assert.equal(e.mon, MONTHS[mt.getMonth()], `${what} mtime month`);
        assert.equal(e.day, mt.getDate(), `${what} mtime day`);
        const hhmm = `${String(mt.getHours()).padStart(2, '0')}:${String(mt.getMinutes()).padStart(2, '0')}`;
        assert.equal(e.hhmm, hhmm, `${what} mtime`);
      }
    }
  });

  it('diodcat of every regular file returns exactly its bytes', () => {
    const regular = walkTree(root).filter((e) => e.st.isFile());
    assert.ok(regular.length >= 15);
    for (const { rel } of regular) {
      const r = diod('diodcat', ['-s', server, '-a', root, `/${rel}`]);
      assert.equal(r.status, 0, `diodcat /${rel}: ${r.stderr}`);
      assert.ok(r.stdout.equals(fs.readFileSync(path.join(root, rel))), `content of /${rel}`);
    }
  });

  it('diodcat of a missing file fails with the server’s ENOENT', () => {
    const r = diod('diodcat', ['-s', server, '-a', root, '/no-such-file']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /No such file or directory/);
  });

  for (const mode of ['read/write', 'getattr'] as const) {
    it(`diodload: 16 threads, 10 s, ${mode} mode, without an error`, () => {
      const args = ['-s', server, '-n', '16', '-r', '10', ...(mode === 'getattr' ? ['-g'] : [])];
      const r = diod('diodload', args, 60_000);
      const out = r.stdout.toString() + r.stderr;
      assert.equal(r.status, 0, `diodload ${args.join(' ')}: ${out}`);
      // diodload reports failures (npc_* errors) as extra lines; success is one summary line.
      const lines = out.split('\n').filter((l) => l.trim());
      assert.equal(lines.length, 1, `diodload output: ${out}`);
      const m = /^diodload: (\d+) ops\/s, (\d+) rMB\/s, (\d+) wMB\/s$/.exec(lines[0]);
      assert.ok(m, `diodload summary: ${lines[0]}`);
      assert.ok(Number(m[1]) > 0, 'some operations were done');
      if (mode === 'read/write') {
        assert.ok(Number(m[2]) > 0 && Number(m[3]) > 0, 'bytes were read and written');
        // What was written to ctl:null are the zeros read from ctl:zero.
        const n = fs.readFileSync(path.join(root, 'null'));
        assert.ok(n.length > 0 && n.every((b) => b === 0), 'null holds the copied zeros');
      }
      assert.doesNotMatch(g!.stderr(), /internal error/);
      assert.equal(g!.exited(), null, 'the gofer is still running');
    });
  }
});
