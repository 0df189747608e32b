// `vectorwarden audit verify <files…>`: checks a tamper-evident audit log and exits non-zero on any problem

import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { CliCommand, CliIo } from '../cli-types.js'
import { hmacCheckpointSigner } from '../signer.js'
import { type AuditVerifyReport, type VerifyAuditLogOptions, verifyAuditLog } from '../verify.js'

const USAGE = `usage: vectorwarden audit verify [options] <files…>

Verifies an audit log written by fileAuditSink: every rotated file and the active one, in any order.
Exit code 0 when the log is intact, 1 when anything is wrong, 2 on a usage error.

options:
  --public-key <file>     Ed25519 public key (PEM) that signs the checkpoints
  --key-name <name>       the key's C2SP name (default: each checkpoint's origin)
  --origin <name>         the log's name: every checkpoint must carry it (another log signed by the same key fails)
  --hmac-key-env <VAR>    read an HMAC-SHA256 checkpoint key (hex) from this environment variable
  --trusted-size <n>      a tree head kept outside the log: its size …
  --trusted-root <base64> … and its root; the log must contain it
  --live                  the log is still being written: a missing close seal is not a problem
  --require-start         the log must start at seq 0 (no expired rotated files)
  --json                  print the report as JSON
`

function render(report: AuditVerifyReport): string {
  const lines: string[] = []
  const range = report.firstSeq === undefined ? 'no entries' : `seq ${report.firstSeq}…${report.lastSeq ?? report.firstSeq}`
  lines.push(
    `${report.ok ? 'OK' : 'FAILED'}: ${report.entries} entries (${range}) in ${report.files.length} file(s), ` +
      `${report.checkpoints} checkpoints, ${report.verifiedSignatures} signatures verified, ${report.sealed ? 'sealed' : 'not sealed'}`,
  )
  if (report.firstBadSeq !== undefined) lines.push(`first bad sequence number: ${report.firstBadSeq}`)
  for (const problem of report.problems) {
    lines.push(`  ${problem.kind.padEnd(10)} ${problem.seq === undefined ? '' : `seq ${problem.seq} `}${problem.file}:${problem.line}  ${problem.detail}`)
  }
  for (const note of report.notes) lines.push(`  note: ${note}`)
  return lines.join('\n') + '\n'
}

/**
 * The `audit verify` command.
 *
 * @example
 * ```sh
 * vectorwarden audit verify --public-key audit-signing.pub.pem /var/log/vectorwarden/audit.log*
 * ```
 */
export const auditVerifyCommand: CliCommand = {
  path: ['audit', 'verify'],
  summary: 'verify a tamper-evident audit log (hash chain, Merkle checkpoints, signatures, truncation)',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed: ReturnType<typeof parseOptions>
    try {
      parsed = parseOptions(args)
    } catch (error) {
      io.stderr(`${(error as Error).message}\n\n${USAGE}`)
      return 2
    }
    const { values, positionals } = parsed
    if (values.help) {
      io.stdout(USAGE)
      return 0
    }
    if (positionals.length === 0) {
      io.stderr(`no files given\n\n${USAGE}`)
      return 2
    }
    const at = (path: string) => (isAbsolute(path) ? path : resolve(io.cwd, path))
    const options: { -readonly [K in keyof VerifyAuditLogOptions]: VerifyAuditLogOptions[K] } = {
      files: positionals.map(at),
      allowUnsealed: values.live === true,
      requireStart: values['require-start'] === true,
    }
    try {
      if (values['public-key'] !== undefined) options.publicKey = readFileSync(at(values['public-key']), 'utf8')
      if (values['key-name'] !== undefined) options.keyName = values['key-name']
      if (values.origin !== undefined) options.origin = values.origin
      if (values['hmac-key-env'] !== undefined) {
        const hex = io.env[values['hmac-key-env']]
        if (hex === undefined || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error(`${values['hmac-key-env']} does not hold a hex key`)
        options.verifier = hmacCheckpointSigner(new Uint8Array(Buffer.from(hex, 'hex')))
      }
      if ((values['trusted-size'] === undefined) !== (values['trusted-root'] === undefined)) {
        throw new Error('--trusted-size and --trusted-root go together')
      }
      if (values['trusted-size'] !== undefined && values['trusted-root'] !== undefined) {
        // decimal digits only: Number() would read '' as 0 (no check at all), and '0x10' or '1e3' as other numbers
        const text = values['trusted-size']
        const size = /^(0|[1-9][0-9]*)$/.test(text) ? Number(text) : Number.NaN
        if (!Number.isSafeInteger(size)) throw new Error('--trusted-size must be a whole number in decimal')
        options.trustedCheckpoint = { size, root: values['trusted-root'] }
      }
    } catch (error) {
      io.stderr(`${(error as Error).message}\n`)
      return 2
    }
    let report: AuditVerifyReport
    try {
      report = await verifyAuditLog(options)
    } catch (error) {
      const code = (error as { code?: string }).code
      io.stderr(`cannot verify: ${code ?? (error as Error).message}\n`)
      return 1
    }
    io.stdout(values.json ? JSON.stringify(report, null, 2) + '\n' : render(report))
    return report.ok ? 0 : 1
  },
}

function parseOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      'public-key': { type: 'string' },
      'key-name': { type: 'string' },
      origin: { type: 'string' },
      'hmac-key-env': { type: 'string' },
      'trusted-size': { type: 'string' },
      'trusted-root': { type: 'string' },
      live: { type: 'boolean' },
      'require-start': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
