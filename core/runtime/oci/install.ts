/**
 * `runsc install`: adds tsvisor to Docker's daemon.json as a runtime, keeping every other
 * setting, after copying the old file to `<file>.bak` (the file is replaced atomically).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface InstallOptions {
  file: string;
  runtime: string;
  runscPath: string;
  runtimeArgs: string[];
}

export interface InstallResult {
  backup?: string;
  config: Record<string, unknown>;
}

export function installDocker(o: InstallOptions): InstallResult {
  let config: Record<string, unknown> = {};
  let backup: string | undefined;
  let text: string | undefined;
  try {
    text = fs.readFileSync(o.file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read ${o.file}: ${(e as Error).message}`);
  }
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`${o.file} is not valid JSON (${(e as Error).message}); fix or move it first`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error(`${o.file}: the top level must be a JSON object`);
    config = parsed as Record<string, unknown>;
    if (
      config.runtimes !== undefined &&
      (typeof config.runtimes !== 'object' || config.runtimes === null || Array.isArray(config.runtimes))
    )
      throw new Error(`${o.file}: "runtimes" must be an object`);
    backup = `${o.file}.bak`;
    fs.writeFileSync(backup, text);
  }
  const runtimes = { ...((config.runtimes as Record<string, unknown> | undefined) ?? {}) };
  const entry: Record<string, unknown> = { path: o.runscPath };
  if (o.runtimeArgs.length) entry.runtimeArgs = o.runtimeArgs;
  runtimes[o.runtime] = entry;
  config = { ...config, runtimes };
  fs.mkdirSync(path.dirname(o.file), { recursive: true });
  const tmp = path.join(path.dirname(o.file), `.${path.basename(o.file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`);
  fs.renameSync(tmp, o.file);
  return { backup, config };
}
