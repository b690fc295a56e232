/**
 * The containerfs filesystem plugin: the sandbox root from layer images (see
 * docs/containerfs.md). `runsc image build` packs a directory, tar layer or OCI image
 * layout into images; this plugin stacks them read-only (Bloom-filtered lookups, SHA-256
 * checked contents), and the core overlay puts the writable tmpfs upper on top.
 *
 * Config block:
 *   rootfs: containerfs
 *   containerfs:
 *     layers: [base.img, app.img]   # bottom first; relative to the config file's folder;
 *                                   # a layers.json written by `image build` expands to its list
 *
 * Registers a FilesystemType named `containerfs` under the `FilesystemType` token.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FilesystemType, type ConfigSchema, type PluginManifest } from '../../core/plugins';
import { Config, Logger } from '../../core/plugins/tokens';
import type { MemoryFile } from '../../core/mm/memfile';
import { Containerfs } from './src/fs/containerfs';
import { LayerImage } from './src/format/reader';

export { Containerfs, CfsInode, CfsFile, CONTAINERFS_MAGIC } from './src/fs/containerfs';
export { LayerImage, ImageCorrupt } from './src/format/reader';
export { writeImage, type Entry } from './src/format/writer';

export const configSchema: ConfigSchema = {
  type: 'object',
  properties: {
    layers: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description:
        'Layer image files, bottom layer first (built with `runsc image build`); a layers.json from an OCI build expands to its layers. Relative paths are resolved from the config file folder.',
    },
  },
  additionalProperties: false,
};

/** Expand layers.json entries and resolve relative paths against `base`. */
export function resolveLayers(
  layers: readonly string[],
  base: string,
  field = 'containerfs.layers',
): string[] {
  const out: string[] = [];
  for (const l of layers) {
    const p = path.resolve(base, l);
    if (path.basename(p) === 'layers.json') {
      let list: unknown;
      try {
        list = (JSON.parse(fs.readFileSync(p, 'utf8')) as { layers?: unknown }).layers;
      } catch (e) {
        throw new Error(`${field}: ${p}: ${(e as Error).message}`);
      }
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
        throw new Error(`${field}: ${p} has no "layers" list of file names`);
      out.push(...(list as string[]).map((x) => path.resolve(path.dirname(p), x)));
    } else out.push(p);
  }
  return out;
}

export function containerfsType(defaults: { layers: string[]; log?: Logger }): FilesystemType {
  return {
    name: 'containerfs',
    userMountable: false,
    mount(source: string, options: Record<string, unknown>): Containerfs {
      // Where the list came from, for messages (the config field, or an OCI annotation).
      const field = (options.field as string | undefined) ?? 'containerfs.layers';
      // A list given here (an OCI annotation's, resolved by the caller) may name layers.json files too.
      const given = options.layers as string[] | undefined;
      const layers = given ? resolveLayers(given, '/', field) : defaults.layers;
      if (source && source !== '/')
        throw new Error(
          `rootfs containerfs takes its root from containerfs.layers, not from a host folder (${source}); drop --root-dir`,
        );
      if (!layers.length)
        throw new Error(
          'rootfs containerfs needs layer images: set containerfs.layers: [LAYER.img, ...] in the config',
        );
      const images = [];
      for (const p of layers) {
        try {
          images.push(LayerImage.open(p));
        } catch (e) {
          for (const img of images) img.close();
          throw new Error(`${field}: cannot mount ${p}: ${(e as Error).message}`);
        }
      }
      return new Containerfs(images, { mf: options.mf as MemoryFile | undefined, log: defaults.log });
    },
  };
}

export const manifest: PluginManifest = {
  apiVersion: 1,
  kind: 'filesystem',
  name: 'containerfs',
  version: '0.1.0',
  description:
    'Layer images as the sandbox root: read-only layers searched in place with per-layer Bloom filters, under a writable tmpfs upper.',
  configSchema,
  register(container, options) {
    const cfg = container.isRegistered(Config) ? container.resolve<Config>(Config) : undefined;
    const log = container.isRegistered(Logger) ? container.resolve<Logger>(Logger) : undefined;
    const base = cfg?.file ? path.dirname(cfg.file) : (cfg?.cwd ?? process.cwd());
    const layers = resolveLayers((options.layers as string[] | undefined) ?? [], base);
    container.register(FilesystemType, { useValue: containerfsType({ layers, log }) });
  },
};

export default manifest;
