// the shared conformance suite against the Pinecone adapter, over the official client, talking HTTP to the Pinecone fake

import { Pinecone } from '@pinecone-database/pinecone'
import { pineconeAdapter } from '../../src/adapters/pinecone/index.js'
import { startPineconeFake } from '../../src/testing/index.js'
import { runAdapterConformance } from '../conformance/adapter-conformance.js'

runAdapterConformance({
  name: 'pinecone (fake server, official client)',
  async create() {
    const fake = await startPineconeFake({ apiKey: 'conformance-key' })
    const client = new Pinecone({ apiKey: 'conformance-key', controllerHostUrl: fake.url, maxRetries: 0 })
    return { adapter: pineconeAdapter(client, { retry: { maxRetries: 0 } }), cleanup: () => fake.close() }
  },
})
