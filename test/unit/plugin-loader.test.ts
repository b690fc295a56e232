import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../core/config/index';
import { createLogger } from '../../core/log/index';
import { FilesystemType, NetworkStack, Platform, Config, Logger, SandboxId } from '../../core/plugins/index';
import { loadPlugins } from '../../core/plugins/loader';
import { createSandboxContainer } from '../../core/runtime/sandbox-container';
import { FIXTURES, REPO, TempDirs } from '../cli/helpers';

/** A silent logger collecting its lines. */
function quietLog() {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger({ sink: { write: (l: string) => lines.push(l) }, format: 'json', level: 'debug' }),
  };
}

describe('plugins: loader and sandbox container', () => {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  /** A folder with a runsc.config.yaml whose plugin paths point at the fixtures. */
  function project(yaml: string): string {
    return tmp.withFiles({ 'runsc.config.yaml': yaml.replaceAll('$FIX', FIXTURES) });
  }
  const ROOTFS = 'rootfs: $FIX/fake-rootfs\n';

  async function loadIn(dir: string) {
    return loadConfig({ env: {}, cwd: dir });
  }

  async function rejects(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error).stack}`);
      for (const re of patterns) assert.match(e.message, re);
      return;
    }
    assert.fail('expected a ConfigError');
  }

  it('resolves the Platform of a third-party plugin loaded by path from the config file', async () => {
    const dir = project(`platform: $FIX/fake-platform\n${ROOTFS}`);
    const config = await loadIn(dir);
    const { log } = quietLog();
    const sb = await createSandboxContainer(config, { log, sandboxId: 'sb1' });
    try {
      const platform = sb.container.resolve<Platform & { shutdownCalls: number; options: unknown }>(Platform);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { FakePlatform } = require(path.join(FIXTURES, 'fake-platform')) as {
        FakePlatform: new () => unknown;
      };
      assert.ok(platform instanceof FakePlatform, 'the container resolves the fixture provider');
      assert.equal(platform.name, 'fake-platform');
      assert.deepEqual(platform.options, { mode: 'fast' }, 'schema defaults filled in');
      assert.equal(sb.plugins[0].origin, 'path');
      // network: none is loopback only: the built-in net-host in a fresh namespace.
      const net = sb.plugins.find((p) => p.slot === 'network');
      assert.equal(net?.manifest.name, 'net-host');
      assert.deepEqual(net?.options, { netns: 'loopback' });
      assert.equal(sb.container.isRegistered(NetworkStack, true), true);
      assert.equal(sb.container.resolveAll<FilesystemType>(FilesystemType)[0].name, 'fake-rootfs');
    } finally {
      await sb.dispose();
    }
  });

  it('swapping platform: in the file swaps the implementation (relative path from the file)', async () => {
    const dir = tmp.make();
    fs.cpSync(FIXTURES, path.join(dir, 'vendor'), { recursive: true });
    // The plugins find the tsvisor plugin API as a package, as after `npm install tsvisor`.
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'tsvisor'), 'dir');
    const file = path.join(dir, 'runsc.config.yaml');
    fs.writeFileSync(file, 'platform: ./vendor/fake-platform\nrootfs: ./vendor/fake-rootfs\n');
    // The config file's folder, not cwd, is the base of relative plugin paths.
    const cwd = tmp.make();
    const names: string[] = [];
    for (const spec of ['./vendor/fake-platform', './vendor/other-platform']) {
      fs.writeFileSync(file, `platform: ${spec}\nrootfs: ./vendor/fake-rootfs\n`);
      const config = await loadConfig({ env: {}, cwd, configFile: file });
      const sb = await createSandboxContainer(config, { log: quietLog().log });
      names.push(sb.container.resolve<Platform>(Platform).name);
      assert.equal(sb.plugins[0].modulePath, path.join(dir, spec, 'index.js'));
      await sb.dispose();
    }
    assert.deepEqual(names, ['fake-platform', 'other-platform']);
  });

  it('loads a plugin by npm package name from the config file folder', async () => {
    const dir = project(`platform: tsvisor-platform-fake\n${ROOTFS}`);
    const pkg = path.join(dir, 'node_modules', 'tsvisor-platform-fake');
    fs.cpSync(path.join(FIXTURES, 'fake-platform'), pkg, { recursive: true });
    fs.writeFileSync(
      path.join(pkg, 'package.json'),
      '{"name":"tsvisor-platform-fake","version":"1.2.3","main":"index.js"}',
    );
    // The plugin finds the tsvisor plugin API as a sibling package, as after `npm install tsvisor`.
    fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'tsvisor'), 'dir');
    const sb = await createSandboxContainer(await loadIn(dir), { log: quietLog().log });
    try {
      assert.equal(sb.plugins[0].origin, 'package');
      assert.equal(sb.container.resolve<Platform>(Platform).name, 'fake-platform');
    } finally {
      await sb.dispose();
    }
  });

  it('loads a plugin written as an ES module', async () => {
    const dir = project(`platform: $FIX/esm-platform/index.mjs\n${ROOTFS}`);
    const sb = await createSandboxContainer(await loadIn(dir), { log: quietLog().log });
    try {
      assert.equal(sb.container.resolve<Platform>(Platform).name, 'esm-platform');
    } finally {
      await sb.dispose();
    }
  });

  it('registers Config, Logger and SandboxId; dispose() shuts resolved plugins down once and is idempotent', async () => {
    const dir = project(`platform: $FIX/other-platform\nnetwork: $FIX/fake-network\n${ROOTFS}`);
    const config = await loadIn(dir);
    const { log } = quietLog();
    const sb = await createSandboxContainer(config, { log, sandboxId: 'abc123' });
    assert.equal(sb.container.resolve(Config), config);
    assert.equal(sb.container.resolve(Logger), log);
    assert.equal(sb.container.resolve(SandboxId), 'abc123');
    const platform = sb.container.resolve<Platform & { shutdownCalls: number }>(Platform);
    const net = sb.container.resolve<NetworkStack & { shutdownCalls: number }>(NetworkStack);
    assert.equal(
      sb.container.resolve(Platform),
      platform,
      'a ContainerScoped provider is made once per sandbox',
    );
    await Promise.all([sb.dispose(), sb.dispose()]);
    await sb.dispose();
    assert.equal(platform.shutdownCalls, 1);
    assert.equal(net.shutdownCalls, 1);
    assert.throws(() => sb.container.resolve(Platform), /disposed/);
  });

  it('does not construct a plugin just to shut it down', async () => {
    const dir = project(`platform: $FIX/fake-platform\n${ROOTFS}`);
    const sb = await createSandboxContainer(await loadIn(dir), { log: quietLog().log });
    await sb.dispose();
  });

  it('validates the plugin option block against the manifest configSchema', async () => {
    const ok = project(`platform: $FIX/fake-platform\n${ROOTFS}fake-platform:\n  mode: slow\n  cpus: 2\n`);
    const loaded = await loadPlugins(await loadIn(ok));
    assert.deepEqual(loaded.plugins[0].options, { mode: 'slow', cpus: 2 });

    const badEnum = project(`platform: $FIX/fake-platform\n${ROOTFS}fake-platform:\n  mode: fsat\n`);
    await rejects(
      loadPlugins(await loadIn(badEnum)),
      /runsc\.config\.yaml/,
      /field "fake-platform\.mode"/,
      /"fsat"/,
      /one of: "fast", "slow"/,
    );

    const badType = project(`platform: $FIX/fake-platform\n${ROOTFS}fake-platform:\n  cpus: lots\n`);
    await rejects(
      loadPlugins(await loadIn(badType)),
      /field "fake-platform\.cpus"/,
      /"lots" \(string\)/,
      /expected an integer/,
    );

    const unknown = project(`platform: $FIX/fake-platform\n${ROOTFS}fake-platform:\n  mdoe: fast\n`);
    await rejects(
      loadPlugins(await loadIn(unknown)),
      /field "fake-platform\.mdoe"/,
      /unknown option/,
      /did you mean 'mode'/,
    );
  });

  it('rejects an option block that belongs to no plugin', async () => {
    const dir = project(`platform: $FIX/fake-platform\n${ROOTFS}fake-platfrom:\n  mode: fast\n`);
    await rejects(
      loadPlugins(await loadIn(dir)),
      /unknown field "fake-platfrom"/,
      /did you mean 'fake-platform'/,
    );
  });

  describe('errors name the field, where its value came from, the spec and the problem', () => {
    it('unknown plugin name, listing where it looked', async () => {
      const dir = project('platform: ptrac\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /runsc\.config\.yaml: field "platform"/,
        /unknown plugin "ptrac"/,
        /did you mean "ptrace"/,
        /looked in: .*node_modules/,
      );
    });

    it('a path that does not exist', async () => {
      const dir = project('platform: ./no/such/plugin\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /field "platform"/,
        /"\.\/no\/such\/plugin" not found/,
        /looked for/,
      );
    });

    it('a module that is not a plugin', async () => {
      const dir = project('platform: $FIX/not-a-plugin\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /field "platform"/,
        /not-a-plugin/,
        /not a tsvisor plugin/,
        /no manifest/,
      );
    });

    it('a malformed manifest, with every problem', async () => {
      const dir = project('platform: $FIX/malformed\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /field "platform"/,
        /malformed plugin manifest/,
        /apiVersion is 2; this runsc reads apiVersion 1/,
        /register is undefined; expected a function/,
      );
    });

    it('a plugin of the wrong kind', async () => {
      const dir = project('platform: $FIX/fake-network\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /field "platform"/,
        /wrong plugin kind/,
        /a network plugin/,
        /needs a platform plugin/,
      );
    });

    it('a built-in of another slot', async () => {
      const dir = project('platform: gofer\n');
      await rejects(
        loadPlugins(await loadIn(dir)),
        /field "platform"/,
        /"gofer" is the built-in filesystem plugin/,
      );
    });

    it('a flag value names the flag', async () => {
      const dir = tmp.make();
      const config = await loadConfig({
        env: {},
        cwd: dir,
        flags: {
          platform: path.join(FIXTURES, 'fake-platform'),
          rootfs: path.join(FIXTURES, 'fake-rootfs'),
          network: 'nope-net',
        },
      });
      await rejects(loadPlugins(config), /flag --network \(field "network"\)/, /unknown plugin "nope-net"/);
    });

    it('a built-in missing from this build', async () => {
      const dir = tmp.make();
      const buildRoot = tmp.make(); // a build with no plugins at all
      const config = await loadConfig({ env: {}, cwd: dir, flags: { platform: 'kvm' } });
      await rejects(
        loadPlugins(config, { buildRoot }),
        /flag --platform/,
        /built-in platform plugin "kvm" is not available in this build/,
      );
      const lenient = await loadPlugins(config, { buildRoot, allowUnavailable: true });
      assert.deepEqual(
        lenient.unavailable.map((u) => u.spec),
        ['kvm', 'gofer'],
      );
    });

    it('a plugin whose register() binds nothing', async () => {
      const dir = project(`platform: $FIX/registers-nothing\n${ROOTFS}`);
      await assert.rejects(
        createSandboxContainer(await loadIn(dir), { log: quietLog().log }),
        /registers-nothing.*registered no Platform provider/,
      );
    });
  });
});
