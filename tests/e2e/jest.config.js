const preset = require('../../config/jest.preset.js');

module.exports = {
  ...preset,
  // Real Dovecot, Redis and dovewarden processes on a 2-core machine: one file at a time.
  maxWorkers: 1,
  // A hang guard: 3000 bare node process starts on this machine, at least 120 s.
  testTimeout: preset.hangGuardMs(3000, 120000),
};
