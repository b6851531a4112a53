import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    // Integration files each start their own moto server; two cores, so keep it modest.
    maxWorkers: 2,
    projects: [
      {
        // No network at all: every socket connection and DNS lookup throws.
        test: {
          ...shared,
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/support/no-network.ts'],
        },
      },
      // moto on loopback; the CLI end to end (bad inputs, signals).
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
        },
      },
      // npm pack → install into a fresh project → import, type-check, run the bin.
      { test: { ...shared, name: 'release', include: ['test/release/**/*.test.ts'] } },
    ],
  },
});
