// shared fixtures of the crypto tests
import { type CollectionEncryptionConfig, type FieldEncryptionConfig, fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import type { Principal } from '../../src/spec/auth.js'

export const principal: Principal = { id: 'user-1', kind: 'user', tenant: 'acme', roles: [], scopes: [], attributes: {}, authenticator: 'test' }

/** `null`: a caller without a tenant. */
export const context = (tenant: string | null = 'acme', collection = 'docs') => ({
  collection,
  ...(tenant === null ? {} : { tenant }),
  principal: tenant === null ? { ...principal, tenant: undefined } : { ...principal, tenant },
})

export const readContext = (tenant: string | null = 'acme', decryptable: '*' | readonly string[] = '*', collection = 'docs') => ({
  ...context(tenant, collection),
  decryptable,
  includeVectors: false,
})

export const docsConfig: CollectionEncryptionConfig = {
  encrypt: ['email', 'body', 'ssn'],
  blindIndex: { email: { bits: 32 }, ssn: { bits: 16 } },
  sign: ['tenant', 'acl'],
  keyScope: 'tenant',
}

export function newKeyring(): Keyring {
  return new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
}

let batchDecryption: NonNullable<FieldEncryptionConfig['batchDecryption']> = 'auto'

/**
 * The batching of the protectors `newProtector` makes: `auto` (the default: batched reads of version 2 records)
 * unless a suite file runs the same tests again with `off` (test/crypto/one-by-one.test.ts).
 */
export function setBatchDecryption(mode: NonNullable<FieldEncryptionConfig['batchDecryption']>): void {
  batchDecryption = mode
}

export function newProtector(options: Partial<FieldEncryptionConfig> & { docs?: CollectionEncryptionConfig } = {}) {
  const { docs, ...rest } = options
  return fieldEncryption({ keyring: rest.keyring ?? newKeyring(), collections: { docs: docs ?? docsConfig }, batchDecryption, ...rest })
}
