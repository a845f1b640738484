/**
 * Stable keys for call arguments, and bounded keys.
 *
 * A cached call's key is the canonical text of its arguments. The text is a public contract: it is
 * what ends up in the store, so it must not change between releases without a key version bump,
 * and it is the same in every process, after restarts and on every platform (no memory addresses,
 * no per-process seeds, no dependence on insertion order).
 *
 * ## Canonical text of one value
 *
 * | value                          | text                                                            |
 * | ------------------------------ | --------------------------------------------------------------- |
 * | string                         | JSON-quoted (`"a\"b"`); lone surrogates are escaped (`"\ud800"`) |
 * | number                         | JavaScript's shortest text (`42`, `1.5`, `1e+21`); `-0`, `NaN`, `Infinity`, `-Infinity` |
 * | bigint                         | digits and `n` (`12n`, `-3n`)                                    |
 * | boolean, null, undefined       | `true`, `false`, `null`, `undefined`                             |
 * | array                          | `[a,b]`; a hole reads as `undefined`; non-index properties are ignored |
 * | plain object                   | `{"k":v,...}`: own enumerable string keys, sorted by UTF-16 code unit, each JSON-quoted; properties whose value is `undefined` are left out (as in JSON), so `{a: undefined}` and `{}` share a key; symbol keys are ignored |
 * | Date                           | `D"2024-01-01T00:00:00.000Z"` (ISO text), an invalid Date `D"invalid"` |
 * | Map                            | `M{k=>v,...}`, entries sorted by the text of their key, then of their value |
 * | Set                            | `S[a,b]`, members sorted by their text (a set has no order)      |
 * | typed array, Buffer, DataView  | type name and the base64 of the bytes, little-endian: `Uint8Array<AQID>`, `Buffer<AQID>`, `Float64Array<...>`, `DataView<...>` |
 * | ArrayBuffer                    | `ArrayBuffer<base64>`                                            |
 * | RegExp                         | `R"/source/flags"`                                               |
 * | URL                            | `U"href"`                                                        |
 * | other object with `toJSON()`   | the text of what `toJSON()` returns — so such an instance shares its key with that result |
 *
 * "Plain object" means a prototype of `Object.prototype` or `null`. Every token is self-delimiting
 * and tokens of different types start differently, so values of different types never share a text
 * (`1` / `"1"` / `1n`, `[1,"2"]` / `["1",2]`, a Map / an object, a Set / an array, a Date / its ISO
 * string). Values without a stable key — functions, symbols, instances of classes without
 * `toJSON()`, circular structures and objects nested deeper than 64 levels — throw a
 * {@link CacheError} with code `E_UNKEYABLE` and the path of the offending part.
 *
 * ## Key of a call
 *
 * {@link digestArgs} drops trailing `undefined` arguments (`f(1)` and `f(1, undefined)` are the same
 * call to a function with default parameters), joins the texts of the others with `,` and gives
 * `()` for no arguments, so the key is never empty. A text longer than `maxLength` becomes `#` and
 * its SHA-256 (base64url); canonical text never starts with `#`, so the two forms cannot clash.
 */
import { Buffer } from 'node:buffer'
import * as nodeCrypto from 'node:crypto'
import { CacheError, ErrorCodes } from './errors.js'

/** How deeply objects may nest inside one argument before it is refused. */
export const MAX_KEY_DEPTH = 64

/** Default `maxLength` of {@link digestArgs}. */
export const DEFAULT_ARGS_MAX_LENGTH = 100

// `hash()` is a one-shot, faster than createHash for short inputs; Node 20.12+ and 21.7+ have it.
// A namespace import, because a named import of a missing export fails to link under ESM.
const oneShotHash = (
  nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }
).hash

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const HINT = 'pass a "key" option that picks the data the result depends on'

/** A refusal on its way up; the path is filled in while it unwinds, the message built at the top. */
class Unkeyable {
  path = ''
  constructor(
    readonly problem: string,
    readonly hint: string,
    readonly cause?: unknown,
    // The path to a too-deep part is dozens of segments that say nothing the problem does not.
    readonly showPath = true,
  ) {}
}

