import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeFlags } from './helpers/ioredis-major.js'
import { lineReader } from './helpers/line-reader.js'
import { type RedisProcess, startRedis } from './helpers/redis-server.js'

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const child = join(packageRoot, 'test', 'fixtures', 'close-child.ts')

let server: RedisProcess | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

describe('close() after the connection was lost', () => {
  it.each(['adapter', 'tiered'])('lets the process exit within 100 ms (%s)', async (shape) => {
    server = await startRedis()
    const proc = spawn(process.execPath, [...nodeFlags(), child, server.url, shape], {
      cwd: packageRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve))
    const next = lineReader(proc)
    try {
      expect(await next()).toBe('ready')
      await server.kill()
      proc.stdin!.end('killed\n')
      expect(await next()).toBe('closing unavailable')
      const exitLine = await Promise.race([next(), new Promise<string>((r) => setTimeout(r, 5000, 'alive'))])
      expect(exitLine).toMatch(/^exited \d+$/)
      const lingered = Number(exitLine.slice('exited '.length))
      expect(lingered, `the event loop ran dry ${lingered} ms after close()`).toBeLessThan(100)
      expect(await exited).toBe(0)
    } finally {
      proc.kill('SIGKILL')
    }
  })
})
