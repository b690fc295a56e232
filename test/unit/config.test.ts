import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DEFAULTS, describeSource, loadConfig } from '../../core/config/index';
import { CONTAINER_DEFAULTS } from '../../core/config/schema';
import { TempDirs } from '../cli/helpers';

describe('config: loadConfig', () => {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  /** loadConfig in `cwd` with no host environment. */
  const load = (cwd: string, opts: Parameters<typeof loadConfig>[0] = {}) =>
    loadConfig({ env: {}, cwd, ...opts });

  async function rejects(p: Promise<unknown>, ...patterns: RegExp[]): Promise<ConfigError> {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      for (const re of patterns) assert.match(e.message, re);
      assert.equal(e.exitCode, 3);
      return e;
    }
    assert.fail('expected loadConfig to reject');
  }

  it('uses the defaults when nothing is set, and says so', async () => {
    const dir = tmp.make();
    const c = await load(dir);
    assert.deepEqual(c.values, DEFAULTS);
    assert.equal(c.values.platform, 'ptrace');
    assert.equal(c.values.network, 'none');
    assert.equal(c.values.rootfs, 'gofer');
    assert.equal(c.values.root, '/var/run/tsvisor');
    assert.equal(c.file, undefined);
    for (const s of Object.values(c.sources)) assert.equal(describeSource(s), 'default');
  });

  it("a container's defaults (create/run): network netstack, still overridden by a file, env or flag", async () => {
    const dir = tmp.make();
    const c = await load(dir, { defaults: CONTAINER_DEFAULTS });
    assert.deepEqual(c.values, { ...DEFAULTS, network: 'netstack' });
    assert.equal(describeSource(c.sources.network), 'default');
    const f = await load(tmp.withFiles({ 'runsc.config.yaml': 'network: host\n' }), {
      defaults: CONTAINER_DEFAULTS,
    });
    assert.equal(f.values.network, 'host');
    const e = await load(dir, { defaults: CONTAINER_DEFAULTS, env: { RUNSC_NETWORK: 'none' } });
    assert.equal(e.values.network, 'none');
    const g = await load(dir, { defaults: CONTAINER_DEFAULTS, flags: { network: 'none' } });
    assert.equal(g.values.network, 'none');
  });

  it('finds runsc.config.yaml in cwd and records file sources', async () => {
    const dir = tmp.withFiles({ 'runsc.config.yaml': 'platform: kvm\ndebug: true\nroot: state\n' });
    const c = await load(dir);
    const file = path.join(dir, 'runsc.config.yaml');
    assert.equal(c.file, file);
    assert.equal(c.values.platform, 'kvm');
    assert.equal(c.values.debug, true);
    assert.equal(c.values.root, path.join(dir, 'state'), 'relative paths in a file are relative to the file');
    assert.deepEqual(c.sources.platform, { kind: 'file', path: file });
    assert.deepEqual(c.sources.network, { kind: 'default' });
  });

  it('searches up from a subfolder to the project root', async () => {
    const dir = tmp.withFiles({
      'package.json': '{"name":"x"}',
      '.runscrc': 'network: host\n',
      'a/b/.keep': '',
    });
    const c = await load(path.join(dir, 'a', 'b'));
    assert.equal(c.file, path.join(dir, '.runscrc'));
    assert.equal(c.values.network, 'host');
  });

  const formats: [string, string][] = [
    ['runsc.config.json', '{"platform": "kvm"}'],
    ['runsc.config.yml', 'platform: kvm'],
    ['runsc.config.js', 'module.exports = { platform: "kvm" };'],
    ['runsc.config.cjs', 'module.exports = { platform: "kvm" };'],
    ['.runscrc', '{"platform": "kvm"}'],
    ['.runscrc', 'platform: kvm'],
    ['package.json', '{"name": "p", "runsc": {"platform": "kvm"}}'],
  ];
  for (const [name, content] of formats) {
    it(`reads ${name} (${content.slice(0, 12)}...)`, async () => {
      const dir = tmp.withFiles({ [name]: content });
      const c = await load(dir);
      assert.equal(c.values.platform, 'kvm');
      assert.equal(c.file, path.join(dir, name));
    });
  }

  it('applies flags > env > file > defaults and records each source', async () => {
    const dir = tmp.withFiles({ 'runsc.config.yaml': 'platform: kvm\nnetwork: host\nrootfs: containerfs\n' });
    const c = await load(dir, {
      env: { RUNSC_NETWORK: 'netstack', RUNSC_PLATFORM: 'from-env', RUNSC_DEBUG: 'yes' },
      flags: { platform: 'ptrace' },
    });
    assert.equal(c.values.platform, 'ptrace');
    assert.deepEqual(c.sources.platform, { kind: 'flag', name: '--platform' });
    assert.equal(c.values.network, 'netstack');
    assert.deepEqual(c.sources.network, { kind: 'env', name: 'RUNSC_NETWORK' });
    assert.equal(c.values.rootfs, 'containerfs');
    assert.equal(describeSource(c.sources.rootfs), `file ${path.join(dir, 'runsc.config.yaml')}`);
    assert.equal(c.values.debug, true);
    assert.equal(c.values.strace, false);
    assert.equal(describeSource(c.sources.strace), 'default');
  });

  it('a --no-debug flag (false) overrides debug: true in the file', async () => {
    const dir = tmp.withFiles({ 'runsc.config.yaml': 'debug: true\n' });
    const c = await load(dir, { flags: { debug: false } });
    assert.equal(c.values.debug, false);
    assert.equal(describeSource(c.sources.debug), 'flag --debug');
  });

  it('reads the file named by --config (no search) or by RUNSC_CONFIG', async () => {
    const dir = tmp.withFiles({ 'runsc.config.yaml': 'platform: kvm\n', 'other.yaml': 'platform: other\n' });
    const a = await load(dir, { configFile: 'other.yaml' });
    assert.equal(a.values.platform, 'other');
    assert.deepEqual(a.fileSource, { kind: 'flag', name: '--config' });
    const b = await load(dir, { env: { RUNSC_CONFIG: path.join(dir, 'other.yaml') } });
    assert.equal(b.values.platform, 'other');
    assert.deepEqual(b.fileSource, { kind: 'env', name: 'RUNSC_CONFIG' });
  });

  it('keeps object-valued keys as plugin option blocks', async () => {
    const dir = tmp.withFiles({ 'runsc.config.yaml': 'ptrace:\n  cpu: 1\n' });
    const c = await load(dir);
    assert.deepEqual(c.pluginOptions, { ptrace: { cpu: 1 } });
  });

  describe('errors name the file, the field, the value and what is allowed', () => {
    it('wrong type', async () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': 'debug: "sometimes"\n' });
      await rejects(
        load(dir),
        /runsc\.config\.yaml/,
        /field "debug"/,
        /"sometimes"/,
        /expected a boolean \(true or false\)/,
      );
    });

    it('plugin field of the wrong type', async () => {
      const dir = tmp.withFiles({ 'runsc.config.json': '{"platform": 42}' });
      await rejects(load(dir), /runsc\.config\.json/, /field "platform"/, /42 \(integer\)/, /ptrace, kvm/);
    });

    it('bad enum value, with a suggestion', async () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': 'logFormat: jsno\n' });
      await rejects(load(dir), /field "logFormat"/, /"jsno"/, /one of: text, json/, /did you mean 'json'/);
    });

    it('unknown key, with a did-you-mean', async () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': 'platfrom: ptrace\n' });
      await rejects(load(dir), /runsc\.config\.yaml/, /unknown field "platfrom"/, /did you mean 'platform'/);
    });

    it('invalid YAML', async () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': 'platform: [ptrace\nnetwork: none\n' });
      await rejects(load(dir), /runsc\.config\.yaml/, /invalid YAML/, /\(2:1\)/, /platform: \[ptrace/);
    });

    it('invalid JSON', async () => {
      const dir = tmp.withFiles({ 'runsc.config.json': '{"platform": "ptrace",}' });
      await rejects(load(dir), /runsc\.config\.json/, /invalid JSON/);
    });

    it('a config file that does not exist', async () => {
      const dir = tmp.make();
      await rejects(
        load(dir, { configFile: 'nope.yaml' }),
        /cannot read config file .*nope\.yaml/,
        /flag --config/,
        /no such file/,
      );
    });

    it('a config file that is a directory', async () => {
      const dir = tmp.make();
      fs.mkdirSync(path.join(dir, 'conf.yaml'));
      await rejects(
        load(dir, { configFile: 'conf.yaml' }),
        /cannot read config file .*conf\.yaml/,
        /is a directory/,
      );
    });

    it('a file that is not a mapping', async () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': '- ptrace\n- kvm\n' });
      await rejects(load(dir), /runsc\.config\.yaml/, /expected a mapping/, /array/);
    });

    it('a bad boolean in the environment names the variable', async () => {
      const dir = tmp.make();
      await rejects(
        load(dir, { env: { RUNSC_STRACE: 'maybe' } }),
        /env RUNSC_STRACE/,
        /field "strace"/,
        /"maybe"/,
      );
    });

    it('an unsupported extension for --config', async () => {
      const dir = tmp.withFiles({ 'x.toml': 'platform = "kvm"' });
      await rejects(load(dir, { configFile: 'x.toml' }), /x\.toml/, /unsupported extension ".toml"/);
    });

    it('a config module that throws', async () => {
      const dir = tmp.withFiles({ 'runsc.config.js': 'throw new Error("boom from config");' });
      await rejects(load(dir), /runsc\.config\.js/, /boom from config/);
    });
  });
});
