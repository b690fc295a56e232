/**
 * The packer: a directory, a tar layer (optionally gzip or zstd) or an OCI image layout into
 * layer images. A directory or tar gives one image; an OCI layout gives one image per
 * layer plus `layers.json` (their file names, bottom first) in the output folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeImage, type Progress, type WriteStats } from '../format/writer';
import { dirEntries } from './dir';
import { isOciLayout, ociLayers } from './oci';
import { tarEntries } from './tar';

export { dirEntries } from './dir';
export { tarEntries, TarError, makedev } from './tar';
export { ociLayers, isOciLayout, OciError } from './oci';
export { ProgressBar, humanBytes } from './progress';

export type SourceKind = 'dir' | 'tar' | 'oci';

export function sourceKind(src: string): SourceKind {
  const st = fs.statSync(src);
  if (st.isDirectory()) return isOciLayout(src) ? 'oci' : 'dir';
  return 'tar';
}

export interface BuiltImage {
  path: string;
  /** The OCI layer digest it came from. */
  digest?: string;
  stats: WriteStats;
}

export interface BuildCallbacks {
  /** A new image starts (label for the progress display). */
  start?(label: string): void;
  progress?(p: Progress): void;
  done?(img: BuiltImage): void;
}

/** Build `src` into `out` (an image file; for an OCI layout, a folder). */
export function buildImages(src: string, out: string, cb: BuildCallbacks = {}): BuiltImage[] {
  const kind = sourceKind(src);
  if (kind !== 'oci') {
    cb.start?.(path.basename(out));
    const entries = kind === 'dir' ? dirEntries(src) : tarEntries(fs.readFileSync(src));
    const img = { path: out, stats: writeImage(entries, out, cb.progress) };
    cb.done?.(img);
    return [img];
  }
  const layers = ociLayers(src);
  fs.mkdirSync(out, { recursive: true });
  const built: BuiltImage[] = [];
  layers.forEach((l, i) => {
    const name = `${String(i).padStart(3, '0')}-${l.digest.slice(7, 19)}.img`;
    const file = path.join(out, name);
    cb.start?.(name);
    const img = { path: file, digest: l.digest, stats: writeImage(tarEntries(l.data), file, cb.progress) };
    cb.done?.(img);
    built.push(img);
  });
  fs.writeFileSync(
    path.join(out, 'layers.json'),
    JSON.stringify(
      { layers: built.map((b) => path.basename(b.path)), digests: built.map((b) => b.digest) },
      null,
      2,
    ) + '\n',
  );
  return built;
}
