/**
 * Unit tests for System V IPC and POSIX message queues (core/kernel/ipc) over fake tasks:
 * keys and ids, permissions, shm attach/detach with nattch and deferred removal, semaphore
 * atomicity, blocking, timeouts, EIDRM, EINTR and SEM_UNDO at exit, message selection by
 * type, and mqueue priorities, readiness, the QSIZE line and notification.
 */
import * as assert from 'node:assert/strict';
import {
  E2BIG,
  EACCES,
  EAGAIN,
  EBUSY,
  EEXIST,
  EIDRM,
  EINTR,
  EINVAL,
  EMSGSIZE,
  ENOENT,
  ENOMSG,
  EPERM,
  ERESTARTNOHAND,
  ETIMEDOUT,
  SysError,
} from '../../core/abi/errno';
import { IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_STAT } from '../../core/kernel/ipc/perm';
import { ipcNamespace } from '../../core/kernel/ipc/namespace';
import { ShmRegistry, SHM_DEST, SHM_RDONLY } from '../../core/kernel/ipc/shm';
import { GETNCNT, GETVAL, SEM_UNDO, SETVAL, SemRegistry, type IpcProcess } from '../../core/kernel/ipc/sem';
import { MSG_EXCEPT, MSG_NOERROR, MsgRegistry, type Message } from '../../core/kernel/ipc/msg';
import { MqRegistry, SIGEV_SIGNAL, mqNotify, mqReceive, mqSend } from '../../core/kernel/ipc/mqueue';
import { MemoryManager, PROT_READ } from '../../core/mm/mm';
import type { AddressSpace } from '../../core/plugins/platform';
import { POLLIN, POLLOUT } from '../../core/util/waiter';
import { O_CREAT, O_NONBLOCK, O_RDWR } from '../../core/vfs/abi';
import { FakeTask, newWorld, testMemoryFile, userCreds } from '../helpers/fake-task';

const noAs: AddressSpace = { mapFile() {}, unmap() {}, protect() {}, release() {} };

function task(pid = 1): FakeTask {
  const { t } = newWorld();
  t.tid = t.tgid = pid;
  return t;
}

