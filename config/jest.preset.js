// Shared jest preset: every workspace's jest.config.js spreads this.
// ts-jest transpiles only (isolatedModules); `npm run check` does the type checking.
const { spawnSync } = require('node:child_process');

/**
 * jest's per-test timeout is a hang guard, so it grows with the machine: a bare node process
 * start (`node -e ''`, median of 3 after a warm-up) is measured once per jest run, and the
 * timeout is 750 of them (about 30 s on a quiet 2-core machine), never below the 30 s it was.
 * A test that waits on purpose says so with its own bound (packages/testkit/src/timing).
 */
function nodeStartMs() {
  const run = () => {
    const started = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  run();
  const samples = [run(), run(), run()].sort((x, y) => x - y);
  return Math.max(1, samples[1]);
}

/** Hang guard in bare node process starts, at least floorMs. */
function hangGuardMs(multiple, floorMs) {
  return Math.max(floorMs, Math.ceil(multiple * NODE_START_MS));
}
const NODE_START_MS = nodeStartMs();

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: hangGuardMs(750, 30000),
};
// Not a jest option: configs that need a longer hang guard call it (see tests/e2e).
Object.defineProperty(module.exports, 'hangGuardMs', { value: hangGuardMs, enumerable: false });
