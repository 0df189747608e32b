// one named test (at least) per security invariant of DESIGN.md that the pipeline itself enforces

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { AuthorizationError, InputError } from '../../src/errors.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { obligations, setup, tableAuthenticator, tenantFilter } from './helpers.js'

const vector = [1, 0, 0]

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

function policyOf(decide: PolicyDecisionPoint['decide']): PolicyDecisionPoint {
  return { id: 'scripted', version: '1', decide }
}

describe('invariant 1: deny by default, fail closed', () => {
  it('denies an operation no rule allows and audits the denial', async () => {
    const { alice, sink, spied } = await setup()
    const error = await rejection(alice.createCollection('other', { dimension: 3 }))
    expect(AuthorizationError.isInstance(error)).toBe(true)
    expect(spied.count('doCreateCollection')).toBe(0)
    expect(sink.events.map((e) => e.data.outcome)).toEqual(['denied'])
    expect(sink.events[0]?.data.decision?.code).toBe('no_matching_rule')
  })

  it('denies when the policy throws, and never queries without a filter', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => {
        throw new Error('policy store unreachable')
      }),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const error = await rejection(session.query('docs', { vector, topK: 5 }))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('policy_error')
    expect(spied.count('doQuery')).toBe(0)
  })

  it('denies an allow whose obligations are missing or malformed', async () => {
    const { spied, sink } = await setup()
    const broken = [{}, { rowFilter: undefined }, { ...obligations(), readableFields: 'title' }, { ...obligations(), readVectors: 'yes' }]
    for (const bad of broken) {
      const warden = createWarden({
        adapter: spied.adapter,
        authenticators: [tableAuthenticator()],
        policy: policyOf(() => ({ effect: 'allow', obligations: bad as never, matchedRules: [] })),
        audit: sink,
      })
      const session = await warden.session('Bearer tok-alice-0123456789')
      const error = await rejection(session.query('docs', { vector, topK: 5 }))
      expect(AuthorizationError.isInstance(error) && error.reason).toBe('invalid_decision')
    }
    expect(spied.count('doQuery')).toBe(0)
  })

  it('refuses a filter the backend cannot evaluate instead of running it unfiltered', async () => {
    const { alice, spied } = await setup({ capabilities: { filterOperators: ['$eq', '$and'] } })
    const error = await rejection(alice.query('docs', { vector, topK: 5, filter: { lang: { $in: ['en'] } } }))
    expect(InputError.isInstance(error) && error.reason).toBe('unsupported_operator')
    expect(spied.count('doQuery')).toBe(0)
  })

  it('denies a continuous check that fails for an unexpected reason', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: (await setup()).policy,
      audit: sink,
      checks: [
        {
          name: 'flaky',
          check: () => {
            throw new Error('risk service timed out')
          },
        },
      ],
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const error = await rejection(session.count('docs'))
    expect(error).toMatchObject({ code: 'ERR_AUTHENTICATION', reason: 'check_failed' })
    expect(spied.count('doCount')).toBe(0)
  })
})

describe('invariant 2: filters are nested, never merged', () => {
  it('sends AND(enforced, caller) with the caller filter kept whole as one child', async () => {
    const { alice, spied } = await setup()
    await alice.query('docs', { vector, topK: 5, filter: { $or: [{ lang: 'en' }, { tenant: 'globex' }] } })
    const sent = (spied.calls.find((c) => c.method === 'doQuery')?.params as { filter: FilterNode } | undefined)?.filter as FilterNode
    expect(sent.kind).toBe('and')
    const children = (sent as Extract<FilterNode, { kind: 'and' }>).children
    expect(children).toHaveLength(2)
    expect(children[0]).toEqual(tenantFilter('acme'))
    expect(children[1]?.kind).toBe('or')
  })

  it('keeps an escaping $or confined to the caller tenant', async () => {
    const { alice } = await setup()
    const attempts = [
      { $or: [{ tenant: 'globex' }, { tenant: 'acme' }] },
      { $or: [{ lang: 'en' }, { lang: { $ne: 'zz' } }] },
      { tenant: { $in: ['acme', 'globex'] } },
      { $or: [{ title: { $exists: true } }, { title: { $exists: false } }] },
    ]
    for (const filter of attempts) {
      const { matches } = await alice.query('docs', { vector, topK: 10, filter })
      expect(matches.every((m) => m.metadata?.tenant === 'acme')).toBe(true)
    }
  })
})

