const preset = require('../../config/jest.preset.js');

module.exports = {
  ...preset,
  // Docker containers and one compose project on a 2-core machine: one file at a time.
  maxWorkers: 1,
  // A hang guard only (bounds that claim something are relative to a docker run measured in
  // the same run, see src/docker.ts): 6000 bare node process starts, at least 300 s. A cold
  // `up` of the compose project waits for Redis, both Dovecots and every app to be healthy.
  testTimeout: preset.hangGuardMs(6000, 300000),
};
