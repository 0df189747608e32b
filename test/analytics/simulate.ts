// synthetic traffic for the analytics tests: 100 users with working hours, habits and noise, from a seeded PRNG

import type { Analytics, AnalyticsVerdict } from '../../src/analytics/index.js'
import type { Principal, RequestContext } from '../../src/spec/auth.js'

/** mulberry32: small, fast, and the same sequence on every run for a given seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Poisson sample (Knuth), fine for the small means used here. */
export function poisson(random: () => number, mean: number): number {
  const limit = Math.exp(-mean)
  let count = 0
  let product = random()
  while (product > limit) {
    count++
    product *= random()
  }
  return count
}

export interface SyntheticUser {
  readonly principal: Principal
  /** Working hours, UTC. */
  readonly startHour: number
  readonly endHour: number
  /** Mean calls per working hour. */
  readonly callsPerHour: number
  /** Mean records per call. */
  readonly recordsPerCall: number
  readonly collections: readonly string[]
  readonly home: { latitude: number; longitude: number }
}

const CITIES = [
  { latitude: 48.8566, longitude: 2.3522 },
  { latitude: 51.5072, longitude: -0.1276 },
  { latitude: 40.7128, longitude: -74.006 },
  { latitude: 35.6762, longitude: 139.6503 },
  { latitude: 52.52, longitude: 13.405 },
]

export function makeUsers(random: () => number, count: number): SyntheticUser[] {
  const users: SyntheticUser[] = []
  for (let index = 0; index < count; index++) {
    const startHour = 7 + Math.floor(random() * 3)
    const collectionCount = 1 + Math.floor(random() * 4)
    users.push({
      principal: {
        id: `user-${index}`,
        kind: 'user',
        tenant: `tenant-${index % 5}`,
        roles: ['reader'],
        scopes: [],
        attributes: {},
        authenticator: 'jwt',
        issuer: 'https://idp.example',
      },
      startHour,
      endHour: startHour + 8 + Math.floor(random() * 2),
      callsPerHour: 2 + random() * 18,
      recordsPerCall: 3 + Math.floor(random() * 18),
      collections: Array.from({ length: collectionCount }, (_, k) => `collection-${(index + k * 7) % 20}`),
      home: CITIES[index % CITIES.length] as { latitude: number; longitude: number },
    })
  }
  return users
}

export interface SimulationResult {
  calls: number
  /** Active user-hours (windows in which a user called at least once). */
  activeHours: number
  /** Calls whose before() or after() response was not `allow`. */
  refused: number
  /** Active user-hours with at least one flag from a detector (rate limits excluded). */
  flaggedHours: number
  /** Active user-hours in which the user's own volume or probing alarm was raised. */
  volumeAlarmHours: number
  flags: Map<string, number>
}

export interface SimulationOptions {
  readonly days: number
  readonly start: number
  /** Probability that a working day is a busy day (twice the calls). */
  readonly busyDayChance?: number
  /** Probability per call of a denied call. */
  readonly denyChance?: number
  readonly context?: (user: SyntheticUser) => RequestContext
}

/**
 * Runs `days` of normal use for every user, calling `before` and `after` like the pipeline would. Weekends are
 * quiet; some days are busy; results per call jitter around the user's habit.
 */
export async function simulateMonth(
  analytics: Analytics,
  users: readonly SyntheticUser[],
  random: () => number,
  options: SimulationOptions,
): Promise<SimulationResult> {
  const result: SimulationResult = { calls: 0, activeHours: 0, refused: 0, flaggedHours: 0, volumeAlarmHours: 0, flags: new Map() }
  const busyDayChance = options.busyDayChance ?? 0.05
  const denyChance = options.denyChance ?? 0.01
  for (let day = 0; day < options.days; day++) {
    const dayStart = options.start + day * 86_400_000
    const weekday = new Date(dayStart).getUTCDay()
    if (weekday === 0 || weekday === 6) continue
    // time moves forward for everyone at once: tenant windows see calls in order
    const busy = users.map(() => (random() < busyDayChance ? 2 : 1))
    for (let hour = 0; hour < 24; hour++) {
      for (let userIndex = 0; userIndex < users.length; userIndex++) {
        const user = users[userIndex] as SyntheticUser
        if (hour < user.startHour || hour >= user.endHour) continue
        const factor = busy[userIndex] as number
        const calls = poisson(random, user.callsPerHour * factor)
        if (calls === 0) continue
        result.activeHours++
        let flagged = false
        let volumeAlarm = false
        for (let call = 0; call < calls; call++) {
          const now = dayStart + hour * 3_600_000 + Math.floor(((call + random()) / calls) * 3_600_000)
          // mostly the usual collections, rarely another one
          const collection =
            random() < 0.002
              ? `collection-${Math.floor(random() * 20)}`
              : (user.collections[Math.floor(random() * user.collections.length)] as string)
          const context = options.context?.(user) ?? { location: user.home }
          const verdict = await analytics.before({ principal: user.principal, action: 'record.query', collection, context, now })
          const denied = random() < denyChance
          const records = denied ? 0 : Math.max(0, Math.round(user.recordsPerCall * (0.5 + random())))
          const outcome = await analytics.after({
            principal: user.principal,
            action: 'record.query',
            collection,
            outcome: denied ? 'denied' : 'allowed',
            recordCount: records,
            fieldsDecrypted: Math.floor(records / 2),
            now: now + 5,
          })
          result.calls++
          if (verdict.response !== 'allow' || outcome.response !== 'allow') result.refused++
          for (const flag of [...verdict.flags, ...outcome.flags]) {
            if (flag.startsWith('rate_limited')) continue
            flagged = true
            if (flag.startsWith('volume_spike') || flag === 'probing') volumeAlarm = true
            result.flags.set(flag, (result.flags.get(flag) ?? 0) + 1)
          }
        }
        if (flagged) result.flaggedHours++
        if (volumeAlarm) result.volumeAlarmHours++
      }
    }
  }
  return result
}

/** Summarises a verdict for failure messages. */
export const describeVerdict = (verdict: AnalyticsVerdict): string => `${verdict.response} [${verdict.flags.join(', ')}]`
