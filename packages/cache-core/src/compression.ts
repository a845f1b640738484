/**
 * Optional compression of encoded entries. An entry records the compressor it went through by name,
 * so caches with and without compression (or with another algorithm) read each other's entries;
 * an entry whose compressor this cache does not know reads as a miss.
 */
import { Buffer } from 'node:buffer'
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib'
import { CacheError, ErrorCodes } from './errors.js'

/**
 * A compression algorithm. Both directions are synchronous, because entries are encoded on the
 * path of every write and decoded on the path of every hit.
 */
export interface Compressor {
  /** Stored in every entry it compresses: 1 to 32 characters of `[A-Za-z0-9_.-]`. Never rename one in use. */
  readonly name: string
  /** The compressed form of `bytes`. */
  compress(bytes: Uint8Array): Uint8Array
  /** The original bytes; may throw on bytes it did not write (the entry then reads as a miss). */
  decompress(bytes: Uint8Array): Uint8Array
}

/** The algorithms Node ships with, available to every cache by name. */
export type BuiltinCompression = 'gzip' | 'deflate' | 'brotli'

/** Options of `compression`. */
export interface CompressionOptions {
  /** `'gzip'`, `'deflate'`, `'brotli'`, or a {@link Compressor} of your own. */
  algorithm: BuiltinCompression | Compressor
  /**
   * Encoded entries smaller than this many bytes are stored as they are: compressing them costs
   * time and saves little.
   * @default 1024
   */
  threshold?: number
  /**
   * Compression level of a built-in algorithm: 0–9 for gzip and deflate, 0–11 for brotli.
   * @default 6 for gzip and deflate, 4 for brotli (its default of 11 is too slow for a cache)
   */
  level?: number
}

/** Compression as a cache uses it, resolved and validated once. */
export interface ResolvedCompression {
  /** Compresses new entries. */
  compressor: Compressor
  /** Smallest encoded size that is compressed. */
  threshold: number
}

/** Default of {@link CompressionOptions.threshold}. */
export const DEFAULT_COMPRESSION_THRESHOLD = 1024

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/
// A store holding an entry that inflates beyond this is hostile or broken; reading it is a miss.
const MAX_OUTPUT = 512 * 1024 * 1024

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

function zlibCompressor(name: BuiltinCompression, level: number | undefined): Compressor {
  switch (name) {
    case 'gzip':
      return {
        name,
        compress: (bytes) => gzipSync(bytes, { level: level ?? 6 }),
        decompress: (bytes) => gunzipSync(bytes, { maxOutputLength: MAX_OUTPUT }),
      }
    case 'deflate':
      return {
        name,
        compress: (bytes) => deflateSync(bytes, { level: level ?? 6 }),
        decompress: (bytes) => inflateSync(bytes, { maxOutputLength: MAX_OUTPUT }),
      }
    case 'brotli':
      return {
        name,
        compress: (bytes) =>
          brotliCompressSync(bytes, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: level ?? 4,
              [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
            },
          }),
        decompress: (bytes) => brotliDecompressSync(bytes, { maxOutputLength: MAX_OUTPUT }),
      }
  }
}

const BUILTINS: ReadonlyMap<string, Compressor> = new Map(
  (['gzip', 'deflate', 'brotli'] as const).map((name) => [name, zlibCompressor(name, undefined)]),
)

/** The compressor that reads entries written with `name`: the cache's own, or a built-in one. */
export function compressorNamed(name: string, own: Compressor | undefined): Compressor | undefined {
  return own !== undefined && own.name === name ? own : BUILTINS.get(name)
}

/** Runs a compressor and hands back a Buffer, whatever view type the compressor returned. */
export function compressBytes(compressor: Compressor, bytes: Uint8Array): Buffer {
  return asBuffer(compressor.compress(bytes))
}

/** Like {@link compressBytes}, the other way. */
export function decompressBytes(compressor: Compressor, bytes: Uint8Array): Buffer {
  return asBuffer(compressor.decompress(bytes))
}

/**
 * Validates the `compression` option: a built-in name, a {@link Compressor}, or
 * {@link CompressionOptions}; `undefined` or `false` for none. Errors name the cache and the field.
 */
export function resolveCompression(input: unknown, cache: string): ResolvedCompression | undefined {
  if (input === undefined || input === false) return undefined
  const invalid = (field: string, why: string, got: unknown) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${cache}": option "${field}" ${why}, got ${describe(got)}`,
      { cache, field },
    )
  const options: CompressionOptions =
    typeof input === 'string' || isCompressor(input)
      ? { algorithm: input as BuiltinCompression | Compressor }
      : (input as CompressionOptions)
  if (options === null || typeof options !== 'object') {
    throw invalid(
      'compression',
      'must be "gzip", "deflate", "brotli", a compressor or { algorithm, threshold, level }',
      input,
    )
  }
  const threshold = options.threshold ?? DEFAULT_COMPRESSION_THRESHOLD
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw invalid('compression.threshold', 'must be a whole number of bytes, 0 or more', threshold)
  }
  const { algorithm, level } = options
  if (typeof algorithm === 'string') {
    if (!BUILTINS.has(algorithm)) {
      throw invalid(
        'compression.algorithm',
        'must be "gzip", "deflate", "brotli" or a compressor { name, compress, decompress }',
        algorithm,
      )
    }
    const max = algorithm === 'brotli' ? 11 : 9
    if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= max)) {
      throw invalid('compression.level', `must be a whole number from 0 to ${max} for ${algorithm}`, level)
    }
    return { compressor: zlibCompressor(algorithm as BuiltinCompression, level), threshold }
  }
  if (!isCompressor(algorithm)) {
    throw invalid(
      'compression.algorithm',
      'must be "gzip", "deflate", "brotli" or a compressor { name, compress, decompress }',
      algorithm,
    )
  }
  if (!NAME_PATTERN.test(algorithm.name)) {
    throw invalid(
      'compression.algorithm.name',
      'must be 1 to 32 characters of letters, digits, "_", "." and "-"',
      algorithm.name,
    )
  }
  if (BUILTINS.has(algorithm.name)) {
    throw invalid(
      'compression.algorithm.name',
      'must not be the name of a built-in algorithm (entries name the algorithm that reads them)',
      algorithm.name,
    )
  }
  if (level !== undefined) {
    throw invalid('compression.level', 'applies to the built-in algorithms only', level)
  }
  return { compressor: algorithm, threshold }
}

function isCompressor(value: unknown): value is Compressor {
  const c = value as Compressor | null
  return (
    c !== null &&
    typeof c === 'object' &&
    typeof c.name === 'string' &&
    typeof c.compress === 'function' &&
    typeof c.decompress === 'function'
  )
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
