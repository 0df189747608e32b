// a small side-by-side benchmark harness: interleaved rounds, medians, ratios; quick mode for CI smoke runs

export const quick = process.env.BENCH_QUICK === '1'

export interface Sample {
  readonly name: string
  /** Median time per operation, microseconds. */
  readonly medianUs: number
  readonly p90Us: number
  readonly opsPerSecond: number
}

export interface Row {
  readonly group: string
  readonly label: string
  readonly value: string
  /** An acceptance target, printed beside the figure. */
  readonly target?: string
  readonly pass?: boolean
}

const rows: Row[] = []

/** Records a figure for the report. */
export function report(row: Row): void {
  rows.push(row)
  const mark = row.pass === undefined ? '' : row.pass ? '  ok' : '  OVER TARGET'
  console.log(`  ${row.label.padEnd(64)} ${row.value.padStart(16)}${row.target ? `   (target ${row.target})` : ''}${mark}`)
}

export function reportedRows(): readonly Row[] {
  return rows
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/**
 * Measures several functions side by side: each round runs every function `batch` times, in rotating order,
 * so that drift in machine load hits all of them alike. Returns per-operation medians.
 */
export async function compare(
  fns: Record<string, () => unknown | Promise<unknown>>,
  options: { rounds?: number; batch?: number; warmup?: number } = {},
): Promise<Record<string, Sample>> {
  const rounds = quick ? 3 : (options.rounds ?? 40)
  const batch = options.batch ?? 100
  const warmup = quick ? 1 : (options.warmup ?? 5)
  const names = Object.keys(fns)
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = -warmup; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round + warmup) % names.length] as string
      const fn = fns[name] as () => unknown
      const start = performance.now()
      for (let i = 0; i < batch; i++) {
        const result = fn()
        if (result instanceof Promise) await result
      }
      const elapsed = performance.now() - start
      if (round >= 0) (times[name] as number[]).push((elapsed * 1000) / batch)
    }
  }
  const out: Record<string, Sample> = {}
  for (const name of names) {
    const sorted = (times[name] as number[]).slice().sort((a, b) => a - b)
    const median = percentile(sorted, 0.5)
    out[name] = { name, medianUs: median, p90Us: percentile(sorted, 0.9), opsPerSecond: 1e6 / median }
  }
  return out
}

export const us = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} µs`
export const ratio = (value: number): string => `${value.toFixed(2)}×`
