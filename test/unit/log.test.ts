import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger, formatText, levelFor } from '../../core/log/index';
import { TempDirs } from '../cli/helpers';

describe('log: createLogger', () => {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  function collect() {
    const lines: string[] = [];
    return { lines, sink: { write: (l: string) => lines.push(l) } };
  }

  it('json: every line of a task logger carries the sandbox id and the tid', () => {
    const { lines, sink } = collect();
    const log = createLogger({ sandboxId: 'sb-42', sink, format: 'json', debug: true });
    const task = log.child({ tid: 7 });
    task.debug({ sysno: 0 }, 'read');
    task.child({ fd: 3 }).warn('short read');
    log.info('sandbox started');
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(recs.length, 3);
    for (const r of recs) assert.equal(r.sandboxId, 'sb-42');
    assert.equal(recs[0].tid, 7);
    assert.equal(recs[0].level, 'debug');
    assert.equal(recs[0].msg, 'read');
    assert.equal(recs[0].sysno, 0);
    assert.equal(recs[1].tid, 7);
    assert.equal(recs[1].fd, 3);
    assert.equal(recs[2].tid, undefined);
  });

  it('text: one readable line with the level, sandbox and tid', () => {
    const { lines, sink } = collect();
    const log = createLogger({ sandboxId: 'sb-42', sink, format: 'text', debug: true });
    log.child({ tid: 3 }).info({ path: '/etc/passwd', flags: 0 }, 'open');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^I \d{4}-\d\d-\d\dT[\d:.]+Z \d+ \[sb-42 tid=3\] open path=\/etc\/passwd flags=0\n$/,
    );
  });

  it('levels: warn by default, info with strace, debug with --debug', () => {
    assert.equal(levelFor({}), 'warn');
    assert.equal(levelFor({ strace: true }), 'info');
    assert.equal(levelFor({ debug: true, strace: true }), 'debug');
    const { lines, sink } = collect();
    const log = createLogger({ sink, format: 'json' });
    log.debug('hidden');
    log.info('hidden');
    log.warn('shown');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['shown'],
    );
  });

  it('writes to the --debug-log file, creating its folder', () => {
    const file = path.join(tmp.make(), 'logs', 'runsc.log');
    const log = createLogger({ sandboxId: 'f1', file, format: 'json', debug: true });
    log.child({ tid: 1 }).debug('to the file');
    const rec = JSON.parse(fs.readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
    assert.equal(rec.sandboxId, 'f1');
    assert.equal(rec.tid, 1);
    assert.equal(rec.msg, 'to the file');
  });

  it('formatText quotes values with spaces and passes non-JSON through', () => {
    const line = formatText(JSON.stringify({ level: 'warn', time: 't', msg: 'm', note: 'two words' }));
    assert.equal(line, 'W t m note="two words"\n');
    assert.equal(formatText('not json\n'), 'not json\n');
  });
});
