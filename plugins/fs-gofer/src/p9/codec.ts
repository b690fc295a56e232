/**
 * 9P2000.L wire codec: encodes and decodes every message of the Linux dialect that the gofer
 * serves (and its client speaks), T and R, including Rlerror.
 *
 * Wire format: size[4] type[1] tag[2] body, all integers little-endian; a string is len[2]
 * followed by that many bytes (UTF-8, no NUL); a qid is type[1] version[4] path[8].
 *
 * Each message is described by data (MESSAGES: name -> type number and field list), so encode
 * and decode cannot disagree. u64 fields are BigInt (offsets and sizes can exceed 2^53).
 * Decoding never trusts a length: every read is bounds-checked against the frame and a
 * malformed frame raises P9ProtocolError (never a RangeError or a partial object). A frame must
 * be consumed exactly (trailing bytes are an error), except Tfsync whose `datasync` field older
 * peers omit.
 */

export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;
export const NONUNAME = 0xffffffff;
/** size[4] type[1] tag[2]. */
export const HEADER_SIZE = 7;
/** Largest header before the payload of Rread/Twrite: size type tag fid offset count. */
export const IOHDRSZ = 24;
/** Most names in one Twalk (and qids in one Rwalk). */
export const MAXWELEM = 16;
export const VERSION_9P2000_L = '9P2000.L';

export const QTDIR = 0x80,
  QTSYMLINK = 0x02,
  QTFILE = 0x00;

/** Tgetattr request_mask / Rgetattr valid bits. */
export const GETATTR = {
  MODE: 0x1n,
  NLINK: 0x2n,
  UID: 0x4n,
  GID: 0x8n,
  RDEV: 0x10n,
  ATIME: 0x20n,
  MTIME: 0x40n,
  CTIME: 0x80n,
  INO: 0x100n,
  SIZE: 0x200n,
  BLOCKS: 0x400n,
  BTIME: 0x800n,
  GEN: 0x1000n,
  DATA_VERSION: 0x2000n,
  BASIC: 0x7ffn,
  ALL: 0x3fffn,
} as const;

/** Tsetattr valid bits. */
export const SETATTR = {
  MODE: 0x1,
  UID: 0x2,
  GID: 0x4,
  SIZE: 0x8,
  ATIME: 0x10,
  MTIME: 0x20,
  CTIME: 0x40,
  ATIME_SET: 0x80,
  MTIME_SET: 0x100,
} as const;

/** Tlock status values. */
export const LOCK_SUCCESS = 0,
  LOCK_BLOCKED = 1,
  LOCK_ERROR = 2,
  LOCK_GRACE = 3;
/** Tlock/Tgetlock type values. */
export const LOCK_TYPE_RDLCK = 0,
  LOCK_TYPE_WRLCK = 1,
  LOCK_TYPE_UNLCK = 2;

export interface Qid {
  type: number;
  version: number;
  path: bigint;
}

/** A malformed or unknown 9P message. `tag` is set when the header could be read. */
export class P9ProtocolError extends Error {
  constructor(
    message: string,
    readonly tag?: number,
    readonly type?: number,
  ) {
    super(message);
    this.name = 'P9ProtocolError';
  }
}

type FieldKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 's' // string: len[2] bytes
  | 'qid'
  | 'wnames' // nwname[2] nwname*(wname[s])
  | 'qids' // nwqid[2] nwqid*(qid[13])
  | 'data' // count[4] bytes
  | 'optu32'; // a trailing u32 some peers omit (decoded as 0)

type FieldSpec = readonly [name: string, kind: FieldKind];

