/**
 * The Cacheport adapter contract as tests. An adapter that passes this suite is interchangeable with
 * every other: call {@link runAdapterTestSuite} from one test file with a factory for your adapter.
 */
import { CacheError, ErrorCodes } from '@cacheport/cache-core'
import { describe } from 'vitest'
import { basicTests } from './basic.js'
import { batchTests } from './batch.js'
import { failureTests } from './failures.js'
import { foreignTypeTests } from './foreign-types.js'
import { isolationTests } from './isolation.js'
import { keyTests } from './keys.js'
import { leaseTests } from './leases.js'
import { lifecycleTests } from './lifecycle.js'
import { patternTests } from './patterns.js'
import { pubsubTests } from './pubsub.js'
import { tagTests } from './tags.js'
import { ttlTests } from './ttl.js'
import {
  type AdapterSuiteOptions,
  type ResolvedSuiteOptions,
  SUITE_TOPICS,
  type SuiteTopic,
} from './types.js'

export { GLOB_CASES, type GlobCase } from './glob-table.js'
export type { AdapterSuiteOptions, SuiteTopic } from './types.js'
export { SUITE_TOPICS } from './types.js'

const registrars: Record<SuiteTopic, (options: ResolvedSuiteOptions) => void> = {
  basic: basicTests,
  batch: batchTests,
  ttl: ttlTests,
  patterns: patternTests,
  keys: keyTests,
  tags: tagTests,
  isolation: isolationTests,
  leases: leaseTests,
  pubsub: pubsubTests,
  lifecycle: lifecycleTests,
  failures: failureTests,
  'foreign-types': foreignTypeTests,
}

/**
 * Registers the conformance suite with vitest under `describe('<name> adapter conformance')`.
 * Call it at the top level of a test file; it must run while vitest collects tests.
 */
export function runAdapterTestSuite(options: AdapterSuiteOptions): void {
  const resolved = resolveOptions(options)
  describe(`${resolved.name} adapter conformance`, () => {
    for (const topic of SUITE_TOPICS) {
      if (!resolved.skip.includes(topic)) registrars[topic](resolved)
    }
  })
}

function resolveOptions(options: AdapterSuiteOptions): ResolvedSuiteOptions {
  if (typeof options.name !== 'string' || options.name === '') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      'runAdapterTestSuite: option "name" must be a non-empty string',
      {
        field: 'name',
      },
    )
  }
  if (typeof options.factory !== 'function') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `runAdapterTestSuite "${options.name}": option "factory" must be a function that builds an adapter`,
      { field: 'factory' },
    )
  }
  for (const topic of options.skip ?? []) {
    if (!SUITE_TOPICS.includes(topic)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `runAdapterTestSuite "${options.name}": option "skip" lists unknown topic "${topic}"; known topics: ${SUITE_TOPICS.join(', ')}`,
        { field: 'skip' },
      )
    }
  }
  return {
    name: options.name,
    factory: options.factory,
    stores: options.stores ?? true,
    realTime: options.realTime ?? true,
    largeValues: options.largeValues ?? true,
    skip: options.skip ?? [],
    unreachable: options.unreachable,
    unreachableTimeoutMs: options.unreachableTimeoutMs ?? 3000,
    plantForeignValue: options.plantForeignValue,
    messageTimeoutMs: options.messageTimeoutMs ?? 2000,
    cacheOptions: options.cacheOptions ?? {},
  }
}
