// the Redis state store (ioredis): rate limits, baselines, scores and revocations shared by every instance of a fleet

import { Redis, type RedisOptions } from 'ioredis'
import { AdapterError, ConfigError } from '../errors.js'
import { type BaselineState, type StateOperation, type StateResult, type StateStore, TALLY_TOTAL } from './types.js'

// the fleet needs the shared revocation list too; it lives beside the store it is kept in
export { stateRevocationList } from './revocation.js'
export type { StateRevocationListOptions } from './revocation.js'

// each script mirrors a function of algorithms.ts statement by statement; numbers travel as '%.17g' text because a
// Lua number returned to Redis is truncated to an integer
const FORMAT = `local function fmt(x) return string.format('%.17g', x) end
`

const TAKE = `${FORMAT}
local capacity = tonumber(ARGV[1]); local refill = tonumber(ARGV[2]); local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4]); local ttl = tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = tonumber(s[1]); local at = tonumber(s[2])
if tokens == nil or at == nil then tokens = capacity; at = now end
local elapsed = 0
if now > at then elapsed = now - at end
tokens = tokens + (elapsed * refill) / 1000
if tokens > capacity then tokens = capacity end
if now > at then at = now end
local allowed = 0; local retry = 0
if tokens >= cost then
  tokens = tokens - cost; allowed = 1
elseif refill > 0 then
  retry = math.ceil(((cost - tokens) * 1000) / refill)
else
  retry = -1
end
redis.call('HSET', KEYS[1], 't', fmt(tokens), 'a', fmt(at))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return { allowed, fmt(tokens), retry }
`

const BASELINE = `${FORMAT}
local now = tonumber(ARGV[1]); local ttl = tonumber(ARGV[2]); local count = tonumber(ARGV[3])
local out = {}
for i = 0, count - 1 do
  local a = 3 + i * 13
  local value = tonumber(ARGV[a + 1]); local hasMember = ARGV[a + 2] == '1'; local member = ARGV[a + 3]
  local windowMs = tonumber(ARGV[a + 4]); local lambda = tonumber(ARGV[a + 5]); local alarmK = tonumber(ARGV[a + 6])
  local guardK = tonumber(ARGV[a + 7]); local maxRise = tonumber(ARGV[a + 8]); local minSamples = tonumber(ARGV[a + 9])
  local minSigma = tonumber(ARGV[a + 10]); local relativeSigma = tonumber(ARGV[a + 11]); local floor = tonumber(ARGV[a + 12])
  local ceiling = tonumber(ARGV[a + 13])
  local function sig(m, v)
    local sg = math.sqrt(v)
    if m > 0 and math.sqrt(m) > sg then sg = math.sqrt(m) end
    if relativeSigma * m > sg then sg = relativeSigma * m end
    if minSigma > sg then sg = minSigma end
    return sg
  end
  local window = math.floor(now / windowMs)
  local s = redis.call('HMGET', KEYS[1], 'w' .. i, 'c' .. i, 'm' .. i, 'v' .. i, 'n' .. i, 'x' .. i)
  local w, cur, mean, var, n, alarmed
  if s[1] == false then
    w = window; cur = 0; mean = 0; var = 0; n = 0; alarmed = 0
  else
    w = tonumber(s[1]); cur = tonumber(s[2]); mean = tonumber(s[3]); var = tonumber(s[4]); n = tonumber(s[5]); alarmed = tonumber(s[6])
  end
  if hasMember then
    if window > w or s[1] == false then redis.call('DEL', KEYS[2]) end
    if redis.call('SADD', KEYS[2], member) == 0 then value = 0 end
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  end
  if window > w then
    if n == 0 then
      mean = cur; var = 0
    elseif n < minSamples then
      local weight = 1 / (n + 1)
      if lambda > weight then weight = lambda end
      local delta = cur - mean
      mean = mean + weight * delta
      var = (1 - weight) * (var + weight * delta * delta)
    else
      local sigma = sig(mean, var)
      local guard = mean + guardK * sigma
      local clipped = cur
      if clipped > guard then clipped = guard end
      local delta = clipped - mean
      local nm = mean + lambda * delta
      local nv = (1 - lambda) * (var + lambda * delta * delta)
      local base = sigma
      if mean > sigma then base = mean end
      local meanCap = mean + maxRise * base
      if nm > meanCap then nm = meanCap end
      local sigmaCap = sigma * (1 + maxRise)
      if nv > sigmaCap * sigmaCap then nv = sigmaCap * sigmaCap end
      mean = nm; var = nv
    end
    n = n + 1
    w = window; cur = 0; alarmed = 0
  end
  cur = cur + value
  local sigma = sig(mean, var)
  local threshold = 1/0
  if n >= minSamples then threshold = mean + alarmK * sigma end
  if threshold < floor then threshold = floor end
  if ceiling > 0 and threshold > ceiling then threshold = ceiling end
  local fired = 0
  if alarmed == 0 and cur > threshold then alarmed = 1; fired = 1 end
  redis.call('HSET', KEYS[1], 'w' .. i, fmt(w), 'c' .. i, fmt(cur), 'm' .. i, fmt(mean), 'v' .. i, fmt(var), 'n' .. i, n, 'x' .. i, alarmed)
  local o = i * 7
  out[o + 1] = fmt(mean); out[o + 2] = fmt(sigma); out[o + 3] = n; out[o + 4] = fmt(cur)
  out[o + 5] = fmt(threshold); out[o + 6] = alarmed; out[o + 7] = fired
end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return out
`

