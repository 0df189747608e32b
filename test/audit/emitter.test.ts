import { describe, expect, it, vi } from 'vitest'
import { createAuditEmitter } from '../../src/audit/emitter.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { AuditError, ConfigError } from '../../src/errors.js'
import type { AuditEvent, AuditSink } from '../../src/spec/audit.js'
import { sampleEvent } from './helpers.js'

function deferredSink() {
  const written: AuditEvent[] = []
  const waiting: (() => void)[] = []
  let flushes = 0
  const sink: AuditSink = {
    name: 'deferred',
    write(event) {
      return new Promise<void>((resolve) => {
        waiting.push(() => {
          written.push(event)
          resolve()
        })
      })
    },
    async flush() {
      flushes++
    },
  }
  return {
    sink,
    written,
    release: () => {
      for (const release of waiting.splice(0)) release()
    },
    get flushes() {
      return flushes
    },
  }
}

const failing = (error: unknown = new Error('disk full')): AuditSink => ({
  name: 'failing',
  write() {
    return Promise.reject(error)
  },
})

describe('createAuditEmitter, sync mode', () => {
  it('returns void, not a promise, when every sink writes synchronously', () => {
    const memory = memoryAuditSink()
    const emitter = createAuditEmitter({ sinks: [memory, memoryAuditSink()] })
    expect(emitter.emit(sampleEvent(1))).toBeUndefined()
    expect(memory.events).toHaveLength(1)
  })

  it('resolves only after an asynchronous sink has recorded the event', async () => {
    const deferred = deferredSink()
    const emitter = createAuditEmitter({ sinks: deferred.sink })
    let settled = false
    const done = Promise.resolve(emitter.emit(sampleEvent(1))).then(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(settled).toBe(false)
    deferred.release()
    await done
    expect(deferred.written).toHaveLength(1)
  })

  it('rejects with AuditError when a sink fails (fail closed by default)', async () => {
    const emitter = createAuditEmitter({ sinks: [memoryAuditSink(), failing()], onAlarm: () => {} })
    await expect(emitter.emit(sampleEvent(1))).rejects.toSatisfy(AuditError.isInstance)
  })

  it('rejects with AuditError when a sink throws synchronously', async () => {
    const throwing: AuditSink = {
      write() {
        throw new Error('boom')
      },
    }
    const emitter = createAuditEmitter({ sinks: throwing, onAlarm: () => {} })
    await expect(emitter.emit(sampleEvent(1))).rejects.toSatisfy(AuditError.isInstance)
  })

  it('counts and alarms instead of rejecting when failClosed is false', async () => {
    const onAlarm = vi.fn()
    const emitter = createAuditEmitter({ sinks: failing(), failClosed: false, onAlarm })
    await emitter.emit(sampleEvent(1))
    await emitter.emit(sampleEvent(2))
    expect(emitter.dropped).toBe(2)
    expect(onAlarm).toHaveBeenCalledTimes(1)
  })

  it('puts no sink error message into the AuditError (it could quote the event)', async () => {
    const emitter = createAuditEmitter({ sinks: failing(new Error('secret-token-abcdef')), onAlarm: () => {} })
    const error = await Promise.resolve(emitter.emit(sampleEvent(1))).catch((caught: unknown) => caught)
    expect((error as Error).message).not.toContain('secret-token-abcdef')
  })

  it('rejects events after close', async () => {
    const emitter = createAuditEmitter({ sinks: memoryAuditSink() })
    await emitter.close()
    await expect(emitter.emit(sampleEvent(1))).rejects.toSatisfy(
      (error: unknown) => AuditError.isInstance(error) && error.reason === 'closed',
    )
  })
})

describe('createAuditEmitter, batched mode', () => {
  it('commits a group with one flush per sink and resolves every emit of it at that commit', async () => {
    const deferred = deferredSink()
    const emitter = createAuditEmitter({ sinks: deferred.sink, mode: 'batched', batchMs: 1 })
    const emits = [1, 2, 3].map((index) => emitter.emit(sampleEvent(index)))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(deferred.flushes).toBe(0)
    deferred.release()
    await Promise.all(emits)
    expect(deferred.written.map((event) => event.id)).toEqual([1, 2, 3].map((index) => sampleEvent(index).id))
    expect(deferred.flushes).toBe(1)
  })

  it('keeps the order of events across groups', async () => {
    const memory = memoryAuditSink()
    const emitter = createAuditEmitter({ sinks: memory, mode: 'batched', maxBatch: 3 })
    await Promise.all(Array.from({ length: 20 }, (_, index) => emitter.emit(sampleEvent(index))))
    expect(memory.events.map((event) => event.id)).toEqual(Array.from({ length: 20 }, (_, index) => sampleEvent(index).id))
  })

  it('applies backpressure: a full queue makes emit wait instead of growing or dropping', async () => {
    const deferred = deferredSink()
    const emitter = createAuditEmitter({ sinks: deferred.sink, mode: 'batched', maxQueue: 4, maxBatch: 2, batchMs: 0 })
    const emits = Array.from({ length: 10 }, (_, index) => emitter.emit(sampleEvent(index)))
    // release groups one at a time until everything is through
    for (let round = 0; round < 20 && deferred.written.length < 10; round++) {
      await new Promise((resolve) => setTimeout(resolve, 2))
      deferred.release()
    }
    await Promise.all(emits)
    expect(deferred.written).toHaveLength(10)
    expect(emitter.dropped).toBe(0)
  })

  it('rejects every emit of a failed group with AuditError', async () => {
    const emitter = createAuditEmitter({ sinks: failing(), mode: 'batched', onAlarm: () => {} })
    const results = await Promise.allSettled([emitter.emit(sampleEvent(1)), emitter.emit(sampleEvent(2))])
    expect(results.every((result) => result.status === 'rejected' && AuditError.isInstance(result.reason))).toBe(true)
  })

  it('flushes everything queued on close and closes the sinks', async () => {
    const memory = memoryAuditSink()
    const close = vi.fn(async () => {})
    const emitter = createAuditEmitter({ sinks: { ...memory, write: memory.write, close }, mode: 'batched', batchMs: 10_000 })
    void emitter.emit(sampleEvent(1))
    void emitter.emit(sampleEvent(2))
    await emitter.close()
    expect(memory.events).toHaveLength(2)
    expect(close).toHaveBeenCalledTimes(1)
  })
})

describe('createAuditEmitter, async mode', () => {
  it('returns void at once and delivers later', async () => {
    const memory = memoryAuditSink()
    const emitter = createAuditEmitter({ sinks: memory, mode: 'async' })
    expect(emitter.emit(sampleEvent(1))).toBeUndefined()
    await emitter.flush()
    expect(memory.events).toHaveLength(1)
  })

  it('drops what does not fit the queue, counts it, and raises one alarm per episode', async () => {
    const deferred = deferredSink()
    const onAlarm = vi.fn()
    const emitter = createAuditEmitter({ sinks: deferred.sink, mode: 'async', maxQueue: 3, onAlarm })
    for (let index = 0; index < 10; index++) emitter.emit(sampleEvent(index))
    expect(emitter.dropped).toBe(7)
    expect(onAlarm).toHaveBeenCalledTimes(1)
    expect(onAlarm.mock.calls[0]?.[0]).toMatchObject({ kind: 'dropped' })
    const flushed = emitter.flush()
    await new Promise((resolve) => setTimeout(resolve, 5))
    deferred.release()
    await flushed
    expect(deferred.written).toHaveLength(3)
  })

  it('counts events whose sink fails as dropped', async () => {
    const emitter = createAuditEmitter({ sinks: failing(), mode: 'async', onAlarm: () => {} })
    emitter.emit(sampleEvent(1))
    emitter.emit(sampleEvent(2))
    await emitter.flush().catch(() => {})
    expect(emitter.dropped).toBe(2)
  })
})

describe('createAuditEmitter, configuration', () => {
  it.each([
    ['no sink', { sinks: [] }],
    ['an unknown mode', { sinks: memoryAuditSink(), mode: 'eventually' }],
    ['async with failClosed', { sinks: memoryAuditSink(), mode: 'async', failClosed: true }],
    ['a zero queue', { sinks: memoryAuditSink(), maxQueue: 0 }],
  ])('throws ConfigError for %s', (_name, options) => {
    expect(() => createAuditEmitter(options as never)).toThrow(ConfigError)
  })

  it('throws TypeError for a sink without write', () => {
    expect(() => createAuditEmitter({ sinks: {} as AuditSink })).toThrow(TypeError)
  })
})
