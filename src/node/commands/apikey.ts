// `vectorwarden apikey generate`: creates an API key, prints it once and the record to store (hash only)

import { parseArgs } from 'node:util'
import { generateApiKey } from '../../auth/api-key.js'
import type { CliCommand, CliIo } from '../cli-types.js'

const USAGE = `usage: vectorwarden apikey generate --client <id> [options]

Creates an API key. The key is printed once: hand it to its owner now. The record (JSON) holds only a keyed
hash of the key; store it where apiKeyAuthenticator reads its keys. Exit code 0 on success, 2 on a usage error.

options:
  --client <id>          the client the key belongs to (becomes the principal id)   (required)
  --tenant <tenant>      the tenant the key acts in
  --roles <a,b>          roles, comma-separated
  --scopes <a,b>         scopes, comma-separated
  --kind <user|service>  default service
  --prefix <prefix>      key prefix, 2–16 lowercase letters or digits (default vw)
  --expires-in <dur>     lifetime: a number followed by s, m, h or d (e.g. 90d)
  --pepper-env <VAR>     read the server-side pepper (hex, at least 32 bytes) from this environment variable
  --json                 print { apiKey, record } as one JSON object
`

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
}

function parseOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: false,
    strict: true,
    options: {
      client: { type: 'string' },
      tenant: { type: 'string' },
      roles: { type: 'string' },
      scopes: { type: 'string' },
      kind: { type: 'string' },
      prefix: { type: 'string' },
      'expires-in': { type: 'string' },
      'pepper-env': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`${message}\n\n${USAGE}`)
  return 2
}

/**
 * The `apikey generate` command.
 *
 * @example
 * ```sh
 * vectorwarden apikey generate --client indexer --tenant acme --roles writer --expires-in 90d
 * ```
 */
export const command: CliCommand = {
  path: ['apikey', 'generate'],
  summary: 'create an API key: print it once, and the record to store (hash only)',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let values: ReturnType<typeof parseOptions>['values']
    try {
      values = parseOptions(args).values
    } catch (error) {
      return usageError(io, (error as Error).message)
    }
    if (values.help) {
      io.stdout(USAGE)
      return 0
    }
    if (values.client === undefined || values.client.length === 0) return usageError(io, '--client is required')
    const kind = values.kind
    if (kind !== undefined && kind !== 'user' && kind !== 'service') return usageError(io, '--kind must be user or service')
    const prefix = values.prefix
    if (prefix !== undefined && !/^[a-z][a-z0-9]{1,15}$/.test(prefix)) {
      return usageError(io, '--prefix must be 2–16 lowercase letters or digits, starting with a letter')
    }
    const now = Date.now()
    let expiresAt: number | undefined
    if (values['expires-in'] !== undefined) {
      const match = /^(\d+)([smhd])$/.exec(values['expires-in'])
      if (!match) return usageError(io, '--expires-in must look like 90d, 12h, 30m or 45s')
      expiresAt = now + Number(match[1]) * UNITS[match[2]!]!
    }
    let pepper: Uint8Array | undefined
    if (values['pepper-env'] !== undefined) {
      const hex = io.env[values['pepper-env']]
      if (hex === undefined || !/^(?:[0-9a-fA-F]{2}){32,}$/.test(hex)) {
        // never echo the variable's value
        return usageError(io, `environment variable ${values['pepper-env']} must hold at least 32 bytes of hex`)
      }
      pepper = Uint8Array.from(hex.match(/../g)!, (pair) => Number.parseInt(pair, 16))
    }
    const { apiKey, record } = await generateApiKey({
      clientId: values.client,
      ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
      ...(list(values.roles) === undefined ? {} : { roles: list(values.roles)! }),
      ...(list(values.scopes) === undefined ? {} : { scopes: list(values.scopes)! }),
      ...(kind === undefined ? {} : { kind }),
      ...(prefix === undefined ? {} : { prefix }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(pepper === undefined ? {} : { pepper }),
      now,
    })
    if (values.json) {
      io.stdout(`${JSON.stringify({ apiKey, record }, null, 2)}\n`)
    } else {
      io.stdout(
        `API key for ${record.clientId} (shown once; hand it over now):\n${apiKey}\n\n` +
          `record to store (holds only a hash of the key):\n${JSON.stringify(record, null, 2)}\n`,
      )
    }
    return 0
  },
}
