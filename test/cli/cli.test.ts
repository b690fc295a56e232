import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, REPO, runCli, TempDirs, type CliResult } from './helpers';

/** Asserts the exit status, showing the output when it differs. */
function status(r: CliResult, want: number): void {
  assert.equal(r.status, want, `exit ${r.status}, want ${want}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

describe('cli: runsc (node bin/run.js)', function () {
  this.timeout(60_000);
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  it('--version prints the version', () => {
    const r = runCli(['--version']);
    status(r, 0);
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.match(r.stdout, new RegExp(`^tsvisor/${version.replaceAll('.', '\\.')} linux-x64 node-v`));
  });

  it('--help lists the commands and topics, not the hidden ones', () => {
    const r = runCli(['--help']);
    status(r, 0);
    assert.match(r.stdout, /USAGE\s+\$ runsc \[COMMAND\]/);
    assert.match(r.stdout, /\bdo\s+Run a command in a new sandbox/);
    assert.match(r.stdout, /\bconfig\s+Show the effective configuration/);
    assert.doesNotMatch(r.stdout, /\bboot\b|\bgofer\b/);
  });

  it('help do shows its usage, flags, the global flags and examples', () => {
    const r = runCli(['help', 'do']);
    status(r, 0);
    for (const re of [
      /\$ runsc do \[FLAGS\] \[--\] COMMAND \[ARG\.\.\.\]/,
      /--cwd=DIR/,
      /--env=NAME=VALUE/,
      /--root-dir=DIR/,
      /GLOBAL FLAGS/,
      /--platform=NAME/,
      /--\[no-\]debug/,
      /EXAMPLES/,
    ]) {
      assert.match(r.stdout, re);
    }
    assert.equal(runCli(['do', '--help']).stdout, r.stdout);
  });

  it('an unknown command fails with a suggestion and exit 2', () => {
    const r = runCli(['confg', 'show']);
    status(r, 2);
    assert.match(r.stderr, /command "confg show" not found/);
    assert.match(r.stderr, /Did you mean "config show"/);
  });

  it('an unknown flag fails with oclif message and exit 2', () => {
    const r = runCli(['config', 'show', '--plattform', 'kvm']);
    status(r, 2);
    assert.match(r.stderr, /Nonexistent flag: --plattform/);
    assert.match(r.stderr, /Did you mean --platform/);
  });

  it('a bad --log-format value is a usage error naming the flag', () => {
    const r = runCli(['config', 'show', '--log-format', 'xml']);
    status(r, 2);
    assert.match(r.stderr, /--log-format/);
    assert.match(r.stderr, /text, json/);
  });

  it('boot and gofer are internal: exit 2 with an explanation', () => {
    for (const cmd of ['boot', 'gofer']) {
      const r = runCli([cmd]);
      status(r, 2);
      assert.match(
        r.stderr,
        new RegExp(`runsc ${cmd}: internal command: used by runsc create/run; not for direct use`),
      );
    }
  });

  it('do without a command is a usage error', () => {
    const r = runCli(['do']);
    status(r, 2);
    assert.match(r.stderr, /missing the command to run/);
  });

  it('do --env without = names the flag', () => {
    const r = runCli(['do', '--env', 'NOEQUALS', '/bin/true']);
    status(r, 2);
    assert.match(r.stderr, /--env "NOEQUALS": expected NAME=VALUE/);
  });

  describe('config show', () => {
    it('reports the source of each value: flag, env, file, default', () => {
      const dir = tmp.withFiles({ 'runsc.config.yaml': `rootfs: ${FIXTURES}/fake-rootfs\nstrace: true\n` });
      const r = runCli(['config', 'show', '--json', '--platform', `${FIXTURES}/fake-platform`], {
        cwd: dir,
        env: { RUNSC_DEBUG: '1' },
      });
      status(r, 0);
      const out = JSON.parse(r.stdout) as {
        file: string;
        values: Record<string, unknown>;
        sources: Record<string, { kind: string; name?: string; path?: string }>;
        plugins: { slot: string; status: string; name?: string }[];
      };
      const file = path.join(dir, 'runsc.config.yaml');
      assert.equal(out.file, file);
      assert.deepEqual(out.sources.platform, { kind: 'flag', name: '--platform' });
      assert.deepEqual(out.sources.debug, { kind: 'env', name: 'RUNSC_DEBUG' });
      assert.deepEqual(out.sources.strace, { kind: 'file', path: file });
      assert.deepEqual(out.sources.root, { kind: 'default' });
      assert.equal(out.values.debug, true);
      assert.equal(out.values.root, '/var/run/tsvisor');
      assert.deepEqual(
        out.plugins.map((p) => [p.slot, p.status, p.name]),
        [
          ['platform', 'ok', 'fake-platform'],
          // network: none is the built-in net-host in a loopback-only namespace.
          ['network', 'ok', 'net-host'],
          ['rootfs', 'ok', 'fake-rootfs'],
        ],
      );

      const text = runCli(['config', 'show', '--platform', `${FIXTURES}/fake-platform`], {
        cwd: dir,
        env: { RUNSC_DEBUG: '1' },
      });
      status(text, 0);
      assert.match(text.stdout, /^platform\s+\S+fake-platform\s+flag --platform$/m);
      assert.match(text.stdout, /^debug\s+true\s+env RUNSC_DEBUG$/m);
      assert.match(text.stdout, new RegExp(`^strace\\s+true\\s+file ${file}$`, 'm'));
      assert.match(text.stdout, /^root\s+\/var\/run\/tsvisor\s+default$/m);
    });

    it("--for container shows a container's defaults (network netstack), --for do (the default) runsc do's; a file still wins", () => {
      const show = (dir: string, ...extra: string[]) => {
        const r = runCli(['config', 'show', '--json', ...extra], { cwd: dir });
        status(r, 0);
        const out = JSON.parse(r.stdout) as {
          defaults: string;
          values: { network: string };
          sources: { network: { kind: string } };
        };
        return [out.defaults, out.values.network, out.sources.network.kind];
      };
      const empty = tmp.make();
      assert.deepEqual(show(empty), ['do', 'none', 'default']);
      assert.deepEqual(show(empty, '--for', 'do'), ['do', 'none', 'default']);
      assert.deepEqual(show(empty, '--for', 'container'), ['container', 'netstack', 'default']);
      const withFile = tmp.withFiles({ 'runsc.config.yaml': 'network: host\n' });
      assert.deepEqual(show(withFile, '--for', 'container'), ['container', 'host', 'file']);
      const text = runCli(['config', 'show', '--for', 'container'], { cwd: empty });
      status(text, 0);
      assert.match(text.stdout, /^network\s+netstack\s+default$/m);
      const bad = runCli(['config', 'show', '--for', 'pod'], { cwd: empty });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--for=pod to be one of: do, container/);
    });

    it('accepts gVisor single-dash flags (-platform=ptrace before the command)', () => {
      const dir = tmp.make();
      const r = runCli(['-platform=ptrace', '-debug', '-root', '/tmp/state', 'config', 'show', '-json'], {
        cwd: dir,
      });
      status(r, 0);
      const out = JSON.parse(r.stdout) as {
        values: Record<string, unknown>;
        sources: Record<string, { kind: string }>;
      };
      assert.equal(out.values.platform, 'ptrace');
      assert.equal(out.sources.platform.kind, 'flag');
      assert.equal(out.values.debug, true);
      assert.equal(out.values.root, '/tmp/state');
    });

    it('swapping platform: in the file swaps the plugin it reports', () => {
      const dir = tmp.make();
      const file = path.join(dir, 'runsc.config.yaml');
      for (const name of ['fake-platform', 'other-platform']) {
        fs.writeFileSync(file, `platform: ${FIXTURES}/${name}\nrootfs: ${FIXTURES}/fake-rootfs\n`);
        const r = runCli(['config', 'show', '--json'], { cwd: dir });
        status(r, 0);
        const out = JSON.parse(r.stdout) as { plugins: { slot: string; name?: string }[] };
        assert.equal(out.plugins.find((p) => p.slot === 'platform')?.name, name);
      }
    });
  });

  describe('config errors: a clear message, exit 3, and nothing starts', () => {
    const cases: { name: string; files: Record<string, string>; args?: string[]; patterns: RegExp[] }[] = [
      {
        name: 'unknown plugin',
        files: { 'c.yaml': 'platform: ptracee\n' },
        patterns: [/c\.yaml: field "platform"/, /unknown plugin "ptracee"/, /did you mean "ptrace"/],
      },
      {
        name: 'wrong type',
        files: { 'c.yaml': 'debug: 3\n' },
        patterns: [/c\.yaml: field "debug"/, /invalid value 3 \(integer\)/, /expected a boolean/],
      },
      {
        name: 'unknown key',
        files: { 'c.yaml': 'stace: true\n' },
        patterns: [/c\.yaml: unknown field "stace"/, /did you mean 'strace'/],
      },
      {
        name: 'unreadable file',
        files: {},
        patterns: [/cannot read config file .*c\.yaml/, /from flag --config/, /no such file/],
      },
      {
        name: 'invalid YAML',
        files: { 'c.yaml': 'platform: "ptrace\n' },
        patterns: [/c\.yaml/, /invalid YAML/],
      },
      {
        name: 'invalid JSON',
        files: { 'c.json': '{ "platform": ptrace }' },
        args: ['--config', 'c.json'],
        patterns: [/c\.json/, /invalid JSON/],
      },
      {
        name: 'wrong plugin kind',
        files: { 'c.yaml': `platform: ${FIXTURES}/fake-network\n` },
        patterns: [/c\.yaml: field "platform"/, /wrong plugin kind/, /needs a platform plugin/],
      },
      {
        name: 'malformed manifest',
        files: { 'c.yaml': `platform: ${FIXTURES}/malformed\n` },
        patterns: [/c\.yaml: field "platform"/, /malformed plugin manifest/, /apiVersion is 2/],
      },
      {
        name: 'not a plugin',
        files: { 'c.yaml': `platform: ${FIXTURES}/not-a-plugin\n` },
        patterns: [/c\.yaml: field "platform"/, /not a tsvisor plugin/],
      },
      {
        name: 'bad plugin option',
        files: { 'c.yaml': `platform: ${FIXTURES}/fake-platform\nfake-platform:\n  mode: warp\n` },
        patterns: [/c\.yaml: field "fake-platform\.mode"/, /"warp"/, /one of: "fast", "slow"/],
      },
    ];
    const messages = new Set<string>();
    for (const c of cases) {
      it(c.name, () => {
        const dir = tmp.withFiles(c.files);
        const args = c.args ?? ['--config', 'c.yaml'];
        const r = runCli(['config', 'show', ...args], { cwd: dir });
        status(r, 3);
        assert.equal(r.stdout, '', 'nothing is printed on stdout');
        for (const re of c.patterns) assert.match(r.stderr, re);
        messages.add(r.stderr.replaceAll(dir, 'DIR'));

        // The same config stops `do` before anything runs.
        const marker = path.join(dir, 'ran');
        const d = runCli([...args, 'do', '/usr/bin/touch', marker], { cwd: dir });
        status(d, 3);
        assert.equal(fs.existsSync(marker), false, 'the program must not run');
      });
    }
    after(() => assert.equal(messages.size, cases.length, 'each error case has its own message'));
  });
});
