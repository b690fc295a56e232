/**
 * mmap of files in layer images maps the image's own pages into the app (on a platform
 * that can map a host fd: ptrace), instead of copies in the memory file:
 * - content: private read-only mappings (whole, at an offset, the zero tail of the last
 *   page, SIGBUS past it, the kernel reading the mapping, mprotect to writable giving a
 *   private copy, MAP_SHARED read-only) print what they print natively;
 * - memory: 6 processes each mapping and reading a 32 MiB file of an image leave the
 *   memory file (the sandbox's memfd, blocks in use) under 16 MiB — 6 private copies would
 *   be 192 MiB, one shared copy 32 MiB (the same program on a directfs root shows the
 *   measure sees such a copy) — and the stubs' own maps show the image file, for the data
 *   and for the program's text (read-only ELF segments);
 * - a file failing its SHA-256 check is never mapped: open gives EIO.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, RUNSC, runNative, runSandbox } from '../../../test/integration/harness';
import { writeImage, type Entry } from '../src/format/writer';

const SIZE = 32 * 1048576 + 123;

/** Deterministic bytes (SHA-256 in counter mode). */
function data(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, o = 0; o < n; i++, o += 32) createHash('sha256').update(`block ${i}`).digest().copy(out, o);
  return out;
}

/** Bytes in use by the memfd of sandbox process `pid` (the memory file). */
function memoryFileBytes(pid: number): number {
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.includes('memfd:tsvisor-memory')) return fs.statSync(`/proc/${pid}/fd/${fd}`).blocks * 512;
  }
  throw new Error(`no memory file among the fds of ${pid}`);
}

/** /proc/<stub>/maps of every stub process of sandbox `pid` (stubs are its children). */
function stubMaps(pid: number): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) !== pid || !stat.includes('(tsvisor-stub')) continue;
      out.push(fs.readFileSync(`/proc/${d}/maps`, 'utf8'));
    } catch {
      /* gone */
    }
  }
  return out;
}

interface Shared {
  memfd: number;
  maps: string[];
  stdout: string;
  status: number | null;
}

/** Run `mapshare share FILE 6` under runsc; measure once every child has mapped and read. */
function runShared(runscArgs: string[]): Promise<Shared> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNSC, ...runscArgs], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    let measured: { memfd: number; maps: string[] } | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (!measured && stdout.includes('ready\n')) {
        try {
          measured = { memfd: memoryFileBytes(child.pid!), maps: stubMaps(child.pid!) };
        } catch (e) {
          child.kill('SIGKILL');
          reject(e as Error);
        }
        child.stdin.end('go\n');
      }
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      if (!measured) reject(new Error(`sandbox ended before "ready" (status ${status}): ${stderr}`));
      else resolve({ ...measured, stdout, status });
    });
  });
}

describe('containerfs: mmap maps the image pages', function () {
  this.timeout(300000);
  let work: string;
  let tree: string;
  let image: string;
  let config: string;
  let prog: string;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-mmap-'));
    prog = path.join(work, 'mapshare');
    const cc = spawnSync(
      'gcc',
      [
        '-O2',
        '-static',
        '-o',
        prog,
        path.join(__dirname, '..', '..', '..', '..', 'plugins', 'fs-containerfs', 'test', 'c', 'mapshare.c'),
      ],
      { encoding: 'utf8' },
    );
    if (cc.status !== 0) throw new Error(`gcc mapshare.c: ${cc.stderr}`);
    tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'data'));
    fs.copyFileSync(prog, path.join(tree, 'bin', 'mapshare'));
    fs.chmodSync(path.join(tree, 'bin', 'mapshare'), 0o755);
    const big = data(SIZE);
    fs.writeFileSync(path.join(tree, 'data', 'big'), big);
    const entries: Entry[] = [
      { path: '/bin/mapshare', kind: 'file', perm: 0o755, content: { data: fs.readFileSync(prog) } },
      { path: '/data/big', kind: 'file', perm: 0o644, content: { data: big } },
    ];
    image = path.join(work, 'layer.img');
    writeImage(entries, image);
    config = path.join(work, 'runsc.config.json');
    fs.writeFileSync(config, JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: [image] } }));
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('private and shared read-only mappings read as natively', () => {
    const native = runNative([prog, 'content', path.join(tree, 'data', 'big')]);
    assert.equal(native.status, 0, native.stderr);
    const sandbox = runSandbox(['/bin/mapshare', 'content', '/data/big'], { flags: ['--config', config] });
    assert.equal(sandbox.stderr, native.stderr);
    assert.equal(sandbox.stdout, native.stdout);
    assert.equal(sandbox.status, 0);
  });

  it('6 processes mapping a 32 MiB file use the image pages, not the memory file', async () => {
    const native = runNative([prog, 'share', path.join(tree, 'data', 'big'), '6'], { input: 'go\n' });
    assert.equal(native.status, 0, native.stderr);
    const cfs = await runShared([
      '--config',
      config,
      'do',
      '--cwd',
      '/',
      '--',
      '/bin/mapshare',
      'share',
      '/data/big',
      '6',
    ]);
    assert.equal(cfs.status, 0);
    assert.equal(cfs.stdout, native.stdout, 'every child read the same bytes as natively');
    assert.ok(cfs.memfd < 16 * 1048576, `memory file holds ${cfs.memfd} bytes (a copy would be 32 MiB+)`);
    // Each child's stub maps the image itself (its data); the text of the program comes
    // from the image too (read-only ELF segments).
    const withImage = cfs.maps.filter((m) => m.split('\n').some((l) => l.endsWith(image)));
    assert.ok(withImage.length >= 6, `${withImage.length} of ${cfs.maps.length} stubs map ${image}`);
    assert.ok(
      cfs.maps.some((m) => m.split('\n').some((l) => l.endsWith(image) && / r-xp /.test(l))),
      'program text mapped from the image',
    );
    // Control: the same on a directfs root of the same tree keeps one copy of the file in
    // the memory file (its page cache), which this measure sees.
    const direct = await runShared([
      'do',
      '--root-dir',
      tree,
      '--cwd',
      '/',
      '--',
      '/bin/mapshare',
      'share',
      '/data/big',
      '6',
    ]);
    assert.equal(direct.stdout, native.stdout);
    assert.ok(direct.memfd >= 32 * 1048576, `directfs: memory file holds ${direct.memfd} bytes`);
  });

  it('a file failing its SHA-256 check is never mapped (open gives EIO)', () => {
    const bad = path.join(work, 'bad.img');
    const bytes = fs.readFileSync(image);
    // Flip a byte in the middle of /data/big's contents (the larger part of the data region).
    const at = bytes.length - Math.floor(SIZE / 2) - 65536;
    bytes[at] ^= 0x40;
    fs.writeFileSync(bad, bytes);
    const cfg = path.join(work, 'bad.json');
    fs.writeFileSync(cfg, JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: [bad] } }));
    const r = runSandbox(['/bin/mapshare', 'content', '/data/big'], { flags: ['--config', cfg] });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /open: Input\/output error/);
    assert.equal(r.stdout, '');
  });
});
