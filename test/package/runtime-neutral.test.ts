// the core must run on edge runtimes and in browsers: node-only code lives behind export conditions or node entries

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const src = join(root, 'src')

// files allowed to use node built-ins: the node platform, the node entry, the test fakes, the Redis store
const NODE_ONLY = [/^platform\/node\.ts$/, /^node\//, /^testing\//, /^state\/redis\.ts$/]

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g

function importsOf(text: string): string[] {
  const out: string[] = []
  for (const match of text.matchAll(IMPORT)) out.push((match[1] ?? match[2] ?? match[3]) as string)
  return out
}

describe('runtime neutrality of the core', () => {
  const all = files(src).map((path) => ({ path, rel: relative(src, path).split('\\').join('/') }))

  it('no core module imports a node built-in (node:*, fs, crypto, http, ...)', () => {
    const builtins = /^(node:|fs$|path$|crypto$|http$|https$|net$|os$|child_process$|stream$|buffer$|worker_threads$)/
    const offenders: string[] = []
    for (const { path, rel } of all) {
      if (NODE_ONLY.some((pattern) => pattern.test(rel))) continue
      for (const specifier of importsOf(readFileSync(path, 'utf8'))) {
        if (builtins.test(specifier)) offenders.push(`${rel} imports ${specifier}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('no core module uses Buffer or process (absent on edge runtimes and in browsers)', () => {
    const offenders: string[] = []
    for (const { path, rel } of all) {
      if (NODE_ONLY.some((pattern) => pattern.test(rel))) continue
      const code = readFileSync(path, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
      if (/\bBuffer\./.test(code) || /\bBuffer\(/.test(code)) offenders.push(`${rel} uses Buffer`)
      if (/\bprocess\.(env|versions|hrtime|nextTick|exit)/.test(code)) offenders.push(`${rel} uses process`)
    }
    expect(offenders).toEqual([])
  })

  it('vendor clients and optional peers are imported only from their own entry modules, as types in adapters', () => {
    const peers = /^(@qdrant\/js-client-rest|@pinecone-database\/pinecone|ioredis|@opentelemetry\/)/
    const offenders: string[] = []
    for (const { path, rel } of all) {
      const text = readFileSync(path, 'utf8')
      for (const line of text.split('\n')) {
        const match = /from\s+['"]([^'"]+)['"]/.exec(line)
        if (!match || !peers.test(match[1] as string)) continue
        const typeOnly = /^\s*import\s+type\s/.test(line) || /^\s*export\s+type\s/.test(line)
        const ownEntry = /^(adapters\/(qdrant|pinecone)\/|state\/redis\.ts$|audit\/otel-sink\.ts$|testing\/)/.test(rel)
        if (!typeOnly && !ownEntry) offenders.push(`${rel}: ${line.trim()}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('the public core entry never reaches a node-only module through its imports', () => {
    const seen = new Set<string>()
    const offenders: string[] = []
    const visit = (rel: string) => {
      if (seen.has(rel)) return
      seen.add(rel)
      if (NODE_ONLY.some((pattern) => pattern.test(rel))) offenders.push(rel)
      const text = readFileSync(join(src, rel), 'utf8')
      for (const specifier of importsOf(text)) {
        if (!specifier.startsWith('.')) continue
        const target = relative(src, join(src, rel, '..', specifier.replace(/\.js$/, '.ts'))).split('\\').join('/')
        try {
          statSync(join(src, target))
          visit(target)
        } catch {
          const index = target.replace(/\.ts$/, '/index.ts')
          statSync(join(src, index))
          visit(index)
        }
      }
    }
    visit('index.ts')
    expect(offenders).toEqual([])
    expect(seen.size).toBeGreaterThan(10)
  })
})
