// the plumbing both fake servers share: a loopback node:http server, JSON bodies, a request log and injected faults

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * One request as the fake received it (bodies parsed as JSON), for tests that inspect what a client sent.
 *
 * @example
 * ```ts
 * const last: RecordedRequest | undefined = fake.requests.at(-1)
 * ```
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: unknown
}

/**
 * A fault to serve instead of the real answer.
 *
 * @example
 * ```ts
 * fake.injectFault({ status: 503, times: 2, pathIncludes: '/points/query' })
 * ```
 */
export interface InjectedFault {
  /** HTTP status to answer with (e.g. 429, 503); omit to only delay. */
  readonly status?: number
  /** Delay before answering, in milliseconds (to trigger client timeouts). */
  readonly delayMs?: number
  /** How many matching requests get the fault (default 1). */
  readonly times?: number
  /** Only requests whose path contains this text. */
  readonly pathIncludes?: string
  /** Drop the connection without answering. */
  readonly dropConnection?: boolean
}

/**
 * What every fake server offers.
 *
 * @example
 * ```ts
 * const server: FakeServer = await startQdrantFake()
 * ```
 */
export interface FakeServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Requests received so far, oldest first (at most the last 1000). */
  readonly requests: readonly RecordedRequest[]
  /** Serves a fault instead of the next matching request(s). */
  injectFault(fault: InjectedFault): void
  /** Forgets recorded requests and pending faults. */
  clearRequests(): void
  close(): Promise<void>
}

/**
 * An error a handler throws to answer with a status.
 *
 * @example
 * ```ts
 * throw new HttpFailure(404, 'Not found')
 * ```
 */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** A vendor error code for the body, e.g. Pinecone's `INVALID_ARGUMENT`. */
    readonly code?: string,
  ) {
    super(message)
  }
}

/**
 * A parsed request handed to a fake's router.
 *
 * @example
 * ```ts
 * const route: FakeRouter = (request: FakeRequest) => ({ status: 200, body: request.segments })
 * ```
 */
export interface FakeRequest extends RecordedRequest {
  readonly segments: readonly string[]
}

/**
 * A router answers `{ status, body }` or throws `HttpFailure`.
 *
 * @example
 * ```ts
 * const route: FakeRouter = () => ({ status: 200, body: {} })
 * ```
 */
export type FakeRouter = (request: FakeRequest) => { status: number; body: unknown } | Promise<{ status: number; body: unknown }>

const maxBodyBytes = 64 * 1024 * 1024

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > maxBodyBytes) throw new HttpFailure(413, 'payload too large')
    chunks.push(chunk as Buffer)
  }
  if (chunks.length === 0) return undefined
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.length === 0) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new HttpFailure(400, 'body is not valid JSON')
  }
}

/**
 * Starts a fake on 127.0.0.1 with a random port.
 *
 * @example
 * ```ts
 * const fake = await startFakeServer(router, (status, message) => ({ error: message }))
 * ```
 */
export async function startFakeServer(
  route: FakeRouter,
  errorBody: (status: number, message: string, code?: string) => unknown,
): Promise<FakeServer> {
  const requests: RecordedRequest[] = []
  const faults: Array<InjectedFault & { remaining: number }> = []

  const send = (response: ServerResponse, status: number, body: unknown): void => {
    const text = body === undefined ? '' : JSON.stringify(body)
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    })
    response.end(text)
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    let body: unknown
    try {
      body = await readBody(request)
    } catch (error) {
      const failure = error instanceof HttpFailure ? error : new HttpFailure(400, 'unreadable body')
      send(response, failure.status, errorBody(failure.status, failure.message))
      return
    }
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
    }
    requests.push(recorded)
    if (requests.length > 1000) requests.shift()

    const fault = faults.find((candidate) => candidate.pathIncludes === undefined || url.pathname.includes(candidate.pathIncludes))
    if (fault !== undefined) {
      fault.remaining--
      if (fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1)
      if (fault.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs))
      if (fault.dropConnection === true) {
        request.socket.destroy()
        return
      }
      if (fault.status !== undefined) {
        send(response, fault.status, errorBody(fault.status, 'injected fault'))
        return
      }
    }
    try {
      const segments = url.pathname.split('/').filter((part) => part.length > 0).map(decodeURIComponent)
      const result = await route({ ...recorded, segments })
      send(response, result.status, result.body)
    } catch (error) {
      const failure = error instanceof HttpFailure ? error : new HttpFailure(500, 'internal error in fake')
      send(response, failure.status, errorBody(failure.status, failure.message, failure.code))
    }
  }

  const server: Server = createServer((request, response) => {
    void handle(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 })
    },
    clearRequests() {
      requests.length = 0
      faults.length = 0
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    },
  }
}

/**
 * Whether `value` is a plain JSON object.
 *
 * @example
 * ```ts
 * isObject({}) // true
 * ```
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
