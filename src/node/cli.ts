// the `vectorwarden` command line: picks the command whose words the arguments start with and runs it

import type { CliCommand, CliIo } from './cli-types.js'
import { commands as defaultCommands } from './commands/index.js'

function help(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((command) => command.path.join(' ').length), 4)
  return (
    'usage: vectorwarden <command> [options]\n\ncommands:\n' +
    commands.map((command) => `  ${command.path.join(' ').padEnd(width)}  ${command.summary}`).join('\n') +
    '\n\nrun `vectorwarden <command> --help` for its options\n'
  )
}

/**
 * Runs the CLI on `args` (without `node` and the script) and returns the exit code: the command's, or 2 when no
 * command matches. Tests pass their own `io` and `commands`.
 *
 * @example
 * ```ts
 * const code = await runCli(['audit', 'verify', 'audit.log'], { stdout: (t) => out.push(t), stderr, env: {}, cwd: '/tmp' })
 * ```
 */
export async function runCli(
  args: readonly string[],
  io: CliIo,
  commands: readonly CliCommand[] = defaultCommands,
): Promise<number> {
  let best: CliCommand | undefined
  for (const command of commands) {
    const matches = command.path.every((word, index) => args[index] === word)
    if (matches && (best === undefined || command.path.length > best.path.length)) best = command
  }
  if (best === undefined) {
    const asked = args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help'
    ;(asked ? io.stdout : io.stderr)(help(commands))
    return asked ? 0 : 2
  }
  try {
    return await best.run(args.slice(best.path.length), io)
  } catch (error) {
    // a command's unexpected failure: name it, never dump state that might hold secrets
    io.stderr(`vectorwarden ${best.path.join(' ')}: ${(error as Error).name ?? 'Error'}: ${(error as Error).message}\n`)
    return 1
  }
}
