// field encryption costs side by side with bare node:crypto AES-256-GCM doing the same work (issue 5 targets)

import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { memoryAdapter } from '../src/adapters/memory/index.js'
import { memoryAuditSink } from '../src/audit/memory-sink.js'
import { createWarden } from '../src/core/index.js'
import { blindIndexer } from '../src/crypto/blind-index.js'
import { fieldEncryption, generateKey, Keyring, type SuiteName } from '../src/crypto/index.js'
import { platform } from '../src/platform/index.js'
import { platform as webPlatform } from '../src/platform/web.js'
import type { Authenticator, Principal } from '../src/spec/auth.js'
import type { FieldProtector } from '../src/spec/protection.js'
import type { PlainRecord } from '../src/spec/protection.js'
import { compare, quick, ratio, report, us } from './harness.js'

const RECORDS = quick ? 10 : 100
const FIELDS = ['title', 'body', 'email'] as const
const principal: Principal = { id: 'bench', kind: 'service', tenant: 'acme', roles: [], scopes: [], attributes: {}, authenticator: 'bench' }
const context = { collection: 'docs', tenant: 'acme', principal }

function text(length: number, seed: number): string {
  let out = ''
  while (out.length < length) out += `lorem ipsum ${seed} dolor sit amet `
  return out.slice(0, length)
}

function plainRecords(): PlainRecord[] {
  return Array.from({ length: RECORDS }, (_, i) => ({
    id: `doc-${i}`,
    vector: [0.1, 0.2],
    metadata: { tenant: 'acme', acl: ['group-a'], title: text(200, i), body: text(200, i + 1), email: text(200, i + 2) },
  }))
}

function protector(suite: SuiteName, portable = false, indexed = false, oneByOne = false) {
  const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
  return fieldEncryption({
    keyring,
    suite,
    ...(portable ? { platform: webPlatform } : {}),
    ...(oneByOne ? { batchDecryption: 'off' as const } : {}),
    collections: { docs: { encrypt: [...FIELDS], ...(indexed ? { blindIndex: ['email'] } : {}), sign: ['tenant', 'acl'], keyScope: 'tenant' } },
  })
}

/** A warden over the memory store holding the records, with or without field encryption; fetches all ids. */
async function wardenFetch(records: readonly PlainRecord[], encryption: FieldProtector | undefined): Promise<() => Promise<unknown>> {
  const authenticator: Authenticator = {
    name: 'bench',
    recognizes: (credential) => credential.scheme === 'bearer',
    authenticate: async () => principal,
  }
  const policy = {
    id: 'bench',
    version: '1',
    decide: () => ({
      effect: 'allow' as const,
      matchedRules: ['all'],
      obligations: { rowFilter: null, stamp: {}, readableFields: '*' as const, writableFields: '*' as const, decryptableFields: '*' as const, readVectors: true },
    }),
  }
  const warden = createWarden({ adapter: memoryAdapter(), authenticators: [authenticator], policy, audit: memoryAuditSink({ limit: 10 }), ...(encryption ? { encryption } : {}) })
  const session = await warden.session('Bearer bench-token-0123456789')
  await session.createCollection('docs', { dimension: 2, distance: 'cosine' })
  await session.upsert('docs', records)
  const ids = records.map((record) => record.id)
  return () => session.fetch('docs', ids)
}