describe('invariant 3: deny-all short-circuits, allow-all omits', () => {
  it('answers a principal without a tenant with nothing and never calls the store', async () => {
    const { warden, spied } = await setup()
    const drifter = await warden.session('Bearer tok-notenant-0123456789')
    expect((await drifter.query('docs', { vector, topK: 5 })).matches).toEqual([])
    expect((await drifter.fetch('docs', ['a1', 'b1'])).records).toEqual([])
    expect((await drifter.count('docs')).count).toBe(0)
    expect(await drifter.delete('docs', { ids: ['a1'] })).toEqual({ deleted: 0 })
    expect(spied.count('doQuery') + spied.count('doFetch') + spied.count('doCount') + spied.count('doDelete')).toBe(0)
  })

  it('short-circuits a caller filter that can match nothing', async () => {
    const { alice, spied } = await setup()
    expect((await alice.query('docs', { vector, topK: 5, filter: { lang: { $in: [] } } })).matches).toEqual([])
    expect(spied.count('doQuery')).toBe(0)
  })

  it('sends no filter at all when neither side restricts', async () => {
    const { admin, spied, warden, sink } = await setup()
    const open = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({ effect: 'allow', obligations: obligations(), matchedRules: ['open'] })),
      audit: sink,
    })
    const session = await open.session('Bearer tok-admin-0123456789')
    const { matches } = await session.query('docs', { vector, topK: 10 })
    expect(matches).toHaveLength(4)
    expect((spied.calls.find((c) => c.method === 'doQuery')?.params as { filter?: unknown } | undefined)?.filter).toBeUndefined()
    expect(spied.count('doQuery')).toBe(1)
    expect(admin).toBeDefined()
    expect(warden).toBeDefined()
  })
})

describe('invariant 4: enforced predicates are positive allow-lists', () => {
  it('denies a decision whose row filter uses $ne, $nin or $exists:false', async () => {
    const { spied, sink } = await setup()
    const negatives: FilterNode[] = [
      { kind: 'cmp', field: 'tenant', op: '$ne', value: 'globex' },
      { kind: 'in', field: 'tenant', op: '$nin', values: ['globex'] },
      { kind: 'exists', field: 'secret', value: false },
      { kind: 'and', children: [tenantFilter('acme'), { kind: 'cmp', field: 'label', op: '$ne', value: 'x' }] },
    ]
    for (const rowFilter of negatives) {
      const warden = createWarden({
        adapter: spied.adapter,
        authenticators: [tableAuthenticator()],
        policy: policyOf(() => ({ effect: 'allow', obligations: obligations({ rowFilter }), matchedRules: [] })),
        audit: sink,
      })
      const session = await warden.session('Bearer tok-alice-0123456789')
      const error = await rejection(session.query('docs', { vector, topK: 5 }))
      expect(AuthorizationError.isInstance(error) && error.reason).toBe('invalid_decision')
    }
    expect(spied.count('doQuery')).toBe(0)
  })
})

