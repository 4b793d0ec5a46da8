module.exports = {
  ...require('../../config/jest.preset.js'),
  // Each scenario runs Dovecot A and B, a redis-server and six dovewarden processes on a
  // 2-core machine: one at a time.
  maxWorkers: 1,
  testTimeout: 240000,
  globalTeardown: '<rootDir>/render-results.js',
};
