// the portable filter AST: what the core hands every adapter to translate into its native filter

/** A value a filter compares against. Ranges compare numbers only. */
export type FilterScalar = string | number | boolean

/** The operators of the portable filter language (Pinecone / MongoDB style). */
export type FilterOperator = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte' | '$in' | '$nin' | '$exists' | '$and' | '$or'

/** Comparison operators over one field and one value. */
export type ComparisonOperator = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte'

/**
 * A parsed filter. Semantics (the reference evaluator is the oracle, every adapter must agree):
 * - `cmp` `$eq`: the field equals the value; on a list field, some element equals it. A missing field never matches.
 * - `cmp` `$ne`: not `$eq` — so it **matches records that lack the field** (why enforced filters never use it).
 * - `cmp` `$gt $gte $lt $lte`: the field is a number and compares so; otherwise no match. The value is a number.
 * - `in` `$in`: `$eq` to some value of the list; `$nin`: not `$in` (matches a missing field).
 * - `exists`: the field is present (`true`) or absent (`false`).
 * - `and` / `or`: every / some child matches; `and` of no children matches all, `or` of none matches nothing.
 * - `all` matches every record; `none` matches no record.
 */
export type FilterNode =
  | { readonly kind: 'and'; readonly children: readonly FilterNode[] }
  | { readonly kind: 'or'; readonly children: readonly FilterNode[] }
  | { readonly kind: 'cmp'; readonly field: string; readonly op: ComparisonOperator; readonly value: FilterScalar }
  | { readonly kind: 'in'; readonly field: string; readonly op: '$in' | '$nin'; readonly values: readonly FilterScalar[] }
  | { readonly kind: 'exists'; readonly field: string; readonly value: boolean }
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }

/** The filter a caller writes: `{ genre: 'drama', year: { $gte: 2020 }, $or: [...] }`. */
export type FilterInput = { readonly [key: string]: unknown }
