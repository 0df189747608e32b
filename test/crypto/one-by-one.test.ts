// the protector, envelope and fast-path suites again, with every envelope opened on its own (batchDecryption 'off')
import { describe, expect, it } from 'vitest'
import { countingBatches } from './counting.js'
import { context, newProtector, readContext, setBatchDecryption } from './helpers.js'

// the suites below build their protectors with newProtector, which reads this at test time; vitest gives each test
// file its own module instances, so the batched runs of those files are unaffected
setBatchDecryption('off')
await import('./protector.test.js')
await import('./envelope.test.js')
await import('./fast-paths.test.js')

describe("the protectors of this run (batchDecryption 'off')", () => {
  it('build no batch', async () => {
    const { platform, batches } = countingBatches()
    const protector = newProtector({ platform })
    const stored = await protector.protect([{ id: 'doc-1', vector: [1, 0], metadata: { tenant: 'acme', email: 'a@example.com', body: { n: 1 }, ssn: '1' } }], context())
    expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect(batches()).toBe(0)
  })
})