/** Every message: type number and fields after the tag. */
export const MESSAGES = {
  Rlerror: [7, [['ecode', 'u32']]],
  Tstatfs: [8, [['fid', 'u32']]],
  Rstatfs: [
    9,
    [
      ['fstype', 'u32'],
      ['bsize', 'u32'],
      ['blocks', 'u64'],
      ['bfree', 'u64'],
      ['bavail', 'u64'],
      ['files', 'u64'],
      ['ffree', 'u64'],
      ['fsid', 'u64'],
      ['namelen', 'u32'],
    ],
  ],
  Tlopen: [
    12,
    [
      ['fid', 'u32'],
      ['flags', 'u32'],
    ],
  ],
  Rlopen: [
    13,
    [
      ['qid', 'qid'],
      ['iounit', 'u32'],
    ],
  ],
  Tlcreate: [
    14,
    [
      ['fid', 'u32'],
      ['name', 's'],
      ['flags', 'u32'],
      ['mode', 'u32'],
      ['gid', 'u32'],
    ],
  ],
  Rlcreate: [
    15,
    [
      ['qid', 'qid'],
      ['iounit', 'u32'],
    ],
  ],
  Tsymlink: [
    16,
    [
      ['fid', 'u32'],
      ['name', 's'],
      ['symtgt', 's'],
      ['gid', 'u32'],
    ],
  ],
  Rsymlink: [17, [['qid', 'qid']]],
  Tmknod: [
    18,
    [
      ['dfid', 'u32'],
      ['name', 's'],
      ['mode', 'u32'],
      ['major', 'u32'],
      ['minor', 'u32'],
      ['gid', 'u32'],
    ],
  ],
  Rmknod: [19, [['qid', 'qid']]],
  Trename: [
    20,
    [
      ['fid', 'u32'],
      ['dfid', 'u32'],
      ['name', 's'],
    ],
  ],
  Rrename: [21, []],
  Treadlink: [22, [['fid', 'u32']]],
  Rreadlink: [23, [['target', 's']]],
  Tgetattr: [
    24,
    [
      ['fid', 'u32'],
      ['requestMask', 'u64'],
    ],
  ],
  Rgetattr: [
    25,
    [
      ['valid', 'u64'],
      ['qid', 'qid'],
      ['mode', 'u32'],
      ['uid', 'u32'],
      ['gid', 'u32'],
      ['nlink', 'u64'],
      ['rdev', 'u64'],
      ['size', 'u64'],
      ['blksize', 'u64'],
      ['blocks', 'u64'],
      ['atimeSec', 'u64'],
      ['atimeNsec', 'u64'],
      ['mtimeSec', 'u64'],
      ['mtimeNsec', 'u64'],
      ['ctimeSec', 'u64'],
      ['ctimeNsec', 'u64'],
      ['btimeSec', 'u64'],
      ['btimeNsec', 'u64'],
      ['gen', 'u64'],
      ['dataVersion', 'u64'],
    ],
  ],
  Tsetattr: [
    26,
    [
      ['fid', 'u32'],
      ['valid', 'u32'],
      ['mode', 'u32'],
      ['uid', 'u32'],
      ['gid', 'u32'],
      ['size', 'u64'],
      ['atimeSec', 'u64'],
      ['atimeNsec', 'u64'],
      ['mtimeSec', 'u64'],
      ['mtimeNsec', 'u64'],
    ],
  ],
  Rsetattr: [27, []],
  Txattrwalk: [
    30,
    [
      ['fid', 'u32'],
      ['newfid', 'u32'],
      ['name', 's'],
    ],
  ],
  Rxattrwalk: [31, [['size', 'u64']]],
  Txattrcreate: [
    32,
    [
      ['fid', 'u32'],
      ['name', 's'],
      ['attrSize', 'u64'],
      ['flags', 'u32'],
    ],
  ],
  Rxattrcreate: [33, []],
  Treaddir: [
    40,
    [
      ['fid', 'u32'],
      ['offset', 'u64'],
      ['count', 'u32'],
    ],
  ],
  Rreaddir: [41, [['data', 'data']]],
  Tfsync: [
    50,
    [
      ['fid', 'u32'],
      ['datasync', 'optu32'],
    ],
  ],
  Rfsync: [51, []],
  Tlock: [
    52,
    [
      ['fid', 'u32'],
      ['lockType', 'u8'],
      ['flags', 'u32'],
      ['start', 'u64'],
      ['length', 'u64'],
      ['procId', 'u32'],
      ['clientId', 's'],
    ],
  ],
  Rlock: [53, [['status', 'u8']]],
  Tgetlock: [
    54,
    [
      ['fid', 'u32'],
      ['lockType', 'u8'],
      ['start', 'u64'],
      ['length', 'u64'],
      ['procId', 'u32'],
      ['clientId', 's'],
    ],
  ],
  Rgetlock: [
    55,
    [
      ['lockType', 'u8'],
      ['start', 'u64'],
      ['length', 'u64'],
      ['procId', 'u32'],
      ['clientId', 's'],
    ],
  ],
  Tlink: [
    70,
    [
      ['dfid', 'u32'],
      ['fid', 'u32'],
      ['name', 's'],
    ],
  ],
  Rlink: [71, []],
  Tmkdir: [
    72,
    [
      ['dfid', 'u32'],
      ['name', 's'],
      ['mode', 'u32'],
      ['gid', 'u32'],
    ],
  ],
  Rmkdir: [73, [['qid', 'qid']]],
  Trenameat: [
    74,
    [
      ['olddirfid', 'u32'],
      ['oldname', 's'],
      ['newdirfid', 'u32'],
      ['newname', 's'],
    ],
  ],
  Rrenameat: [75, []],
  Tunlinkat: [
    76,
    [
      ['dirfid', 'u32'],
      ['name', 's'],
      ['flags', 'u32'],
    ],
  ],
  Runlinkat: [77, []],
  Tversion: [
    100,
    [
      ['msize', 'u32'],
      ['version', 's'],
    ],
  ],
  Rversion: [
    101,
    [
      ['msize', 'u32'],
      ['version', 's'],
    ],
  ],
  Tauth: [
    102,
    [
      ['afid', 'u32'],
      ['uname', 's'],
      ['aname', 's'],
      ['nUname', 'u32'],
    ],
  ],
  Rauth: [103, [['aqid', 'qid']]],
  Tattach: [
    104,
    [
      ['fid', 'u32'],
      ['afid', 'u32'],
      ['uname', 's'],
      ['aname', 's'],
      ['nUname', 'u32'],
    ],
  ],
  Rattach: [105, [['qid', 'qid']]],
  Tflush: [108, [['oldtag', 'u16']]],
  Rflush: [109, []],
  Twalk: [
    110,
    [
      ['fid', 'u32'],
      ['newfid', 'u32'],
      ['wnames', 'wnames'],
    ],
  ],
  Rwalk: [111, [['qids', 'qids']]],
  Tread: [
    116,
    [
      ['fid', 'u32'],
      ['offset', 'u64'],
      ['count', 'u32'],
    ],
  ],
  Rread: [117, [['data', 'data']]],
  Twrite: [
    118,
    [
      ['fid', 'u32'],
      ['offset', 'u64'],
      ['data', 'data'],
    ],
  ],
  Rwrite: [119, [['count', 'u32']]],
  Tclunk: [120, [['fid', 'u32']]],
  Rclunk: [121, []],
  Tremove: [122, [['fid', 'u32']]],
  Rremove: [123, []],
} as const satisfies Record<string, readonly [number, readonly FieldSpec[]]>;

