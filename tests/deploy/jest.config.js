module.exports = {
  ...require('../../config/jest.preset.js'),
  // Real dovewarden processes and a chrooted doveconf on a 2-core machine: one file at a time.
  maxWorkers: 1,
  testTimeout: 120000,
};
