import { join } from 'node:path'
import ExcelJS from 'exceljs'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCsv, QLIK_COLUMNS } from '../src/services/qlik-parser.js'
import { json, prepareDatabase, qlikCsv, startTestApp, type TestApp, tempDir } from './helpers.js'

describe('Qlik CSV parsing', () => {
  it('reads quoted fields, doubled quotes, CRLF and a semicolon delimiter; - and blanks are null', () => {
    const text = `\uFEFFMaterial id;Title;Remarks;ISBN\r\n1;"Chapter ""One""; part 2";-;\r\n2;Plain;"multi\nline";978\r\n`
    expect(parseCsv(text)).toEqual([
      {
        rowNumber: 2,
        values: { 'Material id': '1', Title: 'Chapter "One"; part 2', Remarks: null, ISBN: null },
      },
      { rowNumber: 3, values: { 'Material id': '2', Title: 'Plain', Remarks: 'multi\nline', ISBN: '978' } },
    ])
  })

  it('rejects a file without a Material id column, naming the column', () => {
    expect(() => parseCsv('Title,Period\nx,y\n')).toThrow(/no "Material id" column/)
  })

  it('rejects an unclosed quote and a row with the wrong number of fields, naming the line', () => {
    expect(() => parseCsv('Material id,Title\n1,"open\n')).toThrow(/line 2: a quoted field is never closed/)
    expect(() => parseCsv('Material id,Title\n1,a\n2,b,c\n')).toThrow(
      /line 3: 3 fields where the header has 2/,
    )
  })
})

