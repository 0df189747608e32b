// Qdrant example: the warden in front of the official Qdrant client, here talking to the in-process Qdrant fake.
// Run: npm run example:qdrant   (against a real Qdrant, build the client with its https URL and API key instead)

import { QdrantClient } from '@qdrant/js-client-rest'
import { apiKeyAuthenticator, createWarden, definePolicy, generateApiKey, memoryAuditSink } from 'vectorwarden'
import { qdrantAdapter } from 'vectorwarden/qdrant'
import { startQdrantFake } from 'vectorwarden/testing'

function embed(text: string): number[] {
  const vector = new Array<number>(8).fill(0)
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let hash = 2166136261
    for (const char of word) hash = Math.imul(hash ^ (char.codePointAt(0) as number), 16777619)
    const slot = (hash >>> 0) % 8
    vector[slot] = (vector[slot] as number) + 1
  }
  const norm = Math.hypot(...vector) || 1
  return vector.map((value) => value / norm)
}

async function main(): Promise<void> {
  const fake = await startQdrantFake()
  try {
    const client = new QdrantClient({ url: fake.url, checkCompatibility: false })
    const adapter = qdrantAdapter(client, { retry: { maxRetries: 2, timeoutMs: 5_000 } })
    console.log(`Qdrant fake at ${fake.url}; transport secure (https or loopback): ${adapter.capabilities.transportSecure}`)

    const acme = await generateApiKey({ clientId: 'acme-rag', tenant: 'acme', roles: ['writer'] })
    const globex = await generateApiKey({ clientId: 'globex-rag', tenant: 'globex', roles: ['writer'] })
    const ops = await generateApiKey({ clientId: 'platform-ops', roles: ['admin'] })
    const policy = definePolicy({
      id: 'qdrant-example',
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
    // ids that are not UUIDs or integers are stored as UUIDv5 points; the original id comes back unchanged
    await acmeSession.upsert('docs', [
      { id: 'acme/handbook#1', vector: embed('holiday policy paid leave'), metadata: { text: 'Acme: 30 days of paid leave' } },
      { id: 'acme/handbook#2', vector: embed('travel expenses'), metadata: { text: 'Acme: travel expense rules' } },
    ])
    await globexSession.upsert('docs', [{ id: 'globex/secret#1', vector: embed('holiday merger plans'), metadata: { text: 'Globex: merger plans' } }])

    const { matches } = await acmeSession.query('docs', { vector: embed('holiday plans'), topK: 5, filter: { $or: [{ tenant: 'globex' }, { text: { $ne: 'x' } }] } })
    console.log('\nacme asks for "holiday plans" with an $or that tries to reach globex:')
    for (const match of matches) console.log(`  ${match.id.padEnd(18)} ${match.score.toFixed(3)}  ${String(match.metadata?.text)}`)

    const sent = [...fake.requests].reverse().find((request) => request.path.endsWith('/points/query'))
    console.log('\nthe filter Qdrant received (enforced side first, caller side nested beside it):')
    console.log(`  ${JSON.stringify((sent?.body as { filter?: unknown } | undefined)?.filter)}`)

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
