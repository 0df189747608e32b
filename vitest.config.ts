import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['vectorwarden-source'] },
  ssr: { resolve: { conditions: ['vectorwarden-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