export type MessageName = keyof typeof MESSAGES;

type KindType<K extends FieldKind> = K extends 'u8' | 'u16' | 'u32' | 'optu32'
  ? number
  : K extends 'u64'
    ? bigint
    : K extends 's'
      ? string
      : K extends 'qid'
        ? Qid
        : K extends 'wnames'
          ? string[]
          : K extends 'qids'
            ? Qid[]
            : K extends 'data'
              ? Uint8Array
              : never;

type FieldsOf<F> = F extends readonly (readonly [string, FieldKind])[]
  ? { [P in F[number] as P[0]]: KindType<P[1]> }
  : never;
type Unwrap<T> = { [K in keyof T]: T[K] };

/** The body fields of message `N`. */
export type Body<N extends MessageName> = Unwrap<FieldsOf<(typeof MESSAGES)[N][1]>>;

/** A decoded message: `op` (the message name), tag and fields. */
export type Message = {
  [N in MessageName]: { op: N; tag: number } & Body<N>;
}[MessageName];
export type MessageOf<N extends MessageName> = Extract<Message, { op: N }>;

const BY_TYPE = new Map<number, MessageName>();
for (const [name, [type]] of Object.entries(MESSAGES)) BY_TYPE.set(type, name as MessageName);

/** The message name of a type number, or undefined. */
export function messageName(type: number): MessageName | undefined {
  return BY_TYPE.get(type);
}

/** The type number of a message name. */
export function messageType(name: MessageName): number {
  return MESSAGES[name][0];
}

