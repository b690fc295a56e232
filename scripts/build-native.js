#!/usr/bin/env node
// Builds every native addon in the tree (core/native and plugins/*/native) with node-gyp.
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
