// a promise with its settle functions, for results shared by many callers (a group of events, a batch)

/** A promise and the functions that settle it. */
export interface Deferred {
  readonly done: Promise<void>
  resolve(): void
  reject(error: unknown): void
}

/**
 * A new {@link Deferred}. Its rejection is handled, so a failure nobody awaits does not crash the process as an
 * unhandled rejection (every failure of the audit trail also raises an alarm).
 *
 * @example
 * ```ts
 * const group = deferred()
 * commit().then(group.resolve, group.reject)
 * return group.done
 * ```
 */
export function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  done.catch(() => {})
  return { done, resolve, reject }
}