function errno(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

const proc = (pid: number): IpcProcess => ({ pid, exitHooks: [] });

describe('ipc: keys, ids and permissions', () => {
  it('IPC_PRIVATE always creates; keys are found again; EEXIST, ENOENT', () => {
    const t = task();
    const msg = new MsgRegistry();
    const a = msg.get(t, IPC_PRIVATE, 0o600);
    const b = msg.get(t, IPC_PRIVATE, 0o600);
    assert.notEqual(a, b);
    const k = msg.get(t, 1234, IPC_CREAT | 0o600);
    assert.equal(msg.get(t, 1234, 0), k);
    assert.equal(msg.get(t, 1234, IPC_CREAT), k);
    assert.equal(
      errno(() => msg.get(t, 1234, IPC_CREAT | IPC_EXCL)),
      EEXIST,
    );
    assert.equal(
      errno(() => msg.get(t, 999, 0)),
      ENOENT,
    );
  });

  it('a removed id is not reused at once (sequence numbers), and stale ids are EINVAL', () => {
    const t = task();
    const msg = new MsgRegistry();
    const a = msg.get(t, IPC_PRIVATE, 0o600);
    msg.ctl(t, a, IPC_RMID, 0);
    const b = msg.get(t, IPC_PRIVATE, 0o600);
    assert.notEqual(a, b);
    assert.equal(
      errno(() => msg.ctl(t, a, IPC_STAT, t.mem.alloc(120))),
      EINVAL,
    );
  });

  it('checks owner/group/other bits for non-root callers; IPC_RMID needs the owner', () => {
    const owner = task();
    owner.creds = userCreds(1000, 1000);
    const other = task(2);
    other.creds = userCreds(2000, 2000);
    const msg = new MsgRegistry();
    const id = msg.get(owner, 77, IPC_CREAT | 0o640);
    assert.equal(
      errno(() => msg.get(other, 77, 0o400)),
      EACCES,
    );
    assert.equal(msg.get(other, 77, 0), id);
    assert.equal(
      errno(() => msg.ctl(other, id, IPC_STAT, other.mem.alloc(120))),
      EACCES,
    );
    assert.equal(
      errno(() => msg.ctl(other, id, IPC_RMID, 0)),
      EPERM,
    );
    const sameGroup = task(3);
    sameGroup.creds = userCreds(3000, 1000);
    assert.equal(msg.ctl(sameGroup, id, IPC_STAT, sameGroup.mem.alloc(120)), 0);
  });

  it('one namespace per owner object', () => {
    const k1 = { mf: testMemoryFile() },
      k2 = { mf: testMemoryFile() };
    assert.equal(ipcNamespace(k1), ipcNamespace(k1));
    assert.notEqual(ipcNamespace(k1), ipcNamespace(k2));
  });
});

describe('ipc: shared memory', () => {
  it('attaches share bytes across address spaces; nattch follows VMAs; RMID waits for the last detach', () => {
    const t = task();
    const shm = new ShmRegistry(testMemoryFile());
    const id = shm.get(t, 42, 10000, IPC_CREAT | 0o600);
    assert.equal(
      errno(() => shm.get(t, 42, 20000, 0)),
      EINVAL,
    );
    const mm = new MemoryManager(testMemoryFile(), noAs);
    const addr = shm.attach(t, mm, id, 0, 0);
    mm.copyOut(addr, Buffer.from('hello'));
    const child = mm.fork(noAs);
    assert.equal(Buffer.from(child.copyIn(addr, 5)).toString(), 'hello');
    child.copyOut(addr + 4096, Buffer.from('child'));
    assert.equal(Buffer.from(mm.copyIn(addr + 4096, 5)).toString(), 'child');
    const seg = shm.reg.get(id);
    assert.equal(seg.nattch, 2);
    child.decUsers();
    assert.equal(seg.nattch, 1);

    const ro = shm.attach(t, mm, id, 0, SHM_RDONLY);
    assert.equal(mm.findVma(ro)!.prot, PROT_READ);
    assert.equal(mm.findVma(ro)!.mayWrite, false);
    shm.detach(t, mm, ro);
    assert.equal(
      errno(() => shm.detach(t, mm, ro)),
      EINVAL,
    );

    shm.ctl(t, id, IPC_RMID, 0);
    assert.ok(seg.perm.mode & SHM_DEST);
    assert.equal(
      errno(() => shm.get(t, 42, 100, 0)),
      ENOENT,
    );
    assert.equal(shm.ctl(t, id, IPC_STAT, t.mem.alloc(112)), 0);
    shm.detach(t, mm, addr);
    assert.equal(
      errno(() => shm.ctl(t, id, IPC_STAT, t.mem.alloc(112))),
      EINVAL,
    );
    assert.equal(shm.totalPages, 0);
  });

  it('exit (dropping the address space) completes a pending removal', () => {
    const t = task();
    const shm = new ShmRegistry(testMemoryFile());
    const id = shm.get(t, IPC_PRIVATE, 4096, 0o600);
    const mm = new MemoryManager(testMemoryFile(), noAs);
    shm.attach(t, mm, id, 0, 0);
    shm.ctl(t, id, IPC_RMID, 0);
    assert.equal(shm.reg.size, 1);
    mm.decUsers();
    assert.equal(shm.reg.size, 0);
  });

  it('validates sizes and attach addresses', () => {
    const t = task();
    const shm = new ShmRegistry(testMemoryFile());
    assert.equal(
      errno(() => shm.get(t, IPC_PRIVATE, 0, 0o600)),
      EINVAL,
    );
    const id = shm.get(t, IPC_PRIVATE, 4096, 0o600);
    const mm = new MemoryManager(testMemoryFile(), noAs);
    assert.equal(
      errno(() => shm.attach(t, mm, id, 0x20000001, 0)),
      EINVAL,
    );
    const a = shm.attach(t, mm, id, 0x20000001, 0o20000 /* SHM_RND */);
    assert.equal(a, 0x20000000);
    assert.equal(
      errno(() => shm.attach(t, mm, id, 0x20000000, 0)),
      EINVAL,
    );
    assert.equal(
      errno(() => shm.attach(t, mm, id + 1, 0, 0)),
      EINVAL,
    );
  });
});

describe('ipc: semaphores', () => {
  it('applies operations atomically and honours IPC_NOWAIT', () => {
    const t = task();
    const sem = new SemRegistry();
    const id = sem.get(t, IPC_PRIVATE, 2, 0o600);
    sem.ctl(t, id, 0, SETVAL, 1);
    const p = proc(1);
    assert.equal(
      sem.op(t, p, id, [
        { num: 0, op: -1, flg: IPC_NOWAIT },
        { num: 1, op: -1, flg: IPC_NOWAIT },
      ]),
      -EAGAIN,
    );
    assert.equal(sem.ctl(t, id, 0, GETVAL, 0), 1);
    assert.equal(sem.op(t, p, id, [{ num: 2, op: 1, flg: 0 }]), -27 /* EFBIG */);
    assert.equal(sem.op(t, p, id, []), -EINVAL);
  });

  it('a blocked operation completes when another task posts; GETNCNT counts it', async () => {
    const t = task(),
      u = task(2);
    const sem = new SemRegistry();
    const id = sem.get(t, IPC_PRIVATE, 1, 0o600);
    const r = sem.op(t, proc(1), id, [{ num: 0, op: -1, flg: 0 }]);
    assert.ok(r instanceof Promise);
    assert.equal(sem.ctl(t, id, 0, GETNCNT, 0), 1);
    assert.equal(sem.op(u, proc(2), id, [{ num: 0, op: 1, flg: 0 }]), 0);
    assert.equal(await r, 0);
    assert.equal(sem.ctl(t, id, 0, GETVAL, 0), 0);
    assert.equal(sem.ctl(t, id, 0, GETNCNT, 0), 0);
  });

  it('semtimedop times out with EAGAIN; removal gives EIDRM; a signal gives EINTR', async () => {
    const t = task();
    const sem = new SemRegistry();
    const id = sem.get(t, IPC_PRIVATE, 1, 0o600);
    assert.equal(await sem.op(t, proc(1), id, [{ num: 0, op: -1, flg: 0 }], 5e6), -EAGAIN);
    const waiting = sem.op(t, proc(1), id, [{ num: 0, op: -1, flg: 0 }]);
    sem.ctl(t, id, 0, IPC_RMID, 0);
    assert.equal(await waiting, -EIDRM);
    const id2 = sem.get(t, IPC_PRIVATE, 1, 0o600);
    const w2 = sem.op(t, proc(1), id2, [{ num: 0, op: 0 - 1, flg: 0 }]);
    t.interrupt();
    assert.equal(await w2, -EINTR);
  });

  it('SEM_UNDO adjustments are applied by the process exit hook', () => {
    const t = task();
    const sem = new SemRegistry();
    const id = sem.get(t, IPC_PRIVATE, 1, 0o600);
    sem.ctl(t, id, 0, SETVAL, 5);
    const p = proc(7);
    assert.equal(sem.op(t, p, id, [{ num: 0, op: -3, flg: SEM_UNDO }]), 0);
    assert.equal(sem.op(t, p, id, [{ num: 0, op: 1, flg: SEM_UNDO }]), 0);
    assert.equal(sem.ctl(t, id, 0, GETVAL, 0), 3);
    assert.equal(p.exitHooks.length, 1);
    for (const h of p.exitHooks) h();
    assert.equal(sem.ctl(t, id, 0, GETVAL, 0), 5);
    assert.equal(sem.ctl(t, id, 0, 11 /* GETPID */, 0), 7);
  });

  it('SETVAL clears undo entries; ERANGE beyond SEMVMX', () => {
    const t = task();
    const sem = new SemRegistry();
    const id = sem.get(t, IPC_PRIVATE, 1, 0o600);
    const p = proc(7);
    sem.op(t, p, id, [{ num: 0, op: 2, flg: SEM_UNDO }]);
    sem.ctl(t, id, 0, SETVAL, 2);
    for (const h of p.exitHooks) h();
    assert.equal(sem.ctl(t, id, 0, GETVAL, 0), 2);
    assert.equal(
      errno(() => sem.ctl(t, id, 0, SETVAL, 40000)),
      34 /* ERANGE */,
    );
  });
});

describe('ipc: message queues', () => {
  function setup() {
    const t = task();
    const msg = new MsgRegistry();
    const id = msg.get(t, IPC_PRIVATE, 0o600);
    const send = (type: number, s: string) => msg.send(t, id, BigInt(type), Buffer.from(s), 0);
    const recv = (type: number, size: number, flags: number) => {
      const r = msg.receive(t, id, size, BigInt(type), flags | IPC_NOWAIT);
      return typeof r === 'number' ? r : Buffer.from((r as Message).data).toString();
    };
    return { t, msg, id, send, recv };
  }

  it('selects by type: 0, >0, <0, MSG_EXCEPT; E2BIG vs MSG_NOERROR; ENOMSG', () => {
    const { send, recv } = setup();
    send(5, 'five');
    send(2, 'two');
    send(9, 'nine');
    send(1, 'one');
    assert.equal(recv(2, 64, 0), 'two');
    assert.equal(recv(-6, 64, 0), 'one');
    assert.equal(recv(5, 64, MSG_EXCEPT), 'nine');
    assert.equal(recv(0, 2, 0), -E2BIG);
    assert.equal(recv(0, 2, MSG_NOERROR), 'fi');
    assert.equal(recv(0, 64, 0), -ENOMSG);
  });

  it('a blocked receiver gets a later message; removal wakes with EIDRM; full queues give EAGAIN', async () => {
    const { t, msg, id, send } = setup();
    const r = msg.receive(t, id, 64, 3n, 0);
    assert.ok(r instanceof Promise);
    send(1, 'other');
    send(3, 'three');
    const m = (await r) as Message;
    assert.equal(Buffer.from(m.data).toString(), 'three');
    const q = msg.reg.get(id);
    q.qbytes = 5;
    assert.equal(msg.send(t, id, 1n, Buffer.from('xx'), IPC_NOWAIT), -EAGAIN);
    const blocked = msg.send(t, id, 1n, Buffer.from('xx'), 0);
    assert.ok(blocked instanceof Promise);
    msg.ctl(t, id, IPC_RMID, 0);
    assert.equal(await blocked, -EIDRM);
  });

  it('a signal ends the wait (ERESTARTNOHAND: EINTR after a handler)', async () => {
    const { t, msg, id } = setup();
    const r = msg.receive(t, id, 64, 0n, 0);
    t.interrupt();
    assert.equal(await r, -ERESTARTNOHAND);
  });
});

describe('ipc: POSIX message queues', () => {
  it('priority order, readiness, QSIZE line, O_NONBLOCK, EMSGSIZE', async () => {
    const t = task();
    const mq = new MqRegistry();
    const f = mq.open(t.creds, 'q1', O_RDWR | O_CREAT | O_NONBLOCK, 0o600, {
      flags: 0,
      maxmsg: 2,
      msgsize: 16,
      curmsgs: 0,
    });
    assert.equal(f.readiness(POLLIN | POLLOUT), POLLOUT);
    assert.equal(mqSend(t, f, Buffer.from('low'), 1, undefined), 0);
    assert.equal(mqSend(t, f, Buffer.from('high!'), 9, undefined), 0);
    assert.equal(mqSend(t, f, Buffer.from('x'), 1, undefined), -EAGAIN);
    assert.equal(f.readiness(POLLIN | POLLOUT), POLLIN);
    const buf = Buffer.alloc(80);
    const n = f.read(t, [buf], -1);
    assert.equal(
      buf.toString('latin1', 0, n),
      'QSIZE:8          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n',
    );
    assert.equal(mqReceive(t, f, 8, undefined), -EMSGSIZE);
    const m = mqReceive(t, f, 16, undefined) as { prio: number; data: Uint8Array };
    assert.equal(m.prio, 9);
    assert.equal(Buffer.from(m.data).toString(), 'high!');
  });

  it('blocking receive, timeouts, open errors, unlink', async () => {
    const t = task();
    const mq = new MqRegistry();
    const f = mq.open(t.creds, 'q2', O_RDWR | O_CREAT, 0o600, null);
    assert.equal(f.mq.maxmsg, 10);
    assert.equal(f.mq.msgsize, 8192);
    assert.equal(await mqReceive(t, f, 8192, Date.now() + 5), -ETIMEDOUT);
    const r = mqReceive(t, f, 8192, undefined);
    assert.ok(r instanceof Promise);
    mqSend(t, f, Buffer.from('hi'), 0, undefined);
    assert.equal(Buffer.from(((await r) as { data: Uint8Array }).data).toString(), 'hi');
    assert.equal(
      errno(() => mq.open(t.creds, 'q2', O_RDWR | O_CREAT | 0o200 /* O_EXCL */, 0o600, null)),
      EEXIST,
    );
    assert.equal(
      errno(() => mq.open(t.creds, 'nope', O_RDWR, 0, null)),
      ENOENT,
    );
    assert.equal(
      errno(() => mq.open(t.creds, 'a/b', O_RDWR | O_CREAT, 0o600, null)),
      EACCES,
    );
    const other = userCreds(1000);
    assert.equal(
      errno(() => mq.open(other, 'q2', O_RDWR, 0, null)),
      EACCES,
    );
    assert.equal(
      errno(() => mq.unlink(other, 'q2')),
      EPERM,
    );
    mq.unlink(t.creds, 'q2');
    assert.equal(
      errno(() => mq.unlink(t.creds, 'q2')),
      ENOENT,
    );
    assert.equal(mqSend(t, f, Buffer.from('still'), 0, undefined), 0);
  });

  it('notification fires once on arrival to an empty queue; EBUSY; flush by the owner removes it', () => {
    const t = task();
    const mq = new MqRegistry();
    const f = mq.open(t.creds, 'q3', O_RDWR | O_CREAT, 0o600, null);
    const fired: number[] = [];
    const reg = { owner: 1, notify: SIGEV_SIGNAL, signo: 10, fire: (pid: number) => fired.push(pid) };
    mqNotify(f, 1, reg);
    assert.equal(
      errno(() => mqNotify(f, 2, { ...reg, owner: 2 })),
      EBUSY,
    );
    const buf = Buffer.alloc(80);
    const n = f.read(t, [buf], 0);
    assert.match(buf.toString('latin1', 0, n), /NOTIFY:0 {5}SIGNO:10 {4}NOTIFY_PID:1 /);
    mqSend(t, f, Buffer.from('a'), 0, undefined);
    mqSend(t, f, Buffer.from('b'), 0, undefined);
    assert.deepEqual(fired, [1]);
    mqNotify(f, 1, reg);
    f.flush(2);
    assert.ok(f.mq.notification);
    f.flush(1);
    assert.equal(f.mq.notification, null);
  });
});
