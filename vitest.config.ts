import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Native runtimes (onnxruntime, libvips) are happier in child processes than in worker threads.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
