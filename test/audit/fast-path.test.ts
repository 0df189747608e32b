import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ByteWriter, writeCanonical } from '../../src/audit/canonical-bytes.js'
import { canonicalize } from '../../src/audit/canonical-json.js'
import { createAuditEmitter } from '../../src/audit/emitter.js'
import { AuditChain, platformChainHasher } from '../../src/audit/log-format.js'
import { HexMerkleFrontier, MerkleFrontier, merkleLeafHash, merkleNodeHash } from '../../src/audit/merkle.js'
import { BufferWriter } from '../../src/node/byte-writer.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { nodeChainHasher } from '../../src/node/hasher.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import { platform } from '../../src/platform/index.js'
import type { AuditEvent, AuditSink } from '../../src/spec/audit.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

const decode = (out: ByteWriter): string => new TextDecoder('utf-8', { fatal: true }).decode(out.bytes.subarray(0, out.length))
const hex = (bytes: Uint8Array) => platform.hex(bytes)

/** Strings that reach every branch: escapes, 2-, 3- and 4-byte UTF-8, lone surrogates, and long ones (native path). */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 48, maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u007f', 'é', '€', '\ud83d\ude00', '\ud800', '\udc00'), maxLength: 80 }),
)

/** The outcome of a serializer: its text, or that it threw a TypeError. */
function outcome(serialize: () => string): string {
  try {
    return serialize()
  } catch (error) {
    if (error instanceof TypeError) return 'TypeError'
    throw error
  }
}

describe('canonical bytes (the file sink path)', () => {
  for (const [name, make] of [
    ['ByteWriter', () => new ByteWriter(16)],
    ['BufferWriter', () => new BufferWriter(16)],
  ] as const) {
    it(`${name}: writeCanonical is byte for byte the UTF-8 of canonicalize, for any JSON value`, () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const out = make()
          writeCanonical(out, value)
          expect(decode(out)).toBe(canonicalize(value))
        }),
        { numRuns: 300 },
      )
    })

    it(`${name}: writeCanonical accepts and rejects exactly the strings canonicalize does, with the same text`, () => {
      fc.assert(
        fc.property(anyString, fc.dictionary(anyString, anyString, { maxKeys: 4 }), (text, record) => {
          for (const value of [text, record, [text]]) {
            const out = make()
            const written = outcome(() => {
              writeCanonical(out, value)
              return decode(out)
            })
            expect(written).toBe(outcome(() => canonicalize(value)))
          }
        }),
        { numRuns: 500 },
      )
    })
  }

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.NEGATIVE_INFINITY],
    ['a bigint', 1n],
    ['a lone surrogate in a key', { '\ud800': 1 }],
  ])('rejects %s with a TypeError', (_name, value) => {
    expect(() => writeCanonical(new ByteWriter(), value)).toThrow(TypeError)
  })

  it('rejects cycles with a TypeError instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => writeCanonical(new ByteWriter(), cyclic)).toThrow(TypeError)
  })

  it('honours toJSON, writes -0 as 0 and sorts integer-like member names by code units', () => {
    const out = new ByteWriter()
    writeCanonical(out, { when: new Date(0), zero: -0, 10: 'ten', 9: 'nine', b: [undefined, () => 1] })
    expect(decode(out)).toBe('{"10":"ten","9":"nine","b":[null,null],"when":"1970-01-01T00:00:00.000Z","zero":0}')
  })

  it('sorts objects with more members than the insertion sort handles', () => {
    const record = Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`k${(index * 7) % 40}`, index]))
    const out = new ByteWriter()
    writeCanonical(out, record)
    expect(decode(out)).toBe(canonicalize(record))
  })

  it('grows its buffer and keeps what was written before', () => {
    const out = new BufferWriter(16)
    out.ascii('prefix:')
    writeCanonical(out, { text: 'x'.repeat(5000), more: 'é'.repeat(3000) })
    expect(decode(out)).toBe(`prefix:${canonicalize({ text: 'x'.repeat(5000), more: 'é'.repeat(3000) })}`)
  })
})

describe('AuditChain.appendTo', () => {
  it('writes exactly the line append returns plus a newline, and leaves the same chain state', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 12 }), (payloads) => {
        for (const hasher of [nodeChainHasher, platformChainHasher]) {
          const byString = new AuditChain({ origin: 'test', hasher })
          const byBytes = new AuditChain({ origin: 'test', hasher })
          const out = new BufferWriter(16)
          let expected = ''
          for (const [index, payload] of payloads.entries()) {
            const event = { ...sampleEvent(index), data: { ...sampleEvent(index).data, payload } } as unknown as AuditEvent
            expected += `${byString.append(event)}\n`
            byBytes.appendTo(event, out)
          }
          expect(decode(out)).toBe(expected)
          expect(byBytes.checkpoint('close', 0)).toStrictEqual(byString.checkpoint('close', 0))
        }
      }),
      { numRuns: 40 },
    )
  })

  it('leaves the buffer and the chain untouched when the event is not JSON', () => {
    const chain = new AuditChain({ origin: 'test', hasher: nodeChainHasher })
    const out = new BufferWriter(64)
    chain.appendTo(sampleEvent(0), out)
    const before = decode(out)
    const bad = { ...sampleEvent(1), data: { ...sampleEvent(1).data, latency: Number.NaN } } as unknown as AuditEvent
    expect(() => chain.appendTo(bad, out)).toThrow(TypeError)
    expect(decode(out)).toBe(before)
    expect(chain.size).toBe(1)
  })

  it('resumes from a state with the same heads as an uninterrupted chain', () => {
    const whole = new AuditChain({ origin: 'test', hasher: nodeChainHasher })
    const out = new BufferWriter()
    for (let index = 0; index < 11; index++) whole.appendTo(sampleEvent(index), out)
    const resumed = new AuditChain({ origin: 'test', hasher: nodeChainHasher, state: whole.state })
    whole.appendTo(sampleEvent(11), out)
    resumed.appendTo(sampleEvent(11), new BufferWriter())
    expect(resumed.checkpoint('close', 0)).toStrictEqual(whole.checkpoint('close', 0))
  })
})

