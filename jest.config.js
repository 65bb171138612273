/**
 * Jest runs the TypeScript tests under test/ through ts-jest. One real search engine serves the whole run
 * (test/support/global-setup.ts); SIDEKICK_TEST_NO_ENGINE=1 leaves it out for a run of tests that need none.
 */
const withEngine = process.env.SIDEKICK_TEST_NO_ENGINE !== '1';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  ...(withEngine
    ? { globalSetup: '<rootDir>/test/support/global-setup.ts', globalTeardown: '<rootDir>/test/support/global-teardown.ts' }
    : {}),
  testTimeout: 60000,
  maxWorkers: 2,
};
