// vectorwarden/testing: in-process fake Qdrant and Pinecone servers for tests of services that use the official clients (Node only)

export type { FakeServer, InjectedFault, RecordedRequest } from './http.js'
export { type PineconeFake, type PineconeFakeOptions, startPineconeFake } from './pinecone.js'
export { compilePineconeFilter } from './pinecone-filter.js'
export { type QdrantFake, type QdrantFakeOptions, startQdrantFake } from './qdrant.js'
export { compileQdrantFilter } from './qdrant-filter.js'