describe('hex hashing', () => {
  it('HexMerkleFrontier has the root of MerkleFrontier (RFC 6962) for any number of leaves', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 8 }), { maxLength: 40 }), (leaves) => {
        const bytes = new MerkleFrontier()
        const hexTree = new HexMerkleFrontier(nodeChainHasher.nodeHex as (left: string, right: string) => string)
        for (const leaf of leaves) {
          const hash = merkleLeafHash(leaf)
          bytes.append(hash)
          hexTree.append(hex(hash))
        }
        expect(hexTree.root()).toBe(hex(bytes.root()))
        expect(hexTree.nodes).toStrictEqual(bytes.nodes.map(hex))
      }),
    )
  })

  it('the node hasher hex paths equal its byte paths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string(), (left, right, text) => {
        expect(nodeChainHasher.nodeHex?.(hex(left), hex(right))).toBe(hex(merkleNodeHash(left, right)))
        expect(nodeChainHasher.entryHex?.(text)).toBe(hex(nodeChainHasher.entry(text)))
        const bytes = new Uint8Array([9, 0, ...platform.utf8Encode(text), 9])
        expect(nodeChainHasher.entryBytesHex?.(bytes, 1, bytes.length - 1)).toBe(hex(platformChainHasher.entry(text)))
      }),
    )
  })

  it('the node hasher refuses a node hash that is not 64 hex digits', () => {
    expect(() => nodeChainHasher.nodeHex?.('zz'.repeat(32), 'a'.repeat(64))).toThrow(TypeError)
    expect(() => nodeChainHasher.nodeHex?.('a'.repeat(62), 'a'.repeat(64))).toThrow(TypeError)
  })
})

describe('batched emitter under a burst', () => {
  function recordingSink(durable: boolean) {
    const written: string[] = []
    let flushes = 0
    const sink: AuditSink = {
      name: 'recording',
      durable,
      write(event) {
        written.push(event.id)
        return Promise.resolve()
      },
      async flush() {
        flushes++
      },
    }
    return { sink, written, flushes: () => flushes }
  }

  it('accepts a burst far beyond maxQueue, keeps emission order, and resolves every emit', async () => {
    const { sink, written } = recordingSink(false)
    const emitter = createAuditEmitter({ sinks: sink, mode: 'batched', maxQueue: 8, maxBatch: 3 })
    const events = Array.from({ length: 100 }, (_, index) => sampleEvent(index))
    const results = await Promise.allSettled(events.map((event) => emitter.emit(event)))
    expect(results.every((result) => result.status === 'fulfilled')).toBe(true)
    expect(written).toEqual(events.map((event) => event.id))
    await emitter.close()
  })

  it('does not flush a durable sink per group, and still flushes it on flush()', async () => {
    const { sink, flushes } = recordingSink(true)
    const emitter = createAuditEmitter({ sinks: sink, mode: 'batched', maxBatch: 2 })
    await Promise.all([1, 2, 3, 4, 5].map((index) => emitter.emit(sampleEvent(index))))
    expect(flushes()).toBe(0)
    await emitter.flush()
    expect(flushes()).toBe(1)
  })

  it('flushes a sink that is not durable once per group', async () => {
    const { sink, flushes } = recordingSink(false)
    const emitter = createAuditEmitter({ sinks: sink, mode: 'batched', maxBatch: 2 })
    await Promise.all([1, 2, 3, 4].map((index) => emitter.emit(sampleEvent(index))))
    expect(flushes()).toBe(2)
  })
})

describe('file sink write buffers', () => {
  it('writes groups larger than one write buffer, with non-ASCII text, rotation and both fsync modes, and the log verifies', async () => {
    for (const fsync of ['never', 'group'] as const) {
      const directory = temporaryDirectory()
      try {
        const path = join(directory.path, 'audit.log')
        const sink = fileAuditSink({ path, fsync, rotate: { maxBytes: 3 * 1024 * 1024 }, checkpoint: { every: 500 }, onAlarm: () => {} })
        // ~4 KB per event, 2000 events in one turn: one group of about 8 MiB, several write buffers, two rotations
        const events = Array.from({ length: 2000 }, (_, index) => {
          const event = sampleEvent(index)
          return { ...event, data: { ...event.data, note: `é€😀 ${'x'.repeat(1000)} "quoted" \\ ${'ü'.repeat(1000)}` } } as unknown as AuditEvent
        })
        await Promise.all(events.map((event) => sink.write(event)))
        await sink.close()
        const files = readdirSync(directory.path)
          .filter((name) => name.startsWith('audit.log'))
          .map((name) => join(directory.path, name))
        expect(files.length).toBeGreaterThanOrEqual(3)
        const report = await verifyAuditLog({ files })
        expect(report.problems).toEqual([])
        expect(report.entries).toBe(2000)
        expect(report.sealed).toBe(true)
      } finally {
        directory.remove()
      }
    }
  })
})
