import { runAdapterTestSuite } from '@cacheport/adapter-test-suite'
import { memoryAdapter } from '../src/index.js'

runAdapterTestSuite({ name: 'memory', factory: () => memoryAdapter() })
runAdapterTestSuite({ name: 'memory (byReference)', factory: () => memoryAdapter({ byReference: true }) })
