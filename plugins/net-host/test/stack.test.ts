/**
 * The net-host stack without a sandbox: socket policy (raw ICMP with raw: true), /proc/net
 * inode numbers, readiness from the host reaching the wait queue through the event loop,
 * blocking recv woken by a host datagram, the rtnetlink write filter, the option
 * allow-list, and shutdown() closing every host fd.
 */
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { EAGAIN, ENOPROTOOPT, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT } from '../../../core/abi/errno';
import {
  AF_INET,
  AF_NETLINK,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_STREAM,
  SOL_SOCKET,
  SocketFile,
} from '../../../core/net/socket';
import { POLLIN } from '../../../core/util/waiter';
import { newWorld, userCreds } from '../../../test/helpers/fake-task';
import { HostStack } from '../src/stack';

const O_NONBLOCK = 0o4000;

function sockaddrIn(port: number): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  b.writeUInt32BE(0x7f000001, 4);
  return b;
}

function portOf(s: SocketFile): number {
  const n = s.sockName();
  assert.ok(n instanceof Uint8Array);
  return Buffer.from(n).readUInt16BE(2);
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('net-host stack', () => {
  let stack: HostStack;
  const { t } = newWorld();
  beforeEach(() => {
    stack = new HostStack();
    stack.init();
  });
  afterEach(() => stack.shutdown());

  it('creates TCP and UDP host sockets; refuses raw sockets and other netlink protocols', () => {
    assert.ok(stack.socket(t, AF_INET, SOCK_STREAM, 0, 0) instanceof SocketFile);
    assert.ok(stack.socket(t, AF_INET, SOCK_DGRAM, 0, 0) instanceof SocketFile);
    assert.equal(stack.socket(t, AF_INET, SOCK_RAW, 1, 0), -EPERM);
    assert.equal(stack.socket(t, AF_NETLINK, SOCK_RAW, 9, 0), -EPROTONOSUPPORT);
    assert.equal(stack.socket(t, AF_NETLINK, SOCK_STREAM, 0, 0), -ESOCKTNOSUPPORT);
    assert.equal(stack.openSockets, 2);
  });

  it('raw: true gives CAP_NET_RAW raw ICMP sockets only; not other protocols, not uid 1000 without it', function () {
    if (process.getuid?.() !== 0) this.skip();
    const raw = new HostStack({ raw: true });
    raw.init();
    try {
      assert.ok(raw.socket(t, AF_INET, SOCK_RAW, 1, 0) instanceof SocketFile);
      assert.equal(raw.socket(t, AF_INET, SOCK_RAW, 17, 0), -EPERM);
      assert.equal(raw.socket(t, AF_INET, SOCK_RAW, 255, 0), -EPERM);
      const saved = t.creds;
      t.creds = userCreds(1000);
      try {
        assert.equal(raw.socket(t, AF_INET, SOCK_RAW, 1, 0), -EPERM);
      } finally {
        t.creds = saved;
      }
    } finally {
      raw.shutdown();
    }
  });

  it("/proc/net/tcp shows a socket's sandbox inode number and owner uid, and 0 for host sockets", () => {
    const s = stack.socket(t, AF_INET, SOCK_STREAM, 0, 0) as SocketFile;
    assert.equal(s.bind(t, sockaddrIn(0)), 0);
    assert.equal(s.listen(t, 1), 0);
    const port = portOf(s).toString(16).toUpperCase().padStart(4, '0');
    const rows = stack
      .procNet('tcp')!
      .split('\n')
      .slice(1)
      .filter((l) => l.trim())
      .map((l) => l.trim().split(/\s+/));
    const mine = rows.filter((r) => r[1] === `0100007F:${port}`);
    assert.equal(mine.length, 1);
    assert.equal(mine[0][9], String(s.ino));
    assert.equal(mine[0][7], String(t.creds.fsuid));
    for (const r of rows) if (r !== mine[0]) assert.equal(r[9], '0', `a host socket's row: ${r.join(' ')}`);
  });

  it('a datagram from the host wakes the wait queue and a blocked recv', async () => {
    const s = stack.socket(t, AF_INET, SOCK_DGRAM, 0, 0) as SocketFile;
    assert.equal(s.bind(t, sockaddrIn(0)), 0);
    assert.equal(s.readiness(POLLIN), 0);
    const buf = new Uint8Array(16);
    const out = { name: null, flags: 0, control: null };
    const r = s.recvmsg(t, [buf], 0, 0, out);
    assert.ok(r instanceof Promise, 'a blocking recv on an empty socket waits');
    const woke = new Promise<number>((res) => {
      const e = s.waitQueue().subscribe(POLLIN, (ev) => {
        s.waitQueue().unsubscribe(e);
        res(ev);
      });
    });
    const peer = dgram.createSocket('udp4');
    try {
      peer.send('from the host', portOf(s), '127.0.0.1');
      assert.ok((await woke) & POLLIN);
      assert.equal(await r, 13);
      assert.equal(Buffer.from(buf.subarray(0, 13)).toString(), 'from the host');
      assert.ok(out.name, 'the source address is reported');
    } finally {
      peer.close();
    }
    assert.equal(s.recvmsg(t, [buf], 0x40 /* MSG_DONTWAIT */, 0, out), -EAGAIN);
  });

  it('a non-blocking socket returns EAGAIN instead of waiting', () => {
    const s = stack.socket(t, AF_INET, SOCK_DGRAM, 0, O_NONBLOCK) as SocketFile;
    assert.equal(s.bind(t, sockaddrIn(0)), 0);
    assert.equal(s.recvmsg(t, [new Uint8Array(4)], 0, 0, { name: null, flags: 0, control: null }), -EAGAIN);
  });

  it('rtnetlink: reads pass, writes and other ports are EPERM', () => {
    const s = stack.socket(t, AF_NETLINK, SOCK_RAW, 0, 0) as SocketFile;
    const msg = (type: number) => {
      const b = Buffer.alloc(32);
      b.writeUInt32LE(32, 0);
      b.writeUInt16LE(type, 4);
      b.writeUInt16LE(0x301, 6); // NLM_F_REQUEST | NLM_F_DUMP
      return b;
    };
    assert.equal(s.sendmsg(t, [msg(18 /* RTM_GETLINK */)], 32, 0, null, null), 32);
    assert.equal(s.sendmsg(t, [msg(16 /* RTM_NEWLINK */)], 32, 0, null, null), -EPERM);
    assert.equal(s.sendmsg(t, [msg(25 /* RTM_DELROUTE */)], 32, 0, null, null), -EPERM);
    const other = Buffer.alloc(12);
    other.writeUInt16LE(AF_NETLINK, 0);
    other.writeUInt32LE(4242, 4); // another process's port
    assert.equal(s.connect(t, other), -EPERM);
  });

  it('options outside the allow-list are ENOPROTOOPT; allowed ones reach the host', () => {
    const s = stack.socket(t, AF_INET, SOCK_STREAM, 0, 0) as SocketFile;
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    assert.equal(s.setsockopt(t, SOL_SOCKET, 36 /* SO_MARK */, one), -ENOPROTOOPT);
    assert.equal(s.setsockopt(t, SOL_SOCKET, 25 /* SO_BINDTODEVICE */, Buffer.from('lo\0')), -ENOPROTOOPT);
    assert.equal(s.setsockopt(t, 0, 19 /* IP_TRANSPARENT */, one), -ENOPROTOOPT);
    assert.equal(s.setsockopt(t, SOL_SOCKET, 2 /* SO_REUSEADDR */, one), 0);
    const v = s.getsockopt(t, SOL_SOCKET, 2, 4);
    assert.ok(v instanceof Uint8Array);
    assert.equal(Buffer.from(v).readInt32LE(0), 1);
  });

  it('shutdown() closes every host socket still open', () => {
    const before = fdCount();
    for (let i = 0; i < 20; i++) stack.socket(t, AF_INET, i % 2 ? SOCK_DGRAM : SOCK_STREAM, 0, 0);
    assert.ok(fdCount() >= before + 20);
    stack.shutdown();
    assert.equal(stack.openSockets, 0);
    assert.ok(fdCount() <= before, `${fdCount()} fds after shutdown, ${before} before`);
  });
});
