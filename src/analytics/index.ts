// the analytics module's public surface: createAnalytics, its options and verdicts, CAEP signals

export { createAnalytics, RESPONSE_TIERS } from './analytics.js'
export type { Analytics, AnalyticsResponse, AnalyticsVerdict, CallInput, OutcomeInput } from './analytics.js'
export { CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, caepRevocationSignal } from './caep.js'
export type { CaepSignal, SubjectIdentifier } from './caep.js'
export { resolveAnalyticsOptions } from './options.js'
export type {
  AnalyticsOptions,
  Detector,
  Metric,
  MetricOptions,
  OffHoursOptions,
  RateLimitOptions,
  ResponseTier,
} from './options.js'
