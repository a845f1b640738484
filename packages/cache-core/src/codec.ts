/**
 * The value codec: entries to bytes and back, in a small versioned envelope.
 *
 * ## Envelope (format version 1)
 *
 * | offset | size | content                                                                  |
 * | ------ | ---- | ------------------------------------------------------------------------ |
 * | 0      | 1    | magic `0xCA`                                                             |
 * | 1      | 1    | format version, `1`                                                      |
 * | 2      | 1    | flags: bit 0 = payload is `node:v8` serialization (else JSON), bit 1 = has tags, bit 2 = compressed, bit 3 = encrypted, bit 4 = softly invalidated (expired into grace, never served stale-while-revalidate); other bits 0 |
 * | 3      | 8    | createdAt, float64 little-endian, epoch ms                               |
 * | 11     | 8    | expiresAt, float64 LE, epoch ms, 0 = never                               |
 * | 19     | 8    | staleUntil, float64 LE, epoch ms, 0 = never                              |
 * | 27     | 2    | only when tagged: tag count, u16 LE; then per tag a u16 LE byte length and the UTF-8 tag, then a u16 LE byte length and the UTF-8 epoch |
 * | …      | rest | the payload, up to the end                                               |
 *
 * The tag section and the payload together are the entry's content. A compressed entry's content is
 * one byte of name length, the name of its compressor (ASCII), then the compressed content. An
 * encrypted entry's content is one byte of key-id length, the key id (ASCII), a 12-byte IV, the
 * AES-256-GCM ciphertext of the (possibly compressed) content and the 16-byte tag; the header, key
 * id and IV are authenticated with it. Compression, when both apply, comes first: ciphertext does
 * not compress.
 *
 * A JSON payload is the UTF-8 JSON text followed by one newline (`0x0A`): a number cut short is
 * still valid JSON, the missing newline is what gives the cut away. A v8 payload is the output of
 * `v8.serialize`, whose own structure rejects a cut.
 *
 * Bytes that are not such an envelope — another magic, another format version, unknown flags, a
 * header or tag section cut short, a payload that does not parse, a compressor or key this cache does
 * not have, a ciphertext or header that was altered — decode to `undefined`, which the
 * cache treats as a miss: a format change or a foreign writer costs a reload, never a crash.
 *
 * ## Payload
 *
 * Plain JSON data — strings, finite numbers other than -0, booleans, null, and arrays and plain
 * objects of those, without holes or `undefined` — is written as JSON, because `JSON.parse` reads
 * it fastest. Everything else goes through `v8.serialize`: `undefined` (top level or nested, and
 * array holes), `NaN`, `±Infinity`, `-0`, bigints, `Date`, `Map`, `Set`, `RegExp`, typed arrays,
 * `Buffer`, `DataView`, `ArrayBuffer`, `Error`, circular and shared references, and nesting deeper
 * than 64 levels. One scan of the value, allocation-free for JSON data, picks the path. Either way
 * the decoded value equals the written one and is a fresh copy on every decode. (A value nested so
 * deeply — thousands of levels — that v8 could write it but not read it back is refused.)
 *
 * Instances of other classes are written as their own enumerable properties and come back as plain
 * objects (their prototype, methods, private fields and `toJSON()` are not kept). Functions and
 * symbols anywhere in the value, and objects v8 cannot clone (`WeakMap`, `Promise`, …), are refused
 * with `E_UNSERIALIZABLE`; nothing is written then.
 */
import { Buffer } from 'node:buffer'
import { deserialize, serialize } from 'node:v8'
import { compressBytes, compressorNamed, decompressBytes, type ResolvedCompression } from './compression.js'
import { type Keyring, seal, unseal } from './encryption.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { Entry, TagStamp } from './types.js'

/** What a cache does to encoded entries beyond the envelope: compression and encryption, both optional. */
export interface CodecOptions {
  /** Compresses entries of at least the threshold's size. */
  compression?: ResolvedCompression | undefined
  /** Encrypts every entry with the ring's first key; decrypts with any of its keys. */
  encryption?: Keyring | undefined
}

