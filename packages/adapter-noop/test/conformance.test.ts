import { runAdapterTestSuite } from '@cacheport/adapter-test-suite'
import { noopAdapter } from '../src/index.js'

runAdapterTestSuite({ name: 'noop', factory: () => noopAdapter(), stores: false })