const MAX_U32 = 0xffffffff;
const MAX_U64 = 0xffffffffffffffffn;

function fieldSize(kind: FieldKind, value: unknown, what: string): number {
  switch (kind) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
    case 'optu32':
      return 4;
    case 'u64':
      return 8;
    case 's':
      return 2 + strBytes(value, what).length;
    case 'qid':
      return 13;
    case 'wnames':
      return 2 + (value as string[]).reduce((n, s) => n + 2 + strBytes(s, what).length, 0);
    case 'qids':
      return 2 + 13 * (value as Qid[]).length;
    case 'data':
      return 4 + (value as Uint8Array).length;
  }
}

function strBytes(value: unknown, what: string): Buffer {
  if (typeof value !== 'string') throw new P9ProtocolError(`${what}: expected a string`);
  const b = Buffer.from(value, 'utf8');
  if (b.length > 0xffff) throw new P9ProtocolError(`${what}: string of ${b.length} bytes exceeds 65535`);
  return b;
}

function checkInt(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new P9ProtocolError(`${what}: ${String(value)} is not an integer in 0..${max}`);
  return value;
}

function checkU64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_U64)
    throw new P9ProtocolError(`${what}: ${String(value)} is not a u64 BigInt`);
  return value;
}

/**
 * Encode a message into one frame. Throws P9ProtocolError naming the field when a value does
 * not fit its wire type.
 */
export function encode(msg: Message): Buffer {
  const spec = MESSAGES[msg.op] as readonly [number, readonly FieldSpec[]] | undefined;
  if (!spec) throw new P9ProtocolError(`unknown message ${String((msg as { op: unknown }).op)}`);
  const [type, fields] = spec;
  const rec = msg as unknown as Record<string, unknown>;
  let size = HEADER_SIZE;
  for (const [name, kind] of fields) size += fieldSize(kind, rec[name], `${msg.op}.${name}`);
  if (size > MAX_U32) throw new P9ProtocolError(`${msg.op}: message of ${size} bytes is too large`);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  buf.writeUInt32LE(size, o);
  buf.writeUInt8(type, 4);
  buf.writeUInt16LE(checkInt(msg.tag, 0xffff, `${msg.op}.tag`), 5);
  o = HEADER_SIZE;
  const writeQid = (q: unknown, what: string) => {
    const qid = q as Qid;
    if (!qid || typeof qid !== 'object') throw new P9ProtocolError(`${what}: expected a qid`);
    buf.writeUInt8(checkInt(qid.type, 0xff, `${what}.type`), o);
    buf.writeUInt32LE(checkInt(qid.version, MAX_U32, `${what}.version`), o + 1);
    buf.writeBigUInt64LE(checkU64(qid.path, `${what}.path`), o + 5);
    o += 13;
  };
  const writeStr = (s: unknown, what: string) => {
    const b = strBytes(s, what);
    buf.writeUInt16LE(b.length, o);
    b.copy(buf, o + 2);
    o += 2 + b.length;
  };
  for (const [name, kind] of fields) {
    const v = rec[name];
    const what = `${msg.op}.${name}`;
    switch (kind) {
      case 'u8':
        buf.writeUInt8(checkInt(v, 0xff, what), o);
        o += 1;
        break;
      case 'u16':
        buf.writeUInt16LE(checkInt(v, 0xffff, what), o);
        o += 2;
        break;
      case 'u32':
      case 'optu32':
        buf.writeUInt32LE(checkInt(v ?? 0, MAX_U32, what), o);
        o += 4;
        break;
      case 'u64':
        buf.writeBigUInt64LE(checkU64(v, what), o);
        o += 8;
        break;
      case 's':
        writeStr(v, what);
        break;
      case 'qid':
        writeQid(v, what);
        break;
      case 'wnames': {
        const names = v as string[];
        if (!Array.isArray(names) || names.length > MAXWELEM)
          throw new P9ProtocolError(`${what}: expected at most ${MAXWELEM} names`);
        buf.writeUInt16LE(names.length, o);
        o += 2;
        names.forEach((n, i) => writeStr(n, `${what}[${i}]`));
        break;
      }
      case 'qids': {
        const qids = v as Qid[];
        if (!Array.isArray(qids) || qids.length > MAXWELEM)
          throw new P9ProtocolError(`${what}: expected at most ${MAXWELEM} qids`);
        buf.writeUInt16LE(qids.length, o);
        o += 2;
        qids.forEach((q, i) => writeQid(q, `${what}[${i}]`));
        break;
      }
      case 'data': {
        const d = v as Uint8Array;
        if (!(d instanceof Uint8Array)) throw new P9ProtocolError(`${what}: expected bytes`);
        buf.writeUInt32LE(d.length, o);
        buf.set(d, o + 4);
        o += 4 + d.length;
        break;
      }
    }
  }
  return buf;
}

