/**
 * TCP and UDP between endpoints of one stack over its loopback link (127.0.0.1): handshake,
 * data both ways, a 4 MiB transfer checked by hash, half-close, RST on a closed port, the
 * listen backlog, and no endpoints or timers left afterwards.
 */
import { strict as assert } from 'node:assert';
import { Stack } from '../src/stack';
import { TcpState, type TcpEndpoint } from '../src/tcp/endpoint';
import { ipv4 } from '../src/addr';
import {
  EAGAIN,
  ECONNREFUSED,
  EINPROGRESS,
  EINVAL,
  EPIPE,
  POLLIN,
  POLLOUT,
  SHUT_WR,
  EADDRINUSE,
} from '../src/errno';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { until, writeAll, readAll, readN, sha256, pattern } from './util';

const LO = ipv4('127.0.0.1');

async function connectPair(
  stack: Stack,
  port: number,
): Promise<{ server: TcpEndpoint; client: TcpEndpoint; listener: TcpEndpoint }> {
  const listener = stack.tcp();
  assert.equal(listener.bind(LO, port), 0);
  assert.equal(listener.listen(16), 0);
  const client = stack.tcp();
  assert.equal(client.connect(LO, port), -EINPROGRESS);
  let server: TcpEndpoint | undefined;
  await until(() => {
    const a = listener.accept();
    if (typeof a !== 'number') server = a;
    return server !== undefined && client.state === TcpState.ESTABLISHED;
  }, 'handshake');
  return { server: server!, client, listener };
}

