/** config.json validation: every invalid field is named by its JSON path; the default spec is valid. */
import * as assert from 'node:assert/strict';
import { defaultSpec, loadSpec, SpecError, validateProcess, validateSpec } from '../../core/runtime/oci/spec';

function problems(edit: (s: Record<string, any>) => void): string[] {
  const s = JSON.parse(JSON.stringify(defaultSpec(['sh'], false))) as Record<string, any>;
  edit(s);
  try {
    validateSpec(s);
  } catch (e) {
    assert.ok(e instanceof SpecError, String(e));
    return e.problems.map((p) => p.path);
  }
  return [];
}

describe('oci: config.json validation', () => {
  it('accepts the default spec (runsc spec)', () => {
    assert.deepEqual(
      problems(() => undefined),
      [],
    );
  });

  const cases: [string, (s: Record<string, any>) => void, string[]][] = [
    ['missing ociVersion', (s) => delete s.ociVersion, ['ociVersion']],
    ['ociVersion not 1.x', (s) => (s.ociVersion = '2.0'), ['ociVersion']],
    ['missing process', (s) => delete s.process, ['process']],
    ['empty args', (s) => (s.process.args = []), ['process.args']],
    ['args not strings', (s) => (s.process.args = ['sh', 3]), ['process.args[1]']],
    ['env without =', (s) => s.process.env.push('JUSTNAME'), ['process.env[2]']],
    ['relative cwd', (s) => (s.process.cwd = 'tmp'), ['process.cwd']],
    ['negative uid', (s) => (s.process.user.uid = -1), ['process.user.uid']],
    ['gid not a number', (s) => (s.process.user.gid = '0'), ['process.user.gid']],
    ['terminal not boolean', (s) => (s.process.terminal = 'yes'), ['process.terminal']],
    ['unknown rlimit', (s) => (s.process.rlimits[0].type = 'RLIMIT_FOO'), ['process.rlimits[0].type']],
    ['soft above hard', (s) => (s.process.rlimits[0].soft = 4096), ['process.rlimits[0].soft']],
    [
      'unknown capability',
      (s) => s.process.capabilities.bounding.push('CAP_FLY'),
      ['process.capabilities.bounding[3]'],
    ],
    ['root missing', (s) => delete s.root, ['root']],
    ['root.path not string', (s) => (s.root.path = 1), ['root.path']],
    ['root.readonly not boolean', (s) => (s.root.readonly = 'no'), ['root.readonly']],
    ['hostname not string', (s) => (s.hostname = 5), ['hostname']],
    ['mount without destination', (s) => delete s.mounts[1].destination, ['mounts[1].destination']],
    ['relative mount destination', (s) => (s.mounts[0].destination = 'proc'), ['mounts[0].destination']],
    ['unsupported mount type', (s) => (s.mounts[2].type = 'nfs'), ['mounts[2].type']],
    [
      'bind mount without source',
      (s) => s.mounts.push({ destination: '/x', type: 'bind' }),
      ['mounts[6].source'],
    ],
    ['mount options not strings', (s) => (s.mounts[3].options = ['nosuid', 1]), ['mounts[3].options[1]']],
    ['unknown namespace', (s) => s.linux.namespaces.push({ type: 'space' }), ['linux.namespaces[5].type']],
    ['duplicate namespace', (s) => s.linux.namespaces.push({ type: 'pid' }), ['linux.namespaces[5].type']],
    ['hook without path', (s) => (s.hooks = { poststart: [{ args: ['x'] }] }), ['hooks.poststart[0].path']],
    ['hook relative path', (s) => (s.hooks = { prestart: [{ path: 'bin/x' }] }), ['hooks.prestart[0].path']],
    [
      'hook timeout 0',
      (s) => (s.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] }),
      ['hooks.poststop[0].timeout'],
    ],
    ['annotation not string', (s) => (s.annotations = { a: 1 }), ['annotations.a']],
    [
      'several at once',
      (s) => {
        s.process.cwd = 'x';
        s.root.path = '';
        s.mounts[0].type = 'weird';
      },
      ['process.cwd', 'root.path', 'mounts[0].type'],
    ],
  ];
  for (const [name, edit, paths] of cases) {
    it(`rejects ${name}, naming ${paths.join(', ')}`, () => {
      assert.deepEqual(problems(edit), paths);
    });
  }

  it('ignores unknown properties, as the spec requires', () => {
    assert.deepEqual(
      problems((s) => (s.vendorThing = { x: 1 })),
      [],
    );
  });

  it('the error message names the file and each path', () => {
    assert.throws(
      () =>
        validateSpec(
          {
            ociVersion: '1.0.2',
            root: { path: 'r' },
            process: { user: { uid: 0, gid: 0 }, args: [], cwd: '/' },
          },
          '/b/config.json',
        ),
      (e: Error) =>
        e.message.startsWith('/b/config.json: invalid field: process.args: ') && e.message.includes('empty'),
    );
  });

  it('loadSpec reports a missing file and bad JSON', () => {
    assert.throws(
      () =>
        loadSpec('/nonexistent', () => {
          throw Object.assign(new Error('x'), { code: 'ENOENT' });
        }),
      /\/nonexistent\/config.json: invalid field: \(file\): no such file/,
    );
    assert.throws(() => loadSpec('/b', () => '{"ociVersion": '), /\/b\/config.json: .*not valid JSON/);
  });

  it('validateProcess checks an exec --process file', () => {
    assert.throws(
      () => validateProcess({ user: { uid: 0, gid: 0 }, args: ['ls'], cwd: 'rel' }, 'p.json'),
      /p.json: invalid field: process.cwd/,
    );
    assert.equal(
      validateProcess({ user: { uid: 0, gid: 0 }, args: ['ls'], cwd: '/' }, 'p.json').args[0],
      'ls',
    );
  });
});
