const preset = require('../../config/jest.preset.js');

module.exports = {
  ...preset,
  // Real dovewarden processes and a chrooted doveconf on a 2-core machine: one file at a time.
  maxWorkers: 1,
  // A hang guard: 3000 bare node process starts on this machine, at least 120 s.
  testTimeout: preset.hangGuardMs(3000, 120000),
};
