import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

/** A redis-server of a test's own, on a free loopback port, so it can be killed without harm. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly pid: number
  /** Kills it (SIGKILL, by PID) and waits until it is gone. */
  kill(): Promise<void>
  /** Shuts it down cleanly (SIGTERM, by PID: Redis writes its AOF or RDB first) and waits until it is gone. */
  shutdown(): Promise<void>
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The port to listen on (to restart a server where its clients expect it); a free one by default. */
  port?: number
  /** Arguments after `--port` and `--bind`; by default no persistence (`--save "" --appendonly no`). */
  args?: readonly string[]
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Starts `redis-server` (from PATH, or `REDIS_SERVER`); resolves once it accepts connections. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const child: ChildProcess = spawn(
    process.env.REDIS_SERVER ?? 'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      ...(options.args ?? ['--save', '', '--appendonly', 'no']),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited before it was ready:\n${output}`))
    })
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      process.kill(child.pid!, 'SIGKILL')
      await exited
    },
    async shutdown() {
      if (child.exitCode !== null || child.signalCode !== null) return
      process.kill(child.pid!, 'SIGTERM')
      await exited
    },
  }
}
