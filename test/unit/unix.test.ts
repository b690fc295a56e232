import * as assert from 'node:assert/strict';
import {
  EAFNOSUPPORT,
  EADDRINUSE,
  EAGAIN,
  ECONNREFUSED,
  ENOENT,
  EPIPE,
  EPROTOTYPE,
  ERESTARTSYS,
} from '../../core/abi/errno';
import { newPipe } from '../../core/fs/pipe';
import { registerSocketFamily } from '../../core/net/families';
import { UnixSocket } from '../../core/net/unix';
import { AF_INET, SOCK_NONBLOCK, SocketFile } from '../../core/net/socket';
import {
  Bind,
  Connect,
  Getsockname,
  Listen,
  Recvmsg,
  Sendmsg,
  Socket,
  Socketpair,
} from '../../core/syscalls/linux/socket';
import { S_IFMT, S_IFSOCK, SIGPIPE } from '../../core/vfs/abi';
import { lookupAt } from '../../core/vfs/ops';
import { fakeArgs, FakeTask, newWorld } from '../helpers/fake-task';

const AF_UNIX = 1,
  SOCK_STREAM = 1,
  SOCK_DGRAM = 2;

function pair(t: FakeTask, type = SOCK_STREAM): [number, number] {
  const sv = t.mem.alloc(8);
  assert.equal(Socketpair(t, fakeArgs(AF_UNIX, type, 0, sv)), 0);
  return [t.mem.readI32(sv), t.mem.readI32(sv + 4)];
}

function sockaddr(t: FakeTask, path: string, abstract = false): [number, number] {
  const bytes = Buffer.alloc(2 + (abstract ? 1 : 0) + path.length + (abstract ? 0 : 1));
  bytes.writeUInt16LE(AF_UNIX, 0);
  bytes.write(path, abstract ? 3 : 2, 'latin1');
  return [t.mem.bytes(bytes), bytes.length];
}

function write(t: FakeTask, fd: number, s: string): number | Promise<number> {
  const f = t.files.get(fd)!;
  return f.write(t, [Buffer.from(s, 'latin1')], -1);
}

function read(t: FakeTask, fd: number, n = 64): { r: number | Promise<number>; buf: Uint8Array } {
  const buf = new Uint8Array(n);
  return { r: t.files.get(fd)!.read(t, [buf], -1), buf };
}

/** A msghdr with one iovec and optional control buffer; returns addresses. */
function msghdr(t: FakeTask, data: Uint8Array | number, control: Uint8Array | number = 0) {
  const len = typeof data === 'number' ? data : data.length;
  const buf = typeof data === 'number' ? t.mem.alloc(Math.max(len, 1)) : t.mem.bytes(data);
  const iov = t.mem.alloc(16);
  t.mem.writeU64(iov, buf);
  t.mem.writeU64(iov + 8, len);
  const clen = typeof control === 'number' ? control : control.length;
  const ctl = clen ? (typeof control === 'number' ? t.mem.alloc(clen) : t.mem.bytes(control)) : 0;
  const msg = t.mem.alloc(56);
  t.mem.writeU64(msg + 16, iov);
  t.mem.writeU64(msg + 24, 1);
  t.mem.writeU64(msg + 32, ctl);
  t.mem.writeU64(msg + 40, clen);
  return { msg, buf, ctl };
}

