/**
 * containerfs as the sandbox root's lower layer, through the VFS: three layer images
 * stacked under the core overlay. Layer order, whiteouts, opaque directories, a directory
 * over a file, merged readdir, stable inode numbers, Bloom skips, copy-up of lower files
 * (write, chmod, rename, xattrs), mmap's page source, and EIO plus a log line naming the
 * file when an image's contents are damaged.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EIO, ENOENT, SysError } from '../../../core/abi/errno';
import { createDoMountNamespace } from '../../../core/fs/rootfs';
import type { Logger } from '../../../core/log/index';
import { AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR } from '../../../core/vfs/abi';
import type { FileDescription } from '../../../core/vfs/file';
import { FdTable } from '../../../core/vfs/fdtable';
import { FsContext } from '../../../core/vfs/fscontext';
import { chmodInode, lookupAt, mkdirAt, openAt, renameAt, unlinkAt } from '../../../core/vfs/ops';
import { FakeTask, testMemoryFile } from '../../../test/helpers/fake-task';
import { LayerImage } from '../src/format/reader';
import { writeImage, type Entry } from '../src/format/writer';
import { CfsFile, Containerfs } from '../src/fs/containerfs';

const file = (p: string, s: string, extra: Partial<Entry> = {}): Entry => ({
  path: p,
  kind: 'file',
  perm: 0o644,
  content: { data: Buffer.from(s) },
  ...extra,
});

const L1: Entry[] = [
  file('/a', 'a1'),
  file('/d/x', 'x1'),
  file('/d/y', 'y1'),
  file('/o/old', 'old'),
  file('/w', 'w1'),
  file('/k/deep/f', 'deep'),
  file('/same', 's1'),
  { path: '/lnk', kind: 'symlink', target: 'a' },
];
const L2: Entry[] = [
  file('/a', 'a2', { xattrs: [['user.k', Buffer.from('v2')]] }),
  file('/d/z', 'z2'),
  { path: '/w', kind: 'whiteout' },
  { path: '/o', kind: 'dir', opaque: true },
  file('/o/new', 'new'),
  file('/same/in', 'in2'),
];
const L3: Entry[] = [{ path: '/d/y', kind: 'whiteout' }, file('/n', 'n3'), file('/big', 'B'.repeat(10000))];

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

class LogCollector {
  lines: { obj: Record<string, unknown>; msg: string }[] = [];
  level = 'info';
  error = (obj: object, msg?: string): void =>
    void this.lines.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
  warn = (): void => {};
  info = (): void => {};
  debug = (): void => {};
  trace = (): void => {};
  fatal = (): void => {};
  child(): Logger {
    return this as unknown as Logger;
  }
  isLevelEnabled(): boolean {
    return true;
  }
}

describe('containerfs filesystem (3 layers under the overlay)', () => {
  let dir: string;
  let images: string[];
  let t: FakeTask;
  let cfs: Containerfs;
  let log: LogCollector;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-fs-'));
    images = [L1, L2, L3].map((l, i) => {
      const p = path.join(dir, `l${i + 1}.img`);
      writeImage(l, p);
      return p;
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function mountImages(imgs: LayerImage[]): void {
    log = new LogCollector();
    const mf = testMemoryFile();
    cfs = new Containerfs(imgs, { mf, log: log as unknown as Logger });
    const { root } = createDoMountNamespace({ mf, lower: cfs });
    t = new FakeTask(new FdTable(), new FsContext(root, root));
  }
  beforeEach(() => mountImages(images.map((p) => LayerImage.open(p))));

  const open = (p: string, flags: number): FileDescription =>
    openAt(t, AT_FDCWD, p, { flags, mode: 0o644 }) as FileDescription;
  const read = (p: string): string => {
    const f = open(p, O_RDONLY);
    const buf = Buffer.alloc(20000);
    const n = f.read(t, [buf], -1) as number;
    f.decRef();
    if (n < 0) throw new SysError(-n);
    return buf.toString('latin1', 0, n);
  };
  const list = (p: string): string[] => {
    const d = open(p, O_RDONLY | O_DIRECTORY);
    const names: string[] = [];
    d.getdents(t, (n) => (names.push(n), true));
    d.decRef();
    return names.filter((n) => n !== '.' && n !== '..').sort();
  };
  const ino = (p: string): number => lookupAt(t, AT_FDCWD, p, false).inode.ino;

  it('shows the top-most version of each name; whiteouts and opaque directories hide lower ones', () => {
    assert.equal(read('/a'), 'a2');
    assert.equal(read('/lnk'), 'a2');
    assert.equal(read('/d/x'), 'x1');
    assert.equal(read('/d/z'), 'z2');
    assert.equal(
      errno(() => read('/d/y')),
      ENOENT,
    );
    assert.equal(
      errno(() => read('/w')),
      ENOENT,
    );
    assert.equal(
      errno(() => read('/o/old')),
      ENOENT,
    );
    assert.equal(read('/o/new'), 'new');
    assert.equal(read('/same/in'), 'in2');
    assert.equal(read('/k/deep/f'), 'deep');
    assert.equal(read('/big'), 'B'.repeat(10000));
    assert.deepEqual(list('/d'), ['x', 'z']);
    assert.deepEqual(list('/o'), ['new']);
    assert.deepEqual(list('/'), ['a', 'big', 'd', 'dev', 'k', 'lnk', 'n', 'o', 'proc', 'same', 'sys', 'tmp']);
  });

  it('gives stable inode numbers, the same in readdir as in stat', () => {
    const d = open('/d', O_RDONLY | O_DIRECTORY);
    const fromDirents = new Map<string, number>();
    d.getdents(t, (n, i) => (fromDirents.set(n, i), true));
    d.decRef();
    assert.equal(fromDirents.get('x'), ino('/d/x'));
    assert.equal(fromDirents.get('z'), ino('/d/z'));
    const before = ino('/a');
    mountImages(images.map((p) => LayerImage.open(p)));
    assert.equal(ino('/a'), before, 'same number in a fresh mount of the same images');
    assert.notEqual(ino('/a'), ino('/n'));
    assert.notEqual(ino('/d/x'), ino('/d/z'));
  });

  it('skips layers whose Bloom filter rules the path out', () => {
    const s0 = { ...cfs.stats };
    assert.equal(read('/k/deep/f'), 'deep');
    // k exists only in the bottom layer: the two layers above are skipped without a search.
    assert.equal(cfs.stats.bloomSkips - s0.bloomSkips, 2);
    assert.equal(cfs.stats.searches - s0.searches, 3);
  });

  it('copies lower files up on write, chmod, rename and keeps their xattrs and inode numbers', () => {
    const xIno = ino('/d/x');
    const f = open('/d/x', O_RDWR);
    assert.equal(f.write(t, [Buffer.from('X')], 0), 1);
    f.decRef();
    assert.equal(read('/d/x'), 'X1');
    assert.equal(ino('/d/x'), xIno);
    const a = lookupAt(t, AT_FDCWD, '/a', false);
    chmodInode(t, a.inode, a.mount, 0o600, a.dentry);
    assert.equal(lookupAt(t, AT_FDCWD, '/a', false).inode.mode & 0o7777, 0o600);
    assert.equal(read('/a'), 'a2');
    assert.equal(Buffer.from(lookupAt(t, AT_FDCWD, '/a', false).inode.getxattr!('user.k')!).toString(), 'v2');
    renameAt(t, AT_FDCWD, '/d/z', AT_FDCWD, '/d/z2', 0);
    assert.deepEqual(list('/d'), ['x', 'z2']);
    unlinkAt(t, AT_FDCWD, '/n');
    assert.equal(
      errno(() => read('/n')),
      ENOENT,
    );
    mkdirAt(t, AT_FDCWD, '/w', 0o755);
    assert.deepEqual(list('/w'), []);
    open('/o/more', O_CREAT | O_RDWR).decRef();
    assert.deepEqual(list('/o'), ['more', 'new']);
    // The images themselves are unchanged.
    const again = new Containerfs(images.map((p) => LayerImage.open(p)));
    assert.equal(Buffer.from(again.root().lookup('d')!.lookup('x')!.contents()).toString(), 'x1');
  });

  it('serves mmap pages from the image contents', () => {
    const f = open('/big', O_RDONLY) as CfsFile;
    const m = f.mappable()!;
    assert.equal(m.size(), 10000);
    const page = new Uint8Array(4096);
    assert.equal(m.readForMap(8192, page), 10000 - 8192);
    assert.equal(Buffer.from(page.subarray(0, 3)).toString(), 'BBB');
    const shared = m.sharedObject();
    const got = new Uint8Array(16);
    shared.read(9990, got);
    assert.equal(Buffer.from(got).toString('latin1'), 'B'.repeat(10) + '\0'.repeat(6));
    f.decRef();
  });

  it('answers EIO and logs the file when its contents are damaged; other files still read', () => {
    const bytes = new Uint8Array(fs.readFileSync(images[2]));
    const probe = new LayerImage(bytes, images[2]);
    const big = probe.inode(probe.lookup(probe.inode(0), 'big')!.index);
    bytes[big.offset + 100] ^= 1;
    mountImages([LayerImage.open(images[0]), LayerImage.open(images[1]), new LayerImage(bytes, images[2])]);
    assert.equal(
      errno(() => read('/big')),
      EIO,
    );
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0].obj.path, '/big');
    assert.equal(log.lines[0].obj.image, images[2]);
    assert.match(String(log.lines[0].obj.problem), /SHA-256/);
    assert.equal(read('/n'), 'n3');
    assert.equal(
      errno(() => read('/big')),
      EIO,
      'still EIO on retry',
    );
  });
});
