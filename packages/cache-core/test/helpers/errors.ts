import { expect } from 'vitest'
import { CacheError } from '../../src/errors.js'

/** The CacheError that `run` throws; fails the test when it throws nothing or something else. */
export function errorOf(run: () => unknown): CacheError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CacheError)
    return error as CacheError
  }
  throw new Error('expected a CacheError, nothing was thrown')
}
