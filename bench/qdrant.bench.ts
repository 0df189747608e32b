// the warden around the official Qdrant client against the bare client, both querying the Qdrant fake over loopback

import { Worker } from 'node:worker_threads'
import { QdrantClient } from '@qdrant/js-client-rest'
import { apiKeyAuthenticator, createWarden, definePolicy, generateApiKey, memoryAuditSink } from 'vectorwarden'
import { qdrantAdapter } from '../src/adapters/qdrant/index.js'
import { fieldEncryption, generateKey, Keyring } from '../src/crypto/index.js'
import { startQdrantFake } from '../src/testing/index.js'
import { compare, quick, ratio, report, us } from './harness.js'

const dimension = 64
const perTenant = quick ? 50 : 500

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

/**
 * Starts the Qdrant fake in a worker thread, as a database runs in its own process: an in-process server would share
 * the event loop and bill the pipeline's own work (and its garbage collection) to the database's response time.
 * Falls back to an in-process fake when the worker cannot load TypeScript.
 */
async function startFakeElsewhere(): Promise<{ url: string; close: () => Promise<void> }> {
  try {
    // the ESM entry of tsx's API (createRequire would give its CommonJS build, which cannot register from a worker)
    const tsxApi = import.meta.resolve('tsx/esm/api')
    const fakeModule = new URL('../src/testing/index.ts', import.meta.url).href
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads')
      import(${JSON.stringify(tsxApi)})
        .then(({ register }) => { register(); return import(${JSON.stringify(fakeModule)}) })
        .then(async ({ startQdrantFake }) => {
          const fake = await startQdrantFake()
          parentPort.on('message', async () => { await fake.close(); parentPort.postMessage('closed') })
          parentPort.postMessage(fake.url)
        })`,
      { eval: true },
    )
    const url = await new Promise<string>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    return {
      url,
      close: async () => {
        const closed = new Promise((resolve) => worker.once('message', resolve))
        worker.postMessage('close')
        await closed
        await worker.terminate()
      },
    }
  } catch (error) {
    console.log(`  (fake in-process: the worker could not start: ${String(error)})`)
    const fake = await startQdrantFake()
    return { url: fake.url, close: () => fake.close() }
  }
}

export default async function run(): Promise<void> {
  const fake = await startFakeElsewhere()
  try {
    const client = new QdrantClient({ url: fake.url, checkCompatibility: false })
    const adapter = qdrantAdapter(client)
    await adapter.doCreateCollection({ name: 'bench', dimension, distance: 'cosine', tenantField: 'tenant' })
    await adapter.doCreateCollection({ name: 'plain', dimension, distance: 'cosine', tenantField: 'tenant' })
    const acme = await generateApiKey({ clientId: 'acme', tenant: 'acme', roles: ['reader'] })
    const globex = await generateApiKey({ clientId: 'globex', tenant: 'globex', roles: ['reader'] })
    const policy = definePolicy({
      id: 'bench',
      tenancy: { field: 'tenant' },
      roles: { reader: { allow: [{ actions: ['record.query', 'record.upsert'], collections: ['bench', 'plain'] }] } },
    })
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    const encryption = fieldEncryption({ keyring, collections: { bench: { encrypt: ['title', 'body', 'author'], sign: ['tenant'] } } })
    const warden = createWarden({
      adapter,
      authenticators: [apiKeyAuthenticator({ keys: [acme.record, globex.record] })],
      policy,
      audit: memoryAuditSink({ limit: 1000 }),
      encryption,
    })
    const sessions = [await warden.session(`ApiKey ${acme.apiKey}`), await warden.session(`ApiKey ${globex.apiKey}`)]
    for (const [t, session] of sessions.entries()) {
      const records = Array.from({ length: perTenant }, (_, i) => ({
        id: `${t}-${i}`,
        vector: randomVector(t * 100_000 + i + 1),
        metadata: { title: `document ${i}`, body: 'x'.repeat(200), author: `author ${i % 17}`, lang: 'en' },
      }))
      await session.upsert('bench', records)
      await session.upsert('plain', records)
    }
    const session = sessions[0]!
    // the same data read through a warden whose protector opens every envelope on its own (batchDecryption 'off')
    const oneByOneWarden = createWarden({
      adapter,
      authenticators: [apiKeyAuthenticator({ keys: [acme.record, globex.record] })],
      policy,
      audit: memoryAuditSink({ limit: 1000 }),
      encryption: fieldEncryption({ keyring, collections: { bench: { encrypt: ['title', 'body', 'author'], sign: ['tenant'] } }, batchDecryption: 'off' }),
    })
    const oneByOneSession = await oneByOneWarden.session(`ApiKey ${acme.apiKey}`)
    const vector = randomVector(424242)
    const filter = { must: [{ key: 'tenant', match: { value: 'acme' } }] }
    const bare = () => client.query('bench', { query: vector, limit: 10, filter, with_payload: true, with_vector: false })
    const guarded = () => session.query('bench', { vector, topK: 10 })
    const rowFilter = { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' } as const
    const adapterOnly = () => adapter.doQuery({ collection: 'bench', vector, topK: 10, filter: rowFilter, includeMetadata: true, includeVectors: false })
    const unencrypted = () => session.query('plain', { vector, topK: 10 })
    const guardedOneByOne = () => oneByOneSession.query('bench', { vector, topK: 10 })

    // the bare query followed by 100 µs of busy main-thread work: what 100 µs of CPU after a response costs in wall time
    const busy = async () => {
      const result = await bare()
      const until = performance.now() + 0.1
      while (performance.now() < until) {
        // spin
      }
      return result
    }

    const sequential = await compare({ bare, adapter: adapterOnly, plain: unencrypted, warden: guarded, oneByOne: guardedOneByOne, busy }, { rounds: 30, batch: quick ? 5 : 15 })
    const bareUs = sequential.bare!.medianUs
    const wardenUs = sequential.warden!.medianUs
    report({ group: 'qdrant', label: `bare client query, ${perTenant * 2} × ${dimension}-d points, topK 10, one at a time`, value: us(bareUs) })
    report({ group: 'qdrant', label: 'the adapter alone (translation, retry wrapper, id mapping, tie look-ahead)', value: us(sequential.adapter!.medianUs) })
    report({ group: 'qdrant', label: 'the warden without field encryption', value: us(sequential.plain!.medianUs) })
    report({ group: 'qdrant', label: 'same query through the warden (API key, row filter, 3 encrypted fields, audit)', value: us(wardenUs) })
    report({ group: 'qdrant', label: 'warden / bare, one at a time', value: ratio(wardenUs / bareUs), target: '≤ 1.10×', pass: wardenUs / bareUs <= 1.1 })
    const oneByOneUs = sequential.oneByOne!.medianUs
    report({ group: 'qdrant', label: "same, batchDecryption 'off' (one AEAD call per field)", value: `${ratio(oneByOneUs / bareUs)} (${us(oneByOneUs)})` })
    report({ group: 'qdrant', label: 'added per query (median difference)', value: us(wardenUs - bareUs) })
    // a control: on a quiet machine this reads 100 µs; how far it strays is the resolution of this run's differences
    report({ group: 'qdrant', label: 'control: bare + exactly 100 µs of busy work per query, wall time added', value: us(sequential.busy!.medianUs - bareUs) })

    // the warden's own work with warm caches: the same calls over a client that answers from memory (the response
    // captured once), so no I/O and no idle wait separates one query from the next
    const captured = JSON.stringify(await client.query('bench', { query: vector, limit: 11, filter, with_payload: true, with_vector: false }))
    const memoryClient = Object.create(client) as QdrantClient
    memoryClient.query = async () => JSON.parse(captured)
    const memoryWarden = createWarden({
      adapter: qdrantAdapter(memoryClient),
      authenticators: [apiKeyAuthenticator({ keys: [acme.record] })],
      policy,
      audit: memoryAuditSink({ limit: 1000 }),
      encryption: fieldEncryption({ keyring, collections: { bench: { encrypt: ['title', 'body', 'author'], sign: ['tenant'] } } }),
    })
    const memorySession = await memoryWarden.session(`ApiKey ${acme.apiKey}`)
    const warm = await compare(
      {
        client: () => memoryClient.query('bench', { query: vector, limit: 11, filter, with_payload: true, with_vector: false }),
        warden: () => memorySession.query('bench', { vector, topK: 10 }),
      },
      { rounds: 30, batch: quick ? 10 : 200 },
    )
    const warmAdded = warm.warden!.medianUs - warm.client!.medianUs
    report({ group: 'qdrant', label: "the warden's own work, warm caches (client answering from memory)", value: us(warmAdded) })
    report({ group: 'qdrant', label: 'warden / bare if that work cost the same after a round trip', value: ratio((bareUs + warmAdded) / bareUs) })
    await memoryWarden.close()

    // eight in flight hides undici's per-request setTimeout(0), so the warden's own cost weighs more here
    const inFlight = 8
    const parallel = await compare(
      {
        bare: () => Promise.all(Array.from({ length: inFlight }, bare)),
        warden: () => Promise.all(Array.from({ length: inFlight }, guarded)),
      },
      { rounds: 30, batch: quick ? 2 : 5 },
    )
    const bareParallel = parallel.bare!.medianUs / inFlight
    const wardenParallel = parallel.warden!.medianUs / inFlight
    report({ group: 'qdrant', label: `bare client, ${inFlight} queries in flight, per query`, value: us(bareParallel) })
    report({ group: 'qdrant', label: `warden, ${inFlight} queries in flight, per query`, value: us(wardenParallel) })
    report({ group: 'qdrant', label: `warden / bare, ${inFlight} in flight`, value: ratio(wardenParallel / bareParallel) })
    await oneByOneWarden.close()
    await warden.close()
  } finally {
    await fake.close()
  }
}
