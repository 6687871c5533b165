/** The emulator's own tests: they need nothing running (each starts its emulator on a free port). */
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'emulator',
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  testTimeout: 30000,
};