/** Canonical text of one value; throws CacheError E_UNKEYABLE for values without a stable key. */
export function canonicalize(value: unknown): string {
  try {
    return write(value, [])
  } catch (error) {
    throw error instanceof Unkeyable ? toCacheError(error, 'value') : error
  }
}

/** The key part for a call's arguments: canonical text of the argument list, or `#` + hash when long. */
export function digestArgs(args: readonly unknown[], maxLength: number = DEFAULT_ARGS_MAX_LENGTH): string {
  let count = args.length
  while (count > 0 && args[count - 1] === undefined) count--
  if (count === 0) return '()'
  let text = fastArgs(args, count)
  if (text === undefined) text = preciseArgs(args, count)
  return text.length > maxLength ? `#${sha256(text)}` : text
}

// The common case first: arguments with a stable key, written without tracking where each part
// sits. Anything it cannot write (a refusal, or a nesting deep enough to be a cycle) is written again
// by the precise path below, which finds the same text or names the offending part.
function fastArgs(args: readonly unknown[], count: number): string | undefined {
  let text = ''
  for (let i = 0; i < count; i++) {
    const part = fast(args[i], 0)
    if (part === undefined) return undefined
    text = i === 0 ? part : `${text},${part}`
  }
  return text
}

function preciseArgs(args: readonly unknown[], count: number): string {
  const stack: object[] = []
  let text = ''
  let i = 0
  try {
    for (; i < count; i++) {
      if (i > 0) text += ','
      text += write(args[i], stack)
    }
  } catch (error) {
    throw error instanceof Unkeyable ? toCacheError(error, `argument ${i + 1}`) : error
  }
  return text
}

/**
 * {@link write} for the values arguments are usually made of — primitives, arrays and plain
 * objects — or undefined for anything else, which the precise path then writes or refuses. No
 * stack: a cycle shows up as a nesting past {@link MAX_KEY_DEPTH} and goes to the precise path too.
 */
function fast(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object') return primitive(value)
  if (value === null) return 'null'
  if (depth >= MAX_KEY_DEPTH) return undefined
  if (Array.isArray(value)) return fastArray(value, depth + 1)
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    return fastObject(value as Record<string, unknown>, depth + 1)
  }
  // Dates, maps, sets, binary data and toJSON(): the precise path knows them all.
  return undefined
}

function fastArray(array: readonly unknown[], depth: number): string | undefined {
  const length = array.length
  if (length === 0) return '[]'
  let text = '['
  for (let i = 0; i < length; i++) {
    const part = fast(array[i], depth)
    if (part === undefined) return undefined
    text = i === 0 ? text + part : `${text},${part}`
  }
  return `${text}]`
}

function fastObject(object: Record<string, unknown>, depth: number): string | undefined {
  const { order, names } = shapeOf(Object.keys(object))
  let text = '{'
  let separator = ''
  for (let i = 0; i < order.length; i++) {
    const item = object[order[i]!]
    if (item === undefined) continue
    const part = fast(item, depth)
    if (part === undefined) return undefined
    text += separator + names[i]! + part
    separator = ','
  }
  return `${text}}`
}

/** The property names of an object as written (sorted), and each one quoted with its `:`. */
interface Shape {
  /** The names as `Object.keys` listed them. */
  readonly keys: readonly string[]
  /** The same names, sorted by code unit. */
  readonly order: readonly string[]
  /** `"name":` for each name of `order`. */
  readonly names: readonly string[]
}

// Arguments are mostly built by the same few object literals, so the same few lists of property
// names come back on every call: their sorted, quoted form is kept, found again by comparing the
// names one by one (names from source code are interned, so each comparison is one pointer check).
const SHAPE_MEMO_SIZE = 16
const SHAPE_MEMO_MAX_KEYS = 32
const shapes: Shape[] = []
let nextShape = 0

function shapeOf(keys: readonly string[]): Shape {
  const count = keys.length
  search: for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s]!
    const known = shape.keys
    if (known.length !== count) continue
    for (let i = 0; i < count; i++) if (known[i] !== keys[i]) continue search
    return shape
  }
  let order = keys
  for (let i = 1; i < count; i++) {
    if (keys[i - 1]! > keys[i]!) {
      order = [...keys].sort()
      break
    }
  }
  const shape: Shape = { keys, order, names: order.map(propertyName) }
  if (count <= SHAPE_MEMO_MAX_KEYS && keys.every((key) => key.length <= 64)) {
    shapes[nextShape] = shape
    nextShape = (nextShape + 1) % SHAPE_MEMO_SIZE
  }
  return shape
}

