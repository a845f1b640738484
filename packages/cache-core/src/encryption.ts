/**
 * Opt-in encryption at rest: AES-256-GCM through `node:crypto`, with key ids so keys can rotate.
 *
 * The first key of the ring encrypts; every key of the ring decrypts the entries written with its
 * id. An entry under an id the ring does not hold (a retired key, another application's) and an
 * entry whose bytes or header were altered read as misses, never as errors.
 */
import { Buffer } from 'node:buffer'
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto'
import { CacheError, ErrorCodes } from './errors.js'

/** One key of the ring. */
export interface EncryptionKey {
  /** Stored in every entry it encrypts, so the entry finds its key after a rotation: 1 to 64 characters of `[A-Za-z0-9_.-]`. */
  id: string
  /** 32 random bytes, as bytes or as a base64 string (`openssl rand -base64 32`). */
  key: Uint8Array | string
}

/** Options of `encryption`. */
export interface EncryptionOptions {
  /**
   * The key ring, newest first. The first key encrypts new entries; all of them decrypt. To rotate,
   * put a new key first; to retire a key, remove it (its entries then read as misses).
   */
  keys: readonly EncryptionKey[]
}

/** The key ring as a cache uses it, validated once. */
export interface Keyring {
  /** Encrypts new entries. */
  readonly current: { readonly idBytes: Buffer; readonly key: KeyObject }
  /** Every key that decrypts, by id. */
  readonly byId: ReadonlyMap<string, KeyObject>
}

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/
const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * The sealed form of `content`: the key id (u8 length, ASCII), a random 12-byte IV, the ciphertext
 * and the 16-byte GCM tag. `header` is authenticated with it, so neither can change unnoticed.
 */
export function seal(ring: Keyring, header: Uint8Array, content: Uint8Array): Buffer {
  const { idBytes, key } = ring.current
  const iv = randomBytes(IV_BYTES)
  const out = Buffer.allocUnsafe(
    header.byteLength + 1 + idBytes.length + IV_BYTES + content.byteLength + TAG_BYTES,
  )
  out.set(header, 0)
  let offset = header.byteLength
  out[offset++] = idBytes.length
  offset += idBytes.copy(out, offset)
  offset += iv.copy(out, offset)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(out.subarray(0, offset))
  offset += cipher.update(content).copy(out, offset)
  offset += cipher.final().copy(out, offset)
  cipher.getAuthTag().copy(out, offset)
  return out
}

/**
 * The content sealed in `bytes` after the first `headerSize` bytes, or `undefined` when its key is
 * not in the ring or anything was altered.
 */
export function unseal(ring: Keyring | undefined, bytes: Buffer, headerSize: number): Buffer | undefined {
  if (ring === undefined || bytes.length < headerSize + 1) return undefined
  const idLength = bytes[headerSize]!
  const ivAt = headerSize + 1 + idLength
  const dataAt = ivAt + IV_BYTES
  const tagAt = bytes.length - TAG_BYTES
  if (tagAt < dataAt) return undefined
  const key = ring.byId.get(bytes.toString('latin1', headerSize + 1, ivAt))
  if (key === undefined) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(ivAt, dataAt), {
      authTagLength: TAG_BYTES,
    })
    decipher.setAAD(bytes.subarray(0, dataAt))
    decipher.setAuthTag(bytes.subarray(tagAt))
    const head = decipher.update(bytes.subarray(dataAt, tagAt))
    const tail = decipher.final()
    return tail.length === 0 ? head : Buffer.concat([head, tail])
  } catch {
    return undefined
  }
}

/** Validates the `encryption` option into a key ring; `undefined` when absent. */
export function resolveEncryption(input: unknown, cache: string): Keyring | undefined {
  if (input === undefined || input === false) return undefined
  const invalid = (field: string, why: string, got?: unknown) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${cache}": option "${field}" ${why}${got === undefined ? '' : `, got ${describe(got)}`}`,
      { cache, field },
    )
  const keys = (input as EncryptionOptions | null)?.keys
  if (input === null || typeof input !== 'object' || !Array.isArray(keys) || keys.length === 0) {
    throw invalid('encryption', 'must be { keys: [{ id, key }, ...] } with at least one key')
  }
  const byId = new Map<string, KeyObject>()
  keys.forEach((entry: EncryptionKey, i: number) => {
    const at = `encryption.keys[${i}]`
    if (entry === null || typeof entry !== 'object') throw invalid(at, 'must be { id, key }')
    if (typeof entry.id !== 'string' || !ID_PATTERN.test(entry.id)) {
      throw invalid(`${at}.id`, 'must be 1 to 64 characters of letters, digits, "_", "." and "-"', entry.id)
    }
    if (byId.has(entry.id)) throw invalid(`${at}.id`, 'must be unique in the ring', entry.id)
    // Never echo key material into an error message.
    const bytes = keyBytes(entry.key)
    if (bytes === undefined) {
      throw invalid(`${at}.key`, 'must be 32 bytes, or a base64 string of 32 bytes')
    }
    if (bytes.length !== KEY_BYTES) {
      throw invalid(
        `${at}.key`,
        `must be ${KEY_BYTES} bytes for AES-256-GCM (a base64 string of 44 characters), got ${bytes.length} bytes`,
      )
    }
    byId.set(entry.id, createSecretKey(bytes))
  })
  const first = keys[0]!
  return { current: { idBytes: Buffer.from(first.id, 'latin1'), key: byId.get(first.id)! }, byId }
}

function keyBytes(key: unknown): Buffer | undefined {
  if (key instanceof Uint8Array) return Buffer.from(key)
  if (typeof key !== 'string') return undefined
  const text = key.trim()
  if (!BASE64.test(text) && !BASE64URL.test(text)) return undefined
  return Buffer.from(text, BASE64URL.test(text) ? 'base64url' : 'base64')
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
