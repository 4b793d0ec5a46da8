#!/usr/bin/env -S node --max-semi-space-size=8
'use strict';
// The `dovewarden` command as npm links it (node_modules/.bin, `npx dovewarden`, `npm link`).
// It is committed, so `npm ci` links it even before anything is built; until then it says how
// to build instead of failing on a missing module. Node's options: the same first line as
// src/main.ts (a test keeps them equal).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'main.js');
if (!existsSync(main)) {
  console.error(
    'dovewarden is not built yet: run `npm run build` (or `npm start`) in the checkout',
  );
  process.exit(1);
}
require(main);
