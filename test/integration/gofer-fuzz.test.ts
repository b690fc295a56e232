/**
 * Malformed 9P: tens of thousands of mutated messages (bit flips, truncations, wrong sizes,
 * wrong types, spliced messages, hostile names) are fed to a running `runsc gofer`. It must
 * stay up and answer a valid Tversion/Tattach/Tgetattr afterwards, and nothing outside its
 * root may change (a canary file and a directory beside the root, which symlinks inside the
 * root point to).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { P9Client } from '../../plugins/fs-gofer/src/p9/client';
import {
  GETATTR,
  MESSAGES,
  NOFID,
  NONUNAME,
  encode,
  type Message,
  type MessageName,
} from '../../plugins/fs-gofer/src/p9/codec';
import { startGofer, type RunningGofer } from '../../plugins/fs-gofer/test/helpers';

const MESSAGES_TO_SEND = 20_000;

/** Small deterministic PRNG (the seed is in failure messages). */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)],
  };
}

const HOSTILE_NAMES = [
  '..',
  '.',
  '',
  '../canary',
  '../../..',
  '/etc/shadow',
  'esc',
  'escdir',
  'abs',
  'd',
  'f',
  'new',
  'a/b',
  'x\u0000y',
  'canary',
  'outside',
  'n'.repeat(300),
];

/** A syntactically valid request of a random type with plausible (often hostile) values. */
function validRequest(r: ReturnType<typeof prng>, tag: number): Buffer {
  const names = (Object.keys(MESSAGES) as MessageName[]).filter((n) => n.startsWith('T'));
  const op = r.pick(names);
  const m: Record<string, unknown> = { op, tag };
  for (const [field, kind] of MESSAGES[op][1] as readonly (readonly [string, string])[]) {
    switch (kind) {
      case 'u8':
        m[field] = r.int(4);
        break;
      case 'u16':
        m[field] = r.int(8);
        break;
      case 'u32':
      case 'optu32':
        m[field] = field.includes('fid')
          ? r.pick([0, 1, 2, 3, 4, 5, NOFID])
          : field === 'msize'
            ? r.pick([0, 100, 4096, 8192, 1 << 20, 0xffffffff])
            : field === 'flags'
              ? r.pick([0, 1, 2, 0o100, 0o1000, 0o200000, 0o2000, 0xffffffff, r.int(0xffffffff)])
              : field === 'mode'
                ? r.pick([
                    0o644,
                    0o755,
                    0o100644,
                    0o20644,
                    0o60644,
                    0o10644,
                    0o140644,
                    0o7777,
                    r.int(0xffffffff),
                  ])
                : r.pick([0, 1, 100, 4096, 65536, r.int(0xffffffff)]);
        break;
      case 'u64':
        m[field] = r.pick([
          0n,
          1n,
          4096n,
          1n << 40n,
          (1n << 63n) - 1n,
          0xffffffffffffffffn,
          BigInt(r.int(1 << 30)),
        ]);
        break;
      case 's':
        m[field] =
          field === 'version'
            ? r.pick(['9P2000.L', '9P2000', ''])
            : field === 'aname'
              ? r.pick(['', '/', 'ctl'])
              : r.pick(HOSTILE_NAMES);
        break;
      case 'qid':
        m[field] = { type: 0, version: 0, path: 0n };
        break;
      case 'wnames':
        m[field] = Array.from({ length: r.int(5) }, () => r.pick(HOSTILE_NAMES));
        break;
      case 'qids':
        m[field] = [];
        break;
      case 'data':
        m[field] = Buffer.alloc(r.int(200), 0x41);
        break;
    }
  }
  return encode(m as Message);
}

/** One mutation of a valid message. */
function mutate(r: ReturnType<typeof prng>, b: Buffer): Buffer {
  const out = Buffer.from(b);
  // A lying size field ends the connection, so it is rare (1 in 100); the rest are equally likely.
  switch (r.next() < 0.01 ? 6 : r.pick([0, 1, 2, 3, 4, 5, 7])) {
    case 0: // flip bits in the body (header sizes kept)
      for (let i = r.int(4) + 1; i > 0; i--) {
        const o = 7 + r.int(Math.max(1, out.length - 7));
        if (o < out.length) out[o] ^= 1 << r.int(8);
      }
      return out;
    case 1: {
      // truncate, with an honest size field
      const n = 7 + r.int(Math.max(1, out.length - 7));
      const t = Buffer.from(out.subarray(0, n));
      t.writeUInt32LE(n, 0);
      return t;
    }
    case 2: {
      // extend with garbage, honest size
      const e = Buffer.concat([out, Buffer.from(Array.from({ length: r.int(40) + 1 }, () => r.int(256)))]);
      e.writeUInt32LE(e.length, 0);
      return e;
    }
    case 3: // a different (maybe unknown or R-) type byte
      out[4] = r.int(256);
      return out;
    case 4: {
      // overwrite a string length or count with a large value
      const o = 7 + r.int(Math.max(1, out.length - 8));
      if (o + 1 < out.length) out.writeUInt16LE(r.pick([0xffff, 0x8000, 300, 17]), o);
      return out;
    }
    case 5: // random bytes everywhere after the size
      for (let i = 4; i < out.length; i++) if (r.next() < 0.2) out[i] = r.int(256);
      return out;
    case 6: // a lying size field (the stream desyncs: the gofer must close, not crash)
      out.writeUInt32LE(r.pick([0, 3, 6, out.length + 1000, 0x7fffffff, 0xffffffff]), 0);
      return out;
    default:
      return out; // valid, hostile values
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error('no answer')), ms))),
  ]);
}

