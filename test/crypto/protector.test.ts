// the field protector on whole records: MACs over signed fields, redaction, input checks, filter rewriting
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fieldEncryption, RECORD_MAC_FIELD } from '../../src/crypto/index.js'
import { ConfigError, InputError } from '../../src/errors.js'
import { evaluateFilter, parseFilter } from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Metadata } from '../../src/spec/records.js'
import { context, newKeyring, newProtector, readContext } from './helpers.js'

const record = (id: string, metadata: Record<string, unknown>) => ({ id, vector: [0.1, 0.2], metadata: metadata as Metadata })
const sample = { tenant: 'acme', acl: ['team-a'], title: 'clear title', email: 'ada@example.com', body: { text: 'hello', n: 3 }, ssn: '078-05-1120' }

async function stored(protector = newProtector(), metadata: Record<string, unknown> = sample, id = 'doc-1') {
  const [out] = await protector.protect([record(id, metadata)], context())
  return { protector, record: out as { id: string; vector: readonly number[]; metadata: Metadata } }
}

describe('protect and unprotect', () => {
  it('stores encrypted fields as envelopes, blind indexes and a MAC in reserved fields, and clear fields as they are', async () => {
    const { protector, record: out } = await stored()
    expect(out.metadata.title).toBe('clear title')
    expect(out.metadata.tenant).toBe('acme')
    for (const field of ['email', 'body', 'ssn']) expect(String(out.metadata[field]).startsWith('vwe1.')).toBe(true)
    expect(String(out.metadata._vw_bi_email)).toMatch(/^k1\.[A-Za-z0-9_-]{6}$/)
    expect(String(out.metadata._vw_bi_ssn)).toMatch(/^k1\.[A-Za-z0-9_-]{3}$/)
    expect(String(out.metadata[RECORD_MAC_FIELD])).toMatch(/^vwm2\.t\.k1\./)
    expect(JSON.stringify(out)).not.toContain('ada@example.com')
    expect(JSON.stringify(out)).not.toContain('078-05-1120')
    expect(protector.reservedFields('docs')).toEqual(['_vw_mac', '_vw_bi_email', '_vw_bi_ssn'])
    expect(protector.protectedFields('docs')).toEqual(['email', 'body', 'ssn'])
    expect(protector.covers('docs')).toBe(true)
    expect(protector.covers('other')).toBe(false)
  })

  it('round-trips the metadata and hides reserved fields', async () => {
    const { protector, record: out } = await stored()
    const result = await protector.unprotect([out], readContext())
    expect(result.failures).toEqual([])
    expect(result.records[0]?.metadata).toEqual(sample)
    expect(result.keys).toEqual(['k1'])
  })

  it("keeps a query match's score, and adds none to a record that had none", async () => {
    const { protector, record: out } = await stored()
    const match = { ...out, score: 0.75 } as typeof out & { score: number }
    const result = await protector.unprotect([match, out], readContext())
    expect(result.records.map((opened) => opened.score)).toEqual([0.75, undefined])
    expect('score' in (result.records[1] as object)).toBe(false)
  })

  it('passes collections it does not cover through untouched', async () => {
    const protector = newProtector()
    const input = [record('x', { a: 'b' })]
    const [out] = await protector.protect(input, context('acme', 'plain'))
    expect(out?.metadata).toEqual({ a: 'b' })
    expect((await protector.unprotect([out as never], readContext('acme', '*', 'plain'))).records[0]?.metadata).toEqual({ a: 'b' })
  })

  it('drops a record whose tenant was changed inside the database', async () => {
    const { protector, record: out } = await stored()
    const moved = { ...out, metadata: { ...out.metadata, tenant: 'globex' } }
    for (const tenant of ['acme', 'globex']) {
      const result = await protector.unprotect([moved], readContext(tenant))
      expect(result.records).toEqual([])
      expect(result.failures).toHaveLength(1)
    }
  })

  it('drops a record whose signed fields, blind indexes or envelopes were changed, removed or added (any change at all)', async () => {
    const { protector, record: out } = await stored()
    const other = (await stored(protector, { ...sample, email: 'eve@example.com' }, 'doc-2')).record
    const tampered: Metadata[] = [
      { ...out.metadata, acl: ['team-a', 'team-b'] },
      { ...out.metadata, acl: [] },
      (({ acl: _, ...rest }) => rest)(out.metadata),
      (({ email: _, ...rest }) => rest)(out.metadata),
      { ...out.metadata, email: other.metadata.email as string },
      { ...out.metadata, _vw_bi_email: other.metadata._vw_bi_email as string },
      { ...out.metadata, email: out.metadata.ssn as string },
      { ...out.metadata, extra: out.metadata.email as string },
      { ...out.metadata, email: 'ada@example.com' },
      { ...out.metadata, _vw_mac: other.metadata._vw_mac as string },
      (({ _vw_mac: _, ...rest }) => rest)(out.metadata),
    ]
    for (const metadata of tampered) {
      const result = await protector.unprotect([{ ...out, metadata }], readContext())
      expect(result.records, JSON.stringify(Object.keys(metadata))).toEqual([])
      expect(result.failures[0]?.id).toBe('doc-1')
    }
    // the same record under another id fails too
    expect((await protector.unprotect([{ ...out, id: 'doc-9' }], readContext())).failures).toHaveLength(1)
  })

  it('tells signed values apart that UTF-8 would merge (lone surrogates) and lists that differ only in framing', async () => {
    const protector = newProtector({ docs: { encrypt: ['email'], sign: ['acl', 'label'], keyScope: 'collection' } })
    const swaps: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ label: '\uD800x' }, { label: '\uFFFDx' }],
      [{ acl: ['a,b'] }, { acl: ['a', 'b'] }],
      [{ acl: ['ab', 'c'] }, { acl: ['a', 'bc'] }],
      [{ label: '1' }, { label: 1 }],
      [{ label: true }, { label: 'true' }],
      [{ label: '' }, {}],
    ]
    for (const [written, replaced] of swaps) {
      const [out] = await protector.protect([record('r', { email: 'e', ...written })], context())
      const { label: _label, acl: _acl, ...rest } = (out?.metadata ?? {}) as Record<string, unknown>
      const result = await protector.unprotect([{ id: 'r', metadata: { ...rest, ...replaced } as Metadata }], readContext())
      expect(result.failures, JSON.stringify(replaced)).toHaveLength(1)
    }
  })

  it('keeps good records and reports only the bad ones in a batch', async () => {
    const { protector, record: out } = await stored()
    const good = (await stored(protector, sample, 'doc-2')).record
    const result = await protector.unprotect([{ ...out, metadata: { ...out.metadata, tenant: 'globex' } }, good], readContext())
    expect(result.records.map((r) => r.id)).toEqual(['doc-2'])
    expect(result.failures).toEqual([{ id: 'doc-1', reason: 'record_mac_mismatch' }])
  })

  it('omits fields the caller may not decrypt, or replaces them by the configured marker', async () => {
    const { protector, record: out } = await stored()
    const omitted = await protector.unprotect([out], readContext('acme', ['email']))
    expect(omitted.records[0]?.metadata).toEqual({ tenant: 'acme', acl: ['team-a'], title: 'clear title', email: 'ada@example.com' })
    const marked = newProtector({ keyring: protector.keyring, redaction: { marker: '[redacted]' } })
    const result = await marked.unprotect([out], readContext('acme', []))
    expect(result.records[0]?.metadata).toEqual({ tenant: 'acme', acl: ['team-a'], title: 'clear title', email: '[redacted]', body: '[redacted]', ssn: '[redacted]' })
  })

  it('still verifies the MAC of a record when nothing may be decrypted', async () => {
    const { protector, record: out } = await stored()
    const result = await protector.unprotect([{ ...out, metadata: { ...out.metadata, tenant: 'globex' } }], readContext('acme', []))
    expect(result.failures).toHaveLength(1)
  })

  it('returns records without metadata unchanged (nothing to verify) and keeps vectors', async () => {
    const protector = newProtector()
    const result = await protector.unprotect([{ id: 'a', vector: [1, 2] }], { ...readContext(), includeVectors: true })
    expect(result.records).toEqual([{ id: 'a', vector: [1, 2] }])
  })

  it('refuses reserved fields, non-JSON encrypted values, objects in clear fields and envelope look-alikes with an InputError naming the path', async () => {
    const protector = newProtector()
    const cases: [Record<string, unknown>, string][] = [
      [{ _vw_mac: 'x' }, 'records[0].metadata._vw_mac'],
      [{ _vw_bi_email: 'k1.AAAA' }, 'records[0].metadata._vw_bi_email'],
      [{ _vw_anything: 1 }, 'records[0].metadata._vw_anything'],
      [{ email: Number.NaN }, 'records[0].metadata.email'],
      [{ body: { when: new Date(0) } }, 'records[0].metadata.body'],
      [{ body: 10n }, 'records[0].metadata.body'],
      [{ title: { nested: true } }, 'records[0].metadata.title'],
      [{ title: [1, 2] }, 'records[0].metadata.title'],
      [{ title: 'vwe1.AAAA' }, 'records[0].metadata.title'],
    ]
    for (const [metadata, path] of cases) {
      const error = await protector.protect([record('doc-1', metadata)], context()).catch((caught: unknown) => caught)
      expect(InputError.isInstance(error), path).toBe(true)
      expect((error as InputError).path).toBe(path)
    }
  })

  it('refuses to protect a tenant-scoped record without a tenant, but uses the tenant field when configured', async () => {
    const protector = newProtector()
    await expect(protector.protect([record('a', { email: 'x' })], context(null))).rejects.toSatisfy((error) => InputError.isInstance(error) && error.reason === 'tenant_required')
    const withField = newProtector({ docs: { encrypt: ['email'], sign: ['tenant'], tenantField: 'tenant' } })
    const [out] = await withField.protect([record('a', { email: 'x', tenant: 'acme' })], context(null))
    // a reader that knows the tenant, and one that reads it from the signed field, both decrypt
    expect((await withField.unprotect([out as never], readContext('acme'))).records[0]?.metadata?.email).toBe('x')
    expect((await withField.unprotect([out as never], readContext(null))).records[0]?.metadata?.email).toBe('x')
  })

  it('refuses unsafe configurations with a ConfigError', () => {
    const keyring = newKeyring()
    const bad: unknown[] = [
      { keyring, collections: { docs: { encrypt: [] } } },
      { keyring, collections: { docs: { encrypt: ['a'], blindIndex: ['b'] } } },
      { keyring, collections: { docs: { encrypt: ['a'], blindIndex: { a: { bits: 4 } } } } },
      { keyring, collections: { docs: { encrypt: ['a'], sign: ['a'] } } },
      { keyring, collections: { docs: { encrypt: ['_vw_a'] } } },
      { keyring, collections: { docs: { encrypt: ['a'], keyScope: 'everyone' } } },
      { keyring, collections: { docs: { encrypt: ['a'], unknownOption: true } } },
      { keyring, suite: 'aes-128-gcm', collections: {} },
      { keyring: {}, collections: {} },
    ]
    for (const config of bad) expect(() => fieldEncryption(config as never), JSON.stringify(config)).toThrow(ConfigError)
    expect(() => fieldEncryption(undefined as never)).toThrow(TypeError)
  })
})

