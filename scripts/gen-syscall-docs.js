#!/usr/bin/env node
// Writes docs/syscalls.md from the syscall table (run after `npm run build`):
//   npm run docs:syscalls
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const { linuxTable } = require(path.join(root, 'dist', 'core', 'syscalls', 'all.js'));
const { renderSyscallDoc } = require(path.join(root, 'dist', 'core', 'syscalls', 'table.js'));
fs.writeFileSync(path.join(root, 'docs', 'syscalls.md'), renderSyscallDoc(linuxTable()));
process.stderr.write('wrote docs/syscalls.md\n');
