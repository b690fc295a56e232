import * as assert from 'node:assert/strict';
import { normalizeArgv, passthroughStart } from '../../cli/src/argv';

describe('cli: normalizeArgv (Go-style flags)', () => {
  const cases: [string[], string[]][] = [
    [
      ['-platform=ptrace', 'do', 'ls'],
      ['do', '--platform=ptrace', '--', 'ls'],
    ],
    [
      ['-debug', '-root', '/x', 'config', 'show'],
      ['config', 'show', '--debug', '--root', '/x'],
    ],
    [
      ['config', 'show', '-platform', 'kvm', '-json'],
      ['config', 'show', '--platform', 'kvm', '--json'],
    ],
    [
      ['-debug=false', 'config', 'show'],
      ['config', 'show', '--no-debug'],
    ],
    [
      ['--strace=true', 'config', 'show'],
      ['config', 'show', '--strace'],
    ],
    [['--version'], ['--version']],
    [['-version'], ['--version']],
    [['--help'], ['--help']],
    [
      ['help', 'do'],
      ['help', 'do'],
    ],
    // Nothing after the program (or after --) is touched.
    [
      ['do', '-cwd', '/tmp', '/bin/ls', '-la', '-debug', '--help'],
      ['do', '--cwd', '/tmp', '--', '/bin/ls', '-la', '-debug', '--help'],
    ],
    [
      ['do', '--', '-weird-prog', '-platform=x'],
      ['do', '--', '-weird-prog', '-platform=x'],
    ],
    [
      ['do', '-env', 'A=1', '-env=B=2', 'env'],
      ['do', '--env', 'A=1', '--env=B=2', '--', 'env'],
    ],
    [
      ['config', 'show', '--', '-platform=x'],
      ['config', 'show', '--', '-platform=x'],
    ],
    // Unknown single-dash flags are left for oclif to report.
    [
      ['config', 'show', '-bogus'],
      ['config', 'show', '-bogus'],
    ],
    [['do'], ['do']],
  ];
  for (const [input, want] of cases) {
    it(`${input.join(' ')} → ${want.join(' ')}`, () => {
      assert.deepEqual(normalizeArgv(input), want);
    });
  }

  it('passthroughStart skips flag values and honours --', () => {
    assert.equal(passthroughStart(['--cwd', '/x', 'prog', 'a'], 0), 2);
    assert.equal(passthroughStart(['--debug', 'prog'], 0), 1);
    assert.equal(passthroughStart(['--', 'prog'], 0), 1);
    assert.equal(passthroughStart(['--uid', '3'], 0), -1);
    assert.equal(passthroughStart(['cid', 'prog'], 1), 1);
  });
});
