/**
 * A host directory into image entries: every file type, owners, permission bits and
 * mtimes (with nanoseconds), hard links (by device and inode). Overlayfs whiteouts
 * (character devices 0:0) and OCI `.wh.*` names become whiteouts; `.wh..wh..opq` makes
 * its directory opaque. Extended attributes are not read from directories (Node has no
 * xattr API): pack a tar with pax SCHILY.xattr records to carry them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Entry } from '../format/writer';

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function dirEntries(root: string): Entry[] {
  const out: Entry[] = [];
  const seen = new Map<string, string>();
  const rootBuf = Buffer.from(path.resolve(root));
  const visit = (host: Buffer, rel: string): void => {
    const st = fs.lstatSync(host, { bigint: true });
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const dir = rel.slice(0, rel.lastIndexOf('/')) || '/';
    const common = {
      perm: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: [Number(st.mtimeNs / 1000000000n), Number(st.mtimeNs % 1000000000n)] as [number, number],
    };
    if (rel !== '/' && base === '.wh..wh..opq') {
      out.push({ path: dir, kind: 'dir', opaque: true });
      return;
    }
    if (rel !== '/' && base.startsWith('.wh.')) {
      out.push({ path: (dir === '/' ? '' : dir) + '/' + base.slice(4), kind: 'whiteout' });
      return;
    }
    if (st.isDirectory()) {
      out.push({ path: rel, kind: 'dir', ...common });
      const names = (fs.readdirSync(host, { encoding: 'buffer' }) as Buffer[]).map((b) =>
        b.toString('latin1'),
      );
      names.sort(byteOrder);
      for (const n of names)
        visit(
          Buffer.concat([host, Buffer.from('/'), Buffer.from(n, 'latin1')]),
          (rel === '/' ? '' : rel) + '/' + n,
        );
      return;
    }
    if (!st.isDirectory() && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = seen.get(key);
      if (first !== undefined) {
        out.push({ path: rel, kind: 'hardlink', target: first });
        return;
      }
      seen.set(key, rel);
    }
    if (st.isFile())
      out.push({ path: rel, kind: 'file', ...common, content: { hostPath: host, size: Number(st.size) } });
    else if (st.isSymbolicLink())
      out.push({
        path: rel,
        kind: 'symlink',
        ...common,
        target: (fs.readlinkSync(host, { encoding: 'buffer' }) as Buffer).toString('latin1'),
      });
    else if (st.isCharacterDevice() && st.rdev === 0n) out.push({ path: rel, kind: 'whiteout' });
    else if (st.isCharacterDevice()) out.push({ path: rel, kind: 'chr', ...common, rdev: Number(st.rdev) });
    else if (st.isBlockDevice()) out.push({ path: rel, kind: 'blk', ...common, rdev: Number(st.rdev) });
    else if (st.isFIFO()) out.push({ path: rel, kind: 'fifo', ...common });
    else if (st.isSocket()) out.push({ path: rel, kind: 'sock', ...common });
  };
  if (!fs.statSync(rootBuf).isDirectory()) throw new Error(`${root}: not a directory`);
  visit(rootBuf, '/');
  return out;
}
