/** Two projects: pure unit tests need no services; integration tests share one Postgres database
 * and one Temporal dev server started by test/support/global-setup.ts. */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] };

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit'],
      testMatch: ['**/*.test.ts'],
      transform,
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/api', '<rootDir>/test/e2e', '<rootDir>/test/providers', '<rootDir>/test/console'],
      testMatch: ['**/*.test.ts'],
      transform,
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