const SCORE = `${FORMAT}
local add = tonumber(ARGV[1]); local now = tonumber(ARGV[2]); local halfLife = tonumber(ARGV[3])
local max = tonumber(ARGV[4]); local ttl = tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 's', 'a')
local score = tonumber(s[1]); local at = tonumber(s[2])
if score == nil or at == nil then score = 0; at = now end
local elapsed = 0
if now > at then elapsed = now - at end
score = score * 2 ^ (-elapsed / halfLife) + add
if score > max then score = max end
if score < 0.001 then score = 0 end
if now > at then at = now end
redis.call('HSET', KEYS[1], 's', fmt(score), 'a', fmt(at))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return fmt(score)
`

const INCREMENT = `
local value = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return value
`

const ADD = `
local ttl = tonumber(ARGV[2])
local existed = redis.call('EXISTS', KEYS[1])
local before = redis.call('PTTL', KEYS[1])
local added = redis.call('SADD', KEYS[1], ARGV[1])
if ttl == 0 then
  redis.call('PERSIST', KEYS[1])
elseif existed == 0 or (before >= 0 and before < ttl) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return added
`

const TALLY = `
local field = redis.call('HINCRBY', KEYS[1], ARGV[1], 1) - 1
local total = redis.call('HINCRBY', KEYS[1], ARGV[3], 1) - 1
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return { field, total }
`

const RAISE = `${FORMAT}
local level = tonumber(ARGV[1]); local now = tonumber(ARGV[2]); local duration = tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'l', 'u')
local current = 0
local expires = tonumber(s[2])
if expires ~= nil and expires > now then current = tonumber(s[1]) end
if level > current then
  redis.call('HSET', KEYS[1], 'l', fmt(level), 'u', fmt(now + duration))
  redis.call('PEXPIRE', KEYS[1], math.ceil(duration))
  return fmt(level)
end
if level == current and current > 0 and now + duration > expires then
  redis.call('HSET', KEYS[1], 'u', fmt(now + duration))
  redis.call('PEXPIRE', KEYS[1], math.ceil(duration))
end
return fmt(current)
`

const SCRIPTS = { raise: RAISE, take: TAKE, baseline: BASELINE, score: SCORE, increment: INCREMENT, add: ADD, tally: TALLY } as const
type ScriptName = keyof typeof SCRIPTS

/** Options of {@link redisStateStore}. Give `client` or `url`. */
export interface RedisStateStoreOptions {
  /**
   * An ioredis client you own (the store never closes it). Configure it to fail fast while Redis is down
   * (`maxRetriesPerRequest: 1`), or calls wait until `timeoutMs`.
   */
  readonly client?: Redis
  /** A `redis://` URL; the store creates, configures and closes its own client. */
  readonly url?: string
  /** Prefix of every key. Default `vw:`. */
  readonly prefix?: string
  /** A batch that has no answer after this many ms fails with `AdapterError` (`state_timeout`). Default 250. */
  readonly timeoutMs?: number
}

/** The Redis store, with its client for health checks. */
export interface RedisStateStore extends StateStore {
  readonly client: Redis
  /** Round-trip check; resolves to the latency in ms or rejects with `AdapterError`. */
  ping(): Promise<number>
}

const formatNumber = (value: number): string => (Number.isFinite(value) ? String(value) : value > 0 ? '1e308' : '-1e308')

function parseNumber(text: unknown): number {
  if (typeof text === 'number') return text
  const value = Number(text)
  if (Number.isNaN(value)) {
    if (text === 'inf') return Number.POSITIVE_INFINITY
    if (text === '-inf') return Number.NEGATIVE_INFINITY
    throw new AdapterError('state store returned a malformed number', { reason: 'state_malformed' })
  }
  // '1e308' stands for +infinity on the way in, so read it back as infinity
  return value >= 1e308 ? Number.POSITIVE_INFINITY : value
}

