/** One config for every test: ts-jest without type-checking (tsc does that in the build). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  globalSetup: '<rootDir>/test/setup/globalSetup.ts',
  globalTeardown: '<rootDir>/test/setup/globalTeardown.ts',
  // Real servers on 2 cores: one test file at a time keeps timings honest.
  maxWorkers: 1,
  testTimeout: 120000,
};
