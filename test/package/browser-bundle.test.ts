// the core entry bundles for a browser (no node condition): the web platform is chosen and nothing of node is reached

import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

describe('browser and edge bundle of the core entry', () => {
  it('bundles src/index.ts for the browser with the web platform and no node built-in', async () => {
    const result = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      conditions: ['vectorwarden-web-test'],
      metafile: true,
      logLevel: 'silent',
      // resolve the package's own "#platform" import the way a browser bundler does (no node condition)
      plugins: [
        {
          name: 'platform-web',
          setup(builder) {
            builder.onResolve({ filter: /^#platform$/ }, () => ({ path: `${process.cwd()}/src/platform/web.ts` }))
          },
        },
      ],
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((path) => path.endsWith('src/platform/web.ts'))).toBe(true)
    expect(inputs.filter((path) => path.endsWith('src/platform/node.ts'))).toEqual([])
    expect(inputs.filter((path) => path.startsWith('node:') || /(^|\/)src\/(node|testing)\//.test(path))).toEqual([])
    const code = result.outputFiles[0]?.text ?? ''
    expect(code).not.toMatch(/from\s+["']node:/)
    expect(code).not.toMatch(/require\(["']node:/)
  }, 60_000)

  it('the package maps #platform to the web build for import without the node condition', async () => {
    const { default: manifest } = await import('../../package.json', { with: { type: 'json' } })
    const mapping = manifest.imports['#platform'] as Record<string, unknown>
    expect(Object.keys(mapping)).toEqual(['vectorwarden-source', 'node', 'import', 'require'])
    expect(mapping.import).toBe('./dist/platform/web.js')
    expect(mapping.require).toBe('./dist/platform/web.cjs')
  })
})
