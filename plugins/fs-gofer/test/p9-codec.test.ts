import * as assert from 'node:assert/strict';
import {
  Framer,
  MESSAGES,
  P9ProtocolError,
  decode,
  decodeDirents,
  encode,
  encodeDirents,
  messageName,
  messageType,
  type Message,
  type MessageName,
} from '../src/p9/codec';

/** A sample value for every field kind, varied by field index so fields cannot be swapped unnoticed. */
function sample(name: MessageName, tag: number): Message {
  const out: Record<string, unknown> = { op: name, tag };
  (MESSAGES[name][1] as readonly (readonly [string, string])[]).forEach(([field, kind], i) => {
    const k = i + 1;
    switch (kind) {
      case 'u8':
        out[field] = (0x80 + k) & 0xff;
        break;
      case 'u16':
        out[field] = 0x1200 + k;
        break;
      case 'u32':
      case 'optu32':
        out[field] = 0x89abcd00 + k;
        break;
      case 'u64':
        out[field] = 0xfedcba9876543200n + BigInt(k);
        break;
      case 's':
        out[field] = `field-${k}-é/ü`;
        break;
      case 'qid':
        out[field] = { type: 0x80, version: 0xdeadbeef, path: 0x0123456789abcdefn + BigInt(k) };
        break;
      case 'wnames':
        out[field] = ['usr', 'lib', '..', 'x'.repeat(300)];
        break;
      case 'qids':
        out[field] = [
          { type: 0x80, version: 1, path: 2n },
          { type: 0x02, version: 3, path: 0xffffffffffffffffn },
        ];
        break;
      case 'data':
        out[field] = Uint8Array.from({ length: 1000 }, (_, j) => (j * 7 + k) & 0xff);
        break;
    }
  });
  return out as Message;
}

function isProtocolError(e: unknown): boolean {
  return e instanceof P9ProtocolError;
}

