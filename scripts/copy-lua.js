#!/usr/bin/env node
// Copies every .lua file under a workspace's src/ into dist/ at the same place, after tsc: the
// code reads its Lua scripts from beside its compiled modules (__dirname), in src under jest
// and in dist when built. Run from the workspace folder (npm run build does).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function copy(from, to) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copy(source, target);
    else if (entry.isFile() && entry.name.endsWith('.lua')) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(source, target);
    }
  }
}

copy(path.resolve('src'), path.resolve('dist'));
