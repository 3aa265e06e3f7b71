import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/announce-skips.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    // Integration tests open real sockets; two cores do not gain from more workers.
    maxWorkers: 2,
  },
});
