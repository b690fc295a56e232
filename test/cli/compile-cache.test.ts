/**
 * bin/compile-cache.js: runsc's V8 code cache. A second start uses the cached code; a
 * changed module is recompiled (its new behaviour is what runs); a damaged cache file is
 * ignored; a module with a dynamic import() keeps working.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, TempDirs } from './helpers';

describe('cli: the V8 compile cache (bin/compile-cache.js)', function () {
  this.timeout(60_000);
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  function setup(): { root: string; run: () => { out: string; hits: number; misses: number } } {
    const root = tmp.make('ccache-');
    fs.mkdirSync(path.join(root, 'dist'));
    fs.writeFileSync(path.join(root, 'dist', 'a.js'), "exports.v = 'one' + require('./b.js').w;\n");
    fs.writeFileSync(path.join(root, 'dist', 'b.js'), "exports.w = '-b';\n");
    fs.writeFileSync(
      path.join(root, 'dist', 'dyn.js'),
      "exports.load = () => import('node:os').then((m) => typeof m.cpus);\n",
    );
    const main = path.join(root, 'main.js');
    fs.writeFileSync(
      main,
      `require(${JSON.stringify(path.join(REPO, 'bin', 'compile-cache.js'))}).install(${JSON.stringify(root)});\n` +
        `const a = require('./dist/a.js');\n` +
        `require('./dist/dyn.js').load().then((t) => console.log(a.v, t));\n`,
    );
    return {
      root,
      run: () => {
        const r = spawnSync(process.execPath, [main], {
          encoding: 'utf8',
          env: { ...process.env, TSVISOR_COMPILE_CACHE_STATS: '1', TSVISOR_NO_COMPILE_CACHE: '' },
        });
        assert.equal(r.status, 0, r.stderr);
        const m = /compile-cache: hits=(\d+) misses=(\d+)/.exec(r.stderr);
        assert.ok(m, `no stats line in ${r.stderr}`);
        return { out: r.stdout, hits: Number(m[1]), misses: Number(m[2]) };
      },
    };
  }

  const cacheFile = (root: string) => {
    const f = fs.readdirSync(path.join(root, 'dist')).filter((n) => n.startsWith('.v8-cache-'));
    assert.equal(f.length, 1, `cache files: ${f.join(', ')}`);
    return path.join(root, 'dist', f[0]);
  };

  it('compiles once, then runs from the cache with the same result', () => {
    const { root, run } = setup();
    const first = run();
    assert.equal(first.out, 'one-b function\n');
    assert.deepEqual([first.hits, first.misses], [0, 2]); // a.js, b.js; dyn.js is left to Node
    assert.ok(fs.statSync(cacheFile(root)).size > 0);
    const second = run();
    assert.equal(second.out, first.out);
    assert.deepEqual([second.hits, second.misses], [2, 0]);
  });

  it('recompiles a module whose file changed, even at the same size', () => {
    const { root, run } = setup();
    run();
    const b = path.join(root, 'dist', 'b.js');
    fs.writeFileSync(b, "exports.w = '-B';\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(b, later, later);
    const r = run();
    assert.equal(r.out, 'one-B function\n');
    assert.deepEqual([r.hits, r.misses], [1, 1]);
    assert.deepEqual([run().hits, run().misses], [2, 0]);
  });

  it('ignores a damaged cache file and replaces it', () => {
    const { root, run } = setup();
    run();
    const f = cacheFile(root);
    const buf = fs.readFileSync(f);
    for (let i = 8; i < buf.length; i += 7) buf[i] ^= 0x5a;
    fs.writeFileSync(f, buf);
    const r = run();
    assert.equal(r.out, 'one-b function\n');
    fs.writeFileSync(f, Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    assert.equal(run().out, 'one-b function\n');
    assert.deepEqual([run().hits, run().misses], [2, 0]);
  });

  it('is off with TSVISOR_NO_COMPILE_CACHE=1', () => {
    const root = tmp.make('ccache-off-');
    fs.mkdirSync(path.join(root, 'dist'));
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, TSVISOR_NO_COMPILE_CACHE: '1', TSVISOR_COMPILE_CACHE_STATS: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /compile-cache:/);
  });
});
