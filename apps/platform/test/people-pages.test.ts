import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { createCache } from '@cacheport/cache-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OsirisClient } from '../src/services/osiris-client.js'

// Markup as a real people page writes it: attributes in any order, tags and entities inside names,
// links inside list items, comments. What the parser must read is the same as on the simulator.
const OVERVIEW = `<!doctype html><html><body>
<ul class="people-list">
  <li class="person-tile"><a data-id="7" href="/j-de-vries" class="person-link"><span class="person-name">J. de Vries</span></a></li>
  <li class="person-tile"><a class="person-link"
      href="/a-bakker"><span class="person-name"><!-- name --><b>Anna</b> Bakker &amp; co</span></a></li>
</ul></body></html>`
const PROFILE = `<!doctype html><html><body><main class="profile">
<h1 id="n" class="profile-name"><span class="title">dr.</span> Anna Bakker</h1>
<p class="profile-contact"><a title="mail" href="mailto:a.bakker@example.org?subject=Hi">mail</a></p>
<ul class="profile-organisations">
  <li><a href="/org/cs">Computer Science</a> (EEMCS)</li>
  <li>Faculty of Electrical Engineering, Mathematics &amp; Computer Science (EEMCS)</li>
</ul></main></body></html>`

describe('people pages', () => {
  let server: Server
  let client: OsirisClient

  beforeAll(async () => {
    server = createServer((request, response) => {
      const path = new URL(request.url!, 'http://x').pathname
      const body = path === '/overview' ? OVERVIEW : path === '/a-bakker' ? PROFILE : undefined
      response.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' })
      response.end(body ?? 'not found')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    client = new OsirisClient({
      osirisBaseUrl: base,
      peopleBaseUrl: base,
      cache: createCache({ adapter: memoryAdapter(), keyPrefix: 'people_test' }),
      courseTtl: '1m',
      personTtl: '1m',
      timeoutMs: 2_000,
    })
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  it('reads tiles, name, e-mail and organisations with an HTML parser, whatever the markup around them', async () => {
    expect(await client.fetchPersonData('A. Bakker')).toMatchObject({
      mainName: 'dr. Anna Bakker',
      email: 'a.bakker@example.org',
      faculty: 'EEMCS',
      organisations: [
        { name: 'Computer Science', abbreviation: 'EEMCS' },
        { name: 'Faculty of Electrical Engineering, Mathematics & Computer Science', abbreviation: 'EEMCS' },
      ],
    })
  })
})
