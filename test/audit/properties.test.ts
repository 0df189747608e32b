import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAuditEmitter } from '../../src/audit/emitter.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import type { AuditSink } from '../../src/spec/audit.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

describe('audit properties', () => {
  it('the verifier accepts every log the sink writes, whatever the size, checkpoint interval, rotation and reopenings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 4096, max: 12_000 }),
        async (sessions, every, maxBytes) => {
          const directory = temporaryDirectory()
          try {
            const path = join(directory.path, 'audit.log')
            let index = 0
            // each element is one run of the writer: open, write that many events, close
            for (const count of sessions) {
              const sink = fileAuditSink({ path, checkpoint: { every }, rotate: { maxBytes }, groupCommitMs: 0, onAlarm: () => {} })
              await Promise.all(Array.from({ length: count }, () => sink.write(sampleEvent(index++))))
              await sink.close()
            }
            const files = readdirSync(directory.path).map((name) => join(directory.path, name))
            const report = await verifyAuditLog({ files, requireStart: true })
            expect(report.problems).toEqual([])
            expect(report.entries).toBe(index)
            expect(report.sealed).toBe(true)
          } finally {
            directory.remove()
          }
        },
      ),
      { numRuns: 15 },
    )
  })

  it('in async mode every event is either recorded or counted as dropped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        async (failures, maxQueue) => {
          const memory = memoryAuditSink()
          let call = 0
          // a sink that fails on the calls the property chooses
          const flaky: AuditSink = {
            write(event) {
              const fail = failures[call++ % failures.length]
              if (fail) return Promise.reject(new Error('flaky'))
              memory.write(event)
              return Promise.resolve()
            },
          }
          const emitter = createAuditEmitter({ sinks: flaky, mode: 'async', maxQueue, maxBatch: 1, onAlarm: () => {} })
          for (let index = 0; index < failures.length; index++) emitter.emit(sampleEvent(index))
          await emitter.flush()
          expect(memory.events.length + emitter.dropped).toBe(failures.length)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('in batched mode every emit either resolves with its event recorded or rejects with AuditError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (failures, maxBatch) => {
        const recorded = new Set<string>()
        let call = 0
        const flaky: AuditSink = {
          write(event) {
            if (failures[call++ % failures.length]) return Promise.reject(new Error('flaky'))
            recorded.add(event.id)
            return Promise.resolve()
          },
        }
        const emitter = createAuditEmitter({ sinks: flaky, mode: 'batched', maxBatch, batchMs: 0, onAlarm: () => {} })
        const results = await Promise.allSettled(failures.map((_, index) => emitter.emit(sampleEvent(index)) as Promise<void>))
        results.forEach((result, index) => {
          if (result.status === 'fulfilled') expect(recorded.has(sampleEvent(index).id)).toBe(true)
          else expect((result.reason as { code?: string }).code).toBe('ERR_AUDIT')
        })
      }),
      { numRuns: 40 },
    )
  })
})
