/**
 * Throwaway redis-server processes for tests that must break, stop or reconfigure a server: each
 * runs on a free loopback port with no persistence and is killed by PID, never by name.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A port nobody listens on right now (the OS picks it), optionally with `port + offset` free too. */
export async function freePort(offset = 0): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0)
    if (offset === 0) return port
    if (port + offset < 65536 && (await isFree(port + offset))) return port
  }
  throw new Error('no free port pair found')
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : port))
    })
  })
}

async function isFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port)
    return true
  } catch {
    return false
  }
}

/** Sends one inline command over a raw socket and resolves with the raw reply (no client library). */
export function rawCommand(port: number, command: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let reply = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no reply to ${command} on port ${port}`))
    }, timeoutMs)
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('connect', () => socket.write(`${command}\r\n`))
    socket.on('data', (data) => {
      reply += data.toString()
      if (complete(reply)) {
        clearTimeout(timer)
        socket.end()
        resolve(reply)
      }
    })
  })
}

// A simple reply ends at its first CRLF; a bulk string `$<length>` once all its bytes are in.
function complete(reply: string): boolean {
  const header = reply.indexOf('\r\n')
  if (header === -1) return false
  if (!reply.startsWith('$') || reply.startsWith('$-1')) return true
  return Buffer.byteLength(reply) >= header + 2 + Number(reply.slice(1, header)) + 2
}

/** Polls until the server on `port` answers PING. */
export async function waitForPong(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if ((await rawCommand(port, 'PING', 200)).startsWith('+PONG')) return
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A redis-server this test owns. */
export interface RedisProcess {
  /** Its port on 127.0.0.1. */
  readonly port: number
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  /** PID of the current process (changes on restart). */
  pid(): number
  /** Sends a signal to the current process (`SIGSTOP`/`SIGCONT` to freeze and thaw it). */
  signal(signal: NodeJS.Signals): void
  /** Kills the process (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts a new process on the same port with the same arguments. */
  restart(): Promise<void>
  /** Kills the process (thawing it first) and removes its files. */
  stop(): Promise<void>
}

/** The handle of a server process; `current` gives the process of the latest (re)start. */
function processHandle(
  port: number,
  current: () => ChildProcess,
  kill: () => Promise<void>,
  launch: () => Promise<void>,
  dir: string,
): RedisProcess {
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => current().pid!,
    signal: (signal) => process.kill(current().pid!, signal),
    kill,
    restart: launch,
    stop: async () => {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Starts `redis-server` on a free loopback port with no persistence; `args` are extra config pairs. */
export async function startRedis(args: string[] = [], port?: number): Promise<RedisProcess> {
  const chosen = port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'cacheport-redis-'))
  const argv = [
    '--port',
    String(chosen),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dir,
    ...args,
  ]
  let child: ChildProcess
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', argv, { stdio: 'ignore' })
    await waitForPong(chosen)
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    try {
      // A frozen (SIGSTOP) process would still die, but thawing it first keeps the exit prompt.
      process.kill(child.pid!, 'SIGCONT')
      process.kill(child.pid!, 'SIGKILL')
    } catch {
      // it exited on its own in between
    }
    await exited
  }
  await launch()
  return processHandle(chosen, () => child, kill, launch, dir)
}

/** A local Redis Cluster of three primaries. */
export interface RedisCluster {
  /** The primaries' ports. */
  readonly ports: number[]
  /** Runs `redis-cli -p <port> <args>` against one node and resolves with its output. */
  cli(port: number, ...args: string[]): Promise<string>
  /** Kills every node and removes their files. */
  stop(): Promise<void>
}

/** Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`, waits for `cluster_state:ok`. */
export async function startCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cacheport-cluster-'))
  const nodes: RedisProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout
  try {
    for (let i = 0; i < 3; i++) {
      // The cluster bus listens on port + 10000, so both must be free.
      const port = await freePort(10_000)
      nodes.push(
        await startRedis(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
          ],
          port,
        ),
      )
    }
    const ports = nodes.map((n) => n.port)
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    )
    const deadline = Date.now() + 10_000
    for (const port of ports) {
      while (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} never reached cluster_state:ok`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    return { ports, cli, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** A Sentinel watching one primary under the group name `name` (quorum 1, fast failure detection). */
export async function startSentinel(primaryPort: number, name: string): Promise<RedisProcess> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'cacheport-sentinel-'))
  const config = join(dir, 'sentinel.conf')
  // Sentinel rewrites its configuration file as it learns, so it gets one of its own.
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  )
  let child: ChildProcess
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
    await waitForPong(port)
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }
  await launch()
  return processHandle(port, () => child, kill, launch, dir)
}
