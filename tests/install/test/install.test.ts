// The packages as users get them: packed into tarballs, installed with plain npm into throwaway
// consumer projects, then type-checked, built (tsc, tsx, esbuild) and run. Nothing here imports the
// workspace's sources; a file missing from a tarball or a type that only works inside the monorepo
// fails here.
import { execFile } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../../..')
const fixtures = resolve(here, '../fixtures')
const PACKAGES = ['cache-core', 'adapter-memory', 'adapter-redis', 'adapter-noop', 'adapter-test-suite']
// The README's promise: Node 20.19 or newer (require() of ESM and the toolchain need it).
const ENGINES = '>=20.19'
// One npm cache for every run, so that after the first run the install is offline in practice.
const NPM_CACHE = join(tmpdir(), 'cacheport-install-tests-npm-cache')

let work: string
let consumer: string
let tarballs: Map<string, string>

/** Runs a command; on failure the error carries its output, so a broken step explains itself. */
async function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    })
    return stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`${[file, ...args].join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`)
  }
}

// pnpm rewrites `workspace:` ranges when it packs, so packing needs pnpm. Under `pnpm verify` the
// running pnpm is at npm_execpath; started some other way, fall back to the README's pinned pnpm.
function pnpm(): [string, string[]] {
  const execPath = process.env.npm_execpath
  if (execPath !== undefined && /pnpm/.test(execPath)) {
    // A script (pnpm.cjs) runs under node; pnpm's standalone executable runs by itself.
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, [execPath]] : [execPath, []]
  }
  return ['npx', ['-y', 'pnpm@12.4.2']]
}

const bin = (name: string) => join(consumer, 'node_modules', '.bin', name)
const node = (args: string[], cwd = consumer) => sh(process.execPath, args, cwd)
const tsc = (project: string) => node([join(consumer, 'node_modules/typescript/bin/tsc'), '-p', project])

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cacheport-install-'))
  const packed = join(work, 'tarballs')
  const [pnpmFile, pnpmArgs] = pnpm()
  await sh(
    pnpmFile,
    [...pnpmArgs, '-r', '--filter', './packages/*', 'pack', '--pack-destination', packed],
    root,
  )
  tarballs = new Map()
  for (const file of readdirSync(packed)) {
    const name = PACKAGES.find((pkg) => file === `cacheport-${pkg}-${version(pkg)}.tgz`)
    if (name !== undefined) tarballs.set(name, join(packed, file))
  }
  expect([...tarballs.keys()].sort()).toEqual([...PACKAGES].sort())

  consumer = join(work, 'consumer')
  cpSync(fixtures, consumer, { recursive: true })
  for (const flavour of ['esm', 'cjs']) {
    cpSync(join(fixtures, 'shared/app.ts'), join(consumer, flavour, 'app.ts'))
    cpSync(join(fixtures, 'shared/tsconfig.json'), join(consumer, flavour, 'tsconfig.json'))
  }
  const toolchain = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify(
      {
        name: 'cacheport-consumer',
        private: true,
        dependencies: {
          ...Object.fromEntries([...tarballs].map(([pkg, file]) => [`@cacheport/${pkg}`, `file:${file}`])),
          // ioredis is the adapter's peer: an app brings its own, here the version the workspace tests.
          ioredis: version('adapter-redis', 'ioredis'),
          // The lowest lru-cache the memory adapter's range allows; the workspace tests the newest.
          'lru-cache': '11.0.0',
          typescript: toolchain.typescript,
          '@types/node': toolchain['@types/node'],
          vitest: toolchain.vitest,
          tsx: '4.23.15',
          esbuild: '0.27.7',
        },
      },
      null,
      2,
    ),
  )
  await sh(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '--cache', NPM_CACHE],
    consumer,
  )
})

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

function version(pkg: string, dependency?: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'))
  return dependency === undefined
    ? manifest.version
    : (manifest.dependencies?.[dependency] ?? manifest.devDependencies?.[dependency] ?? manifest.version)
}

function installed(pkg: string): string {
  return join(consumer, 'node_modules/@cacheport', pkg)
}

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

describe('the tarballs', () => {
  it.each(PACKAGES)('%s ships its build, README and LICENSE, and no source maps or sources', async (pkg) => {
    const listing = (await sh('tar', ['-tzf', tarballs.get(pkg)!], work))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^package\//, ''))
    expect(listing).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js']))
    expect(listing.filter((file) => file.endsWith('.map') || file.startsWith('src/'))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(installed(pkg), 'package.json'), 'utf8'))
    expect(manifest.engines).toEqual({ node: ENGINES })
    expect(JSON.stringify(manifest)).not.toContain('workspace:')
  })

  it.each(PACKAGES)('%s: every relative link of its Markdown files resolves inside the tarball', (pkg) => {
    const dir = installed(pkg)
    const broken: string[] = []
    for (const file of filesOf(dir).filter(
      (name) => name.endsWith('.md') && !name.startsWith('node_modules'),
    )) {
      const text = readFileSync(join(dir, file), 'utf8')
      for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1]!
        if (/^(https?:|mailto:|#)/.test(target)) continue
        const path = resolve(dir, dirname(file), decodeURI(target.split('#')[0]!))
        if (!path.startsWith(dir) || !existsSync(path)) broken.push(`${file}: ${target}`)
      }
    }
    expect(broken).toEqual([])
  })
})

