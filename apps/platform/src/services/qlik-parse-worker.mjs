// Worker threads do not inherit the tsx loader of the main thread: load the TypeScript worker through it.
import { tsImport } from 'tsx/esm/api'

await tsImport('./qlik-parse-worker.ts', import.meta.url)