// Property names repeat from call to call (the fields of a filter), so the quoted form of short ones
// is kept; the memo starts over when full, as the key memo does.
const PROPERTY_MEMO_LIMIT = 4096
const propertyNames = new Map<string, string>()

/** `"name":` for a property name. */
function propertyName(key: string): string {
  if (key.length > 64) return `${quote(key)}:`
  let quoted = propertyNames.get(key)
  if (quoted === undefined) {
    quoted = `${quote(key)}:`
    if (propertyNames.size >= PROPERTY_MEMO_LIMIT) propertyNames.clear()
    propertyNames.set(key, quoted)
  }
  return quoted
}

/**
 * Bounds any key: a key longer than maxLength becomes its first `maxLength - 43` characters, `#` and
 * its SHA-256 (base64url). That is one character longer than maxLength (two when the cut keeps a
 * whole surrogate pair), so a bounded key is never a key that was kept as written: no short key can
 * read or overwrite a long key's entry by naming its bounded form.
 */
export function boundKey(key: string, maxLength: number): string {
  if (key.length <= maxLength) return key
  let head = Math.max(0, maxLength - 43)
  // Cutting between the halves of a surrogate pair would leave a lone surrogate, which stores
  // that encode keys as UTF-8 turn into U+FFFD; the head keeps the whole pair instead, since
  // dropping it would make the bounded key no longer than the keys kept as written.
  if (head > 0 && isHighSurrogate(key.charCodeAt(head - 1))) head++
  return `${key.slice(0, head)}#${sha256(key)}`
}

/** SHA-256 of text, base64url, 43 chars. Uses node:crypto `hash()` when available (Node >= 20.12), else createHash. */
export function sha256(text: string): string {
  return oneShotHash !== undefined
    ? oneShotHash('sha256', text, 'base64url')
    : nodeCrypto.createHash('sha256').update(text).digest('base64url')
}

function write(value: unknown, stack: object[]): string {
  if (typeof value === 'object') return value === null ? 'null' : writeObject(value, stack)
  const text = primitive(value)
  if (text !== undefined) return text
  if (typeof value === 'function') {
    throw new Unkeyable(`is a function${value.name ? ` (${value.name})` : ''}`, HINT)
  }
  throw new Unkeyable('is a symbol', HINT)
}

/** A string, number, boolean, undefined or bigint as a key writes it; undefined for anything else. */
function primitive(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      // String(-0) is "0"; -0 is kept apart because Math.sign, 1/x and Object.is tell them apart.
      return value === 0 && 1 / value < 0 ? '-0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return 'undefined'
    case 'bigint':
      return `${value}n`
    default:
      return undefined
  }
}

function writeObject(value: object, stack: object[]): string {
  if (stack.length >= MAX_KEY_DEPTH) {
    throw new Unkeyable(`is nested deeper than ${MAX_KEY_DEPTH} levels`, HINT, undefined, false)
  }
  // A linear search is cheap at the depths arguments have, and allocates nothing.
  if (stack.includes(value)) throw new Unkeyable('is a circular reference (it contains itself)', HINT)
  stack.push(value)
  let text: string
  if (Array.isArray(value)) text = writeArray(value, stack)
  else {
    const proto = Object.getPrototypeOf(value)
    text =
      proto === Object.prototype || proto === null
        ? writePlainObject(value as Record<string, unknown>, stack)
        : writeOtherObject(value, proto, stack)
  }
  stack.pop()
  return text
}

function writeArray(array: readonly unknown[], stack: object[]): string {
  let text = '['
  let i = 0
  try {
    for (; i < array.length; i++) {
      if (i > 0) text += ','
      text += write(array[i], stack)
    }
  } catch (error) {
    throw within(error, `[${i}]`)
  }
  return `${text}]`
}

