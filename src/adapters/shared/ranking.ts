// top-k with ties broken by id: a backend breaks ties its own way, so the adapter looks past the cut until the tie ends

/**
 * A ranked hit.
 *
 * @example
 * ```ts
 * const hit: Ranked = { id: 'a', score: 0.9 }
 * ```
 */
export interface Ranked {
  readonly id: string
  readonly score: number
}

/**
 * Asks `search` for `topK + 1` hits; while the hit after the cut has the same score as the last one kept, asks for
 * more, so that every hit tied at the cut is known. Then orders runs of equal scores by id ascending and cuts at
 * `topK`. `search` must return hits best first; `maxLimit` caps what the backend accepts.
 *
 * @example
 * ```ts
 * const matches = await topKWithTies(10, 10_000, (limit) => backendQuery(limit))
 * ```
 */
export async function topKWithTies<T extends Ranked>(topK: number, maxLimit: number, search: (limit: number) => Promise<T[]>): Promise<T[]> {
  let limit = Math.min(topK + 1, maxLimit)
  for (;;) {
    const hits = await search(limit)
    const boundary = hits[topK - 1]
    const tiedPastCut = boundary !== undefined && hits.length === limit && (hits[limit - 1] as T).score === boundary.score
    if (!tiedPastCut || limit >= maxLimit) return breakTiesById(hits).slice(0, topK)
    limit = Math.min(limit * 2, maxLimit)
  }
}

/**
 * Reorders runs of equal scores by id ascending; the list is already ordered by score.
 *
 * @example
 * ```ts
 * breakTiesById([{ id: 'b', score: 1 }, { id: 'a', score: 1 }]) // a, then b
 * ```
 */
export function breakTiesById<T extends Ranked>(hits: T[]): T[] {
  let start = 0
  while (start < hits.length) {
    let end = start + 1
    while (end < hits.length && (hits[end] as T).score === (hits[start] as T).score) end++
    if (end - start > 1) {
      const run = hits.slice(start, end).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      hits.splice(start, run.length, ...run)
    }
    start = end
  }
  return hits
}
