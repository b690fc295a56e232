/** Test helpers: waiting on the event loop, pumping data through endpoints. */
import { createHash } from 'node:crypto';
import { EAGAIN } from '../src/errno';
import type { TcpEndpoint } from '../src/tcp/endpoint';

/** Resolves once check() is true (polled every ms), rejects after timeoutMs naming `what`. */
export function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      let ok: boolean;
      try {
        ok = check();
      } catch (e) {
        reject(e as Error);
        return;
      }
      if (ok) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 1);
    };
    tick();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Writes all of data into ep (respecting -EAGAIN), optionally shutting down writes after. */
export function writeAll(
  ep: TcpEndpoint,
  data: Uint8Array,
  what = 'write',
  timeoutMs = 60_000,
): Promise<void> {
  let off = 0;
  return until(
    () => {
      while (off < data.length) {
        const n = ep.send(data.subarray(off, Math.min(data.length, off + 65536)));
        if (n === -EAGAIN) return false;
        if (n < 0) throw new Error(`${what}: send returned ${n}`);
        off += n;
      }
      return true;
    },
    what,
    timeoutMs,
  );
}

/** Reads until EOF; resolves with everything read (throws on an error code). */
export async function readAll(ep: TcpEndpoint, what = 'read', timeoutMs = 60_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buf = new Uint8Array(65536);
  await until(
    () => {
      for (;;) {
        const n = ep.recv(buf);
        if (n === -EAGAIN) return false;
        if (n < 0) throw new Error(`${what}: recv returned ${n}`);
        if (n === 0) return true;
        parts.push(Buffer.from(buf.subarray(0, n)));
      }
    },
    what,
    timeoutMs,
  );
  return Buffer.concat(parts);
}

/** Reads exactly n bytes. */
export async function readN(ep: TcpEndpoint, n: number, what = 'read', timeoutMs = 30_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  const buf = new Uint8Array(65536);
  await until(
    () => {
      while (got < n) {
        const r = ep.recv(buf.subarray(0, Math.min(buf.length, n - got)));
        if (r === -EAGAIN) return false;
        if (r <= 0) throw new Error(`${what}: recv returned ${r} after ${got} of ${n} bytes`);
        parts.push(Buffer.from(buf.subarray(0, r)));
        got += r;
      }
      return true;
    },
    what,
    timeoutMs,
  );
  return Buffer.concat(parts);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 255;
  }
  return out;
}
