// Pinecone example: the warden in front of the official Pinecone client, here talking to the in-process Pinecone fake
// (control plane and index data plane), with one namespace per tenant as a second wall behind the row filter.
// Run: npm run example:pinecone   (against Pinecone itself, build the client with only your API key)

import { Pinecone } from '@pinecone-database/pinecone'
import { apiKeyAuthenticator, createWarden, definePolicy, generateApiKey, memoryAuditSink } from 'vectorwarden'
import { pineconeAdapter } from 'vectorwarden/pinecone'
import { startPineconeFake } from 'vectorwarden/testing'

function embed(text: string): number[] {
  const vector = new Array<number>(8).fill(0.01)
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let hash = 2166136261
    for (const char of word) hash = Math.imul(hash ^ (char.codePointAt(0) as number), 16777619)
    const slot = (hash >>> 0) % 8
    vector[slot] = (vector[slot] as number) + 1
  }
  const norm = Math.hypot(...vector)
  return vector.map((value) => value / norm)
}

async function main(): Promise<void> {
  const fake = await startPineconeFake({ apiKey: 'example-key' })
  try {
    // maxRetries: 0 leaves retries to the adapter (bounded, with backoff and jitter)
    const client = new Pinecone({ apiKey: 'example-key', controllerHostUrl: fake.url, maxRetries: 0 })
    const adapter = pineconeAdapter(client, { tenantNamespaces: { field: 'tenant', prefix: 'tenant-' } })
    console.log(`Pinecone fake at ${fake.url}; counts are ${adapter.capabilities.count}; fetch filters in the adapter: ${!adapter.capabilities.filterWithIds}`)

    const acme = await generateApiKey({ clientId: 'acme-rag', tenant: 'acme', roles: ['writer'] })
    const globex = await generateApiKey({ clientId: 'globex-rag', tenant: 'globex', roles: ['writer'] })
    const ops = await generateApiKey({ clientId: 'platform-ops', roles: ['admin'] })
    const policy = definePolicy({
      id: 'pinecone-example',
      tenancy: { field: 'tenant' },
      roles: {
        writer: { allow: [{ actions: ['record.*'], collections: ['docs'] }] },
        admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
      },
    })
    const audit = memoryAuditSink()
    const warden = createWarden({ adapter, authenticators: [apiKeyAuthenticator({ keys: [acme.record, globex.record, ops.record] })], policy, audit })

    const admin = await warden.session(`ApiKey ${ops.apiKey}`)
    await admin.createCollection('docs', { dimension: 8, distance: 'cosine' })

    const acmeSession = await warden.session(`ApiKey ${acme.apiKey}`)
    const globexSession = await warden.session(`ApiKey ${globex.apiKey}`)
    await acmeSession.upsert('docs', [
      { id: 'handbook-1', vector: embed('holiday policy paid leave'), metadata: { text: 'Acme: 30 days of paid leave', tags: ['hr'] } },
      { id: 'handbook-2', vector: embed('travel expenses'), metadata: { text: 'Acme: travel expense rules', tags: ['finance'] } },
    ])
    await globexSession.upsert('docs', [{ id: 'secret-1', vector: embed('holiday merger plans'), metadata: { text: 'Globex: merger plans', tags: ['hr'] } }])
    console.log(`namespaces written: ${fake.namespaces('docs').join(', ')}`)

    const { matches } = await acmeSession.query('docs', { vector: embed('holiday plans'), topK: 5, filter: { tags: { $in: ['hr', 'finance'] } } })
    console.log('\nacme asks for "holiday plans":')
    for (const match of matches) console.log(`  ${match.id.padEnd(12)} ${match.score.toFixed(3)}  ${String(match.metadata?.text)}`)

    const sent = [...fake.requests].reverse().find((request) => request.path.endsWith('/query'))
    const body = sent?.body as { namespace?: string; filter?: unknown } | undefined
    console.log(`\nPinecone received namespace "${body?.namespace}" and filter ${JSON.stringify(body?.filter)}`)

    const count = await acmeSession.count('docs')
    console.log(`acme counts ${count.count} records`)

    await warden.close()
    console.log(`\n${audit.events.length} audit events; outcomes: ${audit.events.map((event) => `${event.data.operation}=${event.data.outcome}`).join(', ')}`)
    if (matches.some((match) => String(match.metadata?.text).startsWith('Globex'))) {
      console.error('a globex record leaked')
      process.exitCode = 1
    }
  } finally {
    await fake.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
