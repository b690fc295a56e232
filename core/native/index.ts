/**
 * Loader for the core native addon (core/native): memfd, shared mappings as ArrayBuffers,
 * hole punching. The addon is built by `npm install` (scripts/build-native.js).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';

export interface CoreNative {
  memfdCreate(name: string, size: number): number;
  mapShared(fd: number, offset: number, length: number, writable: boolean): ArrayBuffer;
  punchHole(fd: number, offset: number, length: number): void;
  closeFd(fd: number): void;
}

/** Loads a node-gyp addon from `<dir>/build/{Release,Debug}/<name>.node`, naming every path tried. */
export function loadAddon<T>(dir: string, name: string): T {
  const tried: string[] = [];
  for (const kind of ['Release', 'Debug']) {
    const p = path.join(dir, 'build', kind, `${name}.node`);
    tried.push(p);
    if (fs.existsSync(p)) return require(p) as T;
  }
  throw new Error(
    `native addon ${name} is not built (tried ${tried.join(', ')}); run \`npm install\` or \`node scripts/build-native.js\``,
  );
}

let cached: CoreNative | undefined;
export function coreNative(): CoreNative {
  // dist/core/native/index.js -> <repo>/core/native
  cached ??= loadAddon<CoreNative>(path.resolve(__dirname, '..', '..', '..', 'core', 'native'), 'tsvisor_core');
  return cached;
}