export default async function crypto(): Promise<void> {
  const records = plainRecords()
  const fieldCount = RECORDS * FIELDS.length
  // bare baseline: the same number of 200-byte AES-256-GCM operations, nothing else
  const bareKey = randomBytes(32)
  const bareNonces = Array.from({ length: fieldCount }, () => randomBytes(12))
  const barePlain = records.flatMap((record) => FIELDS.map((field) => Buffer.from(String(record.metadata?.[field]))))
  const bareSealed = barePlain.map((plain, i) => {
    const cipher = createCipheriv('aes-256-gcm', bareKey, bareNonces[i] as Buffer)
    const ct = Buffer.concat([cipher.update(plain), cipher.final()])
    return { ct, tag: cipher.getAuthTag() }
  })
  const bareDecrypt = () => {
    for (let i = 0; i < fieldCount; i++) {
      const sealed = bareSealed[i] as { ct: Buffer; tag: Buffer }
      const decipher = createDecipheriv('aes-256-gcm', bareKey, bareNonces[i] as Buffer)
      decipher.setAuthTag(sealed.tag)
      decipher.update(sealed.ct)
      decipher.final()
    }
  }
  const bareEncrypt = () => {
    for (let i = 0; i < fieldCount; i++) {
      const cipher = createCipheriv('aes-256-gcm', bareKey, randomBytes(12))
      cipher.update(barePlain[i] as Buffer)
      cipher.final()
      cipher.getAuthTag()
    }
  }

  const gcm = protector('aes-256-gcm')
  const xchacha = protector('xchacha20-poly1305')
  const portable = protector('aes-256-gcm', true)
  const portableOneByOne = protector('aes-256-gcm', true, false, true)
  const oneByOne = protector('aes-256-gcm', false, false, true)
  const indexed = protector('aes-256-gcm', false, true)
  const storedGcm = await gcm.protect(records, context)
  const storedOneByOne = await oneByOne.protect(records, context)
  const storedPortableOneByOne = await portableOneByOne.protect(records, context)
  const storedXchacha = await xchacha.protect(records, context)
  const storedPortable = await portable.protect(records, context)
  const read = { ...context, decryptable: '*' as const, includeVectors: false }
  const check = await gcm.unprotect(storedGcm, read)
  if (check.failures.length > 0 || check.records.length !== RECORDS) throw new Error('bench setup: records did not round-trip')

  const options = { batch: quick ? 2 : 5, rounds: quick ? 3 : 30 }
  // the least any string-stored, place-bound envelope costs: base64 decoding, AAD, JSON; plus one HMAC per record
  const floorKey = randomBytes(32)
  const floorAad = randomBytes(80)
  const floorTexts = barePlain.map((plain) => {
    const nonce = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', bareKey, nonce)
    cipher.setAAD(floorAad)
    const ct = Buffer.concat([cipher.update(Buffer.from(JSON.stringify(plain.toString()))), cipher.final()])
    return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url')
  })
  const floor = () => {
    for (let i = 0; i < fieldCount; i++) {
      const bytes = Buffer.from(floorTexts[i] as string, 'base64url')
      const decipher = createDecipheriv('aes-256-gcm', bareKey, bytes.subarray(0, 12))
      decipher.setAAD(floorAad)
      decipher.setAuthTag(bytes.subarray(bytes.length - 16))
      const plain = decipher.update(bytes.subarray(12, bytes.length - 16))
      decipher.final()
      JSON.parse(plain.toString())
      if (i % FIELDS.length === 0) createHmac('sha256', floorKey).update(floorAad).digest()
    }
  }
  const wardenEncrypted = await wardenFetch(records, protector('aes-256-gcm'))
  const wardenOneByOne = await wardenFetch(records, protector('aes-256-gcm', false, false, true))
  const wardenPlain = await wardenFetch(records, undefined)
  const decrypt = await compare(
    {
      bare: bareDecrypt,
      floor,
      wardenEncrypted,
      wardenOneByOne,
      wardenPlain,
      protector: () => gcm.unprotect(storedGcm, read),
      oneByOne: () => oneByOne.unprotect(storedOneByOne, read),
      xchacha: () => xchacha.unprotect(storedXchacha, read),
      portable: () => portable.unprotect(storedPortable, read),
      portableOneByOne: () => portableOneByOne.unprotect(storedPortableOneByOne, read),
    },
    options,
  )
  const bareDecryptUs = decrypt.bare?.medianUs ?? Number.NaN
  report({ group: 'crypto', label: `bare node:crypto AES-256-GCM: ${fieldCount} decryptions of 200 B`, value: us(bareDecryptUs) })
  for (const [name, label] of [
    ['protector', 'unprotect (aes-256-gcm, node, default: batched): MAC + 3 fields × records'],
    ['oneByOne', "unprotect, batchDecryption 'off' (one AEAD call per field)"],
    ['xchacha', 'unprotect (xchacha20-poly1305, node, one by one)'],
    ['portable', 'unprotect (aes-256-gcm, @noble portable path, batched)'],
    ['portableOneByOne', "unprotect (@noble portable path, batchDecryption 'off')"],
  ] as const) {
    const value = (decrypt[name]?.medianUs ?? Number.NaN) / bareDecryptUs
    const target = name === 'protector' ? { target: '≤ 1.5×', pass: value <= 1.5 } : {}
    report({ group: 'crypto', label: `${label} vs bare`, value: `${ratio(value)} (${us(decrypt[name]?.medianUs ?? Number.NaN)})`, ...target })
  }
  const floorRatio = (decrypt.floor?.medianUs ?? Number.NaN) / bareDecryptUs
  report({ group: 'crypto', label: 'floor: base64 + AAD + JSON + 1 HMAC/record, no framework, vs bare', value: ratio(floorRatio) })
  const stageUs = (decrypt.wardenEncrypted?.medianUs ?? Number.NaN) - (decrypt.wardenPlain?.medianUs ?? Number.NaN)
  report({ group: 'crypto', label: 'warden fetch of the records, encrypted (default) vs bare', value: `${ratio((decrypt.wardenEncrypted?.medianUs ?? Number.NaN) / bareDecryptUs)} (${us(decrypt.wardenEncrypted?.medianUs ?? Number.NaN)})`, target: '≤ 1.5×', pass: (decrypt.wardenEncrypted?.medianUs ?? Number.NaN) / bareDecryptUs <= 1.5 })
  report({ group: 'crypto', label: "warden fetch, batchDecryption 'off' vs bare", value: `${ratio((decrypt.wardenOneByOne?.medianUs ?? Number.NaN) / bareDecryptUs)} (${us(decrypt.wardenOneByOne?.medianUs ?? Number.NaN)})` })
  report({ group: 'crypto', label: 'warden fetch, encrypted minus clear (the encryption stage) vs bare', value: ratio(stageUs / bareDecryptUs) })

  const encrypt = await compare(
    {
      bare: bareEncrypt,
      protector: () => gcm.protect(records, context),
      xchacha: () => xchacha.protect(records, context),
      indexed: () => indexed.protect(records, context),
    },
    options,
  )
  const bareEncryptUs = encrypt.bare?.medianUs ?? Number.NaN
  report({ group: 'crypto', label: `bare node:crypto AES-256-GCM: ${fieldCount} encryptions of 200 B`, value: us(bareEncryptUs) })
  const encryptRatio = (encrypt.protector?.medianUs ?? Number.NaN) / bareEncryptUs
  report({ group: 'crypto', label: 'protect (aes-256-gcm, node): 3 fields + record MAC vs bare', value: `${ratio(encryptRatio)} (${us(encrypt.protector?.medianUs ?? Number.NaN)})`, target: '≤ 1.5×', pass: encryptRatio <= 1.5 })
  const xchachaRatio = (encrypt.xchacha?.medianUs ?? Number.NaN) / bareEncryptUs
  report({ group: 'crypto', label: 'protect (xchacha20-poly1305, node) vs bare', value: ratio(xchachaRatio) })
  const indexedRatio = (encrypt.indexed?.medianUs ?? Number.NaN) / bareEncryptUs
  report({ group: 'crypto', label: 'protect (aes-256-gcm) + a blind index on one field vs bare', value: ratio(indexedRatio) })

  const indexKey = gcm.keyring.deriveKey('blind-index', { kind: 'tenant', tenant: 'acme' })
  const token = blindIndexer(platform, indexKey.key, indexKey.keyId, 'docs', 'email', 32)
  let counter = 0
  const hmacKey = randomBytes(32)
  const tokens = await compare(
    {
      token: () => token(`user-${counter++}@example.com`),
      hmac: () => createHmac('sha256', hmacKey).update(`user-${counter++}@example.com`).digest(),
    },
    { batch: 1000, rounds: quick ? 3 : 30 },
  )
  const tokenUs = tokens.token?.medianUs ?? Number.NaN
  report({ group: 'crypto', label: 'blind-index token (HMAC-SHA256, 32 bits)', value: us(tokenUs), target: '≤ 3 µs', pass: tokenUs <= 3 })
  report({ group: 'crypto', label: 'bare node:crypto HMAC-SHA256 of the same text (machine load check)', value: us(tokens.hmac?.medianUs ?? Number.NaN) })
}
