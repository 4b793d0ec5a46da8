module.exports = {
  ...require('../../config/jest.preset.js'),
  testMatch: ['**/*.soak.ts'],
  testTimeout: 3 * 3600 * 1000,
};
