#!/usr/bin/env node
// runsc: the tsvisor command line (oclif). Normalises gVisor's Go-style single-dash flags
// (`-platform=ptrace`, `-debug`, `-root /x`) first; see cli/src/argv.ts.
'use strict';
const path = require('node:path');
require('./compile-cache').install(path.join(__dirname, '..'));

let normalizeArgv;
try {
  ({ normalizeArgv } = require('../dist/cli/src/argv.js'));
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND') {
    process.stderr.write(
      'runsc: tsvisor is not built (dist/ is missing); run `npm run build` (or `npm install`)\n',
    );
    process.exit(1);
  }
  throw e;
}

require('@oclif/core/execute')
  .execute({ dir: path.join(__dirname, '..'), args: normalizeArgv(process.argv.slice(2)) })
  .catch((e) => {
    process.stderr.write(`runsc: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 125;
  });