function failure(error: unknown): AdapterError {
  if (AdapterError.isInstance(error)) return error as AdapterError
  if (error instanceof Error && error.name === 'ReplyError') {
    // the server answered with an error: not an outage, and the text may quote keys, so it stays out
    return new AdapterError('state store rejected a command', { reason: 'state_rejected', isRetryable: false })
  }
  // only the class and the code: a client error can quote the connection URL, which may carry a password
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  const name = error instanceof Error ? error.name : 'error'
  return new AdapterError(`state store unreachable (${typeof code === 'string' ? code : name})`, {
    reason: 'state_unreachable',
    isRetryable: true,
  })
}

/**
 * Creates a {@link StateStore} on Redis through ioredis, so that rate limits, baselines, risk scores and revocations
 * hold across every instance. Every read-modify-write is one Lua script (atomic); a batch is one pipeline (one round
 * trip). Keys expire by themselves. Requires Redis ≥ 6.2. Import from `vectorwarden/redis`; `ioredis` is an
 * optional peer dependency.
 *
 * @example
 * ```ts
 * import { redisStateStore } from 'vectorwarden/redis'
 * const store = redisStateStore({ url: process.env.REDIS_URL })
 * const analytics = createAnalytics({ store, onStoreFailure: 'failClosed' })
 * ```
 */
