// the platform for this runtime, chosen by the package's import conditions (never by a runtime check)

export { platform } from '#platform'
export type { Platform } from './types.js'
