// the shared conformance suite against the Qdrant adapter, over the official client, talking HTTP to the Qdrant fake

import { QdrantClient } from '@qdrant/js-client-rest'
import { qdrantAdapter } from '../../src/adapters/qdrant/index.js'
import { startQdrantFake } from '../../src/testing/index.js'
import { runAdapterConformance } from '../conformance/adapter-conformance.js'

runAdapterConformance({
  name: 'qdrant (fake server, official client)',
  async create() {
    const fake = await startQdrantFake()
    const client = new QdrantClient({ url: fake.url, checkCompatibility: false })
    return { adapter: qdrantAdapter(client, { retry: { maxRetries: 0 } }), cleanup: () => fake.close() }
  },
})
