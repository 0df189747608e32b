// the memory adapter under the shared conformance suite, with default and with tight limits
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { runAdapterConformance } from '../conformance/adapter-conformance.js'

runAdapterConformance({ name: 'memory', create: async () => ({ adapter: memoryAdapter() }) })

// tight limits exercise the suite's reading of capabilities (topK bounded by maxTopK), and the skip entry shows
// how a target records a case it cannot pass
runAdapterConformance({
  name: 'memory (maxTopK 60, maxBatchSize 60)',
  create: async () => ({ adapter: memoryAdapter({ maxTopK: 60, maxBatchSize: 60 }) }),
  skip: { 'namespaces keep records apart': 'covered by the default run; kept here to exercise skip entries' },
})