/** Bounds-checked reader over one frame. */
class Reader {
  o = HEADER_SIZE;
  constructor(
    private readonly buf: Uint8Array,
    private readonly view: DataView,
    private readonly what: string,
    private readonly tag: number,
    private readonly type: number,
  ) {}
  get left(): number {
    return this.buf.length - this.o;
  }
  need(n: number, field: string): void {
    if (n > this.left)
      throw new P9ProtocolError(
        `${this.what}.${field}: needs ${n} bytes at offset ${this.o}, frame has ${this.left} left`,
        this.tag,
        this.type,
      );
  }
  u8(f: string): number {
    this.need(1, f);
    return this.buf[this.o++];
  }
  u16(f: string): number {
    this.need(2, f);
    const v = this.view.getUint16(this.o, true);
    this.o += 2;
    return v;
  }
  u32(f: string): number {
    this.need(4, f);
    const v = this.view.getUint32(this.o, true);
    this.o += 4;
    return v;
  }
  u64(f: string): bigint {
    this.need(8, f);
    const v = this.view.getBigUint64(this.o, true);
    this.o += 8;
    return v;
  }
  str(f: string): string {
    const n = this.u16(f);
    this.need(n, f);
    const bytes = this.buf.subarray(this.o, this.o + n);
    this.o += n;
    const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    // Reject bytes that are not valid UTF-8 rather than silently substituting U+FFFD: a name
    // must mean exactly one host name.
    if (s.includes('\ufffd') && !Buffer.from(s, 'utf8').equals(bytes))
      throw new P9ProtocolError(`${this.what}.${f}: string is not valid UTF-8`, this.tag, this.type);
    return s;
  }
  qid(f: string): Qid {
    this.need(13, f);
    const q = {
      type: this.buf[this.o],
      version: this.view.getUint32(this.o + 1, true),
      path: this.view.getBigUint64(this.o + 5, true),
    };
    this.o += 13;
    return q;
  }
  bytes(f: string): Uint8Array {
    const n = this.u32(f);
    this.need(n, f);
    const b = this.buf.subarray(this.o, this.o + n);
    this.o += n;
    return b;
  }
}

/**
 * Decode one complete frame (size field included). Throws P9ProtocolError for a bad size
 * field, an unknown type, a field that runs past the frame or trailing bytes; `tag` and `type`
 * on the error are set when the header was readable (the server answers Rlerror to them).
 * Data fields (Rread, Twrite, Rreaddir) are views into `frame`, not copies.
 */
export function decode(frame: Uint8Array): Message {
  if (frame.length < HEADER_SIZE)
    throw new P9ProtocolError(`frame of ${frame.length} bytes is shorter than the 7-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const size = view.getUint32(0, true);
  const type = frame[4];
  const tag = view.getUint16(5, true);
  if (size !== frame.length)
    throw new P9ProtocolError(
      `size field ${size} does not match the frame's ${frame.length} bytes`,
      tag,
      type,
    );
  const name = BY_TYPE.get(type);
  if (!name) throw new P9ProtocolError(`unknown message type ${type}`, tag, type);
  const r = new Reader(frame, view, name, tag, type);
  const out: Record<string, unknown> = { op: name, tag };
  for (const [field, kind] of MESSAGES[name][1] as readonly FieldSpec[]) {
    switch (kind) {
      case 'u8':
        out[field] = r.u8(field);
        break;
      case 'u16':
        out[field] = r.u16(field);
        break;
      case 'u32':
        out[field] = r.u32(field);
        break;
      case 'optu32':
        out[field] = r.left === 0 ? 0 : r.u32(field);
        break;
      case 'u64':
        out[field] = r.u64(field);
        break;
      case 's':
        out[field] = r.str(field);
        break;
      case 'qid':
        out[field] = r.qid(field);
        break;
      case 'wnames': {
        const n = r.u16(field);
        if (n > MAXWELEM)
          throw new P9ProtocolError(
            `${name}.${field}: ${n} names exceed the limit of ${MAXWELEM}`,
            tag,
            type,
          );
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str(`${field}[${i}]`));
        out[field] = names;
        break;
      }
      case 'qids': {
        const n = r.u16(field);
        if (n > MAXWELEM)
          throw new P9ProtocolError(`${name}.${field}: ${n} qids exceed the limit of ${MAXWELEM}`, tag, type);
        const qids: Qid[] = [];
        for (let i = 0; i < n; i++) qids.push(r.qid(`${field}[${i}]`));
        out[field] = qids;
        break;
      }
      case 'data':
        out[field] = r.bytes(field);
        break;
    }
  }
  if (r.left !== 0)
    throw new P9ProtocolError(`${name}: ${r.left} trailing bytes after the last field`, tag, type);
  return out as unknown as Message;
}

