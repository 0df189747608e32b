// test fixtures: keys, a fixed clock and a raw JWS signer that can produce any header, payload or signature

import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'
import type { JWK } from 'jose'

export const ISSUER = 'https://idp.example.com/'
export const AUDIENCE = 'https://rag.example.com'
/** The fixed "now" of every JWT test, ms since the epoch. */
export const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)
export const NOW_SECONDS = Math.floor(NOW / 1000)
export const clock = (): number => NOW

export const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
export const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 })
export const rsaWeak = generateKeyPairSync('rsa', { modulusLength: 1024 })
export const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
export const ed = generateKeyPairSync('ed25519')
export const hmacSecret = new Uint8Array(randomBytes(32))

export const publicJwk = (key: KeyObject, extra: Partial<JWK> = {}): JWK => ({
  ...(key.export({ format: 'jwk' }) as JWK),
  ...extra,
})

const encode = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

export type Signer = (input: string) => Uint8Array

export const signers = {
  RS256: (input: string) => sign('sha256', Buffer.from(input), rsa.privateKey),
  ES256: (input: string) => sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }),
  EdDSA: (input: string) => sign(null, Buffer.from(input), ed.privateKey),
  HS256: (input: string) => createHmac('sha256', hmacSecret).update(input).digest(),
} satisfies Record<string, Signer>

export const hmacSigner =
  (secret: Uint8Array | string): Signer =>
  (input) =>
    createHmac('sha256', secret).update(input).digest()

export const rsaSigner =
  (key: KeyObject, hash = 'sha256'): Signer =>
  (input) =>
    sign(hash, Buffer.from(input), key)

/** Good claims for the fixed clock; a value of `undefined` in `overrides` removes the claim. */
export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    iat: NOW_SECONDS - 60,
    exp: NOW_SECONDS + 600,
    jti: 'jti-alice-1',
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name]
    else base[name] = value
  }
  return base
}

/** A compact JWS with exactly this header and payload, signed by `signer` (or with `signature` as given). */
export function compact(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  signer?: Signer,
  signature?: string,
): string {
  const input = `${encode(header)}.${encode(payload)}`
  const signed = signature ?? (signer === undefined ? '' : Buffer.from(signer(input)).toString('base64url'))
  return `${input}.${signed}`
}

/** A good token for the fixed clock. */
export function token(
  options: { alg?: keyof typeof signers; header?: Record<string, unknown>; claims?: Record<string, unknown> } = {},
): string {
  const alg = options.alg ?? 'RS256'
  return compact(
    { alg, typ: 'at+jwt', kid: `${alg.toLowerCase()}-1`, ...options.header },
    claims(options.claims),
    signers[alg],
  )
}

export const staticKeys = {
  RS256: { kid: 'rs256-1', alg: 'RS256' as const, key: publicJwk(rsa.publicKey) },
  ES256: { kid: 'es256-1', alg: 'ES256' as const, key: publicJwk(ec.publicKey) },
  EdDSA: { kid: 'eddsa-1', alg: 'EdDSA' as const, key: publicJwk(ed.publicKey) },
  HS256: { kid: 'hs256-1', alg: 'HS256' as const, key: hmacSecret },
}
