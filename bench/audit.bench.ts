// audit: what sync mode adds per call, the cost of chaining an event, and events/s into the file sink

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuditEmitter } from '../src/audit/emitter.js'
import { writeCanonical } from '../src/audit/canonical-bytes.js'
import { AuditChain } from '../src/audit/log-format.js'
import { memoryAuditSink } from '../src/audit/memory-sink.js'
import { fileAuditSink } from '../src/node/file-sink.js'
import { BufferWriter } from '../src/node/byte-writer.js'
import { nodeChainHasher } from '../src/node/hasher.js'
import type { AuditEvent } from '../src/spec/audit.js'
import { compare, quick, ratio, report, us } from './harness.js'

function event(index: number): AuditEvent {
  return {
    specversion: '1.0',
    id: `0b5e1c8a-7f3d-4a55-9d1e-${String(index).padStart(12, '0')}`,
    source: 'vectorwarden',
    type: 'dev.vectorwarden.decision',
    time: new Date(1_760_000_000_000 + index).toISOString(),
    subject: 'docs',
    datacontenttype: 'application/json',
    data: {
      schema: 'vectorwarden.audit/v1',
      operation: 'query',
      outcome: 'allowed',
      decision: { action: 'read', reasons: [], matchedRules: ['tenant-read'], policy: { id: 'default', version: '3f1a9c02' } },
      actor: { id: `user-${index % 100}`, kind: 'user', tenant: 'acme', issuer: 'https://idp.example', authenticator: 'jwt', session: 'ses_1', credentialId: 'jti_1' },
      request: { collection: 'docs', topK: 10, filterHash: 'a'.repeat(64), fields: ['title', 'url'] },
      result: { count: 10, idsHash: 'b'.repeat(64), latencyMs: 0.42 },
      keys: ['k-2026-11'],
    },
  }
}

// distinct events, reused: the throughput runs measure the log, not the garbage collector
const pool = Array.from({ length: 1024 }, (_, index) => event(index))

/**
 * Writes `count` events into a file sink (with fsync group: through a batched emitter) and returns events per second:
 * with `never`, until every event has been handed to the operating system (every write resolved, as the bare baseline
 * measures), and separately including the final flush, which makes the whole file durable with one `fdatasync`.
 */