/** First byte of every encoded entry. */
export const ENTRY_MAGIC = 0xca

/** The envelope format this codec writes, and the only one it reads. */
export const ENTRY_FORMAT_VERSION = 1

const FLAG_V8 = 0b01
const FLAG_TAGS = 0b10
const FLAG_COMPRESSED = 0b100
const FLAG_ENCRYPTED = 0b1000
const SEALED = FLAG_COMPRESSED | FLAG_ENCRYPTED
const FLAG_INVALIDATED = 0b10000
const KNOWN_FLAGS = FLAG_V8 | FLAG_TAGS | SEALED | FLAG_INVALIDATED
const HEADER_SIZE = 27
const MAX_U16 = 0xffff
const NEWLINE = 0x0a
const HOST_OBJECT_TAG = 0x5c

// Deeper values take the v8 path with a read-back check; the cap also ends the scan of a
// circular structure.
const MAX_SCAN_DEPTH = 64

// Results of scan(), ordered so that the larger one wins when parts of a value disagree.
/** Plain JSON data. */
const JSON_SAFE = 0
/** Needs v8, nested no deeper than MAX_SCAN_DEPTH. */
const NEEDS_V8 = 1
/** Needs v8 and is deeper than MAX_SCAN_DEPTH, or circular: v8 may write what it cannot read back. */
const DEEP = 2
/** Holds a function or a symbol. */
const REFUSED = 3

/**
 * Encodes an entry, compressed and encrypted as `codec` says; throws CacheError E_UNSERIALIZABLE
 * naming `key` (and the cache) when the value can't be encoded.
 */
export function encodeEntry(entry: Entry, key: string, cache?: string, codec?: CodecOptions): Uint8Array {
  checkTime(entry.createdAt, 'createdAt', key, cache)
  checkTime(entry.expiresAt, 'expiresAt', key, cache)
  checkTime(entry.staleUntil, 'staleUntil', key, cache)

  const value = entry.value
  const route = scan(value, 0)
  if (route === REFUSED)
    throw unserializable(value, `value for key ${JSON.stringify(key)} cannot be cached`, cache, key)
  let json: string | undefined
  let v8: Buffer | undefined
  try {
    if (route === JSON_SAFE) json = JSON.stringify(value)
    else {
      v8 = serialize(value)
      // v8's reader needs more stack per level than its writer: a few thousand levels of nesting
      // can be written but never read. Refusing such a value beats storing a permanent miss.
      if (route === DEEP) deserialize(v8)
    }
  } catch (error) {
    throw unserializable(value, `value for key ${JSON.stringify(key)} cannot be cached`, cache, key, error)
  }

  const tags = entry.tags
  let size = HEADER_SIZE
  if (tags !== undefined) size += tagSectionSize(tags, key, cache)
  size += json === undefined ? v8!.length : Buffer.byteLength(json, 'utf8') + 1

  // A slice of Node's shared pool is the cheapest allocation, and safe: the adapter contract has
  // a store copy whatever it keeps, so no entry pins a pool slab. Every byte is written below.
  const bytes = Buffer.allocUnsafe(size)
  bytes[0] = ENTRY_MAGIC
  bytes[1] = ENTRY_FORMAT_VERSION
  bytes[2] =
    (json === undefined ? FLAG_V8 : 0) |
    (tags === undefined ? 0 : FLAG_TAGS) |
    (entry.invalidated === true ? FLAG_INVALIDATED : 0)
  bytes.writeDoubleLE(entry.createdAt, 3)
  bytes.writeDoubleLE(entry.expiresAt, 11)
  bytes.writeDoubleLE(entry.staleUntil, 19)
  let offset = HEADER_SIZE
  if (tags !== undefined) {
    offset = bytes.writeUInt16LE(tags.length, offset)
    for (const [tag, epoch] of tags) {
      offset = writeShortString(bytes, tag, offset)
      offset = writeShortString(bytes, epoch, offset)
    }
  }
  if (json === undefined) v8!.copy(bytes, offset)
  else bytes[offset + bytes.write(json, offset, 'utf8')] = NEWLINE
  if (codec === undefined) return bytes
  let packed = codec.compression === undefined ? bytes : compress(bytes, codec.compression, key, cache)
  if (codec.encryption !== undefined) {
    packed[2]! |= FLAG_ENCRYPTED
    packed = seal(codec.encryption, packed.subarray(0, HEADER_SIZE), packed.subarray(HEADER_SIZE))
  }
  return packed
}

