import * as assert from 'node:assert/strict';
import {
  EACCES,
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ELOOP,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  EPERM,
  EROFS,
  EXDEV,
  SysError,
} from '../../core/abi/errno';
import { Tmpfs } from '../../core/fs/tmpfs';
import {
  AT_FDCWD,
  MS_RDONLY,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
} from '../../core/vfs/abi';
import type { FileDescription } from '../../core/vfs/file';
import {
  accessAt,
  chmodInode,
  linkAt,
  lookupAt,
  mkdirAt,
  openAt,
  openForExec,
  readlinkAt,
  renameAt,
  rmdirAt,
  symlinkAt,
  unlinkAt,
} from '../../core/vfs/ops';
import { pathOf } from '../../core/vfs/mount';
import { newWorld, testMemoryFile, userCreds } from '../helpers/fake-task';

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

function open(t: any, path: string, flags: number, mode = 0o644): FileDescription {
  const f = openAt(t, AT_FDCWD, path, { flags, mode });
  assert.ok(!(f instanceof Promise));
  return f as FileDescription;
}

describe('vfs/walk and ops (over tmpfs)', () => {
  it('creates, resolves and lists paths', () => {
    const { t } = newWorld();
    mkdirAt(t, AT_FDCWD, '/a', 0o755);
    mkdirAt(t, AT_FDCWD, '/a/b', 0o755);
    const f = open(t, '/a/b/file', O_CREAT | O_WRONLY);
    assert.equal(f.write(t, [Buffer.from('hello')], -1), 5);
    f.decRef();
    assert.equal(lookupAt(t, AT_FDCWD, '/a/./b/../b/file', true).inode.stat().size, 5);
    assert.equal(lookupAt(t, AT_FDCWD, '/../../a', true).dentry.name, 'a', '.. stops at root');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/a/b/file/', true)),
      ENOTDIR,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/a/b/file/x', true)),
      ENOTDIR,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/a/nope', true)),
      ENOENT,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '', true)),
      ENOENT,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/' + 'x'.repeat(256), true)),
      ENAMETOOLONG,
    );
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/' + 'x/'.repeat(2100), true)),
      ENAMETOOLONG,
    );
    assert.equal(
      errno(() => mkdirAt(t, AT_FDCWD, '/a', 0o755)),
      EEXIST,
    );
    assert.equal(
      errno(() => open(t, '/a/b/file', O_CREAT | O_EXCL | O_WRONLY)),
      EEXIST,
    );
    assert.equal(
      errno(() => open(t, '/a', O_WRONLY)),
      EISDIR,
    );
    assert.equal(
      errno(() => open(t, '/a/b/file', O_RDONLY | O_DIRECTORY)),
      ENOTDIR,
    );
    assert.equal(
      errno(() => open(t, '/a/new/', O_CREAT | O_WRONLY)),
      EISDIR,
    );
  });

  it('follows symlinks, detects loops and honours O_NOFOLLOW', () => {
    const { t } = newWorld();
    mkdirAt(t, AT_FDCWD, '/d', 0o755);
    open(t, '/d/f', O_CREAT | O_WRONLY).decRef();
    symlinkAt(t, 'f', AT_FDCWD, '/d/rel');
    symlinkAt(t, '/d', AT_FDCWD, '/abs');
    symlinkAt(t, 'loop2', AT_FDCWD, '/loop1');
    symlinkAt(t, 'loop1', AT_FDCWD, '/loop2');
    assert.equal(readlinkAt(t, AT_FDCWD, '/d/rel'), 'f');
    assert.equal(
      errno(() => readlinkAt(t, AT_FDCWD, '/d/f')),
      EINVAL,
    );
    assert.equal(lookupAt(t, AT_FDCWD, '/abs/rel', true).dentry.name, 'f');
    assert.equal(lookupAt(t, AT_FDCWD, '/abs/rel', false).dentry.name, 'rel');
    assert.equal(lookupAt(t, AT_FDCWD, '/abs/', false).dentry.name, 'd', 'trailing slash follows');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/loop1', true)),
      ELOOP,
    );
    assert.equal(
      errno(() => open(t, '/d/rel', O_RDONLY | O_NOFOLLOW)),
      ELOOP,
    );
    // 40 links are fine, 41 are not.
    symlinkAt(t, '/d/f', AT_FDCWD, '/l0');
    for (let i = 1; i <= 41; i++) symlinkAt(t, `/l${i - 1}`, AT_FDCWD, `/l${i}`);
    assert.equal(lookupAt(t, AT_FDCWD, '/l39', true).dentry.name, 'f');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/l40', true)),
      ELOOP,
    );
    // O_CREAT through a dangling symlink creates the target.
    symlinkAt(t, '/d/created', AT_FDCWD, '/dangling');
    open(t, '/dangling', O_CREAT | O_WRONLY).decRef();
    assert.equal(lookupAt(t, AT_FDCWD, '/d/created', false).dentry.name, 'created');
  });

  it('unlink, rmdir and rename follow Linux errnos', () => {
    const { t } = newWorld();
    mkdirAt(t, AT_FDCWD, '/d', 0o755);
    mkdirAt(t, AT_FDCWD, '/d/sub', 0o755);
    mkdirAt(t, AT_FDCWD, '/e', 0o755);
    open(t, '/d/f', O_CREAT | O_WRONLY).decRef();
    open(t, '/g', O_CREAT | O_WRONLY).decRef();
    assert.equal(
      errno(() => unlinkAt(t, AT_FDCWD, '/d')),
      EISDIR,
    );
    assert.equal(
      errno(() => rmdirAt(t, AT_FDCWD, '/d')),
      ENOTEMPTY,
    );
    assert.equal(
      errno(() => rmdirAt(t, AT_FDCWD, '/d/f')),
      ENOTDIR,
    );
    assert.equal(
      errno(() => rmdirAt(t, AT_FDCWD, '/d/.')),
      EINVAL,
    );
    assert.equal(
      errno(() => rmdirAt(t, AT_FDCWD, '/')),
      EBUSY,
    );
    assert.equal(
      errno(() => unlinkAt(t, AT_FDCWD, '/d/f/')),
      ENOTDIR,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/d', AT_FDCWD, '/d/sub/x', 0)),
      EINVAL,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/g', AT_FDCWD, '/e', 0)),
      EISDIR,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/e', AT_FDCWD, '/g', 0)),
      ENOTDIR,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/e', AT_FDCWD, '/d', 0)),
      ENOTEMPTY,
    );
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/g', AT_FDCWD, '/d/f', RENAME_NOREPLACE)),
      EEXIST,
    );
    renameAt(t, AT_FDCWD, '/g', AT_FDCWD, '/d/f', RENAME_EXCHANGE);
    renameAt(t, AT_FDCWD, '/d/sub', AT_FDCWD, '/e/moved', 0);
    assert.equal(lookupAt(t, AT_FDCWD, '/e/moved/..', true).dentry.name, 'e');
    renameAt(t, AT_FDCWD, '/g', AT_FDCWD, '/d/f', 0);
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/g', true)),
      ENOENT,
    );
    unlinkAt(t, AT_FDCWD, '/d/f');
    rmdirAt(t, AT_FDCWD, '/d');
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/d', true)),
      ENOENT,
    );
  });

  it('hard links share the inode and unlinked open files keep their data', () => {
    const { t } = newWorld();
    const f = open(t, '/a', O_CREAT | O_RDWR);
    f.write(t, [Buffer.from('data')], -1);
    linkAt(t, AT_FDCWD, '/a', AT_FDCWD, '/b', false);
    assert.equal(lookupAt(t, AT_FDCWD, '/b', true).inode.stat().nlink, 2);
    unlinkAt(t, AT_FDCWD, '/a');
    unlinkAt(t, AT_FDCWD, '/b');
    const buf = Buffer.alloc(4);
    assert.equal(f.read(t, [buf], 0), 4);
    assert.equal(buf.toString(), 'data');
    f.decRef();
    mkdirAt(t, AT_FDCWD, '/dir', 0o755);
    assert.equal(
      errno(() => linkAt(t, AT_FDCWD, '/dir', AT_FDCWD, '/dir2', false)),
      EPERM,
    );
  });

  it('checks DAC permissions for non-root users', () => {
    const { t } = newWorld();
    mkdirAt(t, AT_FDCWD, '/priv', 0o700);
    open(t, '/ro', O_CREAT | O_WRONLY, 0o444).decRef();
    open(t, '/x', O_CREAT | O_WRONLY, 0o755).decRef();
    open(t, '/nox', O_CREAT | O_WRONLY, 0o644).decRef();
    assert.equal(
      errno(() => openForExec(t, '/nox')),
      EACCES,
      'root needs some x bit',
    );
    assert.equal(
      errno(() => openForExec(t, '/priv')),
      EACCES,
      'directory',
    );
    assert.equal(
      errno(() => openForExec(t, '/missing')),
      ENOENT,
    );
    openForExec(t, '/x').file.decRef();
    t.creds = userCreds(1000);
    assert.equal(
      errno(() => lookupAt(t, AT_FDCWD, '/priv/x', true)),
      EACCES,
    );
    assert.equal(
      errno(() => mkdirAt(t, AT_FDCWD, '/priv2', 0o755)),
      EACCES,
    );
    assert.equal(
      errno(() => open(t, '/ro', O_WRONLY)),
      EACCES,
    );
    open(t, '/ro', O_RDONLY).decRef();
    assert.equal(
      errno(() => accessAt(t, AT_FDCWD, '/ro', 2, 0, false)),
      EACCES,
    );
    assert.equal(
      errno(() => chmodInode(t, lookupAt(t, AT_FDCWD, '/ro', true).inode, null, 0o777)),
      EPERM,
    );
  });

  it('crosses mounts both ways, refuses cross-mount links, honours read-only mounts, and prints paths', () => {
    const { t, ns } = newWorld();
    mkdirAt(t, AT_FDCWD, '/mnt', 0o755);
    const inner = new Tmpfs({ mf: testMemoryFile() });
    ns.mount(inner, lookupAt(t, AT_FDCWD, '/mnt', true), MS_RDONLY, 'tmpfs');
    const m = lookupAt(t, AT_FDCWD, '/mnt', true);
    assert.equal(m.inode.fs, inner);
    assert.equal(lookupAt(t, AT_FDCWD, '/mnt/..', true).dentry, t.fs.root.dentry);
    assert.equal(
      errno(() => mkdirAt(t, AT_FDCWD, '/mnt/x', 0o755)),
      EROFS,
    );
    open(t, '/f', O_CREAT | O_WRONLY).decRef();
    assert.equal(
      errno(() => renameAt(t, AT_FDCWD, '/f', AT_FDCWD, '/mnt/f', 0)),
      EXDEV,
    );
    assert.equal(pathOf(m, t.fs.root).path, '/mnt');
    mkdirAt(t, AT_FDCWD, '/a', 0o755);
    mkdirAt(t, AT_FDCWD, '/a/b', 0o755);
    assert.equal(pathOf(lookupAt(t, AT_FDCWD, '/a/b', true), t.fs.root).path, '/a/b');
  });
});
