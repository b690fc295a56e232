// A V8 code cache for runsc's own modules. Every runsc call is a fresh Node process (the
// OCI runtime contract: create, start, state, kill ... each exec the binary), and about a
// quarter of its start-up went into compiling the same ~400 modules again. Node 22 has
// module.enableCompileCache(); Node 20 does not, so this does the same with vm.Script's
// cachedData: one file, dist/.v8-cache-<node>-<arch>.bin, next to the code it caches.
//
// Entries are keyed by path and checked against the file's size and mtime; a stale or
// rejected entry is recompiled and replaced. The whole file carries a SHA-1 and is ignored
// if it does not match (V8 does not verify cached code in release builds, so damaged bytes
// must never reach it). It is written at exit (to a temporary name, then renamed) only when
// something new was compiled, and only if the directory is writable; any problem with the
// cache falls back to Node's own loader. TSVISOR_NO_COMPILE_CACHE=1 turns it off.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const crypto = require('node:crypto');

/** File layout: MAGIC, SHA-1 of the rest, then count and entries. A mismatch drops it all. */
const MAGIC = Buffer.from('tsvisor-v8cache-1\n');

function install(pkgRoot) {
  if (process.env.TSVISOR_NO_COMPILE_CACHE) return;
  const file = path.join(pkgRoot, 'dist', `.v8-cache-${process.version}-${process.arch}.bin`);
  const prefix = pkgRoot + path.sep;
  /** path -> { mtime, size, data } read from the file. */
  const entries = new Map();
  try {
    const all = fs.readFileSync(file);
    const buf = all.subarray(MAGIC.length + 20);
    if (
      !all.subarray(0, MAGIC.length).equals(MAGIC) ||
      !crypto
        .createHash('sha1')
        .update(buf)
        .digest()
        .equals(all.subarray(MAGIC.length, MAGIC.length + 20))
    )
      throw new Error('damaged');
    let o = 0;
    const count = buf.readUInt32LE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      const nameLen = buf.readUInt32LE(o);
      const name = buf.toString('utf8', o + 4, o + 4 + nameLen);
      o += 4 + nameLen;
      const mtime = buf.readDoubleLE(o);
      const size = buf.readDoubleLE(o + 8);
      const dataLen = buf.readUInt32LE(o + 16);
      o += 20;
      if (o + dataLen > buf.length) break;
      entries.set(name, { mtime, size, data: buf.subarray(o, o + dataLen) });
      o += dataLen;
    }
  } catch {
    // No cache yet, or a truncated one: start empty.
  }
  /** Scripts compiled without a usable entry, serialised at exit. */
  const fresh = new Map();
  let hits = 0;

  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    // A module with a dynamic import() stays with Node's loader: a vm.Script has no
    // import() callback in Node 20 (oclif's module loader is the one such module here).
    if (
      typeof filename !== 'string' ||
      !filename.startsWith(prefix) ||
      !filename.endsWith('.js') ||
      content.includes('import(')
    )
      return compile.call(this, content, filename);
    let st;
    try {
      st = fs.statSync(filename);
    } catch {
      return compile.call(this, content, filename);
    }
    const old = entries.get(filename);
    const usable = old && old.mtime === st.mtimeMs && old.size === st.size;
    const script = new vm.Script(Module.wrap(content), {
      filename,
      cachedData: usable ? old.data : undefined,
    });
    if (!usable || script.cachedDataRejected)
      fresh.set(filename, { script, mtime: st.mtimeMs, size: st.size });
    else hits++;
    const fn = script.runInThisContext({ displayErrors: true });
    const mod = this;
    const req = (id) => mod.require(id);
    req.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
    req.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
    req.main = require.main;
    req.extensions = Module._extensions;
    req.cache = Module._cache;
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    if (process.env.TSVISOR_COMPILE_CACHE_STATS)
      process.stderr.write(`compile-cache: hits=${hits} misses=${fresh.size} file=${file}\n`);
    if (fresh.size === 0) return;
    try {
      // Entries of files that changed or went away since they were cached are dropped.
      for (const [name, e] of entries)
        if (!fresh.has(name)) {
          try {
            const st = fs.statSync(name);
            if (st.mtimeMs !== e.mtime || st.size !== e.size) entries.delete(name);
          } catch {
            entries.delete(name);
          }
        }
      for (const [name, f] of fresh)
        entries.set(name, { mtime: f.mtime, size: f.size, data: f.script.createCachedData() });
      const parts = [];
      const head = Buffer.alloc(4);
      head.writeUInt32LE(entries.size);
      parts.push(head);
      for (const [name, e] of entries) {
        const n = Buffer.from(name);
        const h = Buffer.alloc(24 + n.length);
        h.writeUInt32LE(n.length, 0);
        n.copy(h, 4);
        h.writeDoubleLE(e.mtime, 4 + n.length);
        h.writeDoubleLE(e.size, 12 + n.length);
        h.writeUInt32LE(e.data.length, 20 + n.length);
        parts.push(h, e.data);
      }
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        const body = Buffer.concat(parts);
        const digest = crypto.createHash('sha1').update(body).digest();
        fs.writeFileSync(tmp, Buffer.concat([MAGIC, digest, body]), { mode: 0o644 });
        fs.renameSync(tmp, file);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    } catch {
      // A read-only install or a full disk: run without a cache.
    }
  });
}

module.exports = { install };
