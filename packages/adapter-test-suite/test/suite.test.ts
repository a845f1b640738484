import { describe, expect, it } from 'vitest'
import { runAdapterTestSuite } from '../src/index.js'
import { MapAdapter, mapServer, RefusingAdapter } from './map-adapter.js'

const server = mapServer()

runAdapterTestSuite({
  name: 'map (asynchronous)',
  factory: () => new MapAdapter(server),
  unreachable: () => new RefusingAdapter(),
  unreachableTimeoutMs: 500,
})

describe('runAdapterTestSuite options', () => {
  it('rejects an unknown topic in skip, naming it and the known ones', () => {
    expect(() =>
      runAdapterTestSuite({ name: 'x', factory: () => new MapAdapter(server), skip: ['basics' as never] }),
    ).toThrow(/option "skip" lists unknown topic "basics"; known topics: basic, batch/)
  })

  it('rejects a missing factory with E_INVALID_CONFIG', () => {
    expect(() => runAdapterTestSuite({ name: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'factory' }),
    )
  })
})
