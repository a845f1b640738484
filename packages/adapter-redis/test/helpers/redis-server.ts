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

/** A local Redis Cluster: three primaries, each with `replicas` replicas. */
export interface RedisCluster {
  /** The ports of the nodes that were primaries when the cluster was created. */
  readonly ports: number[]
  /** The ports of every node, primaries and replicas. */
  readonly allPorts: number[]
  /** Runs `redis-cli -p <port> <args>` against one node and resolves with its output. */
  cli(port: number, ...args: string[]): Promise<string>
  /** The server process on `port`, to kill or freeze it. */
  node(port: number): RedisProcess
  /** Each node's role as the node on `port` sees it: port → `master` or the port of its primary. */
  topology(port: number): Promise<Map<number, 'master' | number>>
  /** Kills every node and removes their files. */
  stop(): Promise<void>
}

/** How {@link startCluster} builds its cluster. */
export interface ClusterSetup {
  /** Replicas per primary. @default 0 */
  replicas?: number
  /** `cluster-node-timeout`: how long a node may be unreachable before it is failed over. @default 2000 */
  nodeTimeoutMs?: number
  /** More `--name value` pairs for every node. */
  args?: string[]
}

/**
 * Starts three cluster-enabled primaries (and their replicas), joins them with
 * `redis-cli --cluster create`, and waits for `cluster_state:ok` on every node and, with replicas,
 * for every replica to be in sync with its primary and known as one by every node.
 */
export async function startCluster(setup: ClusterSetup = {}): Promise<RedisCluster> {
  const replicas = setup.replicas ?? 0
  const dir = mkdtempSync(join(tmpdir(), 'cacheport-cluster-'))
  const nodes: RedisProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout
  const topology = async (port: number): Promise<Map<number, 'master' | number>> => {
    const lines = (await cli(port, 'cluster', 'nodes')).trim().split('\n')
    const portOf = new Map(
      lines.map((line) => [line.split(' ')[0]!, Number(line.split(' ')[1]!.split(/[:@]/)[1])]),
    )
    const roles = new Map<number, 'master' | number>()
    for (const line of lines) {
      const [id, , flags, primaryId] = line.split(' ')
      if (flags!.includes('fail') && !flags!.includes('fail?')) continue
      roles.set(portOf.get(id!)!, flags!.includes('master') ? 'master' : portOf.get(primaryId!)!)
    }
    return roles
  }
  try {
    for (let i = 0; i < 3 * (1 + replicas); i++) {
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
            String(setup.nodeTimeoutMs ?? 2000),
            ...(setup.args ?? []),
          ],
          port,
        ),
      )
    }
    const allPorts = nodes.map((n) => n.port)
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...allPorts.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    )
    const deadline = Date.now() + 15_000
    const waitFor = async (port: number, check: (info: string) => boolean, what: string): Promise<void> => {
      while (!check(await cli(port, ...what.split(' ')))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} never passed "${what}"`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    for (const port of allPorts)
      await waitFor(port, (info) => info.includes('cluster_state:ok'), 'cluster info')
    const roles = await topology(allPorts[0]!)
    const ports = allPorts.filter((port) => roles.get(port) === 'master')
    for (const port of allPorts.filter((p) => roles.get(p) !== 'master')) {
      await waitFor(port, (info) => info.includes('master_link_status:up'), 'info replication')
    }
    // A replica can be in sync before every node has heard that it is one, and a manual failover
    // needs its primary to know it: wait until every node sees every node, each in its final role.
    const settled = (nodes: string): boolean => {
      const lines = nodes.trim().split('\n')
      return (
        lines.length === allPorts.length &&
        lines.every((line) => !/handshake|fail|noaddr/.test(line.split(' ')[2]!)) &&
        lines.filter((line) => line.split(' ')[2]!.includes('slave')).length === 3 * replicas
      )
    }
    for (const port of allPorts) await waitFor(port, settled, 'cluster nodes')
    const node = (port: number): RedisProcess => {
      const found = nodes.find((n) => n.port === port)
      if (found === undefined) throw new Error(`no cluster node on port ${port}`)
      return found
    }
    return { ports, allPorts, cli, node, topology, stop }
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
