// the portable filter language: parse to an AST, evaluate, combine, inspect

export { nestFilters, matchesNothing } from './combine.js'
export { compileFilter, evaluateFilter } from './evaluate.js'
export { assertPositiveFilter, canonicalFilter, filterFields, filterOperators, filterToInput } from './inspect.js'
export { assertFilterNode, MAX_FIELD_NAME_LENGTH, parseFilter, type ParseFilterOptions } from './parse.js'
