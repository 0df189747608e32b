// `vectorwarden rotate`: re-encrypts a collection under the keyring's primary keys, page by page, resumable

import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { FieldEncryption, type ReencryptProgress, reencryptCollection } from '../../crypto/index.js'
import { WardenError } from '../../errors.js'
import type { VectorStoreAdapterV1 } from '../../spec/adapter.js'
import type { CliCommand, CliIo } from '../cli-types.js'

const USAGE = `usage: vectorwarden rotate --config <module> --collection <name> [options]

Re-encrypts every record of a collection that is not under the primary keys (after \`keys add\` + \`keys promote\`),
page by page through the adapter. Records that fail verification are reported and left alone. Safe to stop and
run again: --cursor continues after the last page printed. Exit code 0 when every record verified, 1 when some
did not (or the run failed), 2 on a usage error.

The module (JavaScript, loaded with import()) exports \`adapter\` (a VectorStoreAdapterV1) and \`encryption\` (the
protector from fieldEncryption()), or a default export that is such an object or a function returning one.

options:
  --config <module>      path of the module                                          (required)
  --collection <name>    the collection to re-encrypt                                 (required)
  --namespace <ns>       a namespace inside the collection
  --batch-size <n>       records per page (default 100)
  --cursor <cursor>      resume after this cursor
  --dry-run              count what would be rewritten, write nothing
  --adopt-unprotected    also encrypt records written before encryption was turned on (no MAC, no envelope);
                         anyone who can write to the store can plant such records: use once, right after enabling
  --json                 print each progress report as one JSON line
`

function parseOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: false,
    strict: true,
    options: {
      config: { type: 'string' },
      collection: { type: 'string' },
      namespace: { type: 'string' },
      'batch-size': { type: 'string' },
      cursor: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'adopt-unprotected': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`${message}\n\n${USAGE}`)
  return 2
}

interface Loaded {
  readonly adapter?: VectorStoreAdapterV1
  readonly encryption?: unknown
}

async function load(path: string): Promise<Loaded> {
  const module = (await import(pathToFileURL(path).href)) as Loaded & { default?: Loaded | (() => Loaded | Promise<Loaded>) }
  if (module.adapter !== undefined) return module
  const fallback = module.default
  return typeof fallback === 'function' ? await fallback() : (fallback ?? {})
}

function line(progress: ReencryptProgress): string {
  return `scanned ${progress.scanned}  rewritten ${progress.rewritten}  current ${progress.current}  raced ${progress.raced}  failed ${progress.failed}${progress.cursor === undefined ? '  (end)' : `  cursor ${progress.cursor}`}\n`
}

/**
 * The `rotate` command.
 *
 * @example
 * ```sh
 * vectorwarden rotate --config ./warden.config.mjs --collection docs --batch-size 500
 * ```
 */
export const command: CliCommand = {
  path: ['rotate'],
  summary: 're-encrypt a collection under the primary keys (resumable, batch by batch)',
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
    if (values.config === undefined) return usageError(io, '--config is required')
    if (values.collection === undefined) return usageError(io, '--collection is required')
    const batchSize = values['batch-size'] === undefined ? 100 : Number(values['batch-size'])
    if (!Number.isInteger(batchSize) || batchSize < 1) return usageError(io, '--batch-size must be a positive integer')
    const loaded = await load(resolve(io.cwd, values.config))
    if (loaded.adapter === undefined || typeof loaded.adapter.doScroll !== 'function') return usageError(io, 'the config module exports no adapter')
    if (!(loaded.encryption instanceof FieldEncryption)) return usageError(io, 'the config module exports no encryption from fieldEncryption()')
    try {
      const result = await reencryptCollection({
        adapter: loaded.adapter,
        protector: loaded.encryption,
        collection: values.collection,
        ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
        ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
        batchSize,
        dryRun: values['dry-run'] === true,
        adoptUnprotected: values['adopt-unprotected'] === true,
        onProgress: (progress) => io.stdout(values.json ? `${JSON.stringify(progress)}\n` : line(progress)),
      })
      for (const failure of values.json ? [] : result.failures) io.stdout(`failed: ${failure.id} (${failure.reason})\n`)
      if (!values.json) io.stdout(result.failed === 0 ? 'every record verified; older keys can be retired once all collections are rotated (not while stored vectors still use them: vector encryption is not rotated here)\n' : 'some records failed verification: investigate before retiring keys\n')
      return result.failed === 0 ? 0 : 1
    } catch (error) {
      if (!WardenError.isInstance(error)) throw error
      io.stderr(`vectorwarden rotate: ${error.message}\n`)
      return 1
    }
  },
}
