// the quickstart: two tenants share one collection on the embedded store, and the warden keeps them apart

import {
  AuthenticationError,
  AuthorizationError,
  apiKeyAuthenticator,
  createWarden,
  definePolicy,
  generateApiKey,
  memoryAdapter,
  memoryAuditSink,
} from 'vectorwarden'

/** A toy embedding: words hashed into 16 buckets, normalised. Real services call an embedding model here. */
function embed(text: string): number[] {
  const vector = new Array<number>(16).fill(0)
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let hash = 2166136261
    for (const char of word) hash = Math.imul(hash ^ (char.codePointAt(0) as number), 16777619)
    vector[(hash >>> 0) % 16] = (vector[(hash >>> 0) % 16] as number) + 1
  }
  const norm = Math.hypot(...vector) || 1
  return vector.map((value) => value / norm)
}

const say = (text: string) => console.log(text)
const step = (title: string) => console.log(`\n— ${title}`)

async function main(): Promise<void> {
  // 1. keys: each tenant's service gets its own API key; only hashes are kept by the warden
  const acme = await generateApiKey({ clientId: 'acme-rag', tenant: 'acme', roles: ['writer'] })
  const globex = await generateApiKey({ clientId: 'globex-rag', tenant: 'globex', roles: ['writer'] })
  const ops = await generateApiKey({ clientId: 'platform-ops', roles: ['admin'] })

  // 2. policy: records are partitioned by tenant; admins manage collections but read no records
  const policy = definePolicy({
    id: 'quickstart',
    tenancy: { field: 'tenant' },
    roles: {
      reader: { allow: [{ actions: ['record.query', 'record.fetch', 'record.count'], collections: ['docs'] }] },
      writer: { inherits: ['reader'], allow: [{ actions: ['record.upsert', 'record.update', 'record.delete'], collections: ['docs'] }] },
      admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
    },
  })

  const audit = memoryAuditSink()
  const warden = createWarden({
    adapter: memoryAdapter(),
    authenticators: [apiKeyAuthenticator({ keys: [acme.record, globex.record, ops.record] })],
    policy,
    audit,
  })
  say('vectorwarden quickstart: two tenants, one collection, one embedded store.')
  say(`policy ${policy.id} version ${policy.version.slice(0, 19)}…`)

  step('the platform team creates the collection')
  const admin = await warden.session(`ApiKey ${ops.apiKey}`)
  await admin.createCollection('docs', { dimension: 16, distance: 'cosine' })
  say('created "docs" (16 dimensions, cosine)')

  step('each tenant writes its own documents (the warden stamps the tenant field itself)')
  const acmeSession = await warden.session(`ApiKey ${acme.apiKey}`, { ip: '198.51.100.10' })
  const globexSession = await warden.session(`ApiKey ${globex.apiKey}`, { ip: '203.0.113.20' })
  const acmeDocs = ['Acme holiday policy: 30 days of paid leave', 'Acme expense rules for travel', 'Acme onboarding checklist']
  const globexDocs = ['Globex holiday policy: 20 days of paid leave', 'Globex merger plans (confidential)', 'Globex salary bands']
  await acmeSession.upsert('docs', acmeDocs.map((text, i) => ({ id: `acme-${i}`, vector: embed(text), metadata: { text, lang: 'en' } })))
  await globexSession.upsert('docs', globexDocs.map((text, i) => ({ id: `globex-${i}`, vector: embed(text), metadata: { text, lang: 'en' } })))
  say(`acme wrote ${acmeDocs.length} records, globex wrote ${globexDocs.length} records`)

  step('acme asks about holiday policy: it sees only acme records')
  const { matches } = await acmeSession.query('docs', { vector: embed('holiday policy paid leave'), topK: 5 })
  for (const match of matches) say(`  ${match.id.padEnd(9)} score ${match.score.toFixed(3)}  tenant=${match.metadata?.tenant}  "${match.metadata?.text}"`)

  step('acme tries to escape with $or: the filter is nested under the tenant filter, never merged')
  const escaped = await acmeSession.query('docs', {
    vector: embed('merger plans'),
    topK: 10,
    filter: { $or: [{ tenant: 'globex' }, { lang: { $ne: 'xx' } }] },
  })
  say(`  ${escaped.matches.length} records returned, tenants: ${[...new Set(escaped.matches.map((m) => m.metadata?.tenant))].join(', ')}`)

  step('acme fetches a globex record by id: denied by the row filter, it looks like it does not exist')
  const fetched = await acmeSession.fetch('docs', ['globex-1'])
  say(`  fetch(['globex-1']) returned ${fetched.records.length} records`)

  step('acme tries to plant a record in globex\'s tenant: refused, nothing written')
  try {
    await acmeSession.upsert('docs', [{ id: 'planted', vector: embed('phishing link'), metadata: { text: 'click here', tenant: 'globex' } }])
    say('  unexpected: the write was accepted')
    process.exitCode = 1
  } catch (error) {
    if (!AuthorizationError.isInstance(error)) throw error
    say(`  ${error.name} (${error.reason}): ${error.message}`)
  }

  step('acme tries to overwrite globex-0 by reusing its id: refused')
  try {
    await acmeSession.upsert('docs', [{ id: 'globex-0', vector: embed('holiday policy'), metadata: { text: 'Globex holiday policy: 0 days' } }])
    say('  unexpected: the write was accepted')
    process.exitCode = 1
  } catch (error) {
    if (!AuthorizationError.isInstance(error)) throw error
    say(`  ${error.name} (${error.reason}): ${error.message}`)
  }

  step('the admin key can manage collections but cannot read records')
  try {
    await admin.query('docs', { vector: embed('salary'), topK: 3 })
    say('  unexpected: the query was allowed')
    process.exitCode = 1
  } catch (error) {
    if (!AuthorizationError.isInstance(error)) throw error
    say(`  ${error.name} (${error.reason})`)
  }

  step('a tampered API key is refused (checksum), and the attempt is audited without the key')
  try {
    await warden.session(`ApiKey ${acme.apiKey.slice(0, -1)}${acme.apiKey.endsWith('A') ? 'B' : 'A'}`)
    say('  unexpected: the session opened')
    process.exitCode = 1
  } catch (error) {
    if (!AuthenticationError.isInstance(error)) throw error
    say(`  ${error.name} (${error.reason})`)
  }

  await warden.close()

  step('the audit trail: one event per decision, allowed or not')
  for (const event of audit.events) {
    const data = event.data
    const who = data.actor ? `${data.actor.id}${data.actor.tenant ? `@${data.actor.tenant}` : ''}` : '(unauthenticated)'
    const detail = data.error ? data.error.reason : data.result?.count !== undefined ? `${data.result.count} records` : ''
    say(`  ${event.time.slice(11, 23)}  ${who.padEnd(18)} ${data.operation.padEnd(18)} ${data.outcome.padEnd(8)} ${detail}`)
  }
  const secretsInTrail = [acme.apiKey, globex.apiKey, ops.apiKey].some((key) => JSON.stringify(audit.events).includes(key))
  say(`\n${audit.events.length} audit events; API keys in the trail: ${secretsInTrail ? 'YES (bug!)' : 'none'}`)
  if (secretsInTrail) process.exitCode = 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
