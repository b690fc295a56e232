/** How runsc's argument normaliser treats the OCI commands (as containerd's shim and runc users call them). */
import * as assert from 'node:assert/strict';
import { normalizeArgv } from '../../cli/src/argv';

describe('oci: command lines', () => {
  it("moves containerd's global flags (with their values) after the command", () => {
    assert.deepEqual(
      normalizeArgv([
        '--root',
        '/run/r',
        '--log',
        '/s/log.json',
        '--log-format',
        'json',
        'create',
        '--bundle',
        '/b',
        '--pid-file',
        '/b/init.pid',
        'c1',
      ]),
      [
        'create',
        '--bundle',
        '/b',
        '--pid-file',
        '/b/init.pid',
        'c1',
        '--root',
        '/run/r',
        '--log',
        '/s/log.json',
        '--log-format',
        'json',
      ],
    );
  });

  it('exec: the program and its own flags after the id are passed through untouched', () => {
    assert.deepEqual(
      normalizeArgv([
        '--root',
        '/r',
        'exec',
        '-e',
        'X=1',
        '-u',
        '1000',
        '--cwd',
        '/tmp',
        'c1',
        'sh',
        '-c',
        'echo --root -x',
      ]),
      [
        'exec',
        '--root',
        '/r',
        '-e',
        'X=1',
        '-u',
        '1000',
        '--cwd',
        '/tmp',
        'c1',
        '--',
        'sh',
        '-c',
        'echo --root -x',
      ],
    );
    // containerd's form: no program, the process in a file.
    assert.deepEqual(
      normalizeArgv([
        '--root',
        '/r',
        'exec',
        '--process',
        '/p.json',
        '--detach',
        '--pid-file',
        '/e.pid',
        'c1',
      ]),
      ['exec', '--root', '/r', '--process', '/p.json', '--detach', '--pid-file', '/e.pid', 'c1'],
    );
  });

  it('Go-style single-dash spellings of the lifecycle flags', () => {
    assert.deepEqual(normalizeArgv(['-root=/r', 'kill', 'c1', 'KILL']), ['kill', 'c1', 'KILL', '--root=/r']);
    assert.deepEqual(normalizeArgv(['run', '-bundle', '/b', 'c1']), ['run', '--bundle', '/b', 'c1']);
  });
});
