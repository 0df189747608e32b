#!/usr/bin/env node
// the `vectorwarden` executable: runs the CLI on the process's arguments and exits with its code

import { runCli } from './cli.js'

// no top-level await: the CommonJS build must load this file too
void runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  process.exitCode = code
})
