import { defineConfig } from 'tsup'

/** One build for every publishable package: ESM + CJS + declarations for both. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // No source maps: the output is readable ES2022 already, and maps would have to ship the whole
  // source (sourcesContent) or point at src/ files that are not in the tarball.
  sourcemap: false,
  target: 'node20',
  splitting: false,
})
