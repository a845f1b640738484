import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisAdapter } from '../src/index.js'
import { freePort, type RedisProcess, startRedis } from './helpers/redis-server.js'
import { bytes, until, untilStatus } from './helpers/shared.js'

// A redis-server with a TLS port and a self-signed certificate made for this run (openssl).
let dir: string
let server: RedisProcess
let tlsPort: number
let ca: Buffer

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cacheport-tls-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  ca = readFileSync(cert)
  tlsPort = await freePort()
  server = await startRedis([
    '--tls-port',
    String(tlsPort),
    '--tls-cert-file',
    cert,
    '--tls-key-file',
    key,
    '--tls-ca-cert-file',
    cert,
    '--tls-auth-clients',
    'no',
  ])
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('TLS', () => {
  it('connects over rediss:// with the CA given in tls', async () => {
    const adapter = redisAdapter({ url: `rediss://127.0.0.1:${tlsPort}/1`, tls: { ca } })
    try {
      expect(adapter.endpoint).toBe(`rediss://127.0.0.1:${tlsPort}/1`)
      await untilStatus(adapter, 'ready')
      await adapter.set('tls:k', bytes('over tls'), 10_000)
      expect(new TextDecoder().decode(await adapter.get('tls:k'))).toBe('over tls')
    } finally {
      await adapter.close()
    }
  })

  it('verifies the certificate: an unknown CA leaves the store unavailable', async () => {
    const adapter = redisAdapter({ url: `rediss://127.0.0.1:${tlsPort}/1`, connectTimeout: '500ms' })
    try {
      await until(() => adapter.status() === 'unavailable', 'the handshake to be refused', 3000)
      await expect(adapter.get('tls:k')).rejects.toThrow(/certificate/)
    } finally {
      await adapter.close()
    }
  })
})
