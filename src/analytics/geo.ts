// great-circle distance and local clock time, for impossible travel and off-hours

const EARTH_RADIUS_KM = 6371.0088

/**
 * Haversine distance in km between two points given in degrees.
 *
 * @example
 * ```ts
 * distanceKm(48.8566, 2.3522, 40.7128, -74.006) // ≈ 5837 (Paris → New York)
 * ```
 */
export function distanceKm(latitude1: number, longitude1: number, latitude2: number, longitude2: number): number {
  const radians = Math.PI / 180
  const dLatitude = (latitude2 - latitude1) * radians
  const dLongitude = (longitude2 - longitude1) * radians
  const a =
    Math.sin(dLatitude / 2) ** 2 + Math.cos(latitude1 * radians) * Math.cos(latitude2 * radians) * Math.sin(dLongitude / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)))
}

/** Local hour (0–23) and weekday (0 = Sunday). */
export interface LocalTime {
  readonly hour: number
  readonly weekday: number
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 }
const QUARTER_HOUR = 900_000

/**
 * A clock for one time zone. Intl formatting costs microseconds, and every UTC offset is a multiple of 15 minutes,
 * so the answer is cached per quarter hour.
 *
 * @example
 * ```ts
 * const local = localClock('Europe/Paris')
 * local(Date.UTC(2026, 0, 5, 8)) // { hour: 9, weekday: 1 }
 * ```
 */
export function localClock(timeZone: string): (now: number) => LocalTime {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' })
  let cachedQuarter = Number.NaN
  let cached: LocalTime = { hour: 0, weekday: 0 }
  return (now) => {
    const quarter = Math.floor(now / QUARTER_HOUR)
    if (quarter === cachedQuarter) return cached
    let hour = 0
    let weekday = 0
    for (const part of format.formatToParts(quarter * QUARTER_HOUR)) {
      if (part.type === 'hour') hour = Number(part.value) % 24
      else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0
    }
    cachedQuarter = quarter
    cached = { hour, weekday }
    return cached
  }
}
