// an audit sink that prints each event as one JSON line (stdout by default), for containers that ship logs

import type { AuditEvent, AuditSink } from '../spec/audit.js'

/**
 * Writes each event as a single JSON line. By default to `console.log`, which a container runtime ships to its log
 * collector; pass `write` to send lines elsewhere.
 *
 * @example
 * ```ts
 * const lines: string[] = []
 * const sink = consoleAuditSink({ write: (line) => lines.push(line) })
 * ```
 */
export function consoleAuditSink(options: { write?: (line: string) => void } = {}): AuditSink {
  const write = options.write ?? ((line: string) => console.log(line))
  if (typeof write !== 'function') throw new TypeError('consoleAuditSink: write must be a function')
  return {
    name: 'console',
    write(event: AuditEvent): void {
      write(JSON.stringify(event))
    },
  }
}