describe('the READMEs', () => {
  it('type-check: every TypeScript block, strict and with exactOptionalPropertyTypes', async () => {
    const sources = [
      join(root, 'README.md'),
      ...PACKAGES.flatMap((pkg) =>
        filesOf(installed(pkg))
          .filter((file) => file.endsWith('.md'))
          .map((file) => join(installed(pkg), file)),
      ),
    ]
    const dir = join(consumer, 'snippets')
    mkdirSync(dir, { recursive: true })
    let blocks = 0
    for (const source of sources) {
      const name = relative(consumer, source).startsWith('..')
        ? relative(root, source)
        : relative(join(consumer, 'node_modules/@cacheport'), source)
      const lines = readFileSync(source, 'utf8').split('\n')
      for (let i = 0; i < lines.length; i++) {
        if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue
        const start = i + 1
        let end = start
        while (end < lines.length && !lines[end]!.startsWith('```')) end++
        // Named after the Markdown file and line, so a compiler error points at the README, unless
        // the block names its file in its first line (`// map-adapter.ts`) for other tests to use.
        const named = /^\/\/ ([\w-]+\.ts)$/.exec(lines[start] ?? '')?.[1]
        const file = named ?? `${name.replace(/[^A-Za-z0-9]+/g, '_')}_L${start + 1}.ts`
        writeFileSync(join(dir, file), `${lines.slice(start, end).join('\n')}\nexport {}\n`)
        blocks++
        i = end
      }
    }
    expect(blocks).toBeGreaterThan(10)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../shared/tsconfig.json',
        compilerOptions: { noEmit: true },
        include: ['*.ts'],
      }),
    )
    await tsc(dir)
  })
})

describe('consumer projects', () => {
  it('an ESM app and a CommonJS app type-check, build with tsc and run against Redis', async () => {
    for (const flavour of ['esm', 'cjs']) {
      await tsc(join(consumer, flavour))
      expect(await node([join(consumer, flavour, 'out/app.js')])).toBe('app ok\n')
    }
    expect(readFileSync(join(consumer, 'cjs/out/app.js'), 'utf8')).toContain(
      'require("@cacheport/cache-core")',
    )
  })

  it('legacy experimentalDecorators (with decorator metadata) type-check and run', async () => {
    await tsc(join(consumer, 'legacy'))
    expect(await node([join(consumer, 'legacy/out/app.js')])).toBe('legacy ok\n')
  })

  it('an app that both imports and requires the core has one registry and one error identity', async () => {
    expect(await node([join(consumer, 'mixed/main.mjs')])).toBe('mixed ok\n')
  })

  it('decorated and cached-function keys are identical under tsc, tsx and a minified esbuild bundle', async () => {
    const dir = join(consumer, 'keys')
    await tsc(dir)
    const compiled = await node([join(dir, 'out/keys.js')])
    const direct = await node([bin('tsx'), join(dir, 'keys.ts')], dir)
    await sh(
      bin('esbuild'),
      [
        'keys.ts',
        '--bundle',
        '--minify',
        '--platform=node',
        '--target=node20',
        '--format=esm',
        '--outfile=out/keys.min.mjs',
      ],
      dir,
    )
    // The build really renamed the class: keys that came from names would differ.
    expect(readFileSync(join(dir, 'out/keys.min.mjs'), 'utf8')).not.toMatch(/class Base\b/)
    const minified = await node([join(dir, 'out/keys.min.mjs')])
    const expected = {
      load: 'base_load:7,{"faculty":"EEMCS"}',
      course: 'osiris_course:"201300069"',
      missingPrefix: 'E_INVALID_CONFIG keyPrefix',
      stored: [true, true],
    }
    expect(JSON.parse(compiled)).toEqual(expected)
    expect(direct).toBe(compiled)
    expect(minified).toBe(compiled)
  })

  it('an ESM esbuild bundle of an app on the Redis adapter runs, with the documented banner', async () => {
    const dir = join(consumer, 'bundle')
    await sh(
      bin('esbuild'),
      [
        'server.ts',
        '--bundle',
        '--minify',
        '--platform=node',
        '--target=node20',
        '--format=esm',
        '--outfile=out/server.mjs',
        "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      ],
      dir,
    )
    expect(await node([join(dir, 'out/server.mjs')])).toBe('bundle ok\n')
  })

  it("the published conformance suite passes on the published memory adapter and the guide's adapter", async () => {
    // The guide's adapter was written out by the README type-check above.
    expect(existsSync(join(consumer, 'snippets/map-adapter.ts'))).toBe(true)
    const dir = join(consumer, 'conformance')
    const output = await node([join(consumer, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir], dir)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the reporter's colours
    const plain = output.replace(/\u001b\[[0-9;]*m/g, '')
    expect(plain).toMatch(/Tests\s+\d+ passed/)
    expect(plain).not.toMatch(/failed/)
  })
})
