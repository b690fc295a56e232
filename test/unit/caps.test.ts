/**
 * kernel/caps.ts and runtime/oci/caps.ts pieces the integration suites cannot reach on this
 * host: execve's set-ID rules on a nosuid mount and for a set-group-ID file without group
 * execute, and how config.json capability lists become the sets before execve.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  CAP_CHOWN,
  CAP_FULL,
  CAP_KILL,
  CAP_NET_BIND_SERVICE,
  capBit,
  execCreds,
  makeCreds,
  parseCapNames,
} from '../../core/kernel/caps';
import { callerCapSets, specCapSets } from '../../core/runtime/oci/caps';

const bits = (...caps: number[]) => caps.reduce((m, c) => m | capBit(c), 0n);

describe('capabilities: execve credentials', () => {
  const user = () => makeCreds(1000, 1000);
  it('a set-user-ID-root file on a nosuid mount runs with the caller ids and no capabilities', () => {
    const r = execCreds(user(), { mode: 0o104755, uid: 0, gid: 0, nosuid: true }, false);
    assert.equal(r.creds.euid, 1000);
    assert.equal(r.creds.capEff, 0n);
    assert.equal(r.secure, false);
  });
  it('the same file on a suid mount: euid 0, every bounding capability, AT_SECURE', () => {
    const r = execCreds(user(), { mode: 0o104755, uid: 0, gid: 0, nosuid: false }, false);
    assert.equal(r.creds.euid, 0);
    assert.equal(r.creds.suid, 0);
    assert.equal(r.creds.uid, 1000);
    assert.equal(r.creds.capEff, CAP_FULL);
    assert.equal(r.secure, true);
  });
  it('set-group-ID without group execute is not a set-group-ID program', () => {
    const r = execCreds(user(), { mode: 0o102745, uid: 0, gid: 50, nosuid: false }, false);
    assert.equal(r.creds.egid, 1000);
    const r2 = execCreds(user(), { mode: 0o102755, uid: 0, gid: 50, nosuid: false }, false);
    assert.equal(r2.creds.egid, 50);
    assert.equal(r2.creds.sgid, 50);
  });
  it('no_new_privs: the set-ID bits give nothing', () => {
    const r = execCreds(user(), { mode: 0o106755, uid: 0, gid: 0, nosuid: false }, true);
    assert.deepEqual([r.creds.euid, r.creds.egid, r.creds.capPrm], [1000, 1000, 0n]);
  });
  it('the caller keeps its object: credentials are copied', () => {
    const c = user();
    const r = execCreds(c, undefined, false);
    r.creds.groups.push(5);
    assert.deepEqual(c.groups, []);
  });
});

describe('capabilities: config.json sets', () => {
  it('absent capabilities: every set empty, as runc', () => {
    const s = specCapSets(undefined);
    assert.deepEqual([s.capEff, s.capPrm, s.capInh, s.capBnd, s.capAmb], [0n, 0n, 0n, 0n, 0n]);
  });
  it('effective beyond permitted, inheritable beyond bounding, ambient beyond both are left out', () => {
    const s = specCapSets({
      bounding: ['CAP_CHOWN', 'CAP_KILL'],
      permitted: ['CAP_CHOWN'],
      effective: ['CAP_CHOWN', 'CAP_KILL'],
      inheritable: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_CHOWN', 'CAP_KILL'],
    });
    assert.equal(s.capEff, bits(CAP_CHOWN));
    assert.equal(s.capInh, bits(CAP_CHOWN));
    assert.equal(s.capAmb, bits(CAP_CHOWN));
    assert.equal(s.capBnd, bits(CAP_CHOWN, CAP_KILL));
  });
  it('names: any case, CAP_ optional; unknown ones reported', () => {
    const r = parseCapNames(['cap_kill', 'NET_BIND_SERVICE', 'CAP_NOPE']);
    assert.equal(r.set, bits(CAP_KILL, CAP_NET_BIND_SERVICE));
    assert.deepEqual(r.unknown, ['CAP_NOPE']);
  });
  it("runsc do's sets are this (root) process's own (/proc/self/status)", function () {
    if (process.getuid?.() !== 0) this.skip();
    const s = callerCapSets();
    assert.ok(s);
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    assert.ok(eff);
    assert.equal(s.capEff, BigInt(`0x${eff[1]}`));
  });
});