describe('Qlik ingest', () => {
  let t: TestApp
  let dir: ReturnType<typeof tempDir>

  beforeAll(async () => {
    dir = tempDir()
    const url = join(dir.path, 'ingest.sqlite')
    await prepareDatabase(url, 50)
    t = await startTestApp(url)
  })
  afterAll(async () => {
    await t?.stop()
    dir?.remove()
  })

  const db = () => t.app.database.db
  const item = (id: number) =>
    db().selectFrom('copyright_items').selectAll().where('material_id', '=', id).executeTakeFirst()
  const batches = async () =>
    Number(
      (
        await db()
          .selectFrom('ingest_batches')
          .select(sql<number>`count(*)`.as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )

  it('creates items, drops rows without a material id, and reports failed rows with their row number', async () => {
    const csv = qlikCsv([
      {
        'Material id': 880001,
        Period: '2025-1A',
        Department: 'Civil Engineering',
        'Course code': '2025-202588001-1A',
        'Course name': 'Hydraulics',
        url: 'https://canvas.utwente.nl/courses/10001/files/10001005',
        Filename: 'reader.pdf',
        Title: 'Reader',
        Owner: 'dr. A. Bakker',
        Filetype: 'pdf',
        ISBN: '-',
        pagecount: 12,
      },
      { 'Material id': '', Title: 'subtotal row' },
      { 'Material id': 'abc', Title: 'broken id' },
      { 'Material id': 880002, Title: 'bad count', pagecount: 'many' },
      { 'Material id': 880003, Department: 'Somewhere New', Title: 'Unmapped', Filetype: 'key' },
    ])
    const res = await t.api.upload(csv)
    expect(res.status).toBe(200)
    const summary = await json(res)
    expect(summary).toMatchObject({
      format: 'csv',
      rows: 5,
      created: 2,
      updated: 0,
      skipped: 0,
      failed: 2,
      dropped: 1,
    })
    expect(summary.failures).toEqual([
      { row: 4, materialId: null, reason: 'Material id must be a whole number, got "abc"' },
      { row: 5, materialId: null, reason: 'pagecount must be a whole number, got "many"' },
    ])
    expect(await item(880001)).toMatchObject({
      faculty: 'ET',
      workflow_status: 'ToDo',
      isbn: null,
      pagecount: 12,
      filetype: 'pdf',
    })
    expect(await item(880003)).toMatchObject({ faculty: 'UNM', filetype: 'unknown' })
    const staged = await db()
      .selectFrom('qlik_entries')
      .select(['row_number', 'outcome'])
      .where('batch_id', '=', summary.batchId)
      .orderBy('row_number')
      .execute()
    expect(staged).toEqual([
      { row_number: 2, outcome: 'created' },
      { row_number: 4, outcome: 'failed' },
      { row_number: 5, outcome: 'failed' },
      { row_number: 6, outcome: 'created' },
    ])
  })

  it('merges by the rules: fields update, ISBN/DOI only fill blanks, counts keep the larger value', async () => {
    await t.app.ingest.ingestFile(
      Buffer.from(
        qlikCsv([
          { 'Material id': 880010, Title: 'Old', ISBN: '', DOI: '10.1/old', pagecount: 40, wordcount: 100 },
        ]),
      ),
      'first.csv',
    )
    const update = {
      'Material id': 880010,
      Title: 'New',
      ISBN: '9781234567897',
      DOI: '10.1/new',
      pagecount: 30,
      wordcount: 500,
    }
    // The same row twice in one file: the second one has nothing left to change, so it is skipped.
    const summary = await t.app.ingest.ingestFile(Buffer.from(qlikCsv([update, update])), 'second.csv')
    expect(summary).toMatchObject({ created: 0, updated: 1, skipped: 1, failed: 0 })
    expect(await item(880010)).toMatchObject({
      title: 'New',
      isbn: '9781234567897',
      doi: '10.1/old',
      pagecount: 40,
      wordcount: 500,
    })
    const changes = await db()
      .selectFrom('item_changes')
      .select(['field', 'old_value', 'new_value'])
      .where('material_id', '=', 880010)
      .where('batch_id', '=', summary.batchId)
      .orderBy('field')
      .execute()
    expect(changes).toEqual([
      { field: 'isbn', old_value: null, new_value: '9781234567897' },
      { field: 'title', old_value: 'Old', new_value: 'New' },
      { field: 'wordcount', old_value: '100', new_value: '500' },
    ])
  })

  it('reads XLSX exports with the same rules', async () => {
    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Export')
    sheet.addRow([...QLIK_COLUMNS])
    sheet.addRow([
      880020,
      '2025-2B',
      'Computer Science',
      '2025-202588020-2B',
      'Compilers',
      '-',
      'c.pdf',
      'Compilers book',
    ])
    sheet.addRow([null, 'subtotal'])
    const data = new Uint8Array(await workbook.xlsx.writeBuffer())
    const res = await t.api.upload(data, 'export.xlsx')
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ format: 'xlsx', created: 1, dropped: 1, failed: 0 })
    expect(await item(880020)).toMatchObject({ faculty: 'EEMCS', url: null, title: 'Compilers book' })
  })

  it('answers 400 naming the problem for a malformed file, and writes nothing', async () => {
    const before = await batches()
    const broken = 'Material id,Title\n880030,"never closed\n880031,Fine\n'
    const res = await t.api.upload(broken)
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ error: 'E_MALFORMED_FILE', field: 'file' })
    const fake = await t.api.upload(new Uint8Array([0x50, 0x4b, 3, 4, 9, 9, 9]), 'export.xlsx')
    expect(fake.status).toBe(400)
    expect((await json(fake)).message).toMatch(/not a readable XLSX workbook/)
    expect(await batches()).toBe(before)
    expect(await item(880031)).toBeUndefined()
  })

  it('rejects a request without a file, naming the field', async () => {
    const res = await t.api.fetch('/api/ingest/qlik', { method: 'POST', body: new FormData() })
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ field: 'file' })
  })

  it('a new course code invalidates its cached Osiris "not found"', async () => {
    const osiris = t.app.osiris!
    expect(await osiris.fetchCourseDetails('202588040')).toBeNull()
    const searches = t.sims.osiris.requests('search')
    expect(await osiris.fetchCourseDetails('202588040')).toBeNull()
    expect(t.sims.osiris.requests('search')).toBe(searches)
    await t.app.ingest.ingestFile(
      Buffer.from(
        qlikCsv([{ 'Material id': 880040, 'Course code': '2025-202588040-1A', 'Course name': 'New course' }]),
      ),
      'course.csv',
    )
    await osiris.fetchCourseDetails('202588040')
    expect(t.sims.osiris.requests('search')).toBe(searches + 1)
  })
})