/** The entry with its content compressed, or as it is when small or when compression does not pay. */
function compress(bytes: Buffer, rules: ResolvedCompression, key: string, cache: string | undefined): Buffer {
  if (bytes.length < rules.threshold) return bytes
  const { compressor } = rules
  let compressed: Buffer
  try {
    compressed = compressBytes(compressor, bytes.subarray(HEADER_SIZE))
  } catch (error) {
    throw new CacheError(
      ErrorCodes.UNSERIALIZABLE,
      `${prefix(cache)}entry for key ${JSON.stringify(key)} cannot be cached: compressor "${compressor.name}" failed (${error instanceof Error ? error.message : String(error)})`,
      { cache, key, cause: error },
    )
  }
  const size = HEADER_SIZE + 1 + compressor.name.length + compressed.length
  if (size >= bytes.length) return bytes
  const out = Buffer.allocUnsafe(size)
  bytes.copy(out, 0, 0, HEADER_SIZE)
  out[2]! |= FLAG_COMPRESSED
  out[HEADER_SIZE] = compressor.name.length
  out.write(compressor.name, HEADER_SIZE + 1, 'latin1')
  compressed.copy(out, HEADER_SIZE + 1 + compressor.name.length)
  return out
}

/** The plain content of a compressed and/or encrypted entry, or undefined when it cannot be had. */
function unpack(bytes: Buffer, flags: number, codec: CodecOptions | undefined): Buffer | undefined {
  let content: Buffer | undefined =
    (flags & FLAG_ENCRYPTED) === 0
      ? bytes.subarray(HEADER_SIZE)
      : unseal(codec?.encryption, bytes, HEADER_SIZE)
  if (content === undefined || (flags & FLAG_COMPRESSED) === 0) return content
  const nameEnd = 1 + (content[0] ?? 0)
  if (content.length <= nameEnd) return undefined
  const compressor = compressorNamed(content.toString('latin1', 1, nameEnd), codec?.compression?.compressor)
  if (compressor === undefined) return undefined
  try {
    content = decompressBytes(compressor, content.subarray(nameEnd))
  } catch {
    return undefined
  }
  return content
}

/**
 * Decodes bytes written by encodeEntry; `undefined` for anything corrupt, foreign, of an unknown
 * format version, or compressed or encrypted in a way `codec` cannot undo — never throws.
 */
