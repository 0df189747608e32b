// `vectorwarden keys …`: generates keys and manages a keyring document (add, promote, retire, shred, list)

import { randomBytes } from 'node:crypto'
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKey, generateKeyText, type KeyProvider, Keyring, localKeyProvider, parseKeyringDocument } from '../../crypto/index.js'
import { WardenError } from '../../errors.js'
import type { CliCommand, CliIo } from '../cli-types.js'

const USAGE = `usage: vectorwarden keys <action> [options]

Generates keys and manages a keyring document (keys wrapped by a key-encryption key, nothing in clear).
Exit code 0 on success, 1 when the keyring cannot be read or changed, 2 on a usage error.

actions:
  generate                      print a new random 32-byte key as base64url (a key-encryption key)
  init                          create a keyring document with one primary key           (--out, --kek-env)
  list                          show key ids, tenants and states; never key material     (--keyring)
  add                           add a key, decrypt-only unless --primary                 (--keyring, --kek-env, --id)
  promote                       make a key the primary of its group                      (--keyring, --kek-env, --id)
  retire                        retire a decrypt-only key (re-encrypt first)             (--keyring, --kek-env, --id)
  shred                         destroy a tenant's own keys: its data becomes unreadable (--keyring, --kek-env, --tenant)

options:
  --keyring <file>   the keyring document to read and update
  --out <file>       where init writes the document (refuses to overwrite)
  --kek-env <VAR>    environment variable holding the key-encryption key (base64url, 32 bytes)
  --id <id>          key id (A-Z a-z 0-9 _ -, up to 64); init defaults to k1
  --tenant <tenant>  the tenant that owns the key (add) or is shredded (shred)
  --primary          add the key as the primary of its group (only when the group has none)
`

function parseOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      keyring: { type: 'string' },
      out: { type: 'string' },
      'kek-env': { type: 'string' },
      id: { type: 'string' },
      tenant: { type: 'string' },
      primary: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`${message}\n\n${USAGE}`)
  return 2
}

function provider(io: CliIo, variable: string | undefined): KeyProvider | string {
  if (variable === undefined) return '--kek-env is required'
  const value = io.env[variable]
  // never echo the variable's value
  if (value === undefined || value.length === 0) return `environment variable ${variable} is not set`
  try {
    return localKeyProvider({ kek: value })
  } catch {
    return `environment variable ${variable} must hold a 32-byte key as base64url (see: vectorwarden keys generate)`
  }
}

function writeDocument(path: string, document: unknown, exclusive: boolean): void {
  const text = `${JSON.stringify(document, null, 2)}\n`
  if (exclusive) {
    writeFileSync(path, text, { flag: 'wx', mode: 0o600 })
    return
  }
  // never through a symlink: rename would replace the link and leave the document it points to as it was
  if (lstatSync(path).isSymbolicLink()) throw Object.assign(new Error(`${path} is a symbolic link; pass the real path`), { code: 'ELOOP' })
  // write then rename: a crash never leaves half a keyring; O_EXCL on an unpredictable name never follows a planted link
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`
  writeFileSync(temporary, text, { flag: 'wx', mode: 0o600 })
  try {
    renameSync(temporary, path)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/**
 * The `keys` command.
 *
 * @example
 * ```sh
 * export VECTORWARDEN_KEK=$(vectorwarden keys generate)
 * vectorwarden keys init --out keyring.json --kek-env VECTORWARDEN_KEK
 * vectorwarden keys add --keyring keyring.json --kek-env VECTORWARDEN_KEK --id k2
 * vectorwarden keys promote --keyring keyring.json --kek-env VECTORWARDEN_KEK --id k2
 * ```
 */
export const command: CliCommand = {
  path: ['keys'],
  summary: 'generate keys; create and rotate a keyring document (add, promote, retire, shred, list)',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed: ReturnType<typeof parseOptions>
    try {
      parsed = parseOptions(args)
    } catch (error) {
      return usageError(io, (error as Error).message)
    }
    const { values, positionals } = parsed
    if (values.help) {
      io.stdout(USAGE)
      return 0
    }
    if (positionals.length !== 1) return usageError(io, 'name one action')
    const action = positionals[0]
    if (action === 'generate') {
      io.stdout(`${generateKeyText()}\n`)
      return 0
    }
    try {
      if (action === 'init') {
        if (values.out === undefined) return usageError(io, '--out is required')
        const keyProvider = provider(io, values['kek-env'])
        if (typeof keyProvider === 'string') return usageError(io, keyProvider)
        const keyring = new Keyring({ keys: [{ id: values.id ?? 'k1', material: generateKey(), state: 'primary' }] })
        writeDocument(resolve(io.cwd, values.out), await keyring.export(keyProvider), true)
        io.stdout(`created ${values.out} with primary key ${values.id ?? 'k1'}\n`)
        return 0
      }
      if (values.keyring === undefined) return usageError(io, '--keyring is required')
      const path = resolve(io.cwd, values.keyring)
      const document = parseKeyringDocument(JSON.parse(readFileSync(path, 'utf8')))
      if (action === 'list') {
        for (const key of document.keys) {
          io.stdout(`${key.id}\t${key.state}\t${key.tenant === undefined ? '(shared)' : `tenant ${key.tenant}`}\t${new Date(key.createdAt).toISOString()}\n`)
        }
        for (const tenant of document.shreddedTenants) io.stdout(`(shredded)\ttenant ${tenant}\n`)
        return 0
      }
      if (!['add', 'promote', 'retire', 'shred'].includes(action ?? '')) return usageError(io, `unknown action ${action}`)
      const keyProvider = provider(io, values['kek-env'])
      if (typeof keyProvider === 'string') return usageError(io, keyProvider)
      const keyring = await Keyring.load(document, keyProvider)
      if (action === 'shred') {
        if (values.tenant === undefined) return usageError(io, '--tenant is required')
        keyring.shredTenant(values.tenant)
      } else {
        if (values.id === undefined) return usageError(io, '--id is required')
        if (action === 'add') {
          keyring.add({ id: values.id, material: generateKey(), ...(values.tenant === undefined ? {} : { tenant: values.tenant }), ...(values.primary ? { state: 'primary' as const } : {}) })
        } else if (action === 'promote') keyring.promote(values.id)
        else keyring.retire(values.id)
      }
      writeDocument(path, await keyring.export(keyProvider), false)
      io.stdout(`${action}: done; ${values.keyring} updated\n`)
      if (action === 'shred') io.stdout('destroy every older copy and backup of the keyring document too: they still hold the key\n')
      return 0
    } catch (error) {
      if (WardenError.isInstance(error) || error instanceof SyntaxError || (error as NodeJS.ErrnoException).code !== undefined) {
        io.stderr(`vectorwarden keys ${action}: ${(error as Error).message}\n`)
        return 1
      }
      throw error
    }
  },
}
