import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { AppError, AppErrorCodes } from './lib/errors.js'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url))
const READY = /running at (http:\/\/\S+)/

/** One app instance running `cli.ts serve` in a process of its own. */
export interface InstanceProcess {
  /** The name it was started with (`INSTANCE_NAME`). */
  readonly name: string
  /** Its base URL, as it printed it. */
  readonly url: string
  /** The child process. */
  readonly child: ChildProcess
  /** Resolves when the process has exited, with its exit code (`null` after a signal). */
  readonly exited: Promise<number | null>
  /** Asks it to shut down (SIGTERM), kills it if it is still running after `graceMs`, and waits. */
  stop(graceMs?: number): Promise<void>
}

/** Options of {@link startInstance}. */
export interface StartInstanceOptions {
  /** Receives each line the instance prints (stdout and stderr), e.g. to show it with a prefix. */
  onLine?: (line: string) => void
  /**
   * How long the instance may take to listen.
   * @default 60000
   */
  startTimeoutMs?: number
}

/**
 * Starts an app instance as a child process with `env` as its whole environment (so the caller decides
 * what it inherits) and resolves once it listens. A start that fails or takes too long rejects with
 * what the instance printed.
 */
export function startInstance(
  name: string,
  env: Record<string, string | undefined>,
  options: StartInstanceOptions = {},
): Promise<InstanceProcess> {
  // The app runs from its TypeScript sources; `--import tsx` resolves from the app's own folder.
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], {
    cwd: APP_DIR,
    env: { ...env, INSTANCE_NAME: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => {
    // 'close', not 'exit': by then everything the instance printed has been read.
    child.once('close', (code) => resolve(code))
  })
  const timeoutMs = options.startTimeoutMs ?? 60_000
  const output: string[] = []
  return new Promise<InstanceProcess>((resolve, reject) => {
    let url: string | undefined
    const fail = (why: string) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(
        new AppError(
          AppErrorCodes.STARTUP,
          `instance ${name} ${why}${output.length > 0 ? `:\n${output.slice(-20).join('\n')}` : ''}`,
          { field: 'instance' },
        ),
      )
    }
    const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs)
    const onLine = (line: string) => {
      options.onLine?.(line)
      if (url !== undefined) return
      output.push(line)
      const match = READY.exec(line)
      if (match === null) return
      url = match[1]!
      clearTimeout(timer)
      resolve({
        name,
        url,
        child,
        exited,
        async stop(graceMs = 10_000) {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.kill('SIGTERM')
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs)
          await exited
          clearTimeout(killer)
        },
      })
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', onLine)
    void exited.then((code) => {
      if (url === undefined) fail(`exited with code ${code} before it listened`)
    })
  })
}
