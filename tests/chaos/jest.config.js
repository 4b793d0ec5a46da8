const preset = require('../../config/jest.preset.js');

module.exports = {
  ...preset,
  // Each scenario runs Dovecot A and B, a redis-server and six dovewarden processes on a
  // 2-core machine: one at a time.
  maxWorkers: 1,
  // A hang guard, not a bound: 8000 bare node process starts on this machine (240 s on a quiet
  // one), at least 240 s. A scenario's own bounds scale with its calibration, and on a slow
  // machine its seed, calibration and bound together outgrow any fixed guard.
  testTimeout: preset.hangGuardMs(8000, 240000),
  globalTeardown: '<rootDir>/render-results.js',
};
