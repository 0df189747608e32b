// fast-check generators for filter tests: metadata, filter inputs in the portable language, raw ASTs

import fc from 'fast-check'
import type { FilterNode, FilterScalar } from '../../src/spec/filter.js'
import type { Metadata } from '../../src/spec/records.js'

/** Few fields and few values, so that random filters and random records actually meet. */
export const FIELDS = ['tenant', 'year', 'tags', 'public', 'owner', 'constructor'] as const

export const scalar: fc.Arbitrary<FilterScalar> = fc.constantFrom<FilterScalar>(
  'acme',
  'globex',
  'a',
  'b',
  '1',
  '',
  1,
  2,
  2.5,
  -1,
  0,
  true,
  false,
)

const number = fc.constantFrom(-1, 0, 1, 2, 2.5, 3)
const field = fc.constantFrom(...FIELDS)

/** Metadata drawn from the same small pools (lists of strings included, fields often missing). */
export const metadata: fc.Arbitrary<Metadata | undefined> = fc.option(
  fc
    .record(
      {
        tenant: fc.constantFrom('acme', 'globex', '1'),
        year: fc.oneof(fc.constantFrom(0, 1, 2, 2.5, 3), fc.constant('1')),
        tags: fc.uniqueArray(fc.constantFrom('a', 'b', 'acme', '1'), { maxLength: 3 }),
        public: fc.boolean(),
        owner: fc.constantFrom('alice', 'bob', 'a'),
        constructor: fc.constantFrom('a', 'b'),
      },
      { requiredKeys: [] },
    )
    .map((record) => record as Metadata),
  { nil: undefined, freq: 8 },
)

/** A leaf condition in the portable JSON language. */
export const leafInput: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.tuple(field, scalar).map(([f, v]) => ({ [f]: v })),
  fc.tuple(field, fc.constantFrom('$eq', '$ne'), scalar).map(([f, o, v]) => ({ [f]: { [o]: v } })),
  fc.tuple(field, fc.constantFrom('$gt', '$gte', '$lt', '$lte'), number).map(([f, o, v]) => ({ [f]: { [o]: v } })),
  fc
    .tuple(field, fc.constantFrom('$in', '$nin'), fc.array(scalar, { maxLength: 4 }))
    .map(([f, o, v]) => ({ [f]: { [o]: v } })),
  fc.tuple(field, fc.boolean()).map(([f, v]) => ({ [f]: { $exists: v } })),
  fc.tuple(field, number, number).map(([f, low, high]) => ({ [f]: { $gte: low, $lt: high } })),
)

/** A filter in the portable JSON language, nested up to a few levels. */
export const filterInput: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ filter: Record<string, unknown> }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leafInput,
    fc.constant({}),
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $and: children })),
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $or: children })),
    fc.tuple(leafInput, fc.array(tie('filter'), { minLength: 1, maxLength: 2 })).map(([leaf, children]) => ({ ...leaf, $or: children })),
  ),
})).filter

/** Raw ASTs, including shapes the parser never produces (`none`, empty groups) that the evaluator must still handle. */
export const filterNode: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.tuple(field, fc.constantFrom('$eq', '$ne') as fc.Arbitrary<'$eq' | '$ne'>, scalar).map(
      ([f, op, value]): FilterNode => ({ kind: 'cmp', field: f, op, value }),
    ),
    fc
      .tuple(field, fc.constantFrom('$gt', '$gte', '$lt', '$lte') as fc.Arbitrary<'$gt' | '$gte' | '$lt' | '$lte'>, number)
      .map(([f, op, value]): FilterNode => ({ kind: 'cmp', field: f, op, value })),
    fc
      .tuple(field, fc.constantFrom('$in', '$nin') as fc.Arbitrary<'$in' | '$nin'>, fc.array(scalar, { maxLength: 12 }))
      .map(([f, op, values]): FilterNode => ({ kind: 'in', field: f, op, values })),
    fc.tuple(field, fc.boolean()).map(([f, value]): FilterNode => ({ kind: 'exists', field: f, value })),
    fc.constant<FilterNode>({ kind: 'all' }),
    fc.constant<FilterNode>({ kind: 'none' }),
    fc.array(tie('node'), { maxLength: 3 }).map((children): FilterNode => ({ kind: 'and', children })),
    fc.array(tie('node'), { maxLength: 3 }).map((children): FilterNode => ({ kind: 'or', children })),
  ),
})).node
