// `vectorwarden policy check <file.json>`: validates a policy document and, optionally, explains one decision

import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { WardenError } from '../../errors.js'
import { definePolicy } from '../../policy/define.js'
import type { Principal, RequestContext } from '../../spec/auth.js'
import { ACTIONS, type Action, type Decision } from '../../spec/policy.js'
import type { CliCommand, CliIo } from '../cli-types.js'

const USAGE = `usage: vectorwarden policy check [options] <policy.json>

Validates a policy document (the same checks as definePolicy) and prints its id, content version, roles and rules.
With --principal and --action, also prints the decision for one request and why.
Exit code 0 when the document is valid (and, with --expect, the decision matches), 1 when not, 2 on a usage error.

options:
  --principal <file>    a principal as JSON: { "id", "kind", "tenant", "roles", "attributes", "amr", ... }
  --context <file>      a request context as JSON: { "ip", "device", "attributes", ... }
  --action <action>     one of: ${ACTIONS.join(', ')}
  --collection <name>   the collection of the request
  --namespace <name>    the namespace of the request
  --include-vectors     the request asks for vectors
  --now <iso-time>      the time of the request (default: now)
  --expect <effect>     allow or deny: exit 1 when the decision differs
  --json                print the result as JSON
`

function readJson(path: string, io: CliIo): unknown {
  const text = readFileSync(isAbsolute(path) ? path : resolve(io.cwd, path), 'utf8')
  return JSON.parse(text) as unknown
}

function describeDecision(decision: Decision): string[] {
  const lines = [`decision: ${decision.effect}${decision.effect === 'deny' ? ` (${decision.code})` : ''}`]
  if (decision.matchedRules.length > 0) lines.push(`  matched rules: ${decision.matchedRules.join(', ')}`)
  if (decision.effect === 'deny') for (const reason of decision.reasons) lines.push(`  reason: ${reason}`)
  else {
    const obligations = decision.obligations
    lines.push(`  row filter: ${JSON.stringify(obligations.rowFilter)}`)
    if (Object.keys(obligations.stamp).length > 0) lines.push(`  stamp: ${JSON.stringify(obligations.stamp)}`)
    lines.push(`  readable fields: ${JSON.stringify(obligations.readableFields)}`)
    lines.push(`  writable fields: ${JSON.stringify(obligations.writableFields)}`)
    lines.push(`  decryptable fields: ${JSON.stringify(obligations.decryptableFields)}`)
    lines.push(`  vectors: ${obligations.readVectors ? 'readable' : 'not readable'}`)
    const limits = [
      obligations.maxTopK === undefined ? undefined : `maxTopK ${obligations.maxTopK}`,
      obligations.maxIds === undefined ? undefined : `maxIds ${obligations.maxIds}`,
      obligations.maxDelete === undefined ? undefined : `maxDelete ${obligations.maxDelete}`,
    ].filter((limit) => limit !== undefined)
    if (limits.length > 0) lines.push(`  limits: ${limits.join(', ')}`)
  }
  return lines
}

/**
 * The `policy check` command.
 *
 * @example
 * ```sh
 * vectorwarden policy check policy.json --principal alice.json --action record.query --collection docs
 * ```
 */
export const policyCheckCommand: CliCommand = {
  path: ['policy', 'check'],
  summary: 'validate a policy document and explain a decision',
  usage: USAGE,
  async run(args, io) {
    let parsed: ReturnType<typeof parseArgs>
    try {
      parsed = parseArgs({
        args: [...args],
        allowPositionals: true,
        options: {
          principal: { type: 'string' },
          context: { type: 'string' },
          action: { type: 'string' },
          collection: { type: 'string' },
          namespace: { type: 'string' },
          'include-vectors': { type: 'boolean' },
          now: { type: 'string' },
          expect: { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean' },
        },
      })
    } catch (error) {
      io.stderr(`${(error as Error).message}\n${USAGE}`)
      return 2
    }
    const { values, positionals } = parsed
    if (values.help === true) {
      io.stdout(USAGE)
      return 0
    }
    if (positionals.length !== 1) {
      io.stderr(USAGE)
      return 2
    }
    const action = values.action as string | undefined
    if (action !== undefined && !(ACTIONS as readonly string[]).includes(action)) {
      io.stderr(`unknown action '${action}'\n${USAGE}`)
      return 2
    }
    if ((values.principal === undefined) !== (action === undefined)) {
      io.stderr(`--principal and --action go together\n${USAGE}`)
      return 2
    }
    const expect = values.expect as string | undefined
    if (expect !== undefined && expect !== 'allow' && expect !== 'deny') {
      io.stderr(`--expect takes allow or deny\n${USAGE}`)
      return 2
    }
    const now = values.now === undefined ? Date.now() : Date.parse(values.now as string)
    if (!Number.isFinite(now)) {
      io.stderr(`--now: not an ISO time\n${USAGE}`)
      return 2
    }
    const json = values.json === true
    const file = positionals[0] as string
    let policy: ReturnType<typeof definePolicy>
    try {
      policy = definePolicy(readJson(file, io) as Parameters<typeof definePolicy>[0])
    } catch (error) {
      const message = WardenError.isInstance(error) || error instanceof SyntaxError ? error.message : 'cannot read the file'
      if (json) io.stdout(`${JSON.stringify({ ok: false, file, error: message })}\n`)
      else io.stdout(`INVALID: ${file}\n  ${message}\n`)
      return 1
    }
    policy.grants.close()
    const summary = {
      ok: true,
      file,
      id: policy.id,
      version: policy.version,
      roles: Object.keys(policy.document.roles),
      rules: policy.ruleCount,
    }
    let decision: Decision | undefined
    if (action !== undefined && values.principal !== undefined) {
      let principal: Principal
      let context: RequestContext = {}
      try {
        const raw = readJson(values.principal as string, io) as Partial<Principal>
        principal = { kind: 'user', roles: [], scopes: [], attributes: {}, authenticator: 'cli', ...raw } as Principal
        if (values.context !== undefined) context = readJson(values.context as string, io) as RequestContext
      } catch (error) {
        io.stderr(`cannot read the principal or context: ${error instanceof SyntaxError ? error.message : 'unreadable file'}\n`)
        return 2
      }
      decision = policy.decide({
        principal,
        action: action as Action,
        resource: {
          ...(values.collection === undefined ? {} : { collection: values.collection as string }),
          ...(values.namespace === undefined ? {} : { namespace: values.namespace as string }),
        },
        context,
        now,
        includeVectors: values['include-vectors'] === true,
      })
    }
    if (json) io.stdout(`${JSON.stringify(decision === undefined ? summary : { ...summary, decision })}\n`)
    else {
      const lines = [
        `OK: policy '${summary.id}' ${summary.version}`,
        `  ${summary.roles.length} role(s): ${summary.roles.join(', ')}`,
        `  ${summary.rules} rule(s)`,
      ]
      if (decision !== undefined) lines.push(...describeDecision(decision))
      io.stdout(`${lines.join('\n')}\n`)
    }
    if (expect !== undefined && decision !== undefined && decision.effect !== expect) return 1
    return 0
  },
}
