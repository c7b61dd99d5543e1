import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

/**
 * Shared vitest settings. Workspace packages resolve to their TypeScript sources, so a test never
 * runs against a stale build: `@samrank/rank` -> packages/rank/src/index.ts and
 * `@samrank/rank/tfjs` -> packages/rank/src/tfjs.ts (subpath exports mirror file names in src/).
 */
export function samrankVitestConfig(options: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: {
      alias: [
        { find: /^@samrank\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
        { find: /^@samrank\/([a-z-]+)\/([a-z0-9-]+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
      ],
    },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: options.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
      maxWorkers: 2,
      reporters: ['default'],
      env: { TF_CPP_MIN_LOG_LEVEL: '2' },
    },
  });
}