describe('invariant 5: operations by id are filtered too', () => {
  for (const filterWithIds of [true, false]) {
    describe(`with a backend that ${filterWithIds ? 'applies' : 'cannot apply'} ids AND filter itself`, () => {
      it('fetch returns another tenant\'s ids as if they did not exist', async () => {
        const { alice } = await setup({ capabilities: { filterWithIds } })
        const { records } = await alice.fetch('docs', ['a1', 'b1', 'b2', 'missing'])
        expect(records.map((r) => r.id)).toEqual(['a1'])
      })

      it('delete by ids leaves another tenant\'s records untouched', async () => {
        const { alice, bob } = await setup({ capabilities: { filterWithIds } })
        await alice.delete('docs', { ids: ['a2', 'b1', 'b2'] })
        expect((await bob.fetch('docs', ['b1', 'b2'])).records.map((r) => r.id)).toEqual(['b1', 'b2'])
        expect((await alice.fetch('docs', ['a1', 'a2'])).records.map((r) => r.id)).toEqual(['a1'])
      })

      it('update of another tenant\'s id changes nothing', async () => {
        const { alice, bob } = await setup({ capabilities: { filterWithIds } })
        expect(await alice.update('docs', 'b1', { title: 'pwned' })).toEqual({ updated: false })
        expect((await bob.fetch('docs', ['b1'])).records[0]?.metadata?.title).toBe('globex one')
      })
    })
  }

  it('delete by filter is confined to the caller tenant', async () => {
    const { alice, bob } = await setup()
    await alice.delete('docs', { filter: { lang: 'en' } })
    expect((await bob.count('docs')).count).toBe(2)
    expect((await alice.count('docs')).count).toBe(1)
  })
})

describe('invariant 6: writes are checked and stamped', () => {
  it('stamps the tenant from the principal on every record', async () => {
    const { alice, store } = await setup()
    await alice.upsert('docs', [{ id: 'a3', vector, metadata: { title: 'new' } }])
    const { records } = await store.doFetch({ collection: 'docs', ids: ['a3'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata).toEqual({ title: 'new', tenant: 'acme' })
  })

  it('refuses a caller that sets the tenant field to another tenant, writing nothing', async () => {
    const { alice, bob, sink } = await setup()
    const error = await rejection(alice.upsert('docs', [{ id: 'x', vector, metadata: { tenant: 'globex', title: 'planted' } }]))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('acl_field')
    expect((await bob.count('docs')).count).toBe(2)
    expect(sink.events[0]?.data.outcome).toBe('denied')
  })

  it('refuses reserved warden fields in caller metadata', async () => {
    const { alice } = await setup()
    const error = await rejection(alice.upsert('docs', [{ id: 'x', vector, metadata: { _vw_mac: 'forged' } }]))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('reserved_field')
  })

  it('refuses to overwrite another tenant\'s record by reusing its id', async () => {
    const { alice, bob } = await setup()
    const error = await rejection(alice.upsert('docs', [{ id: 'b1', vector, metadata: { title: 'hijacked' } }]))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('write_outside_scope')
    expect((await bob.fetch('docs', ['b1'])).records[0]?.metadata?.title).toBe('globex one')
  })

  it('writes nothing when one record of a batch is invalid, and audits one error event', async () => {
    const { alice, spied, sink } = await setup()
    const batch = [
      { id: 'ok-1', vector, metadata: { title: 'fine' } },
      { id: 'ok-2', vector: [1, Number.NaN, 0], metadata: { title: 'bad vector' } },
    ]
    const error = await rejection(alice.upsert('docs', batch))
    expect(InputError.isInstance(error) && error.path).toBe('records[1].vector')
    expect(spied.count('doUpsert')).toBe(0)
    expect((await alice.count('docs')).count).toBe(2)
    expect(sink.events.filter((e) => e.data.operation === 'upsert').map((e) => e.data.outcome)).toEqual(['error'])
  })

  it('refuses a write that lands outside a row filter the stamp does not cover', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({
        effect: 'allow',
        matchedRules: [],
        obligations: obligations({ rowFilter: { kind: 'in', field: 'label', op: '$in', values: ['public'] } }),
      })),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const error = await rejection(session.upsert('docs', [{ id: 'n1', vector, metadata: { label: 'secret' } }]))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('write_outside_scope')
    expect(spied.count('doUpsert')).toBe(0)
  })
})

