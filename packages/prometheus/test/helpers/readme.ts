import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

/** The first ```ts block of the package's README. */
export function readmeExample(packageDir: string): string {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8')
  const block = /```ts\n([\s\S]*?)```/.exec(readme)
  if (block === null) throw new Error('README.md has no ```ts example')
  return block[1]!
}

/**
 * Type-checks `source` as a module of the package in `packageDir` (so it resolves the package's own
 * name and its dependencies as a user's project would) and returns the compiler's messages.
 */
export function typeCheck(packageDir: string, source: string): string[] {
  const file = join(packageDir, 'test', `.readme-example-${process.pid}.ts`)
  writeFileSync(file, source)
  try {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(packageDir, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
        },
      },
    )!
    const program = ts.createProgram([file], { ...config.options, noEmit: true })
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  } finally {
    rmSync(file, { force: true })
  }
}
