// Checks that a package's ESM and CJS builds export the same names, so `import` and `require`
// users see the same API. Run from a package folder after its build.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = process.cwd()
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
const entry = pkg.exports['.']
const esm = Object.keys(await import(pathToFileURL(join(dir, entry.import.default)).href)).sort()
const cjs = Object.keys(createRequire(join(dir, 'package.json'))(join(dir, entry.require.default)))
  .filter((name) => name !== '__esModule' && name !== 'default')
  .sort()
const onlyEsm = esm.filter((name) => !cjs.includes(name))
const onlyCjs = cjs.filter((name) => !esm.includes(name))
if (esm.length === 0 || onlyEsm.length > 0 || onlyCjs.length > 0) {
  console.error(`${pkg.name}: ESM and CJS exports differ`, { onlyEsm, onlyCjs, esm: esm.length })
  process.exit(1)
}
console.log(`${pkg.name}: ESM and CJS export the same ${esm.length} names`)
