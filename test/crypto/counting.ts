// a platform that counts the batches protectors build on it and the envelopes queued in them
import { platform as nodePlatform } from '../../src/platform/node.js'
import type { Platform } from '../../src/platform/types.js'

/** The node platform, counting the batches protectors build on it and the envelopes queued in them. */
export function countingBatches(): { platform: Platform; batches: () => number; queued: () => number } {
  let built = 0
  let queued = 0
  const platform: Platform = {
    ...nodePlatform,
    unauthenticatedAesGcmBatch: (key) => {
      built++
      const batch = (nodePlatform.unauthenticatedAesGcmBatch as NonNullable<Platform['unauthenticatedAesGcmBatch']>)(key)
      return {
        add: (data, nonceAt, sealedAt) => {
          const job = batch.add(data, nonceAt, sealedAt)
          if (job >= 0) queued++
          return job
        },
        open: () => batch.open(),
      }
    },
  }
  return { platform, batches: () => built, queued: () => queued }
}
