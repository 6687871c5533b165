/**
 * Jest runs every suite, in two projects: the service's (unit tests need nothing; integration tests get a fresh
 * PostgreSQL database per worker) and the emulator's, which is its own package with its own config.
 * Coverage is the service's: `src/` only.
 */
/** @type {import('jest').Config} */
const service = {
  displayName: 'service',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [service, '<rootDir>/emulator'],
  // One worker per core, not Jest's default of one fewer: the suites mostly wait (PostgreSQL, the emulator, Chromium),
  // so on CI's 2 cores two workers run the suite in 420 s where one took 1,140 s (2026-12-06, same commit).
  maxWorkers: '100%',
  // A worker keeps ~100 MB of every test file it ran (the module registries of the app it loaded stay reachable), so
  // over ~100 files a worker neared Node's 4 GB heap and spent its time collecting: the full suite on Node 20 took
  // 711 s (1,038 s of CPU, 3.9 GB peak) and one gateway test that takes 6 s alone took 82 s late in the run. Jest
  // starts a fresh worker once one is past this limit after a file: 548 s (743 s of CPU, 1.5 GB peak), same machine.
  // The cause was found on 2026-12-07: prom-client's process metrics (a gc PerformanceObserver, an event-loop-delay
  // monitor) outlived `app.stop()` and held each file's app; `BillingMetrics.close()` now stops them. Heap after
  // each of 10 integration files, one worker, forced GC (`-w 1 --logHeapUsage --workerIdleMemoryLimit=100GB`):
  // before 94 120 176 213 231 277 278 324 351 348 MB (growing ~28 MB a file), after 97 123 179 215 253 299 213 177
  // 204 170 MB (flat: old files are collected). The limit stays as a guard against the next such leak.
  workerIdleMemoryLimit: '1GB',
  collectCoverageFrom: ['src/**/*.ts', '!src/main.ts'],
  coverageThreshold: { global: { lines: 90 } },
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 30000,
};
