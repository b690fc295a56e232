/**
 * pidfd files (readiness over a fake process) and membarrier's command/registration rules.
 */
import * as assert from 'node:assert/strict';
import { EINVAL, EPERM } from '../../core/abi/errno';
import { PidFd, pidfdExited, type PidTarget } from '../../core/fs/anon/pidfd';
import { Membarrier } from '../../core/syscalls/linux/pidfd';
import { POLLHUP, POLLIN } from '../../core/util/waiter';
import { fakeArgs } from '../helpers/fake-task';

describe('pidfd', () => {
  it('is readable once the process exited, and hangs up once it is reaped', () => {
    const p: { -readonly [K in keyof PidTarget]: PidTarget[K] } = {
      pid: 5,
      exitStatus: -1,
      zombie: false,
      reaped: false,
    };
    const f = new PidFd(p, 2);
    assert.equal(f.procLinkName(), 'anon_inode:[pidfd]');
    assert.equal(f.readiness(POLLIN), 0);
    let woken = 0;
    f.waitQueue().subscribe(POLLIN, () => woken++);
    p.exitStatus = 0;
    p.zombie = true;
    pidfdExited(p);
    assert.equal(woken, 1);
    assert.equal(f.readiness(POLLIN), POLLIN);
    p.zombie = false;
    p.reaped = true;
    assert.equal(f.readiness(POLLIN) & (POLLIN | POLLHUP), POLLIN | POLLHUP);
  });
});

describe('membarrier', () => {
  const task = { mm: {} } as never;
  const mb = (cmd: number, flags = 0): number => Membarrier(task, fakeArgs(cmd, flags, 0));
  it('answers QUERY, needs registration for private expedited, tracks registrations', () => {
    assert.equal(mb(0), 0x3ff);
    assert.equal(mb(8), -EPERM);
    assert.equal(mb(512), 0);
    assert.equal(mb(16), 0);
    assert.equal(mb(8), 0);
    assert.equal(mb(1), 0);
    assert.equal(mb(512), 16);
    assert.equal(mb(0, 1), -EINVAL);
    assert.equal(mb(3), -EINVAL);
  });
});