describe('invariant 7: results are re-verified', () => {
  it('drops records a lying store returns outside the row filter and raises an integrity alarm', async () => {
    const { spied, sink, policy } = await setup()
    // a store that ignores filters entirely, as a compromised or buggy backend would
    const liar: VectorStoreAdapterV1 = {
      ...spied.adapter,
      doQuery: (params) => spied.adapter.doQuery({ ...params, filter: undefined }),
    }
    const warden = createWarden({ adapter: liar, authenticators: [tableAuthenticator()], policy, audit: sink })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    sink.clear()
    const { matches } = await alice.query('docs', { vector, topK: 10 })
    expect(matches.map((m) => m.id).sort()).toEqual(['a1', 'a2'])
    const alarm = sink.events.find((e) => e.type === 'dev.vectorwarden.security.integrity')
    expect(alarm?.data.result?.dropped).toBe(2)
    expect(sink.events.find((e) => e.data.operation === 'query')?.data.result?.dropped).toBe(2)
  })
})

describe('invariant 8: vectors and fields are separate permissions', () => {
  it('refuses includeVectors without the vector-read permission', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({ effect: 'allow', matchedRules: [], obligations: obligations({ readVectors: false }) })),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const error = await rejection(session.query('docs', { vector, topK: 3, includeVectors: true }))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('vector_read_denied')
    const { matches } = await session.query('docs', { vector, topK: 3 })
    expect(matches.every((m) => m.vector === undefined)).toBe(true)
  })

  it('projects metadata to readable fields and denies filtering on the others', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({ effect: 'allow', matchedRules: [], obligations: obligations({ readableFields: ['title'] }) })),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const { matches } = await session.query('docs', { vector, topK: 4 })
    expect(matches.every((m) => Object.keys(m.metadata ?? {}).every((field) => field === 'title'))).toBe(true)
    const error = await rejection(session.query('docs', { vector, topK: 4, filter: { lang: 'en' } }))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('filter_on_unreadable_field')
  })
})

describe('limits', () => {
  it('clamps topK to the policy limit and records both figures', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({ effect: 'allow', matchedRules: [], obligations: obligations({ maxTopK: 2 }) })),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    sink.clear()
    const { matches } = await session.query('docs', { vector, topK: 50 })
    expect(matches).toHaveLength(2)
    expect(sink.events[0]?.data.request).toMatchObject({ topK: 2, requestedTopK: 50 })
  })

  it('refuses a delete by filter that would exceed maxDelete', async () => {
    const { spied, sink, policy } = await setup()
    const limited = { ...policy, decide: (request: Parameters<typeof policy.decide>[0]) => {
      const decision = policy.decide(request) as Decision
      return decision.effect === 'allow' ? { ...decision, obligations: { ...decision.obligations, maxDelete: 1 } } : decision
    } }
    const warden = createWarden({ adapter: spied.adapter, authenticators: [tableAuthenticator()], policy: limited, audit: sink })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const error = await rejection(session.delete('docs', { filter: {} }))
    expect(AuthorizationError.isInstance(error) && error.reason).toBe('limit_exceeded')
    expect(spied.count('doDelete')).toBe(0)
  })
})

describe('memory adapter as the default store', () => {
  it('a fresh warden on the memory adapter works end to end', async () => {
    const sink = memoryAuditSink()
    const warden = createWarden({
      adapter: memoryAdapter(),
      authenticators: [tableAuthenticator()],
      policy: policyOf(() => ({ effect: 'allow', matchedRules: [], obligations: obligations() })),
      audit: sink,
    })
    const session = await warden.session('Bearer tok-admin-0123456789')
    await session.createCollection('c', { dimension: 2, distance: 'euclidean' })
    await session.upsert('c', [{ id: 'p', vector: [0, 0] }, { id: 'q', vector: [3, 4] }])
    const { matches } = await session.query('c', { vector: [3, 3.9], topK: 1 })
    expect(matches[0]?.id).toBe('q')
    await warden.close()
    expect(sink.events.every((e) => e.data.outcome === 'allowed')).toBe(true)
  })
})
