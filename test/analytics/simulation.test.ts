import { describe, expect, it } from 'vitest'
import { createAnalytics } from '../../src/analytics/index.js'
import type { AnalyticsOptions } from '../../src/analytics/options.js'
import { makeUsers, prng, type SyntheticUser, simulateMonth } from './simulate.js'

const START = Date.UTC(2026, 0, 5) // a Monday
const DAYS = 30
// the first Monday after the simulated month, 10:00 UTC
const ATTACK = Date.UTC(2026, 1, 9, 10)

// stated bounds (docs/analytics.md): over a month of normal use by 100 users
const MAX_REFUSED_CALL_RATE = 0.001 // at most 0.1 % of calls get anything but `allow`
const MAX_VOLUME_ALARM_HOUR_RATE = 0.005 // at most 0.5 % of active user-hours raise a volume or probing alarm
const FLAGGED_WITHIN_CALLS = 5 // an exfiltration ramp to 50× is flagged within 5 calls

async function month(options: AnalyticsOptions) {
  const random = prng(20260105)
  const users = makeUsers(random, 100)
  const analytics = createAnalytics({ onAlarm: () => {}, ...options })
  const result = await simulateMonth(analytics, users, random, { days: DAYS, start: START })
  return { analytics, users, result, random }
}

/**
 * The attacker holds `user`'s credential and ramps from the user's usual volume to 50× within 10 calls, then keeps
 * pulling 50× per call, one call a minute for an hour. Returns when it was flagged and how much it got out.
 */
async function exfiltrate(analytics: ReturnType<typeof createAnalytics>, user: SyntheticUser) {
  let flaggedAt = -1
  let delivered = 0
  let allowedAfterFlag = 0
  const usualPerCall = user.recordsPerCall
  for (let call = 0; call < 60; call++) {
    const now = ATTACK + call * 60_000
    const factor = Math.min(50, 1 + (49 * call) / 10)
    const records = Math.round(usualPerCall * factor)
    const before = await analytics.before({ principal: user.principal, action: 'record.query', collection: user.collections[0] as string, context: { location: user.home }, now })
    if (before.response !== 'allow') continue
    const after = await analytics.after({
      principal: user.principal,
      action: 'record.query',
      collection: user.collections[0] as string,
      outcome: 'allowed',
      recordCount: records,
      fieldsDecrypted: records,
      now: now + 5,
    })
    const flagged = after.flags.some((flag) => flag.startsWith('volume_spike'))
    if (flagged && flaggedAt < 0) flaggedAt = call
    else if (flaggedAt >= 0) allowedAfterFlag++
    // the pipeline withholds the results of a call whose outcome verdict is not `allow`
    if (after.response === 'allow') delivered += records
  }
  return { flaggedAt, delivered, allowedAfterFlag, usualHourly: user.callsPerHour * usualPerCall }
}

describe('a month of normal use for 100 synthetic users (seeded)', () => {
  it(`refuses at most ${MAX_REFUSED_CALL_RATE * 100} % of calls and alarms on at most ${MAX_VOLUME_ALARM_HOUR_RATE * 100} % of user-hours`, async () => {
    const { result } = await month({})
    const refusedRate = result.refused / result.calls
    const alarmRate = result.volumeAlarmHours / result.activeHours
    console.log(
      `month: ${result.calls} calls, ${result.activeHours} active user-hours, refused ${(refusedRate * 100).toFixed(3)} %, ` +
        `volume/probing alarms in ${(alarmRate * 100).toFixed(3)} % of user-hours`,
    )
    expect(result.calls).toBeGreaterThan(150_000)
    expect(refusedRate).toBeLessThanOrEqual(MAX_REFUSED_CALL_RATE)
    expect(alarmRate).toBeLessThanOrEqual(MAX_VOLUME_ALARM_HOUR_RATE)
  }, 300_000)

  it(`flags an exfiltration ramp to 50× within ${FLAGGED_WITHIN_CALLS} calls and the deny tier stops it`, async () => {
    const { analytics, users } = await month({ responses: { volume: 'deny' }, containmentMs: 2 * 3_600_000 })
    const victim = users[7] as SyntheticUser
    const { flaggedAt, delivered, allowedAfterFlag, usualHourly } = await exfiltrate(analytics, victim)
    console.log(`exfiltration (deny): flagged at call ${flaggedAt}, delivered ${delivered} records, usual hour ${Math.round(usualHourly)}`)
    expect(flaggedAt).toBeGreaterThanOrEqual(0)
    expect(flaggedAt).toBeLessThan(FLAGGED_WITHIN_CALLS)
    expect(allowedAfterFlag).toBe(0)
    // what got out is a small multiple of an ordinary hour, not 50× an hour
    expect(delivered).toBeLessThan(5 * usualHourly)
  }, 300_000)

  it('with the default throttle tier, a flagged exfiltration gets at most one call a minute through', async () => {
    const { analytics, users } = await month({ throttle: { capacity: 1, refillPerSecond: 1 / 120 } })
    const victim = users[7] as SyntheticUser
    const { flaggedAt, allowedAfterFlag } = await exfiltrate(analytics, victim)
    console.log(`exfiltration (throttle): flagged at call ${flaggedAt}, ${allowedAfterFlag} calls allowed after the flag`)
    expect(flaggedAt).toBeGreaterThanOrEqual(0)
    expect(flaggedAt).toBeLessThan(FLAGGED_WITHIN_CALLS)
    // 60 calls a minute apart against a bucket refilled every 2 minutes
    expect(allowedAfterFlag).toBeLessThanOrEqual(Math.ceil((60 - flaggedAt) / 2) + 1)
  }, 300_000)
})
