#!/usr/bin/env node
// Writes oclif.manifest.json (the command list with flags, args and help text) so that
// `runsc` starts without loading every command file to discover them. Run by
// `npm run build` after tsc; does what `oclif manifest` does, without the oclif dev CLI.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Plugin } = require('@oclif/core');

async function main() {
  const root = path.resolve(__dirname, '..', '..');
  const out = path.join(root, 'oclif.manifest.json');
  fs.rmSync(out, { force: true }); // never read a stale manifest while generating
  const plugin = new Plugin({
    root,
    type: 'core',
    isRoot: true,
    ignoreManifest: true,
    errorOnManifestCreate: true,
  });
  await plugin.load();
  const manifest = plugin.manifest;
  const ids = Object.keys(manifest.commands);
  if (ids.length === 0) throw new Error(`no commands found under ${root}; did tsc run?`);
  fs.writeFileSync(out, JSON.stringify(manifest, null, 2) + '\n');
  process.stdout.write(
    `oclif manifest: ${ids.length} commands (${ids.join(', ')}) -> ${path.relative(root, out)}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`oclif-manifest: ${e.stack || e}\n`);
  process.exit(1);
});
