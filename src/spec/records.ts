// records, matches and collections as they cross the adapter boundary

/** A metadata value every backend stores in clear: string, finite number, boolean or list of strings. */
export type MetadataValue = string | number | boolean | readonly string[]

/** Metadata as stored: flat field names to clear values (encrypted fields are stored as envelope strings). */
export type Metadata = { readonly [field: string]: MetadataValue }

/** Any JSON value; encrypted fields may hold any of them, clear fields only {@link MetadataValue}. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** Distance metrics. `cosine` and `dot` rank by descending score, `euclidean` by ascending distance. */
export type Distance = 'cosine' | 'dot' | 'euclidean'

/** A record as the adapter stores it. */
export interface StoredRecord {
  readonly id: string
  readonly vector: Float32Array | readonly number[]
  readonly metadata?: Metadata
}

/** A record as the adapter returns it; `vector` and `metadata` only when asked for. */
export interface FetchedRecord {
  readonly id: string
  readonly vector?: Float32Array | readonly number[]
  readonly metadata?: Metadata
}

/** A query hit. `score`: similarity for cosine/dot (higher is closer), distance for euclidean (lower is closer). */
export interface QueryMatch extends FetchedRecord {
  readonly score: number
}

/** What a backend says of a collection. */
export interface CollectionInfo {
  readonly name: string
  readonly dimension: number
  readonly distance: Distance
  /** Number of records, when known; approximate where the capabilities say counts are. */
  readonly recordCount?: number
}