/** The header of a frame that may not decode: [size, type, tag], or undefined if too short. */
export function peekHeader(frame: Uint8Array): { size: number; type: number; tag: number } | undefined {
  if (frame.length < HEADER_SIZE) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { size: view.getUint32(0, true), type: frame[4], tag: view.getUint16(5, true) };
}

/**
 * Splits a byte stream into frames. push() returns the complete frames so far; a size field
 * below the header size or above `maxSize` is a P9ProtocolError (the stream cannot be resynced,
 * the connection must be closed).
 */
export class Framer {
  private chunks: Buffer[] = [];
  private have = 0;
  constructor(public maxSize: number) {}

  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.have += data.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.have < 4) break;
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const size = this.chunks[0].readUInt32LE(0);
      if (size < HEADER_SIZE || size > this.maxSize)
        throw new P9ProtocolError(`frame size ${size} is outside ${HEADER_SIZE}..${this.maxSize}`);
      if (this.have < size) break;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      frames.push(all.subarray(0, size));
      const rest = all.subarray(size);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
    }
    return frames;
  }
}

/** One Rreaddir entry. */
export interface Dirent {
  qid: Qid;
  offset: bigint;
  type: number;
  name: string;
}

/** Size of one encoded Rreaddir entry. */
export function direntSize(nameBytes: number): number {
  return 13 + 8 + 1 + 2 + nameBytes;
}

/** Encode directory entries until `count` bytes would be exceeded; returns the bytes and how many fit. */
export function encodeDirents(entries: readonly Dirent[], count: number): { data: Buffer; n: number } {
  const parts: Buffer[] = [];
  let used = 0;
  let n = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const sz = direntSize(name.length);
    if (used + sz > count) break;
    const b = Buffer.allocUnsafe(sz);
    b.writeUInt8(e.qid.type, 0);
    b.writeUInt32LE(e.qid.version, 1);
    b.writeBigUInt64LE(e.qid.path, 5);
    b.writeBigUInt64LE(e.offset, 13);
    b.writeUInt8(e.type, 21);
    b.writeUInt16LE(name.length, 22);
    name.copy(b, 24);
    parts.push(b);
    used += sz;
    n++;
  }
  return { data: Buffer.concat(parts, used), n };
}

/** Decode the data of an Rreaddir; throws P9ProtocolError when an entry runs past the end. */
export function decodeDirents(data: Uint8Array): Dirent[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: Dirent[] = [];
  let o = 0;
  while (o < b.length) {
    if (b.length - o < 24) throw new P9ProtocolError(`Rreaddir: entry at ${o} is truncated`);
    const nlen = b.readUInt16LE(o + 22);
    if (b.length - o - 24 < nlen) throw new P9ProtocolError(`Rreaddir: name of entry at ${o} is truncated`);
    out.push({
      qid: { type: b[o], version: b.readUInt32LE(o + 1), path: b.readBigUInt64LE(o + 5) },
      offset: b.readBigUInt64LE(o + 13),
      type: b[o + 21],
      name: b.toString('utf8', o + 24, o + 24 + nlen),
    });
    o += 24 + nlen;
  }
  return out;
}
