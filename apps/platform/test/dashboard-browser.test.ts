import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catalogue } from '../src/catalogue.js'
import { json, prepareDatabase, qlikCsv, startTestApp, TEST_USERS, type TestApp, tempDir } from './helpers.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

describe('dashboard in a browser', () => {
  let t: TestApp
  let dir: ReturnType<typeof tempDir>
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the browser test needs Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
      )
    }
    dir = tempDir()
    const url = join(dir.path, 'browser.sqlite')
    await prepareDatabase(url, 400)
    t = await startTestApp(url)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await t?.stop()
    dir?.remove()
  })

  const badge = (status: string) => page.getByTestId(`count-${status}`).textContent()
  const apiCounts = async (query = '') => json(await t.api.fetch(`/api/items/counts${query}`))

  it('sends a visitor to the sign-in page and back to the dashboard after signing in', async () => {
    await page.goto(`${t.url}/?status=All`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.getByTestId('login-username').fill(TEST_USERS.admin.username)
    await page.getByTestId('login-password').fill('wrong password')
    await page.getByTestId('login-submit').click()
    await page.waitForFunction(
      () => document.querySelector('[data-testid="login-error"]')?.textContent !== '',
    )
    expect(await page.getByTestId('login-error').textContent()).toBe('wrong user name or password')
    await page.getByTestId('login-password').fill(TEST_USERS.admin.password)
    await page.getByTestId('login-submit').click()
    await page.waitForURL((url) => url.pathname === '/')
    expect(await page.getByTestId('signed-in-user').textContent()).toBe(TEST_USERS.admin.username)
  })

  it('shows the workflow tabs with the counts of the API', async () => {
    await page.goto(t.url)
    const counts = await apiCounts()
    for (const status of ['All', 'ToDo', 'InProgress', 'Done']) {
      expect(await badge(status)).toBe(counts[status].toLocaleString('en'))
    }
    expect(await page.getByTestId('item-row').count()).toBe(25)
    expect(await page.getByTestId('cache-panel').textContent()).toContain('memory')
  })

  it('switches tabs and filters by faculty', async () => {
    await page.getByTestId('tab-Done').click()
    await page.waitForFunction(
      () => document.querySelector('[data-testid="tab-Done"]')?.getAttribute('aria-selected') === 'true',
    )
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="item-row"] .wf')].every((e) => e.textContent === 'Done'),
    )
    await page.getByTestId('faculty-select').selectOption('TNW')
    const counts = await apiCounts('?faculty=TNW')
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid="count-All"]')?.textContent === n,
      counts.All.toLocaleString('en'),
    )
    expect(await badge('Done')).toBe(counts.Done.toLocaleString('en'))
    expect(await page.getByTestId('page-info').textContent()).toContain(
      `(${counts.Done.toLocaleString('en')} items)`,
    )
    expect(page.url()).toContain('faculty=TNW')
  })

  it('uploads a Qlik export and shows the new counts', async () => {
    await page.getByTestId('tab-ToDo').click()
    const before = await apiCounts('?faculty=TNW')
    const csv = qlikCsv([
      { 'Material id': 770001, Department: 'Applied Physics', Title: 'Optics reader', Filetype: 'pdf' },
      {
        'Material id': 770002,
        Department: 'Biomedical Technology',
        Title: 'Cell biology slides',
        Filetype: 'pptx',
      },
      { 'Material id': 'oops', Department: 'Applied Physics', Title: 'Broken row' },
    ])
    await page
      .getByTestId('upload-input')
      .setInputFiles({ name: 'qlik.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await page.getByTestId('upload-submit').click()
    await page.waitForFunction(() => document.querySelector('[data-testid="upload-summary"]') !== null)
    const result = await page.getByTestId('upload-summary').textContent()
    expect(result).toMatch(/^Batch \d+: 2 created, 0 updated, 0 unchanged, 1 rejected$/)
    expect(await page.getByTestId('upload-rejections').textContent()).toContain(
      'row 4: Material id must be a whole number',
    )
    // The bar ends full.
    expect(
      await page.getByTestId('upload-progress').evaluate((e: HTMLProgressElement) => e.value === e.max),
    ).toBe(true)
    const expected = (before.ToDo + 2).toLocaleString('en')
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid="count-ToDo"]')?.textContent === n,
      expected,
    )
    expect(await badge('All')).toBe((before.All + 2).toLocaleString('en'))
    await page.getByTestId('search-input').fill('optics reader')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="item-row"]').length === 1)
    expect(await page.getByTestId('item-row').first().textContent()).toContain('770001')
  })

  it('looks a course and a person up in the Osiris panel and says where each answer came from', async () => {
    const lookup = async (type: string, query: string) => {
      await page.getByTestId('osiris-type').selectOption(type)
      await page.getByTestId('osiris-query').fill(query)
      const answered = page.waitForResponse((r) => r.url().includes('/api/osiris/lookup'))
      await page.getByTestId('osiris-submit').click()
      await answered
      await page.waitForFunction(() => document.querySelector('[data-testid="osiris-source"]') !== null)
      return {
        answer: await page.getByTestId('osiris-answer').textContent(),
        source: await page.getByTestId('osiris-source').textContent(),
        result: await page.getByTestId('osiris-result').textContent(),
      }
    }
    const first = await lookup('course', '2025-202561006-1B')
    expect(first.source).toBe('upstream')
    expect(first.result).toContain('age 0 s')
    const again = await lookup('course', '202561006')
    expect(again).toMatchObject({ answer: first.answer, source: 'memory' })
    const person = await lookup('person', 'Bakker')
    expect(person.source).toBe('upstream')
    // Osiris finds the course but not its teachers: the panel says so, rather than "0 teachers".
    t.sims.osiris.force('/student/osiris/owc/cursussen/', 503)
    const partial = await lookup('course', catalogue().courses.at(-1)!.cursus)
    t.sims.osiris.clearForced()
    expect(partial).toMatchObject({
      answer: expect.stringContaining('teachers unavailable'),
      source: 'upstream',
    })
  })

  it('charts the hit rate and shows cached against uncached read latency', async () => {
    await page.reload()
    await page.waitForFunction(
      () => document.querySelector('[data-testid="latency-cached"]')?.textContent !== undefined,
    )
    expect(await page.getByTestId('latency-cached').textContent()).toMatch(/ms avg \(\d+\)$/)
    expect(await page.getByTestId('latency-uncached').textContent()).toMatch(/ms avg \(\d+\)$/)
    expect(await page.locator('#hit-chart [data-cache="queries"]').count()).toBeGreaterThan(0)
  })

  it('checks a file from the table and clears a cache from the panel', async () => {
    await page.getByTestId('search-input').fill('')
    await page.getByTestId('faculty-select').selectOption('')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="item-row"]').length === 25)
    const firstId = await page.getByTestId('item-row').first().getAttribute('data-id')
    await page.locator(`[data-testid="item-row"][data-id="${firstId}"] .check-file`).click()
    await page.waitForFunction(
      (id) =>
        /exists|missing/.test(document.querySelector(`[data-testid="file-exists-${id}"]`)?.textContent ?? ''),
      firstId,
    )
    await page.getByTestId('clear-queries').click()
    await page.waitForTimeout(100)
    const path = join(process.env.SCREENSHOT_DIR ?? dir.path, 'dashboard.png')
    await page.screenshot({ path, fullPage: true })
    expect(existsSync(path)).toBe(true)
  })
})
