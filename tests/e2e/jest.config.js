module.exports = {
  ...require('../../config/jest.preset.js'),
  // Real Dovecot, Redis and dovewarden processes on a 2-core machine: one file at a time.
  maxWorkers: 1,
  testTimeout: 120000,
};