describe('filters on encrypted fields', () => {
  const rewrite = (protector: ReturnType<typeof newProtector>, filter: Record<string, unknown>, tenant = 'acme') => protector.rewriteFilter(parseFilter(filter) as FilterNode, context(tenant))

  it('rewrites $eq and $in on blind-indexed fields to $in over tokens, and leaves other fields alone', () => {
    const protector = newProtector()
    const node = rewrite(protector, { email: 'ada@example.com', title: { $ne: 'x' } })
    expect(JSON.stringify(node)).not.toContain('ada@example.com')
    expect(node).toMatchObject({ kind: 'and', children: [{ kind: 'in', field: '_vw_bi_email', op: '$in' }, { kind: 'cmp', field: 'title', op: '$ne' }] })
    const inNode = rewrite(protector, { $or: [{ ssn: { $in: ['1', '2', '1'] } }, { email: { $exists: true } }] })
    expect(inNode).toMatchObject({ kind: 'or', children: [{ kind: 'in', field: '_vw_bi_ssn', values: [expect.any(String), expect.any(String)] }, { kind: 'exists', field: 'email' }] })
  })

  it('refuses every other operator on an encrypted field, and equality on one without an index, with an InputError (never an empty result)', () => {
    const protector = newProtector()
    const refused: [Record<string, unknown>, string][] = [
      [{ email: { $ne: 'a' } }, 'filter.email.$ne'],
      [{ email: { $nin: ['a'] } }, 'filter.email.$nin'],
      [{ ssn: { $gt: 1 } }, 'filter.ssn.$gt'],
      [{ $or: [{ title: 'a' }, { ssn: { $lte: 3 } }] }, 'filter.$or[1].ssn.$lte'],
      [{ body: 'x' }, 'filter.body.$eq'],
      [{ body: { $in: ['x'] } }, 'filter.body.$in'],
      [{ _vw_bi_email: 'k1.AAAA' }, 'filter._vw_bi_email'],
      [{ _vw_mac: { $exists: true } }, 'filter._vw_mac'],
    ]
    for (const [filter, path] of refused) {
      let caught: unknown
      try {
        rewrite(protector, filter)
      } catch (error) {
        caught = error
      }
      expect(InputError.isInstance(caught), JSON.stringify(filter)).toBe(true)
      expect((caught as InputError).path).toBe(path)
    }
  })

  it('finds every record whose plaintext matches (no false negatives), for any values, through the reference evaluator', async () => {
    const protector = newProtector({ docs: { encrypt: ['tag'], blindIndex: { tag: { bits: 8 } }, keyScope: 'tenant' } })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: -3, max: 3 }), fc.boolean()), { minLength: 1, maxLength: 12 }), fc.nat(), async (values, pick) => {
        const records = values.map((value, i) => record(`r${i}`, { tag: value }))
        const out = await protector.protect(records, context())
        const wanted = values[pick % values.length] as string | number | boolean
        const node = rewrite(protector, { tag: wanted })
        const hits = out.filter((stored) => evaluateFilter(node, stored.metadata)).map((stored) => stored.id)
        const truth = records.filter((r) => r.metadata.tag === wanted).map((r) => r.id)
        for (const id of truth) expect(hits).toContain(id)
      }),
      { numRuns: 60 },
    )
  })

  it('indexes list values element by element, so $eq matches an element as it does on clear lists', async () => {
    const protector = newProtector({ docs: { encrypt: ['labels'], blindIndex: ['labels'], keyScope: 'tenant' } })
    const [out] = await protector.protect([record('a', { labels: ['red', 'blue', 'red'] })], context())
    expect(evaluateFilter(rewrite(protector, { labels: 'blue' }), out?.metadata)).toBe(true)
    expect(evaluateFilter(rewrite(protector, { labels: 'green' }), out?.metadata)).toBe(false)
  })

  it('gives different tokens to different tenants for the same value, so equal values do not link across tenants', () => {
    const protector = newProtector()
    const a = rewrite(protector, { email: 'same@example.com' }, 'acme') as unknown as { values: string[] }
    const b = rewrite(protector, { email: 'same@example.com' }, 'globex') as unknown as { values: string[] }
    expect(a.values[0]).not.toBe(b.values[0])
  })

  it('needs a tenant to filter on an encrypted field of a tenant-scoped collection', () => {
    const protector = newProtector()
    expect(() => protector.rewriteFilter(parseFilter({ email: 'a' }) as FilterNode, context(null))).toThrow(InputError)
  })
})

describe('runtimes', () => {
  it('writes on the portable platform and reads on node (and back): envelopes, blind indexes and MACs agree', async () => {
    const { platform: web } = await import('../../src/platform/web.js')
    const keyring = newKeyring()
    const native = newProtector({ keyring })
    const portable = newProtector({ keyring, platform: web })
    for (const [writer, reader] of [
      [native, portable],
      [portable, native],
    ] as const) {
      const [out] = await writer.protect([record('doc-1', sample)], context())
      const result = await reader.unprotect([out as never], readContext())
      expect(result.failures).toEqual([])
      expect(result.records[0]?.metadata).toEqual(sample)
      const node = reader.rewriteFilter(parseFilter({ email: sample.email }) as FilterNode, context())
      expect(evaluateFilter(node, out?.metadata)).toBe(true)
    }
  })
})
