// warden overhead: the same query through the warden and straight to the memory adapter, side by side

import { apiKeyAuthenticator, createWarden, definePolicy, generateApiKey, memoryAdapter, memoryAuditSink } from 'vectorwarden'
import type { FilterNode } from 'vectorwarden'
import { compare, quick, ratio, report, us } from './harness.js'

const dimension = 64
// small enough that the scan does not drown the overhead in its own noise; the large case is reported beside it
const perTenant = quick ? 100 : 100
const largePerTenant = quick ? 200 : 1000

function randomVector(seed: number): number[] {
  let state = seed >>> 0 || 1
  const out = new Array<number>(dimension)
  for (let i = 0; i < dimension; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    out[i] = ((state >>> 0) / 4294967296) * 2 - 1
  }
  return out
}

export default async function run(): Promise<void> {
  const acme = await generateApiKey({ clientId: 'acme', tenant: 'acme', roles: ['reader'] })
  const globex = await generateApiKey({ clientId: 'globex', tenant: 'globex', roles: ['reader'] })
  const policy = definePolicy({
    id: 'bench',
    tenancy: { field: 'tenant' },
    roles: { reader: { allow: [{ actions: ['record.query', 'record.fetch', 'record.count', 'record.upsert'], collections: ['docs', 'large'] }] } },
  })
  const adapter = memoryAdapter()
  await adapter.doCreateCollection({ name: 'docs', dimension, distance: 'cosine' })
  const warden = createWarden({
    adapter,
    authenticators: [apiKeyAuthenticator({ keys: [acme.record, globex.record] })],
    policy,
    audit: memoryAuditSink({ limit: 1000 }),
  })
  const sessions = [await warden.session(`ApiKey ${acme.apiKey}`), await warden.session(`ApiKey ${globex.apiKey}`)]
  for (const [t, session] of sessions.entries()) {
    const records = Array.from({ length: perTenant }, (_, i) => ({ id: `${t}-${i}`, vector: randomVector(t * 100_000 + i + 1), metadata: { title: `doc ${i}` } }))
    await session.upsert('docs', records)
  }
  const acmeSession = sessions[0]!
  const query = randomVector(424242)
  const rowFilter: FilterNode = { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' }
  const results = await compare(
    {
      bare: () => adapter.doQuery({ collection: 'docs', vector: query, topK: 10, filter: rowFilter, includeMetadata: true, includeVectors: false }),
      warden: () => acmeSession.query('docs', { vector: query, topK: 10 }),
    },
    { rounds: 60, batch: 50 },
  )
  const bare = results.bare!
  const guarded = results.warden!
  const added = guarded.medianUs - bare.medianUs
  report({ group: 'warden', label: `memory adapter query, ${perTenant * 2} × ${dimension}-d, topK 10 (bare)`, value: us(bare.medianUs) })
  report({ group: 'warden', label: 'same query through the warden (API key, tenant row filter, memory audit)', value: us(guarded.medianUs) })
  report({ group: 'warden', label: 'warden overhead per query (median difference)', value: us(added), target: '≤ 25 µs', pass: added <= 25 })
  report({ group: 'warden', label: 'warden / bare', value: ratio(guarded.medianUs / bare.medianUs) })

  // the same comparison on a ten times larger collection
  await adapter.doCreateCollection({ name: 'large', dimension, distance: 'cosine' })
  await adapter.doUpsert({
    collection: 'large',
    records: Array.from({ length: largePerTenant * 2 }, (_, i) => ({
      id: `l-${i}`,
      vector: randomVector(500_000 + i),
      metadata: { title: `doc ${i}`, tenant: i % 2 === 0 ? 'acme' : 'globex' },
    })),
  })
  const large = await compare(
    {
      bare: () => adapter.doQuery({ collection: 'large', vector: query, topK: 10, filter: rowFilter, includeMetadata: true, includeVectors: false }),
      warden: () => acmeSession.query('large', { vector: query, topK: 10 }),
    },
    { rounds: 40, batch: 20 },
  )
  report({
    group: 'warden',
    label: `overhead per query on ${largePerTenant * 2} × ${dimension}-d (bare ${us(large.bare!.medianUs)})`,
    value: us(large.warden!.medianUs - large.bare!.medianUs),
  })

  const fetchResults = await compare(
    {
      bare: () => adapter.doFetch({ collection: 'docs', ids: ['0-1', '0-2', '0-3'], filter: rowFilter, includeMetadata: true, includeVectors: false }),
      warden: () => acmeSession.fetch('docs', ['0-1', '0-2', '0-3']),
    },
    { rounds: 40, batch: 100 },
  )
  report({
    group: 'warden',
    label: 'warden overhead per fetch of 3 ids (median difference)',
    value: us(fetchResults.warden!.medianUs - fetchResults.bare!.medianUs),
  })
  const open = await compare({ open: () => warden.session(`ApiKey ${acme.apiKey}`) }, { rounds: 20, batch: 50 })
  report({ group: 'warden', label: 'opening a session (API-key authentication + audit)', value: us(open.open!.medianUs) })
  await warden.close()
}
