export { MemoryAdapter, memoryAdapter, memoryAdapterFactory } from './memory-adapter.js'
export type { MemoryAdapterOptions } from './types.js'