export function redisStateStore(options: RedisStateStoreOptions): RedisStateStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('redisStateStore: options must be an object')
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new ConfigError('redisStateStore: give exactly one of client or url', { reason: 'redis_connection' })
  }
  const prefix = options.prefix ?? 'vw:'
  const timeoutMs = options.timeoutMs ?? 250
  if (typeof prefix !== 'string') throw new TypeError('redisStateStore: prefix must be a string')
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ConfigError('redisStateStore: timeoutMs must be > 0')
  const owned = options.client === undefined
  let client: Redis
  if (options.client !== undefined) client = options.client
  else {
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new ConfigError('redisStateStore: url must start with redis:// or rediss://', { reason: 'redis_connection' })
    }
    const clientOptions: RedisOptions = {
      maxRetriesPerRequest: 1,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(1000, timeoutMs),
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    }
    client = new Redis(options.url, clientOptions)
    // an owned client's connection errors surface as failed batches; without a listener ioredis prints each one
    client.on('error', () => {})
  }
  const hashes = new Map<ScriptName, string>()
  let loading: Promise<void> | undefined

  const withTimeout = <T>(promise: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new AdapterError(`state store did not answer within ${timeoutMs} ms`, { reason: 'state_timeout', isRetryable: true })),
        timeoutMs,
      )
      promise.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(failure(error))
        },
      )
    })

  const loadScripts = (): Promise<void> => {
    loading ??= (async () => {
      const pipeline = client.pipeline()
      const names = Object.keys(SCRIPTS) as ScriptName[]
      for (const name of names) pipeline.script('LOAD', SCRIPTS[name])
      const replies = (await pipeline.exec()) ?? []
      names.forEach((name, index) => {
        const [error, sha] = replies[index] ?? [new Error('no reply'), null]
        if (error !== null || typeof sha !== 'string') throw failure(error)
        hashes.set(name, sha)
      })
    })().finally(() => {
      loading = undefined
    })
    return loading
  }

  type Command = [name: string, args: (string | number)[]]

  const commandOf = (operation: StateOperation): Command => {
    const key = prefix + operation.key
    switch (operation.kind) {
      case 'get':
        return ['get', [key]]
      case 'set':
        return operation.ttlMs > 0 ? ['set', [key, operation.value, 'PX', operation.ttlMs]] : ['set', [key, operation.value]]
      case 'delete':
        return ['del', [key]]
      case 'swap':
        return operation.ttlMs > 0
          ? ['set', [key, operation.value, 'PX', operation.ttlMs, 'GET']]
          : ['set', [key, operation.value, 'GET']]
      case 'increment':
        return ['script:increment', [1, key, formatNumber(operation.by), operation.ttlMs]]
      case 'add':
        return ['script:add', [1, key, operation.member, operation.ttlMs]]
      case 'members':
        return ['smembers', [key]]
      case 'raise':
        return [
          'script:raise',
          [1, key, formatNumber(operation.level), formatNumber(operation.now), formatNumber(operation.durationMs)],
        ]
      case 'tally':
        return ['script:tally', [1, key, operation.field, operation.ttlMs, TALLY_TOTAL]]
      case 'take':
        return [
          'script:take',
          [
            1,
            key,
            formatNumber(operation.bucket.capacity),
            formatNumber(operation.bucket.refillPerSecond),
            formatNumber(operation.cost),
            formatNumber(operation.now),
            operation.ttlMs,
          ],
        ]
      case 'baseline': {
        const args: (string | number)[] = [2, key, `${key}:m`, formatNumber(operation.now), operation.ttlMs, operation.metrics.length]
        for (const metric of operation.metrics) {
          const parameters = metric.parameters
          args.push(
            formatNumber(metric.value),
            metric.member === undefined ? '0' : '1',
            metric.member ?? '',
            formatNumber(parameters.windowMs),
            formatNumber(parameters.lambda),
            formatNumber(parameters.alarmK),
            formatNumber(parameters.guardK),
            formatNumber(parameters.maxRise),
            formatNumber(parameters.minSamples),
            formatNumber(parameters.minSigma),
            formatNumber(parameters.relativeSigma),
            formatNumber(parameters.floor),
            formatNumber(parameters.ceiling),
          )
        }
        return ['script:baseline', args]
      }
      case 'score':
        return [
          'script:score',
          [
            1,
            key,
            formatNumber(operation.add),
            formatNumber(operation.now),
            formatNumber(operation.halfLifeMs),
            formatNumber(operation.max),
            operation.ttlMs,
          ],
        ]
      default:
        throw new TypeError(`redisStateStore: unknown operation ${String((operation as { kind?: unknown }).kind)}`)
    }
  }

  const resultOf = (operation: StateOperation, reply: unknown): StateResult => {
    switch (operation.kind) {
      case 'get':
      case 'swap':
        return typeof reply === 'string' ? reply : null
      case 'set':
      case 'delete':
        return null
      case 'increment':
      case 'score':
      case 'raise':
        return parseNumber(reply)
      case 'add':
        return reply === 1
      case 'members':
        return Array.isArray(reply) ? (reply as string[]) : []
      case 'tally': {
        const [field, total] = reply as [number, number]
        return { field: Number(field), total: Number(total) }
      }
      case 'take': {
        const [allowed, remaining, retry] = reply as [number, string, number]
        return { allowed: allowed === 1, remaining: parseNumber(remaining), retryAfterMs: Number(retry) }
      }
      case 'baseline': {
        const flat = reply as (string | number)[]
        const states: BaselineState[] = []
        for (let offset = 0; offset + 7 <= flat.length; offset += 7) {
          states.push({
            mean: parseNumber(flat[offset]),
            sigma: parseNumber(flat[offset + 1]),
            samples: Number(flat[offset + 2]),
            current: parseNumber(flat[offset + 3]),
            threshold: parseNumber(flat[offset + 4]),
            alarmed: flat[offset + 5] === 1,
            fired: flat[offset + 6] === 1,
          })
        }
        return states
      }
    }
  }

  const send = async (commands: readonly Command[]): Promise<[Error | null, unknown][]> => {
    const pipeline = client.pipeline()
    for (const [name, args] of commands) {
      if (name.startsWith('script:')) {
        const sha = hashes.get(name.slice(7) as ScriptName) as string
        pipeline.evalsha(sha, ...(args as [number, ...(string | number)[]]))
      } else {
        ;(pipeline as unknown as Record<string, (...values: (string | number)[]) => unknown>)[name]?.(...args)
      }
    }
    return ((await pipeline.exec()) ?? []) as [Error | null, unknown][]
  }

  const isNoScript = (error: Error | null): boolean => error !== null && /NOSCRIPT/.test(error.message)

  const execute = async (operations: readonly StateOperation[]): Promise<StateResult[]> => {
    if (!Array.isArray(operations)) throw new TypeError('redisStateStore.execute: operations must be an array')
    if (operations.length === 0) return []
    const commands = operations.map(commandOf)
    if (hashes.size === 0) await withTimeout(loadScripts())
    let replies = await withTimeout(send(commands))
    const missing = replies.flatMap(([error], index) => (isNoScript(error) ? [index] : []))
    if (missing.length > 0) {
      // the server lost its script cache (restart, SCRIPT FLUSH); a NOSCRIPT reply ran nothing, so resending is safe
      hashes.clear()
      await withTimeout(loadScripts())
      const retried = await withTimeout(send(missing.map((index) => commands[index] as Command)))
      replies = replies.slice()
      missing.forEach((index, position) => {
        replies[index] = retried[position] ?? [new Error('no reply'), null]
      })
    }
    return operations.map((operation, index) => {
      const [error, reply] = replies[index] ?? [new Error('no reply'), null]
      if (error !== null) throw failure(error)
      return resultOf(operation, reply)
    })
  }

  return {
    name: 'redis',
    client,
    execute,
    ping: async () => {
      const started = performance.now()
      await withTimeout(client.ping())
      return performance.now() - started
    },
    close: async () => {
      if (!owned) return
      try {
        await withTimeout(client.quit())
      } catch {
        client.disconnect()
      }
    },
  }
}
