// shared helpers of the vector-encryption tests

/** A deterministic unit vector of `dimension` values for a seed (a linear congruential sequence, normalised). */
export function unitVector(seed: number, dimension: number): number[] {
  let state = seed * 2654435761 || 1
  const out: number[] = []
  for (let i = 0; i < dimension; i++) {
    state = (state * 1103515245 + 12345) >>> 0
    out.push(state / 4294967296 - 0.5)
  }
  const norm = Math.hypot(...out)
  return out.map((value) => value / norm)
}