function snapshot(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      lines.push(
        `${path.relative(dir, p)} ${st.mode} ${st.uid} ${st.gid} ${st.size} ${st.nlink} ${st.mtimeMs} ${st.ctimeMs}`,
      );
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) lines.push(fs.readFileSync(p).toString('hex'));
    }
  };
  walk(dir);
  return lines.join('\n');
}

describe('gofer fuzz: malformed 9P never crashes it or reaches outside its root', function () {
  this.timeout(300_000);
  let tmp: string;
  let root: string;
  let g: RunningGofer | undefined;
  const clients: P9Client[] = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-fuzz-'));
    root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'd'), { recursive: true });
    fs.writeFileSync(path.join(root, 'd', 'f'), 'inside\n');
    fs.writeFileSync(path.join(root, 'f'), 'inside\n');
    fs.writeFileSync(path.join(tmp, 'canary'), 'canary: must never change\n');
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside', 'f'), 'outside\n');
    fs.symlinkSync('../canary', path.join(root, 'esc'));
    fs.symlinkSync('../outside', path.join(root, 'escdir'));
    fs.symlinkSync(path.join(tmp, 'canary'), path.join(root, 'abs'));
    g = await startGofer(root);
  });

  after(async () => {
    for (const c of clients) c.close();
    await g?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`survives ${MESSAGES_TO_SEND} mutated messages; nothing outside the root changes`, async () => {
    const outside = () =>
      `${snapshot(path.join(tmp, 'outside'))}\n${fs.readdirSync(tmp).sort().join(',')}\n${snapshot(tmp)
        .split('\n')
        .filter((l) => l.startsWith('canary') || l.startsWith('outside'))
        .join('\n')}`;
    const before = outside();
    const seed = Number(process.env.TSVISOR_FUZZ_SEED ?? 20261129);
    const r = prng(seed);
    let sent = 0;
    let connections = 0;
    let answered = 0;
    while (sent < MESSAGES_TO_SEND) {
      const c = await P9Client.connect(g!.host, g!.port);
      clients.push(c);
      connections++;
      // A session with a few fids to aim at: 0 = root, 1 = d, 2 = d/f, 3 = esc (a symlink), 4 = root again.
      await c.mount(0);
      // (Earlier messages may have removed or renamed these inside the root: errors are fine.)
      await c.rpc({ op: 'Twalk', fid: 0, newfid: 1, wnames: ['d'] });
      await c.rpc({ op: 'Twalk', fid: 0, newfid: 2, wnames: ['d', 'f'] });
      await c.rpc({ op: 'Twalk', fid: 0, newfid: 3, wnames: ['esc'] });
      await c.call({ op: 'Twalk', fid: 0, newfid: 4, wnames: [] });
      // Bursts of mutated messages, each followed by a probe: if the connection died (a lying
      // size field), start a new one.
      let alive = true;
      while (alive && sent < MESSAGES_TO_SEND) {
        for (let i = 0; i < 20 && sent < MESSAGES_TO_SEND; i++, sent++)
          c.sendRaw(mutate(r, validRequest(r, 1000 + r.int(1000))));
        try {
          // A size field larger than the bytes sent makes the gofer wait for the rest of that
          // frame (swallowing the probe): that connection is abandoned after a while.
          const probe = await withTimeout(
            c.rpc({ op: 'Tgetattr', fid: 0, requestMask: GETATTR.BASIC }, 60000),
            1000,
          );
          answered++;
          // A fuzzed Tversion resets the session (fid 0 gone), which is fine; re-attach.
          if (probe.op === 'Rlerror') {
            await withTimeout(c.rpc({ op: 'Tversion', msize: 1 << 20, version: '9P2000.L' }, 60001), 3000);
            await withTimeout(
              c.rpc({ op: 'Tattach', fid: 0, afid: NOFID, uname: '', aname: '', nUname: NONUNAME }, 60002),
              3000,
            );
          }
        } catch {
          alive = false;
        }
      }
      c.close();
      assert.equal(
        g!.exited(),
        null,
        `gofer exited during the fuzz (seed ${seed}, ${sent} sent): ${g!.stderr()}`,
      );
    }
    assert.ok(answered > 10, `the gofer kept answering probes (${answered} of ${connections} connections)`);

    // Still serving: a fresh session works end to end.
    const c = await P9Client.connect(g!.host, g!.port);
    clients.push(c);
    await c.mount(0);
    const a = await c.call({ op: 'Tgetattr', fid: 0, requestMask: GETATTR.BASIC });
    assert.equal(a.mode & 0o170000, 0o040000, 'the root is a directory');
    assert.equal(a.qid.path, BigInt(fs.statSync(root).ino), 'and it is the root');
    assert.equal(g!.exited(), null);
    const internal = g!
      .stderr()
      .split('\n')
      .filter((l) => /internal error/.test(l));
    assert.deepEqual(internal, [], `no request raised an unexpected exception (seed ${seed})`);
    assert.equal(outside(), before, 'nothing outside the root changed');
    assert.equal(fs.readFileSync(path.join(tmp, 'canary'), 'utf8'), 'canary: must never change\n');
  });
});
