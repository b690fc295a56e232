/**
 * A small asynchronous 9P2000.L client over a stream (TCP or a socketpair end): tagged
 * requests, any number in flight, replies matched by tag. Used by the tests and the bench; a
 * reply of Rlerror rejects call() with a SysError carrying the server's errno.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { SysError, EIO, ECONNRESET } from '../../../../core/abi/errno';
import {
  Framer,
  NOFID,
  NONUNAME,
  NOTAG,
  VERSION_9P2000_L,
  decode,
  encode,
  type Message,
  type MessageName,
  type MessageOf,
} from './codec';

type Request = Message extends infer M ? (M extends { op: `T${string}` } ? Omit<M, 'tag'> : never) : never;
type ReplyOf<T extends MessageName> = T extends `T${infer R}`
  ? `R${R}` extends MessageName
    ? `R${R}`
    : never
  : never;

interface Pending {
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

export class P9Client {
  private readonly framer = new Framer(16 << 20);
  private readonly pending = new Map<number, Pending>();
  private nextTag = 0;
  private closed?: Error;
  msize = 0;

  constructor(readonly stream: Duplex) {
    stream.on('data', (d: Buffer) => this.onData(d));
    const end = (e?: Error) => this.fail(e ?? new SysError(ECONNRESET, '9P connection closed'));
    stream.on('error', end);
    stream.on('close', () => end());
  }

  /** Connects over TCP. */
  static connect(host: string, port: number): Promise<P9Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.removeListener('error', reject);
        s.setNoDelay(true);
        resolve(new P9Client(s));
      });
      s.once('error', reject);
    });
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private onData(d: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.framer.push(d);
    } catch (e) {
      this.fail(e as Error);
      this.stream.destroy();
      return;
    }
    for (const f of frames) {
      let m: Message;
      try {
        m = decode(Buffer.from(f));
      } catch (e) {
        this.fail(e as Error);
        this.stream.destroy();
        return;
      }
      const p = this.pending.get(m.tag);
      if (!p) continue;
      this.pending.delete(m.tag);
      p.resolve(m);
    }
  }

  private allocTag(): number {
    for (let i = 0; i < 0xffff; i++) {
      const t = this.nextTag;
      this.nextTag = (this.nextTag + 1) % 0xffff;
      if (!this.pending.has(t)) return t;
    }
    throw new SysError(EIO, 'no free 9P tag');
  }

  /** Sends a request and resolves with whatever reply carries its tag (Rlerror included). */
  rpc(req: Request, tag?: number): Promise<Message> {
    if (this.closed) return Promise.reject(this.closed);
    const t = tag ?? (req.op === 'Tversion' ? NOTAG : this.allocTag());
    const frame = encode({ ...req, tag: t } as Message);
    return new Promise((resolve, reject) => {
      this.pending.set(t, { resolve, reject });
      this.stream.write(frame);
    });
  }

  /** Like rpc(), but Rlerror rejects with SysError(ecode) and the reply type is checked. */
  async call<T extends Request>(req: T): Promise<MessageOf<ReplyOf<T['op']>>> {
    const r = await this.rpc(req);
    if (r.op === 'Rlerror') throw new SysError(r.ecode, `${req.op}`);
    const want = `R${req.op.slice(1)}`;
    if (r.op !== want) throw new SysError(EIO, `${req.op}: got ${r.op}`);
    return r as MessageOf<ReplyOf<T['op']>>;
  }

  /** Writes raw bytes (fuzzing); replies to them are ignored unless a tag is awaited. */
  sendRaw(b: Uint8Array): void {
    this.stream.write(b);
  }

  /** Tversion + Tattach of fid `fid`. */
  async mount(fid = 0, aname = '', msize = 1 << 20): Promise<void> {
    const v = await this.call({ op: 'Tversion', msize, version: VERSION_9P2000_L });
    if (v.version !== VERSION_9P2000_L) throw new SysError(EIO, `server speaks ${v.version}`);
    this.msize = v.msize;
    await this.call({ op: 'Tattach', fid, afid: NOFID, uname: '', aname, nUname: NONUNAME });
  }

  close(): void {
    this.stream.destroy();
  }
}
