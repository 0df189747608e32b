// runs every bench/*.bench.ts module in one process and prints the figures; BENCH_QUICK=1 for a smoke run

import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { quick, reportedRows } from './harness.js'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const modules = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort()

console.log(`vectorwarden benchmarks — node ${process.version}, ${quick ? 'quick smoke mode' : 'full mode'}\n`)
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
