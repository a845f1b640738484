export { NoopAdapter, noopAdapter, noopAdapterFactory } from './noop-adapter.js'
