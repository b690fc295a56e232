/** runsc install: merges the runtime into daemon.json and keeps a backup of the old file. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateSpec } from '../../core/runtime/oci/spec';
import { runTo, BIN, isRoot, tmpDir } from './helpers';

describe('oci: runsc install (Docker daemon.json)', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = tmpDir('tsvisor-install-')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('merges into an existing file, keeping other settings and runtimes, with a backup', async () => {
    const file = path.join(dir, 'daemon.json');
    const old = { 'log-driver': 'json-file', runtimes: { other: { path: '/usr/bin/other' } } };
    fs.writeFileSync(file, JSON.stringify(old));
    const r = await runTo(process.execPath, [
      BIN,
      'install',
      '--config-file',
      file,
      '--runtime',
      'tsv',
      '--',
      '--platform=ptrace',
      '--debug',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const now = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(now['log-driver'], 'json-file');
    assert.deepEqual(now.runtimes.other, { path: '/usr/bin/other' });
    assert.deepEqual(now.runtimes.tsv.runtimeArgs, ['--platform=ptrace', '--debug']);
    assert.ok(fs.existsSync(now.runtimes.tsv.path) && now.runtimes.tsv.path.endsWith('bin/run.js'));
    assert.deepEqual(JSON.parse(fs.readFileSync(`${file}.bak`, 'utf8')), old);
  });

  it('creates the file when there is none', async () => {
    const file = path.join(dir, 'new', 'daemon.json');
    const r = await runTo(process.execPath, [BIN, 'install', '--config-file', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).runtimes), ['runsc']);
    assert.ok(!fs.existsSync(`${file}.bak`));
  });

  it('refuses a daemon.json that is not JSON, leaving it untouched', async () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{ nope');
    const r = await runTo(process.execPath, [BIN, 'install', '--config-file', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.json is not valid JSON/);
    assert.equal(fs.readFileSync(file, 'utf8'), '{ nope');
  });
});

describe('oci: runsc spec', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = tmpDir('tsvisor-spec-')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a valid default config.json like runc spec, and refuses to overwrite it', async () => {
    const ours = path.join(dir, 'ours');
    fs.mkdirSync(ours);
    let r = await runTo(process.execPath, [BIN, 'spec', '--bundle', ours]);
    assert.equal(r.code, 0, r.stderr);
    const spec = JSON.parse(fs.readFileSync(path.join(ours, 'config.json'), 'utf8'));
    validateSpec(spec);
    assert.deepEqual(spec.process.args, ['sh']);
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.root, { path: 'rootfs', readonly: true });
    r = await runTo(process.execPath, [BIN, 'spec', '--bundle', ours]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.json exists\. Remove it first\./);
    if (isRoot() && fs.existsSync('/usr/sbin/runc')) {
      const theirs = path.join(dir, 'theirs');
      fs.mkdirSync(theirs);
      assert.equal((await runTo('runc', ['spec', '--bundle', theirs])).code, 0);
      const t = JSON.parse(fs.readFileSync(path.join(theirs, 'config.json'), 'utf8'));
      // The same shape: the same process, root and mount destinations.
      assert.deepEqual(spec.process.args, t.process.args);
      assert.deepEqual(spec.process.env, t.process.env);
      assert.deepEqual(spec.root, t.root);
      const dests = (s: { mounts: { destination: string }[] }): string[] =>
        s.mounts.map((m) => m.destination);
      for (const d of dests(spec)) assert.ok(dests(t).includes(d), `runc spec also mounts ${d}`);
      // runc's own spec passes our validation.
      validateSpec(t);
    }
  });
});
