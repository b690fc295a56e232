/**
 * The control socket: JSON-RPC 2.0 over a unix stream socket, one JSON object per line.
 * The sandbox (runsc boot) serves it in the container's state folder; runsc start, kill,
 * exec, ps, wait, events, pause and resume are clients. A call that waits (wait, exec
 * with wait) keeps its connection open until the answer.
 */
import * as net from 'node:net';

export interface RpcRequest {
  jsonrpc: '2.0';
  id: number;
  method: string;
  params?: unknown;
}
export interface RpcResponse {
  jsonrpc: '2.0';
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

/** An error a handler throws to give the client a message (code -32000 unless given). */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly code = -32000,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** The longest request line served (a process spec with its environment fits easily). */
const MAX_LINE = 1 << 20;

export type Handler = (params: unknown, conn: net.Socket) => unknown;

/** Serves `handlers` on `socketPath`; resolves with the listening server. */
export function serve(
  socketPath: string,
  handlers: Record<string, Handler>,
  onError?: (e: unknown) => void,
): Promise<net.Server> {
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', (e) => onError?.(e));
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && buf.indexOf('\n') < 0) {
        reply(conn, {
          jsonrpc: '2.0',
          id: 0,
          error: { code: -32600, message: `request longer than ${MAX_LINE} bytes` },
        });
        conn.destroySoon();
        buf = '';
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) void answer(line, conn);
      }
    });
  });
  const answer = async (line: string, conn: net.Socket): Promise<void> => {
    let req: RpcRequest;
    try {
      req = JSON.parse(line) as RpcRequest;
    } catch {
      reply(conn, { jsonrpc: '2.0', id: 0, error: { code: -32700, message: 'parse error' } });
      return;
    }
    const h = Object.prototype.hasOwnProperty.call(handlers, req.method) ? handlers[req.method] : undefined;
    if (!h) {
      reply(conn, {
        jsonrpc: '2.0',
        id: req.id,
        error: { code: -32601, message: `unknown method ${req.method}` },
      });
      return;
    }
    try {
      const result = await h(req.params, conn);
      reply(conn, { jsonrpc: '2.0', id: req.id, result: result ?? null });
    } catch (e) {
      const code = e instanceof RpcError ? e.code : -32000;
      reply(conn, {
        jsonrpc: '2.0',
        id: req.id,
        error: { code, message: (e as Error).message ?? String(e) },
      });
      if (!(e instanceof RpcError)) onError?.(e);
    }
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function reply(conn: net.Socket, r: RpcResponse): void {
  if (!conn.destroyed && conn.writable) conn.write(`${JSON.stringify(r)}\n`);
}

/** The sandbox could not be reached (no socket, refused, or it closed without answering). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** Calls `method` on the sandbox at `socketPath`. Rejects with RpcError for an error answer. */
export function call<T = unknown>(
  socketPath: string,
  method: string,
  params?: unknown,
  timeoutMs = 0,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = '';
    let done = false;
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      conn.destroy();
      f();
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              finish(() =>
                reject(new UnreachableError(`the sandbox did not answer ${method} within ${timeoutMs} ms`)),
              ),
            timeoutMs,
          )
        : undefined;
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })}\n`));
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const r = JSON.parse(buf.slice(0, nl)) as RpcResponse;
      finish(() => (r.error ? reject(new RpcError(r.error.message, r.error.code)) : resolve(r.result as T)));
    });
    conn.on('error', (e) =>
      finish(() => reject(new UnreachableError(`cannot reach the sandbox at ${socketPath}: ${e.message}`))),
    );
    conn.on('close', () =>
      finish(() =>
        reject(new UnreachableError(`the sandbox closed its control socket before answering ${method}`)),
      ),
    );
  });
}