export function decodeEntry(bytes: Uint8Array, codec?: CodecOptions): Entry | undefined {
  if (!isUint8Array(bytes) || bytes.length < HEADER_SIZE) return undefined
  if (bytes[0] !== ENTRY_MAGIC || bytes[1] !== ENTRY_FORMAT_VERSION) return undefined
  const flags = bytes[2]!
  if ((flags & ~KNOWN_FLAGS) !== 0) return undefined
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

  const createdAt = buffer.readDoubleLE(3)
  const expiresAt = buffer.readDoubleLE(11)
  const staleUntil = buffer.readDoubleLE(19)
  if (!isTime(createdAt) || !isTime(expiresAt) || !isTime(staleUntil)) return undefined

  // The content (tags and payload) starts after the header, or at 0 of what unpack hands back.
  let content = buffer
  let offset = HEADER_SIZE
  if ((flags & SEALED) !== 0) {
    const plain = unpack(buffer, flags, codec)
    if (plain === undefined) return undefined
    content = plain
    offset = 0
  }
  let tags: TagStamp[] | undefined
  if ((flags & FLAG_TAGS) !== 0) {
    if (offset + 2 > content.length) return undefined
    const count = content.readUInt16LE(offset)
    offset += 2
    tags = []
    for (let i = 0; i < count; i++) {
      const tagEnd = shortStringEnd(content, offset)
      const epochEnd = shortStringEnd(content, tagEnd)
      if (epochEnd < 0) return undefined
      tags.push([
        content.toString('utf8', offset + 2, tagEnd),
        content.toString('utf8', tagEnd + 2, epochEnd),
      ])
      offset = epochEnd
    }
  }

  let value: unknown
  try {
    if ((flags & FLAG_V8) !== 0) {
      // v8.deserialize makes typed arrays and Buffers views into the bytes it reads, so a caller
      // writing into one would write into the stored entry. Node writes every such view as a host
      // object, tag byte 0x5C: a payload without that byte has none and is read in place; any
      // other is read from a private copy (a 0x5C inside other data only costs that copy).
      const payload = content.subarray(offset)
      value = deserialize(payload.indexOf(HOST_OBJECT_TAG) === -1 ? payload : privateCopy(payload))
    } else {
      if (content.length === offset || content[content.length - 1] !== NEWLINE) return undefined
      value = JSON.parse(content.toString('utf8', offset, content.length - 1))
    }
  } catch {
    return undefined
  }
  const entry: Entry = { value, createdAt, expiresAt, staleUntil, tags }
  if ((flags & FLAG_INVALIDATED) !== 0) entry.invalidated = true
  return entry
}

/**
 * Decodes entries of an in-process store, which hands back the same bytes on every hit: the first
 * decode of a JSON payload is remembered (weakly, so replaced entries are collected), and later hits
 * get a copy made by a walk over the plain data — several times faster than `JSON.parse` — so every
 * caller still owns what it receives. v8 payloads are decoded afresh each time (that keeps Buffers
 * Buffers, and is what they cost anyway).
 */
export class DecodeMemo {
  private readonly known = new WeakMap<Uint8Array, Entry>()

  /** `codec` undoes the compression and encryption of the entries. */
  constructor(private readonly codec?: CodecOptions) {}

  /** Like {@link decodeEntry}, for bytes that a store may hand back again. */
  decode(bytes: Uint8Array): Entry | undefined {
    const known = this.known.get(bytes)
    if (known !== undefined) return copyEntry(known)
    const entry = decodeEntry(bytes, this.codec)
    if (entry === undefined || (bytes[2]! & FLAG_V8) !== 0) return entry
    this.known.set(bytes, entry)
    return copyEntry(entry)
  }
}

function copyEntry(entry: Entry): Entry {
  const value = entry.value
  return typeof value !== 'object' || value === null ? { ...entry } : { ...entry, value: copyJson(value) }
}

