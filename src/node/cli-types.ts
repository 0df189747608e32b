// the shape of a `vectorwarden` CLI command module

/** Where a command writes; tests pass buffers. */
export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: { readonly [key: string]: string | undefined }
  readonly cwd: string
}

/** One command, e.g. `vectorwarden audit verify <files…>`. */
export interface CliCommand {
  /** The words that select it: `['audit', 'verify']`. */
  readonly path: readonly string[]
  readonly summary: string
  readonly usage: string
  /** Returns the process exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>
}