describe('netstack loopback', () => {
  let stack: Stack;
  beforeEach(() => {
    stack = new Stack({ tcp: { timeWaitMs: 50 } });
  });
  afterEach(() => stack.close());

  it('connects, exchanges data both ways and closes in order; nothing is left', async () => {
    const { server, client, listener } = await connectPair(stack, 8080);
    assert.equal(client.poll() & POLLOUT, POLLOUT);
    assert.equal(client.info().sack, true);
    assert.equal(client.info().timestamps, true);
    assert.equal(client.info().rcvWscale, 7);
    assert.equal(client.send(new TextEncoder().encode('ping')), 4);
    assert.equal((await readN(server, 4)).toString(), 'ping');
    assert.equal(server.send(new TextEncoder().encode('pong!')), 5);
    assert.equal((await readN(client, 5)).toString(), 'pong!');
    // Active close by the client: it ends in TIME_WAIT, the server in LAST_ACK then CLOSED.
    client.close();
    assert.equal((await readAll(server)).length, 0);
    assert.equal(server.poll() & POLLIN, POLLIN);
    server.close();
    listener.close();
    await until(
      () => stack.counters.tcpEndpoints === 0 && stack.counters.timers === 0,
      'all endpoints and timers gone',
    );
    assert.equal(stack.stats.timeWaits, 1);
  });

  it('moves 4 MiB each way intact (sha256)', async () => {
    const { server, client } = await connectPair(stack, 8081);
    const a = pattern(4 << 20, 7);
    const b = pattern(4 << 20, 9);
    const [, gotA, , gotB] = await Promise.all([
      writeAll(client, a).then(() => client.shutdown(SHUT_WR)),
      readAll(server),
      writeAll(server, b).then(() => server.shutdown(SHUT_WR)),
      readAll(client),
    ]);
    assert.equal(sha256(gotA), sha256(a));
    assert.equal(sha256(gotB), sha256(b));
    client.close();
    server.close();
  });

  it('half-close: after shutdown(SHUT_WR) the peer reads EOF but can still send', async () => {
    const { server, client } = await connectPair(stack, 8082);
    assert.equal(client.shutdown(SHUT_WR), 0);
    assert.equal(client.send(new Uint8Array(1)), -EPIPE);
    assert.equal((await readAll(server)).length, 0);
    assert.equal(server.state, TcpState.CLOSE_WAIT);
    await writeAll(server, new TextEncoder().encode('still here'));
    assert.equal((await readN(client, 10)).toString(), 'still here');
    assert.equal(client.state, TcpState.FIN_WAIT_2);
    server.shutdown(SHUT_WR);
    assert.equal((await readAll(client)).length, 0);
    await until(
      () => client.state === TcpState.TIME_WAIT || client.state === TcpState.CLOSED,
      'client TIME_WAIT',
    );
  });

  it('connect to a port nobody listens on fails with ECONNREFUSED (RST)', async () => {
    const c = stack.tcp();
    assert.equal(c.connect(LO, 9), -EINPROGRESS);
    await until(() => c.pendingError !== 0, 'refusal');
    assert.equal(c.takeError(), ECONNREFUSED);
    assert.equal(c.state, TcpState.CLOSED);
    assert.ok(stack.stats.tcpResetsSent >= 1);
  });

  it('rejects impossible addresses and ports with EINVAL', () => {
    const t = stack.tcp();
    assert.equal(t.bind(LO, 70000), -EINVAL);
    assert.equal(t.bind(-1, 80), -EINVAL);
    assert.equal(t.bind(2 ** 32, 80), -EINVAL);
    assert.equal(t.connect(LO, 1.5), -EINVAL);
    const u = stack.udp();
    assert.equal(u.bind(LO, -3), -EINVAL);
    assert.equal(u.sendTo(new Uint8Array(1), LO, 65536), -EINVAL);
    assert.equal(u.connect(NaN, 5), -EINVAL);
    t.close();
    u.close();
    assert.equal(stack.counters.tcpEndpoints + stack.counters.udpEndpoints, 0);
  });

  it('bind conflicts give EADDRINUSE; accept on an empty queue gives EAGAIN', () => {
    const a = stack.tcp();
    assert.equal(a.bind(LO, 7000), 0);
    assert.equal(a.listen(1), 0);
    assert.equal(a.accept(), -EAGAIN);
    const b = stack.tcp();
    assert.equal(b.bind(0, 7000), -EADDRINUSE);
    a.close();
    b.close();
  });

  it('a full backlog drops further SYNs until accept makes room (listen(1) queues two, as Linux)', async () => {
    const l = stack.tcp();
    l.bind(LO, 7001);
    l.listen(1);
    const [c1, c2, c3] = [stack.tcp(), stack.tcp(), stack.tcp()];
    c1.connect(LO, 7001);
    await until(() => l.acceptQueueLength === 1, 'first queued');
    c2.connect(LO, 7001);
    await until(() => l.acceptQueueLength === 2, 'second queued (Linux: full only above the backlog)');
    c3.connect(LO, 7001);
    await until(() => stack.stats.listenDrops > 0, 'SYN dropped');
    assert.equal(c3.state, TcpState.SYN_SENT);
    const s1 = l.accept();
    assert.notEqual(typeof s1, 'number');
    // c3's SYN retransmission (RTO 1 s) gets in now.
    await until(() => c3.state === TcpState.ESTABLISHED, 'third connection after accept', 5000);
    for (const c of [c1, c2, c3]) c.close();
    l.close();
  });

  it('UDP datagrams between two endpoints; a closed port answers ICMP and a connected sender gets ECONNREFUSED', async () => {
    const a = stack.udp();
    const b = stack.udp();
    assert.equal(a.bind(LO, 5000), 0);
    assert.equal(b.sendTo(new TextEncoder().encode('dgram'), LO, 5000), 5);
    await until(() => typeof a.recvFrom(true) !== 'number', 'datagram');
    const d = a.recvFrom();
    assert.ok(typeof d !== 'number');
    assert.equal(new TextDecoder().decode(d.data), 'dgram');
    assert.equal(d.port, b.lport);
    const c = stack.udp();
    c.connect(LO, 5999);
    c.sendTo(new Uint8Array(3));
    await until(() => c.recvFrom() === -ECONNREFUSED, 'ECONNREFUSED');
    // A datagram larger than the MTU would be fragmented on a real link; on loopback (64 KiB) it fits.
    const big = pattern(60000, 3);
    assert.equal(b.sendTo(big, LO, 5000), 60000);
    await until(() => typeof a.recvFrom(true) !== 'number', 'big datagram');
    const g = a.recvFrom();
    assert.ok(typeof g !== 'number' && sha256(g.data) === sha256(big));
    a.close();
    b.close();
    c.close();
    assert.equal(stack.counters.udpEndpoints, 0);
  });
});