// Spread and slice copy a whole level at once (V8 clones same-shaped objects in one step), so only
// nested objects need a walk. Spread defines "__proto__" as an own data property, as JSON.parse did;
// a plain assignment of it would set the prototype instead.
function copyJson<T>(value: T): T {
  if (Array.isArray(value)) {
    const out = value.slice()
    for (let i = 0; i < out.length; i++) {
      const item = out[i]
      if (typeof item === 'object' && item !== null) out[i] = copyJson(item)
    }
    return out as T
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const key in out) {
    const item = out[key]
    if (typeof item !== 'object' || item === null) continue
    if (key === '__proto__') {
      Object.defineProperty(out, key, {
        value: copyJson(item),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else out[key] = copyJson(item)
  }
  return out as T
}

/** Deep copy of a value with the same semantics as an encode/decode round trip (for by-reference stores that want isolation). */
export function cloneValue<T>(value: T): T {
  const route = scan(value, 0)
  if (route === REFUSED) throw unserializable(value, 'value cannot be copied')
  // Primitives are immutable: a round trip would give back the same value.
  if (typeof value !== 'object' || value === null) return value
  try {
    return route === JSON_SAFE ? JSON.parse(JSON.stringify(value)) : deserialize(serialize(value))
  } catch (error) {
    throw unserializable(value, 'value cannot be copied', undefined, undefined, error)
  }
}

/**
 * Which payload a value needs. Allocates nothing for JSON data, so the common case pays only a walk.
 * It walks on past the first v8-only part, since a function or too deep a nesting may come later,
 * but stops at the first function, symbol or depth cap, which also ends the walk of a cycle.
 */
function scan(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON_SAFE
    case 'number':
      // JSON writes NaN and ±Infinity as null and -0 as 0.
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) ? JSON_SAFE : NEEDS_V8
    case 'object': {
      if (value === null) return JSON_SAFE
      if (depth >= MAX_SCAN_DEPTH) return DEEP
      let route = JSON_SAFE
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          // A hole reads as undefined, so holes take the v8 path too.
          const part = scan(value[i], depth + 1)
          if (part >= DEEP) return part
          if (part > route) route = part
        }
        return route
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return scanOther(value, depth)
      return scanProperties(value, depth, route)
    }
    case 'undefined':
    case 'bigint':
      return NEEDS_V8
    default:
      return REFUSED
  }
}

/** Own enumerable properties, as JSON and v8 write them. */
function scanProperties(value: object, depth: number, route: number): number {
  // for-in walks the keys without allocating an array.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const part = scan((value as Record<string, unknown>)[key], depth + 1)
    if (part >= DEEP) return part
    if (part > route) route = part
  }
  return route
}

/** Objects that are not plain: v8 writes them, but what they hold still counts. */
function scanOther(value: object, depth: number): number {
  if (value instanceof Map) {
    for (const [key, item] of value) {
      const part = Math.max(scan(key, depth + 1), scan(item, depth + 1))
      if (part >= DEEP) return part
    }
    return NEEDS_V8
  }
  if (value instanceof Set) {
    for (const member of value) {
      const part = scan(member, depth + 1)
      if (part >= DEEP) return part
    }
    return NEEDS_V8
  }
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Error
  ) {
    return NEEDS_V8
  }
  // Instances of other classes: v8 writes their own enumerable properties.
  return scanProperties(value, depth, NEEDS_V8)
}

function tagSectionSize(tags: readonly TagStamp[], key: string, cache: string | undefined): number {
  if (!Array.isArray(tags) || tags.length > MAX_U16) {
    throw invalidEntry(`its tags must be an array of at most ${MAX_U16} [tag, epoch] pairs`, key, cache)
  }
  let size = 2
  for (const stamp of tags) {
    if (!Array.isArray(stamp) || typeof stamp[0] !== 'string' || typeof stamp[1] !== 'string') {
      throw invalidEntry('each tag must be a [tag, epoch] pair of strings', key, cache)
    }
    size += shortStringSize(stamp[0], 'tag', key, cache) + shortStringSize(stamp[1], 'epoch', key, cache)
  }
  return size
}

function shortStringSize(text: string, what: string, key: string, cache: string | undefined): number {
  const length = Buffer.byteLength(text, 'utf8')
  if (length > MAX_U16) {
    throw invalidEntry(
      `${what} ${JSON.stringify(text.slice(0, 40))}… is longer than ${MAX_U16} bytes`,
      key,
      cache,
    )
  }
  return 2 + length
}

function writeShortString(bytes: Buffer, text: string, offset: number): number {
  const written = bytes.write(text, offset + 2, 'utf8')
  bytes.writeUInt16LE(written, offset)
  return offset + 2 + written
}

/** End of the length-prefixed string at `offset`, or -1 when it runs past the bytes. */
function shortStringEnd(bytes: Buffer, offset: number): number {
  if (offset < 0 || offset + 2 > bytes.length) return -1
  const end = offset + 2 + bytes.readUInt16LE(offset)
  return end > bytes.length ? -1 : end
}