function norm(m: Message): unknown {
  // Byte fields compare by content (decode returns Buffer views, samples are Uint8Arrays).
  const flat = Object.fromEntries(
    Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]),
  );
  return JSON.parse(JSON.stringify(flat, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
}

const ALL = Object.keys(MESSAGES) as MessageName[];

describe('9P2000.L codec', function () {
  this.timeout(60_000);
  it('covers every message the gofer issue lists, T and R, and Rlerror', () => {
    const listed = [
      'version',
      'attach',
      'walk',
      'lopen',
      'lcreate',
      'read',
      'write',
      'clunk',
      'getattr',
      'setattr',
      'readdir',
      'mkdir',
      'symlink',
      'mknod',
      'readlink',
      'link',
      'renameat',
      'unlinkat',
      'statfs',
      'fsync',
      'lock',
      'getlock',
      'xattrwalk',
      'xattrcreate',
      'flush',
    ];
    for (const l of listed) {
      const t = `T${l}` as MessageName;
      const r = `R${l}` as MessageName;
      assert.ok(MESSAGES[t], `T${l} missing`);
      assert.ok(MESSAGES[r], `R${l} missing`);
      // R = T + 1, as in Linux include/net/9p/9p.h.
      assert.equal(messageType(r), messageType(t) + 1, `R${l} type`);
    }
    assert.equal(messageType('Rlerror'), 7);
    assert.equal(messageType('Tversion'), 100);
    assert.equal(messageType('Tlopen'), 12);
    assert.equal(messageType('Tgetattr'), 24);
    assert.equal(messageType('Treaddir'), 40);
    assert.equal(messageType('Trenameat'), 74);
    assert.equal(messageName(110), 'Twalk');
  });

  it('round-trips every message', () => {
    for (const name of ALL) {
      const m = sample(name, 0x4242);
      const b = encode(m);
      assert.equal(b.readUInt32LE(0), b.length, `${name} size field`);
      assert.equal(b[4], messageType(name), `${name} type byte`);
      assert.equal(b.readUInt16LE(5), 0x4242, `${name} tag`);
      assert.deepEqual(norm(decode(b)), norm(m), name);
    }
  });

  it('lays out bytes as the spec says (Tversion, Twalk, Rgetattr sizes, Rlerror)', () => {
    const v = encode({ op: 'Tversion', tag: 0xffff, msize: 8192, version: '9P2000.L' });
    assert.equal(
      v.toString('hex'),
      '15000000' + '64' + 'ffff' + '00200000' + '0800' + Buffer.from('9P2000.L').toString('hex'),
    );
    const w = encode({ op: 'Twalk', tag: 1, fid: 2, newfid: 3, wnames: ['ab'] });
    assert.equal(
      w.toString('hex'),
      '15000000' + '6e' + '0100' + '02000000' + '03000000' + '0100' + '0200' + '6162',
    );
    const e = encode({ op: 'Rlerror', tag: 9, ecode: 2 });
    assert.equal(e.toString('hex'), '0b000000' + '07' + '0900' + '02000000');
    // Rgetattr: header 7 + valid 8 + qid 13 + mode/uid/gid 12 + 15 u64 fields.
    assert.equal(encode(sample('Rgetattr', 1)).length, 7 + 8 + 13 + 12 + 15 * 8);
    // Tsetattr: 7 + fid, valid, mode, uid, gid (20) + size and four times (40).
    assert.equal(encode(sample('Tsetattr', 1)).length, 7 + 20 + 40);
  });

  it('accepts Tfsync without the datasync field (older peers)', () => {
    const b = Buffer.from('0b000000' + '32' + '0500' + '07000000', 'hex');
    const m = decode(b);
    assert.equal(m.op, 'Tfsync');
    assert.deepEqual([m.tag, (m as { fid: number }).fid, (m as { datasync: number }).datasync], [5, 7, 0]);
  });

  it('rejects every truncation of every message with P9ProtocolError', () => {
    for (const name of ALL) {
      const full = encode(sample(name, 7));
      const min = name === 'Tfsync' ? full.length - 4 : full.length;
      for (let len = 0; len < min; len++) {
        const cut = Buffer.from(full.subarray(0, len));
        // Both an honest size field (claims len) and the original one (claims more than there is).
        if (len >= 4) cut.writeUInt32LE(len, 0);
        assert.throws(() => decode(cut), isProtocolError, `${name} cut to ${len}`);
        if (len >= 7) {
          const lying = Buffer.from(full.subarray(0, len));
          assert.throws(() => decode(lying), isProtocolError, `${name} cut to ${len}, original size`);
        }
      }
    }
  });

  it('rejects trailing bytes, unknown types, too many walk names, bad UTF-8 and oversized strings', () => {
    for (const name of ALL) {
      const full = encode(sample(name, 7));
      const long = Buffer.concat([full, Buffer.from([1, 2, 3])]);
      long.writeUInt32LE(long.length, 0);
      assert.throws(() => decode(long), isProtocolError, `${name} + 3 bytes`);
    }
    const unk = Buffer.from('0700000063' + '0100', 'hex');
    assert.throws(
      () => decode(unk),
      (e: unknown) => isProtocolError(e) && (e as P9ProtocolError).tag === 1,
    );
    // nwname = 17.
    const w = Buffer.from('00000000' + '6e' + '0100' + '02000000' + '03000000' + '1100', 'hex');
    w.writeUInt32LE(w.length, 0);
    assert.throws(() => decode(w), /exceed the limit/);
    assert.throws(
      () => encode({ op: 'Twalk', tag: 1, fid: 1, newfid: 2, wnames: Array(17).fill('a') }),
      isProtocolError,
    );
    // A name that is not UTF-8.
    const bad = Buffer.from(
      '11000000' + '6e' + '0100' + '02000000' + '03000000' + '0100' + '0100' + 'ff',
      'hex',
    );
    bad.writeUInt32LE(bad.length, 0);
    assert.throws(() => decode(bad), /UTF-8/);
    // A string length that points past the end.
    const past = Buffer.from('00000000' + '17' + '0100' + 'ffff' + '6162', 'hex');
    past.writeUInt32LE(past.length, 0);
    assert.throws(() => decode(past), isProtocolError);
    assert.throws(() => encode({ op: 'Treadlink', tag: 1, fid: -1 }), /Treadlink.fid/);
    assert.throws(() => encode({ op: 'Tclunk', tag: 1, fid: 2 ** 32 }), /Tclunk.fid/);
    assert.throws(() => encode({ op: 'Rreadlink', tag: 1, target: 'x'.repeat(70000) }), /exceeds 65535/);
    assert.throws(() => encode({ op: 'Tgetattr', tag: 1, fid: 1, requestMask: -1n }), /requestMask/);
  });

  it('never throws anything but P9ProtocolError on random garbage', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 20000; i++) {
      const len = 7 + Math.floor(rnd() * 60);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      b.writeUInt32LE(len, 0);
      // Real type numbers most of the time, so bodies get parsed.
      if (rnd() < 0.8) b[4] = messageType(ALL[Math.floor(rnd() * ALL.length)]);
      try {
        decode(b);
      } catch (e) {
        assert.ok(isProtocolError(e), `garbage ${b.toString('hex')}: ${(e as Error).stack}`);
      }
    }
  });

  it('frames a byte stream split anywhere and refuses sizes outside 7..max', () => {
    const msgs = ALL.slice(0, 20).map((n, i) => encode(sample(n, i)));
    const stream = Buffer.concat(msgs);
    for (const step of [1, 3, 7, 64, stream.length]) {
      const f = new Framer(1 << 20);
      const got: Buffer[] = [];
      for (let o = 0; o < stream.length; o += step) got.push(...f.push(stream.subarray(o, o + step)));
      assert.deepEqual(
        got.map((b) => b.toString('hex')),
        msgs.map((b) => b.toString('hex')),
        `step ${step}`,
      );
    }
    assert.throws(() => new Framer(8192).push(Buffer.from('06000000', 'hex')), isProtocolError);
    assert.throws(() => new Framer(8192).push(Buffer.from('01200000', 'hex')), /outside/);
  });

  it('encodes readdir entries only while they fit and decodes them back', () => {
    const ents = Array.from({ length: 10 }, (_, i) => ({
      qid: { type: 0, version: 0, path: BigInt(100 + i) },
      offset: BigInt(i + 1),
      type: 8,
      name: `entry-${i}`,
    }));
    const one = 24 + 'entry-0'.length;
    const { data, n } = encodeDirents(ents, one * 3 + 5);
    assert.equal(n, 3);
    assert.deepEqual(decodeDirents(data), ents.slice(0, 3));
    assert.throws(() => decodeDirents(data.subarray(0, data.length - 1)), isProtocolError);
  });
});
