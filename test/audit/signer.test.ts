import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { otelAuditSink } from '../../src/audit/otel-sink.js'
import { ed25519CheckpointSigner, ed25519CheckpointVerifier, hmacCheckpointSigner } from '../../src/node/signer.js'
import { sampleEvent } from './helpers.js'

const body = new TextEncoder().encode('origin\n5\nAAAA\nvectorwarden close t h\n')

describe('checkpoint signers', () => {
  it('Ed25519: a signature verifies with the public key given as PEM, KeyObject or raw bytes, under the same name', () => {
    const keys = generateKeyPairSync('ed25519')
    const signer = ed25519CheckpointSigner(keys.privateKey, 'log')
    const signature = signer.sign(body)
    const raw = new Uint8Array(Buffer.from(keys.publicKey.export({ format: 'jwk' }).x as string, 'base64url'))
    const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    for (const input of [keys.publicKey, pem, raw]) {
      const verifier = ed25519CheckpointVerifier(input, 'log')
      expect(verifier.keyId).toBe(signer.keyId)
      expect(verifier.verify(body, signature)).toBe(true)
    }
  })

  it('Ed25519: a changed body or signature does not verify, and another name gives another key id', () => {
    const keys = generateKeyPairSync('ed25519')
    const signer = ed25519CheckpointSigner(keys.privateKey, 'log')
    const signature = signer.sign(body)
    const verifier = ed25519CheckpointVerifier(keys.publicKey, 'log')
    const changed = new Uint8Array(body)
    changed[0] = (changed[0] as number) ^ 1
    expect(verifier.verify(changed, signature)).toBe(false)
    const bent = new Uint8Array(signature)
    bent[10] = (bent[10] as number) ^ 1
    expect(verifier.verify(body, bent)).toBe(false)
    expect(ed25519CheckpointVerifier(keys.publicKey, 'other').keyId).not.toBe(signer.keyId)
  })

  it('refuses keys of the wrong kind with TypeError', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
    expect(() => ed25519CheckpointSigner(rsa.privateKey, 'log')).toThrow(TypeError)
    expect(() => ed25519CheckpointVerifier(new Uint8Array(31), 'log')).toThrow(TypeError)
    expect(() => hmacCheckpointSigner(new Uint8Array(16))).toThrow(TypeError)
  })

  it('HMAC: verifies its own tags and rejects a tag made with another secret', () => {
    const one = hmacCheckpointSigner(new Uint8Array(32).fill(1))
    const two = hmacCheckpointSigner(new Uint8Array(32).fill(2))
    expect(one.verify(body, one.sign(body))).toBe(true)
    expect(one.verify(body, two.sign(body))).toBe(false)
    expect(one.keyId).not.toBe(two.keyId)
  })
})

describe('otelAuditSink without a logger', () => {
  it('uses the global logger provider (a no-op until an SDK registers one) without throwing', () => {
    expect(() => otelAuditSink().write(sampleEvent(1))).not.toThrow()
  })
})
