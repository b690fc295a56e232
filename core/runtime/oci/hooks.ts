/**
 * OCI hooks (config.md "POSIX-platform Hooks"): each runs on the host with the container's
 * state JSON on its stdin, its own args/env, and an optional timeout in seconds. A failing
 * prestart/createRuntime/createContainer/startContainer hook fails the operation; poststart
 * and poststop failures are logged and ignored, as the spec says.
 */
import { spawn } from 'node:child_process';
import type { HookKind, Spec } from './spec';
import type { OciState } from './state';

export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookError';
  }
}

export async function runHooks(spec: Spec, kind: HookKind, state: OciState): Promise<void> {
  const hooks = spec.hooks?.[kind] ?? [];
  for (const [i, h] of hooks.entries()) {
    const where = `hooks.${kind}[${i}] (${h.path})`;
    await new Promise<void>((resolve, reject) => {
      const args = h.args && h.args.length ? h.args : [h.path];
      const child = spawn(h.path, args.slice(1), {
        argv0: args[0],
        env: Object.fromEntries(
          (h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
        ),
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      if (h.timeout)
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new HookError(`${where}: timed out after ${h.timeout} s`));
        }, h.timeout * 1000);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(JSON.stringify(state));
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        reject(new HookError(`${where}: ${e.message}`));
      });
      child.on('exit', (code, sig) => {
        if (timer) clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new HookError(
              `${where}: ${sig ? `killed by ${sig}` : `exited with status ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`,
            ),
          );
      });
    });
  }
}
