import { defineConfig } from 'tsup'

// one entry per public surface; the platform files are resolved by the consumer through package.json "imports"
const entry = {
  index: 'src/index.ts',
  qdrant: 'src/adapters/qdrant/index.ts',
  pinecone: 'src/adapters/pinecone/index.ts',
  node: 'src/node/index.ts',
  testing: 'src/testing/index.ts',
  redis: 'src/state/redis.ts',
  otel: 'src/audit/otel-sink.ts',
  bin: 'src/node/bin.ts',
  // the file sink's worker thread (thread: 'worker'), loaded by path from beside the module that starts it
  'file-sink-worker': 'src/node/file-sink-worker.ts',
  'platform/node': 'src/platform/node.ts',
  'platform/web': 'src/platform/web.ts',
}

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  splitting: true,
  treeshake: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['#platform', /^node:/, '@qdrant/js-client-rest', '@pinecone-database/pinecone', 'ioredis', /^@opentelemetry\//],
})