async function throughput(fsync: 'group' | 'never', count: number, thread: 'main' | 'worker'): Promise<{ perSecond: number; withFlush: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'vw-bench-audit-'))
  try {
    const sink = fileAuditSink({ path: join(directory, 'audit.log'), fsync, thread, rotate: { maxBytes: 256 * 1024 * 1024 }, onAlarm: () => {} })
    // fsync never: the sink's own batched writes, no emitter (whose group commit would flush, i.e. fdatasync)
    const emitter =
      fsync === 'never'
        ? { emit: (item: AuditEvent) => sink.write(item), flush: () => sink.flush(), close: () => sink.close() }
        : createAuditEmitter({ sinks: sink, mode: 'batched', maxQueue: 50_000, maxBatch: 4096 })
    const start = performance.now()
    const pending: Promise<void>[] = []
    // events of one group share a promise: keep one per group
    for (let index = 0; index < count; index++) {
      const promise = emitter.emit(pool[index & 1023] as AuditEvent) as Promise<void>
      if (promise !== pending[pending.length - 1]) pending.push(promise)
      // events arrive over many turns of the event loop, as from concurrent requests (the bare baseline below also
      // yields, awaiting each write of 4096 lines): let the sink's writes start between them
      if ((index & 4095) === 4095) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(pending)
    const written = (performance.now() - start) / 1000
    await emitter.flush()
    const flushed = (performance.now() - start) / 1000
    await emitter.close()
    // with fsync group every event was durable when its promise resolved, and the flush has nothing left to sync
    return { perSecond: count / (fsync === 'never' ? written : flushed), withFlush: count / flushed }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

/** The bare baseline: JSON lines with one SHA-256 each, appended 4096 at a time, no chain, no canonical form. */
async function bareThroughput(count: number): Promise<number> {
  const directory = mkdtempSync(join(tmpdir(), 'vw-bench-audit-'))
  try {
    const start = performance.now()
    const handle = await open(join(directory, 'bare.log'), 'a')
    let lines: string[] = []
    for (let index = 0; index < count; index++) {
      const text = JSON.stringify(pool[index & 1023])
      lines.push(`${createHash('sha256').update(text).digest('hex')} ${text}`)
      if (lines.length === 4096) {
        await handle.write(lines.join('\n') + '\n')
        lines = []
      }
    }
    await handle.write(lines.join('\n') + '\n')
    await handle.close()
    return count / ((performance.now() - start) / 1000)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

/** Median latency of one awaited emit in sync mode into a file sink with group-commit fdatasync, one call at a time. */
async function syncFileLatency(calls: number, thread: 'main' | 'worker'): Promise<number> {
  const directory = mkdtempSync(join(tmpdir(), 'vw-bench-audit-'))
  try {
    const sink = fileAuditSink({ path: join(directory, 'audit.log'), fsync: 'group', groupCommitMs: 0, thread, onAlarm: () => {} })
    const emitter = createAuditEmitter({ sinks: sink, mode: 'sync' })
    const times: number[] = []
    for (let index = 0; index < calls; index++) {
      const start = performance.now()
      await emitter.emit(event(index))
      times.push((performance.now() - start) * 1000)
    }
    await emitter.close()
    times.sort((a, b) => a - b)
    return times[Math.floor(times.length / 2)] as number
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

export default async function (): Promise<void> {
  // 1. what sync mode with the memory sink adds to a call
  const memory = memoryAuditSink({ limit: 1000 })
  const emitter = createAuditEmitter({ sinks: memory, mode: 'sync' })
  const prepared = event(1)
  let sinkhole = 0
  const call = () => {
    sinkhole += prepared.data.operation.length
  }
  const sync = await compare(
    {
      bare: call,
      'sync emit (memory sink)': () => {
        call()
        emitter.emit(prepared)
      },
    },
    { batch: 2000 },
  )
  const added = (sync['sync emit (memory sink)']?.medianUs ?? 0) - (sync.bare?.medianUs ?? 0)
  report({ group: 'audit', label: 'sync mode adds per call (memory sink)', value: us(Math.max(0, added)), target: '≤ 25 µs warden budget', pass: added <= 25 })

  // 2. chaining one event: ours (RFC 8785 + SHA-256 chain + RFC 6962 leaf) vs bare JSON.stringify + SHA-256. The file
  // sink uses appendTo (canonical bytes straight into its write buffer); append builds the line as a string
  const chain = new AuditChain({ origin: 'bench', hasher: nodeChainHasher })
  const bytesChain = new AuditChain({ origin: 'bench', hasher: nodeChainHasher })
  const out = new BufferWriter(2 * 1024 * 1024)
  let index = 0
  const next = () => pool[index++ & 1023] as AuditEvent
  const chaining = await compare(
    {
      'bare JSON.stringify + sha256': () => createHash('sha256').update(JSON.stringify(next())).digest(),
      'chain.append (JCS string + chain + Merkle)': () => chain.append(next()),
      'chain.appendTo (JCS bytes + chain + Merkle)': () => {
        if (out.length > 1024 * 1024) out.clear()
        bytesChain.appendTo(next(), out)
      },
      'writeCanonical only (JCS bytes)': () => {
        if (out.length > 1024 * 1024) out.clear()
        writeCanonical(out, next())
      },
    },
    { batch: 500 },
  )
  const bare = chaining['bare JSON.stringify + sha256']?.medianUs ?? 0
  const asString = chaining['chain.append (JCS string + chain + Merkle)']?.medianUs ?? 0
  const ours = chaining['chain.appendTo (JCS bytes + chain + Merkle)']?.medianUs ?? 0
  report({ group: 'audit', label: 'bare JSON.stringify + sha256 per event', value: us(bare) })
  report({ group: 'audit', label: 'hash-chain one event, line as a string (chain.append)', value: us(asString) })
  report({ group: 'audit', label: 'hash-chain one event into the write buffer (calling-thread file sink path)', value: us(ours) })
  report({ group: 'audit', label: 'hash-chain cost relative to bare stringify + sha256', value: ratio(ours / bare) })
  const encoding = chaining['writeCanonical only (JCS bytes)']?.medianUs ?? 0
  // the part of a chained event that needs the event object, so stays on the thread that has it
  report({ group: 'audit', label: 'RFC 8785 encoding alone, per event (and the events/s it alone allows)', value: `${us(encoding)} (${Math.round(1e6 / encoding).toLocaleString('en')} ev/s)` })

  // 3. throughput into the file sink, beside a bare baseline that does the least a JSONL writer can do under the same
  // load: JSON.stringify + one SHA-256 per event, 4096 lines per write()
  const count = quick ? 2000 : 200_000
  const baseline = await bareThroughput(count)
  report({ group: 'audit', label: 'bare baseline: stringify + sha256 + batched appends', value: `${Math.round(baseline).toLocaleString('en')} ev/s` })
  // the same load on the calling thread (the default) and with thread 'worker', in alternating rounds
  const rounds = quick ? 1 : 3
  const runs: Record<'main' | 'worker', { perSecond: number; withFlush: number }[]> = { main: [], worker: [] }
  for (let round = 0; round < rounds; round++) {
    for (const thread of ['main', 'worker'] as const) runs[thread].push(await throughput('never', count, thread))
  }
  // the median round (of three; the only round in quick mode)
  const median = (thread: 'main' | 'worker', key: 'perSecond' | 'withFlush') => {
    const sorted = runs[thread].map((run) => run[key]).sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)] as number
  }
  const range = (thread: 'main' | 'worker') =>
    runs[thread].map((run) => `${Math.round(run.perSecond / 1000)}k`).join(' / ')
  const onMain = median('main', 'perSecond')
  const inWorker = median('worker', 'perSecond')
  report({ group: 'audit', label: `file sink, hash-chained, no fsync, calling thread (median; rounds ${range('main')})`, value: `${Math.round(onMain).toLocaleString('en')} ev/s` })
  report({ group: 'audit', label: `file sink, hash-chained, no fsync, thread 'worker' (median; rounds ${range('worker')})`, value: `${Math.round(inWorker).toLocaleString('en')} ev/s`, target: '≥ 100k ev/s', pass: inWorker >= 100_000 })
  report({ group: 'audit', label: "thread 'worker' / calling thread, median rounds", value: ratio(inWorker / onMain) })
  report({ group: 'audit', label: 'file sink throughput relative to the bare baseline (calling thread / worker)', value: `${ratio(onMain / baseline)} / ${ratio(inWorker / baseline)}` })
  report({ group: 'audit', label: 'the same, including the final flush (calling thread / worker)', value: `${Math.round(median('main', 'withFlush')).toLocaleString('en')} / ${Math.round(median('worker', 'withFlush')).toLocaleString('en')} ev/s` })
  for (const thread of ['main', 'worker'] as const) {
    const { perSecond: grouped } = await throughput('group', count, thread)
    report({ group: 'audit', label: `batched file sink, group-commit fdatasync (thread ${thread})`, value: `${Math.round(grouped).toLocaleString('en')} ev/s`, target: '≥ 50k ev/s', pass: grouped >= 50_000 })
  }

  // 4. what sync mode adds when the event must be on disk before the call returns
  for (const thread of ['main', 'worker'] as const) {
    const latency = await syncFileLatency(quick ? 20 : 300, thread)
    report({ group: 'audit', label: `sync emit into file sink, fdatasync before return (one caller, thread ${thread})`, value: us(latency) })
  }
  report({ group: 'audit', label: 'machine load while measuring (1-min load average)', value: (await import('node:os')).loadavg()[0]?.toFixed(1) ?? '?' })
  if (sinkhole < 0) console.log(sinkhole)
}