describe('netstack leak checks', function () {
  this.timeout(300_000);

  /**
   * An echo-and-close server on 127.0.0.1:port and `total` client connections, `parallel`
   * at a time, all event driven: connect, send "#i", read the echo, close. Resolves with
   * the number of correct echoes.
   */
  function churn(stack: Stack, port: number, total: number, parallel: number): Promise<number> {
    const l = stack.tcp();
    l.bind(LO, port);
    l.listen(1024);
    const buf = new Uint8Array(64);
    l.onEvent = () => {
      for (;;) {
        const c = l.accept();
        if (typeof c === 'number') return;
        c.onEvent = () => {
          const n = c.recv(buf);
          if (n > 0) {
            c.send(buf.subarray(0, n));
            c.close(); // active close: this side goes through TIME_WAIT
          } else if (n === 0) c.close();
        };
        c.onEvent(c);
      }
    };
    return new Promise((resolve, reject) => {
      let started = 0;
      let finished = 0;
      let ok = 0;
      const start = (): void => {
        const i = started++;
        const c = stack.tcp();
        const msg = new TextEncoder().encode(`#${i}`);
        let sent = false;
        let got = '';
        c.onEvent = () => {
          if (!sent && c.state === TcpState.ESTABLISHED) {
            sent = c.send(msg) === msg.length;
          }
          for (;;) {
            const n = c.recv(buf);
            if (n > 0) {
              got += new TextDecoder().decode(buf.subarray(0, n));
              continue;
            }
            if (n === -EAGAIN) return;
            // EOF or error: this connection is done.
            if (got === `#${i}`) ok++;
            c.close();
            finished++;
            if (finished === total) {
              l.close();
              resolve(ok);
            } else if (started < total) start();
            return;
          }
        };
        const r = c.connect(LO, port);
        if (r !== -EINPROGRESS) reject(new Error(`connect ${i}: ${r}`));
      };
      for (let k = 0; k < parallel && started < total; k++) start();
    });
  }

  it('10,000 sequential and 1,000 concurrent connections leave no endpoints, timers or memory behind', async () => {
    const stack = new Stack({ tcp: { timeWaitMs: 20 } });
    try {
      assert.equal(await churn(stack, 9000, 10_000, 1), 10_000);
      assert.equal(await churn(stack, 9001, 1_000, 1_000), 1_000);
      await until(
        () => stack.counters.tcpEndpoints === 0 && stack.counters.timers === 0,
        `no endpoints/timers left (endpoints ${stack.counters.tcpEndpoints}, timers ${stack.counters.timers}: ${JSON.stringify(stack.tcpStates())})`,
      );
      assert.equal(stack.stats.timeWaits, 11_000, 'every server side went through TIME_WAIT');
      assert.equal(stack.stats.listenDrops, 0);
      // Memory: a further 5,000 connections must not grow the heap by more than a few MiB.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      gc();
      const before = process.memoryUsage().heapUsed;
      assert.equal(await churn(stack, 9002, 5_000, 50), 5_000);
      await until(() => stack.counters.tcpEndpoints === 0 && stack.counters.timers === 0, 'drained again');
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      assert.ok(grown < 8 << 20, `heap grew by ${(grown / 1048576).toFixed(1)} MiB over 5,000 connections`);
    } finally {
      stack.close();
    }
  });
});
