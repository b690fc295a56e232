/**
 * OCI image layouts (a folder with `oci-layout`, `index.json` and `blobs/`): index.json →
 * image manifest (the linux/amd64 one when the index lists several, nested indexes
 * followed) → its layers in order, bottom first. Every blob's SHA-256 is checked against
 * its digest before use.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export class OciError extends Error {}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

export function isOciLayout(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'oci-layout')) && fs.existsSync(path.join(dir, 'index.json'));
}

function blob(dir: string, d: Descriptor): Buffer {
  const m = /^sha256:([0-9a-f]{64})$/.exec(d.digest ?? '');
  if (!m) throw new OciError(`unsupported or malformed digest ${JSON.stringify(d.digest)}`);
  const file = path.join(dir, 'blobs', 'sha256', m[1]);
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch (e) {
    throw new OciError(`blob ${d.digest} is missing: ${(e as Error).message}`);
  }
  if (createHash('sha256').update(b).digest('hex') !== m[1])
    throw new OciError(`blob ${file} does not match its digest ${d.digest}`);
  return b;
}

function json(dir: string, d: Descriptor): Record<string, unknown> {
  try {
    return JSON.parse(blob(dir, d).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError(`blob ${d.digest} is not valid JSON: ${(e as Error).message}`);
  }
}

function pick(list: Descriptor[], where: string): Descriptor {
  if (!Array.isArray(list) || list.length === 0) throw new OciError(`${where} lists no manifests`);
  return (
    list.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === 'amd64')) ??
    list[0]
  );
}

export interface OciLayer {
  digest: string;
  mediaType: string;
  /** The (possibly compressed) layer tar. */
  data: Buffer;
}

/** The layers of the image in an OCI layout, bottom first. */
export function ociLayers(dir: string): OciLayer[] {
  let index: Record<string, unknown>;
  try {
    index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new OciError(`${path.join(dir, 'index.json')}: ${(e as Error).message}`);
  }
  let desc = pick(index.manifests as Descriptor[], 'index.json');
  for (let depth = 0; ; depth++) {
    if (depth > 8) throw new OciError('image indexes nested too deeply');
    const doc = json(dir, desc);
    if (Array.isArray(doc.manifests)) {
      desc = pick(doc.manifests as Descriptor[], `index ${desc.digest}`);
      continue;
    }
    if (!Array.isArray(doc.layers)) throw new OciError(`manifest ${desc.digest} has no layers`);
    return (doc.layers as Descriptor[]).map((l) => {
      const mt = l.mediaType ?? '';
      return { digest: l.digest, mediaType: mt, data: blob(dir, l) };
    });
  }
}