/** A copy in memory of its own, not a slice of the shared Buffer pool that other data lives in. */
function privateCopy(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length)
  bytes.copy(copy)
  return copy
}

function isUint8Array(bytes: unknown): bytes is Uint8Array {
  if (bytes instanceof Uint8Array) return true
  // A Uint8Array of another realm (vm context) fails instanceof but is just as good.
  return (
    ArrayBuffer.isView(bytes) &&
    (bytes as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Uint8Array'
  )
}

function isTime(value: number): boolean {
  return value >= 0 && value !== Number.POSITIVE_INFINITY
}

function checkTime(value: unknown, field: string, key: string, cache: string | undefined): void {
  if (typeof value !== 'number' || !isTime(value)) {
    throw invalidEntry(`its ${field} must be a finite, non-negative number of epoch milliseconds`, key, cache)
  }
}

function prefix(cache: string | undefined): string {
  return cache === undefined ? '' : `cache "${cache}": `
}

function invalidEntry(problem: string, key: string, cache: string | undefined): CacheError {
  return new CacheError(
    ErrorCodes.UNSERIALIZABLE,
    `${prefix(cache)}entry for key ${JSON.stringify(key)} cannot be cached: ${problem}`,
    { cache, key },
  )
}

/** The error for a value that cannot be encoded, naming what is wrong and, when found, where. */
function unserializable(
  value: unknown,
  what: string,
  cache?: string,
  key?: string,
  cause?: unknown,
): CacheError {
  const found = locate(value)
  let reason: string
  if (found !== undefined) reason = `${found.kind} cannot be serialized (at ${found.path})`
  else if (cause instanceof RangeError) reason = `it is nested too deeply (${cause.message})`
  else if (cause instanceof Error) reason = cause.message.replace(/\.$/, '')
  else reason = String(cause)
  return new CacheError(ErrorCodes.UNSERIALIZABLE, `${prefix(cache)}${what}: ${reason}`, {
    cache,
    key,
    cause,
  })
}

function locate(value: unknown): { kind: string; path: string } | undefined {
  try {
    return findUnserializable(value, 'value', new Set())
  } catch {
    // Nested deeper than this walk's stack allows; the message then falls back to the cause.
    return undefined
  }
}

/** The first function or symbol inside `value` and its path; only runs once encoding has failed. */
function findUnserializable(
  value: unknown,
  path: string,
  seen: Set<object>,
): { kind: string; path: string } | undefined {
  if (typeof value === 'function') return { kind: 'functions', path }
  if (typeof value === 'symbol') return { kind: 'symbols', path }
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined
  seen.add(value)
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return undefined
  if (value instanceof Map) {
    let index = 0
    for (const [mapKey, item] of value) {
      const found =
        findUnserializable(mapKey, `${path}[<Map key ${index}>]`, seen) ??
        findUnserializable(item, `${path}.get(${describeMapKey(mapKey, index)})`, seen)
      if (found !== undefined) return found
      index++
    }
    return undefined
  }
  if (value instanceof Set) {
    for (const member of value) {
      const found = findUnserializable(member, `${path}[<Set member>]`, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  const isArray = Array.isArray(value)
  for (const key of Object.keys(value)) {
    const segment = isArray
      ? `[${key}]`
      : /^[A-Za-z_$][\w$]*$/.test(key)
        ? `.${key}`
        : `[${JSON.stringify(key)}]`
    const found = findUnserializable((value as Record<string, unknown>)[key], path + segment, seen)
    if (found !== undefined) return found
  }
  return undefined
}

function describeMapKey(key: unknown, index: number): string {
  if (typeof key === 'string') return JSON.stringify(key)
  if (typeof key === 'number' || typeof key === 'boolean' || key === null || key === undefined)
    return String(key)
  return `<Map key ${index}>`
}
