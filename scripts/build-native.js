#!/usr/bin/env node
// Builds every native addon in the tree (core/native and plugins/*/native) with node-gyp,
// and the vDSO the sentry maps into every app (core/vdso) with gcc.
// Run by `npm install` (the package's install script) and by CI.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dirs = [path.join(root, 'core', 'native'), path.join(root, 'core', 'runtime', 'oci', 'native')];
const pluginsDir = path.join(root, 'plugins');
for (const p of fs.existsSync(pluginsDir) ? fs.readdirSync(pluginsDir, { withFileTypes: true }) : []) {
  const d = path.join(root, 'plugins', p.name, 'native');
  if (p.isDirectory() && fs.existsSync(path.join(d, 'binding.gyp'))) dirs.push(d);
}
const gyp =
  process.env.npm_config_node_gyp ||
  require.resolve('node-gyp/bin/node-gyp.js', {
    paths: [root, path.dirname(process.execPath) + '/../lib/node_modules/npm'],
  });
// Build against the headers that ship with this Node (no download): npm passes its
// `nodedir` setting in the environment; run by hand we look beside the node binary.
const args = ['rebuild', '--silent'];
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir ||
  (fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
for (const d of dirs) {
  if (!fs.existsSync(path.join(d, 'binding.gyp'))) continue;
  process.stderr.write(`tsvisor: building native addon in ${path.relative(root, d)}\n`);
  execFileSync(process.execPath, [gyp, ...args], { cwd: d, stdio: 'inherit' });
}

// The vDSO (core/vdso): a tiny position-independent shared object with no relocations.
// Built here rather than by node-gyp because it is not an addon: it runs inside the app.
buildVdso();

function buildVdso() {
  const dir = path.join(root, 'core', 'vdso');
  if (!fs.existsSync(path.join(dir, 'vdso.c'))) return;
  const out = path.join(dir, 'build', 'vdso.so');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  process.stderr.write('tsvisor: building the vDSO in core/vdso\n');
  // prettier-ignore
  execFileSync('gcc', [
    '-std=gnu11', '-O2', '-fPIC', '-fno-stack-protector', '-fno-builtin', '-fno-common', '-fno-plt',
    '-ffreestanding', '-fcf-protection=none', '-nostdlib', '-shared', '-Wall', '-Wextra', '-Werror',
    '-Wl,-T,' + path.join(dir, 'vdso.lds'), '-Wl,--hash-style=both', '-Wl,--eh-frame-hdr',
    '-Wl,-Bsymbolic', '-Wl,--no-undefined', '-Wl,-soname=linux-vdso.so.1', '-Wl,--build-id=none',
    '-Wl,-z,max-page-size=4096', '-Wl,-z,noexecstack',
    '-o', out, path.join(dir, 'vdso.c'),
  ], { stdio: 'inherit' });
  // Nothing relocates a vDSO, so it must have no dynamic relocations and nothing writable.
  const img = fs.readFileSync(out);
  const phoff = Number(img.readBigUInt64LE(32));
  const phnum = img.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    const type = img.readUInt32LE(o);
    const flags = img.readUInt32LE(o + 4);
    if (type === 1 && flags & 2)
      throw new Error(`${out}: a writable PT_LOAD segment (the vDSO must have no data)`);
  }
  const dynRel = execFileSync('readelf', ['-rW', out], { encoding: 'utf8' });
  if (!/no relocations/.test(dynRel)) throw new Error(`${out}: has relocations:\n${dynRel}`);
}
