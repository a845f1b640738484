import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, createServer } from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { note, type SuiteReport } from './harness.js'

/** A redis-server this process started; nothing else uses it, so its numbers are undisturbed. */
export interface DedicatedRedis {
  /** Loopback port it listens on. */
  readonly port: number
  /** Process id, for the record. */
  readonly pid: number
  /** `redis://127.0.0.1:{port}`, plus `/{db}` when asked. */
  url(db?: number): string
  /** A new ioredis client of this server; `options` on top of its host and port. */
  client(options?: RedisOptions): Redis
  /** Stops the server (SIGTERM to its PID, SIGKILL if it lingers) and waits for it to exit. */
  stop(): Promise<void>
}

/** True when something at `host:port` answers a Redis PING within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port })
    const done = (answer: boolean) => {
      socket.destroy()
      clearTimeout(timer)
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
    socket.once('error', () => done(false))
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('could not find a free loopback port')
  return address.port
}

const running = new Set<ChildProcess>()
// A crash or Ctrl-C must not leave a server behind; each is killed by its own PID.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `redis-server` on a free loopback port with persistence off and waits until it answers.
 * Rejects with the server's own output when it cannot start (binary missing, port taken).
 */
export async function startRedisServer(binary = 'redis-server'): Promise<DedicatedRedis> {
  const port = await freePort()
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start ${binary}: ${error.message}`)))
    child.once('exit', (code) =>
      reject(new Error(`${binary} exited with code ${code}: ${output.trim().slice(-400)}`)),
    )
  })
  failed.catch(() => {})
  running.add(child)

  const deadline = Date.now() + 5000
  while (!(await Promise.race([redisAnswers('127.0.0.1', port, 200), failed]))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${binary} on port ${port} did not answer within 5 s: ${output.trim().slice(-400)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  const pid = child.pid!
  return {
    port,
    pid,
    url: (db?: number) => `redis://127.0.0.1:${port}${db === undefined ? '' : `/${db}`}`,
    client: (options?: RedisOptions) => new Redis({ ...options, host: '127.0.0.1', port }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
      running.delete(child)
    },
  }
}

/**
 * Runs `suite` against a redis-server of its own, named in the report, and stops the server after it
 * whatever happened.
 */
export async function withDedicatedRedis(
  report: SuiteReport,
  suite: (server: DedicatedRedis) => Promise<void>,
): Promise<void> {
  const server = await startRedisServer()
  note(report, `dedicated redis-server on 127.0.0.1:${server.port} (pid ${server.pid}), persistence off`)
  try {
    await suite(server)
  } finally {
    await server.stop()
  }
}

/**
 * Runs `action` between a reset of the server's command statistics and a read of them, and counts
 * the commands it caused. Only valid on a server nothing else talks to (the dedicated one).
 */
export async function commandsDuring(
  admin: Redis,
  action: () => Promise<void>,
): Promise<{ total: number; byCommand: Record<string, number> }> {
  await admin.call('CONFIG', 'RESETSTAT')
  await action()
  const info = String(await admin.call('INFO', 'commandstats'))
  const byCommand: Record<string, number> = {}
  let total = 0
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (!match) continue
    const command = match[1]!
    // The measurement's own CONFIG RESETSTAT and INFO are not the contender's.
    if (command === 'info' || command.startsWith('config')) continue
    const calls = Number(match[2])
    byCommand[command] = calls
    total += calls
  }
  return { total, byCommand }
}
