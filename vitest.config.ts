import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Native runtimes (onnxruntime, libvips) are happier in child processes than in worker threads.
          pool: 'forks',
          // expect.poll waits on a real engine process or a real browser here (a model loading, an index run, a
          // page painting): its 1 s default is the first thing to fail on a slower or busier machine. A poll ends as
          // soon as its condition holds, so a long limit costs nothing when all is well.
          expect: { poll: { timeout: 30_000 } },
        },
      },
      {
        // Svelte components in a DOM (jsdom), compiled for the browser as the window runs them.
        plugins: [svelte()],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'renderer',
          include: ['test/renderer/**/*.test.ts'],
          environment: 'jsdom',
          testTimeout: 20_000,
        },
      },
    ],
  },
});