function writePlainObject(object: Record<string, unknown>, stack: object[]): string {
  const keys = Object.keys(object)
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort()
      break
    }
  }
  let text = '{'
  let key = ''
  try {
    for (let i = 0; i < keys.length; i++) {
      key = keys[i]!
      const item = object[key]
      if (item === undefined) continue
      if (text.length > 1) text += ','
      text += `${quote(key)}:${write(item, stack)}`
    }
  } catch (error) {
    throw within(error, propertySegment(key))
  }
  return `${text}}`
}

function writeOtherObject(value: object, proto: object, stack: object[]): string {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? 'D"invalid"' : `D"${value.toISOString()}"`
  }
  if (ArrayBuffer.isView(value)) {
    if (Buffer.isBuffer(value)) return `Buffer<${base64(value, 1)}>`
    if (value instanceof DataView) return `DataView<${base64(value, 1)}>`
    const typed = value as unknown as { BYTES_PER_ELEMENT: number; [Symbol.toStringTag]: string }
    return `${typed[Symbol.toStringTag]}<${base64(value, typed.BYTES_PER_ELEMENT)}>`
  }
  if (value instanceof ArrayBuffer) return `ArrayBuffer<${Buffer.from(value).toString('base64')}>`
  if (value instanceof Map) return writeMap(value, stack)
  if (value instanceof Set) return writeSet(value, stack)
  if (value instanceof RegExp) return `R${quote(`/${value.source}/${value.flags}`)}`
  if (value instanceof URL) return `U${quote(value.href)}`
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    let json: unknown
    try {
      json = toJSON.call(value, '')
    } catch (error) {
      throw new Unkeyable(`is an instance of ${className(value)} whose toJSON() threw`, HINT, error)
    }
    try {
      return write(json, stack)
    } catch (error) {
      throw within(error, '.toJSON()')
    }
  }
  // An object from another realm (vm, iframe) has that realm's Object.prototype.
  if (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]') {
    return writePlainObject(value as Record<string, unknown>, stack)
  }
  throw new Unkeyable(`is an instance of ${className(value)}`, `${HINT}, or give the class a toJSON()`)
}

function writeMap(map: Map<unknown, unknown>, stack: object[]): string {
  const entries: [string, string][] = []
  let keyText: string | undefined
  try {
    for (const [key, item] of map) {
      keyText = undefined
      keyText = write(key, stack)
      entries.push([keyText, write(item, stack)])
    }
  } catch (error) {
    throw within(error, keyText === undefined ? '[<Map key>]' : `.get(${keyText})`)
  }
  entries.sort(compareEntries)
  let text = 'M{'
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    text += `${i > 0 ? ',' : ''}${entry[0]}=>${entry[1]}`
  }
  return `${text}}`
}

function writeSet(set: Set<unknown>, stack: object[]): string {
  const members: string[] = []
  try {
    for (const member of set) members.push(write(member, stack))
  } catch (error) {
    throw within(error, '[<Set member>]')
  }
  return `S[${members.sort().join(',')}]`
}

function compareEntries(a: [string, string], b: [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0
}

/** JSON quoting, with a shortcut for the common strings that need no escaping. */
function quote(text: string): string {
  if (text.length > 64) return JSON.stringify(text)
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) {
      return JSON.stringify(text)
    }
  }
  return `"${text}"`
}

/** Base64 of a view's bytes in little-endian element order, the same on every host. */
function base64(view: ArrayBufferView, elementSize: number): string {
  const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength)
  if (HOST_LITTLE_ENDIAN || elementSize === 1) return bytes.toString('base64')
  const copy = Buffer.from(bytes)
  if (elementSize === 2) copy.swap16()
  else if (elementSize === 4) copy.swap32()
  else copy.swap64()
  return copy.toString('base64')
}

function within(error: unknown, segment: string): unknown {
  if (error instanceof Unkeyable && error.showPath) error.path = segment + error.path
  return error
}

function propertySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function className(value: object): string {
  const ctor = (value as { constructor?: unknown }).constructor
  if (typeof ctor === 'function' && ctor.name) return ctor.name
  return Object.prototype.toString.call(value).slice(8, -1)
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function toCacheError(refusal: Unkeyable, subject: string): CacheError {
  return new CacheError(
    ErrorCodes.UNKEYABLE,
    `${subject}${refusal.path} ${refusal.problem}, which has no stable cache key: ${refusal.hint}`,
    { cause: refusal.cause },
  )
}
