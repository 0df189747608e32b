// the command modules the `vectorwarden` CLI dispatches to; add a module here to add a command

import type { CliCommand } from '../cli-types.js'
import { command as apiKeyGenerateCommand } from './apikey.js'
import { auditVerifyCommand } from './audit-verify.js'
import { command as keysCommand } from './keys.js'
import { policyCheckCommand } from './policy-check.js'
import { command as rotateCommand } from './rotate.js'

/** Every command, matched by the longest `path` prefix of the arguments. */
export const commands: readonly CliCommand[] = [auditVerifyCommand, apiKeyGenerateCommand, keysCommand, rotateCommand, policyCheckCommand]