describe('AF_UNIX sockets', () => {
  it('socketpair stream: bytes flow both ways, EOF after close, EPIPE+SIGPIPE on write', () => {
    const { t } = newWorld();
    const [a, b] = pair(t);
    assert.equal(write(t, a, 'hello'), 5);
    const r1 = read(t, b);
    assert.equal(r1.r, 5);
    assert.equal(Buffer.from(r1.buf.subarray(0, 5)).toString(), 'hello');
    assert.equal(t.files.get(a)!.stat().mode & S_IFMT, S_IFSOCK);
    t.files.close(b);
    assert.equal(read(t, a).r, 0);
    assert.equal(write(t, a, 'x'), -EPIPE);
    assert.deepEqual(t.signals, [SIGPIPE]);
  });

  it('a blocked read is woken by a write; a signal gives ERESTARTSYS; SO_RCVTIMEO gives EAGAIN', async () => {
    const { t } = newWorld();
    const [a, b] = pair(t);
    const p = read(t, b);
    assert.ok(p.r instanceof Promise);
    assert.equal(write(t, a, 'wake'), 4);
    assert.equal(await p.r, 4);

    const p2 = read(t, b).r as Promise<number>;
    t.interrupt();
    assert.equal(await p2, -ERESTARTSYS);
    t.pendingSignal = false;

    const s = t.files.get(b) as UnixSocket;
    s.rcvTimeoNs = 20e6;
    await assert.rejects(read(t, b).r as Promise<number>, (e: { errno: number }) => e.errno === EAGAIN);
  });

  it('dgram pairs keep message boundaries and truncate with MSG_TRUNC', () => {
    const { t } = newWorld();
    const [a, b] = pair(t, SOCK_DGRAM);
    assert.equal(write(t, a, 'one'), 3);
    assert.equal(write(t, a, 'three'), 5);
    const m = msghdr(t, 2);
    assert.equal(Recvmsg(t, fakeArgs(b, m.msg, 0)), 2);
    assert.equal(t.mem.readI32(m.msg + 48) & 0x20, 0x20); // MSG_TRUNC
    assert.equal(read(t, b).r, 5);
  });

  it('SCM_RIGHTS installs the passed file in the receiver and closes nothing on the way', () => {
    const { t } = newWorld();
    const [a, b] = pair(t);
    const [pr, pw] = newPipe(0);
    const rfd = t.files.install(pr);
    const ctl = Buffer.alloc(24);
    ctl.writeBigUInt64LE(20n, 0);
    ctl.writeInt32LE(1, 8); // SOL_SOCKET
    ctl.writeInt32LE(1, 12); // SCM_RIGHTS
    ctl.writeInt32LE(rfd, 16);
    const s = msghdr(t, Buffer.from('F'), ctl);
    assert.equal(Sendmsg(t, fakeArgs(a, s.msg, 0)), 1);
    t.files.close(rfd);
    const r = msghdr(t, 8, 24);
    assert.equal(Recvmsg(t, fakeArgs(b, r.msg, 0x40000000 /* MSG_CMSG_CLOEXEC */)), 1);
    assert.equal(t.mem.readU64(r.msg + 40), 24); // CMSG_SPACE(4)
    const got = t.mem.readI32(r.ctl + 16);
    assert.ok(t.files.getCloexec(got));
    assert.equal(pw.write(t, [Buffer.from('via')], -1), 3);
    const back = new Uint8Array(8);
    assert.equal(t.files.get(got)!.read(t, [back], -1), 3);
  });

  it('bind makes an S_IFSOCK node; EADDRINUSE, ECONNREFUSED, EPROTOTYPE; connect to a full backlog', () => {
    const { t } = newWorld();
    const srv = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM, 0));
    const [addr, len] = sockaddr(t, '/s');
    const cl = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    assert.throws(
      () => Connect(t, fakeArgs(cl, addr, len)),
      (e: { errno: number }) => e.errno === ENOENT,
    );
    assert.equal(Bind(t, fakeArgs(srv, addr, len)), 0);
    assert.equal(lookupAt(t, -100, '/s', false).inode.mode & S_IFMT, S_IFSOCK);
    const other = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM, 0));
    assert.throws(
      () => Bind(t, fakeArgs(other, addr, len)),
      (e: { errno: number }) => e.errno === EADDRINUSE,
    );
    assert.equal(Connect(t, fakeArgs(cl, addr, len)), -ECONNREFUSED);
    assert.equal(Listen(t, fakeArgs(srv, 0)), 0);
    const dg = Socket(t, fakeArgs(AF_UNIX, SOCK_DGRAM, 0));
    assert.throws(
      () => Connect(t, fakeArgs(dg, addr, len)),
      (e: { errno: number }) => e.errno === EPROTOTYPE,
    );
    assert.equal(Connect(t, fakeArgs(cl, addr, len)), 0);
    const cl2 = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    assert.equal(Connect(t, fakeArgs(cl2, addr, len)), -EAGAIN);
    const out = t.mem.alloc(112);
    const lenp = t.mem.alloc(4);
    t.mem.writeI32(lenp, 112);
    assert.equal(Getsockname(t, fakeArgs(srv, out, lenp)), 0);
    assert.equal(t.mem.readI32(lenp), 5); // family + "/s" + NUL
  });

  it('abstract names: EADDRINUSE within a type, free across types', () => {
    const { t } = newWorld();
    const [addr, len] = sockaddr(t, 'tsvisor-unit-abstract', true);
    const a = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM, 0));
    const b = Socket(t, fakeArgs(AF_UNIX, SOCK_STREAM, 0));
    const c = Socket(t, fakeArgs(AF_UNIX, SOCK_DGRAM, 0));
    assert.equal(Bind(t, fakeArgs(a, addr, len)), 0);
    assert.throws(
      () => Bind(t, fakeArgs(b, addr, len)),
      (e: { errno: number }) => e.errno === EADDRINUSE,
    );
    assert.equal(Bind(t, fakeArgs(c, addr, len)), 0);
    t.files.close(a);
    assert.equal(Bind(t, fakeArgs(b, addr, len)), 0);
  });

  it('other families are EAFNOSUPPORT until a provider registers', () => {
    const { t } = newWorld();
    assert.equal(Socket(t, fakeArgs(AF_INET, SOCK_STREAM, 0)), -EAFNOSUPPORT);
    class Dummy extends SocketFile {}
    const undo = registerSocketFamily({
      family: AF_INET,
      socket: (_t, type, proto, flags) => new Dummy(AF_INET, type, proto, flags),
    });
    try {
      const fd = Socket(t, fakeArgs(AF_INET, SOCK_STREAM, 0));
      assert.ok(fd >= 0);
      assert.ok(t.files.get(fd) instanceof Dummy);
    } finally {
      undo();
    }
    assert.equal(Socket(t, fakeArgs(AF_INET, SOCK_STREAM, 0)), -EAFNOSUPPORT);
  });
});
