// runs every bench/*.bench.ts module in one process and prints the figures; BENCH_QUICK=1 for a smoke run

import { createHmac } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { quick, reportedRows } from './harness.js'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const modules = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort()

console.log(`vectorwarden benchmarks — node ${process.version}, ${quick ? 'quick smoke mode' : 'full mode'}`)
// machine speed: absolute µs targets assume a machine where this takes about 2.0 µs (RESEARCH.md); scale by the ratio
{
  const key = new Uint8Array(32).fill(1)
  const data = new Uint8Array(32).fill(2)
  const rounds = quick ? 20_000 : 200_000
  for (let i = 0; i < 1000; i++) createHmac('sha256', key).update(data).digest()
  const start = performance.now()
  for (let i = 0; i < rounds; i++) createHmac('sha256', key).update(data).digest()
  const hmacUs = ((performance.now() - start) * 1000) / rounds
  const load = loadavg()[0] ?? 0
  console.log(`machine: node:crypto HMAC-SHA256 of 32 B takes ${hmacUs.toFixed(2)} µs (reference 2.0 µs: this machine runs ${(hmacUs / 2).toFixed(1)}× slower); load average ${load.toFixed(2)}\n`)
}
let failed = false
for (const file of modules) {
  console.log(`## ${file.replace('.bench.ts', '')}`)
  try {
    const module = (await import(join(here, file))) as { default: () => Promise<void> }
    await module.default()
  } catch (error) {
    failed = true
    console.error(`  benchmark ${file} failed:`, error)
  }
  console.log('')
}
const over = reportedRows().filter((row) => row.pass === false)
if (over.length > 0 && !quick) console.log(`${over.length} figure(s) over target (reported, not asserted).`)
if (failed) process.exit(1)
