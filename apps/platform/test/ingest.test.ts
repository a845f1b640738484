import { join } from 'node:path'
import ExcelJS from 'exceljs'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_INGEST_LIMITS } from '../src/config.js'
import { parseCsv, QLIK_COLUMNS } from '../src/services/qlik-parser.js'
import { json, prepareDatabase, qlikCsv, startTestApp, type TestApp, tempDir } from './helpers.js'

describe('Qlik CSV parsing', () => {
  it('reads quoted fields, doubled quotes, CRLF and a semicolon delimiter; - and blanks are null', () => {
    const text = `\uFEFFMaterial id;Title;Remarks;ISBN\r\n1;"Chapter ""One""; part 2";-;\r\n2;Plain;"multi\nline";978\r\n`
    expect(parseCsv(text, DEFAULT_INGEST_LIMITS)).toEqual([
      {
        rowNumber: 2,
        values: { 'Material id': '1', Title: 'Chapter "One"; part 2', Remarks: null, ISBN: null },
      },
      { rowNumber: 3, values: { 'Material id': '2', Title: 'Plain', Remarks: 'multi\nline', ISBN: '978' } },
    ])
  })

  it('rejects a file without a Material id column, naming the column', () => {
    expect(() => parseCsv('Title,Period\nx,y\n', DEFAULT_INGEST_LIMITS)).toThrow(/no "Material id" column/)
  })

  it('rejects an unclosed quote and a row with the wrong number of fields, naming the line', () => {
    expect(() => parseCsv('Material id,Title\n1,"open\n', DEFAULT_INGEST_LIMITS)).toThrow(
      /line 2: a quoted field is never closed/,
    )
    expect(() => parseCsv('Material id,Title\n1,a\n2,b,c\n', DEFAULT_INGEST_LIMITS)).toThrow(
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
    const { status, body: summary } = await t.api.ingest(csv)
    expect(status).toBe(202)
    expect(summary).toMatchObject({
      status: 'done',
      format: 'csv',
      rows: 5,
      processed: 4,
      created: 2,
      updated: 0,
      unchanged: 0,
      rejected: 2,
      dropped: 1,
      error: null,
    })
    expect(summary.rejections).toEqual([
      { row: 4, materialId: null, reason: 'Material id must be a whole number, got "abc"' },
      { row: 5, materialId: 880002, reason: 'pagecount must be a whole number, got "many"' },
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
    expect(summary).toMatchObject({ created: 0, updated: 1, unchanged: 1, rejected: 0 })
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
    const { status, body } = await t.api.ingest(data, 'export.xlsx')
    expect(status).toBe(202)
    expect(body).toMatchObject({ format: 'xlsx', created: 1, dropped: 1, rejected: 0 })
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

  it('a re-ingest keeps staff work: staff fields are never overwritten and blanks never erase', async () => {
    const first = await t.app.ingest.ingestFile(
      Buffer.from(
        qlikCsv([
          {
            'Material id': 880050,
            Title: 'Reader',
            Author: 'A. Auteur',
            'Course name': 'Hydraulics',
            Filename: 'reader.pdf',
            Classification: 'open access',
            'Manual classification': 'Ja (open licentie)',
            'Manual identifier': 'M-1',
            Scope: 'course',
            Remarks: 'remark from the export',
          },
        ]),
      ),
      'first.csv',
    )
    expect(first.created).toBe(1)
    // A new item takes every field the export has, staff fields included.
    expect(await item(880050)).toMatchObject({
      classification: 'open access',
      manual_classification: 'Ja (open licentie)',
      remarks: 'remark from the export',
    })
    const edit = await t.api.send('PATCH', '/api/items/880050', { remarks: 'staff remark A' })
    expect(edit.status).toBe(200)

    const again = await t.app.ingest.ingestFile(
      Buffer.from(
        qlikCsv([
          {
            'Material id': 880050,
            Title: '-',
            Author: '',
            'Course name': '-',
            Filename: 'reader-v2.pdf',
            Classification: 'korte overname',
            'Manual classification': 'Nee',
            'Manual identifier': 'M-2',
            Scope: 'faculty',
            Remarks: 'remark from the export',
          },
        ]),
      ),
      'again.csv',
    )
    expect(again).toMatchObject({ updated: 1, rejected: 0 })
    expect(await item(880050)).toMatchObject({
      filename: 'reader-v2.pdf',
      title: 'Reader',
      author: 'A. Auteur',
      course_name: 'Hydraulics',
      classification: 'open access',
      manual_classification: 'Ja (open licentie)',
      manual_identifier: 'M-1',
      scope: 'course',
      remarks: 'staff remark A',
    })
    const changed = await db()
      .selectFrom('item_changes')
      .select('field')
      .where('batch_id', '=', again.batchId)
      .execute()
    expect(changed).toEqual([{ field: 'filename' }])
  })

  it('normalises the spelling of known values and reports rows with unknown ones', async () => {
    const summary = await t.app.ingest.ingestFile(
      Buffer.from(
        qlikCsv([
          { 'Material id': 880060, Status: 'published', Classification: 'Open  Access', Filetype: '.PPTX' },
          { 'Material id': 880061, Status: 'Archived' },
          { 'Material id': 880062, Classification: 'maybe' },
        ]),
      ),
      'values.csv',
    )
    expect(summary).toMatchObject({ created: 1, rejected: 2 })
    expect(await item(880060)).toMatchObject({
      status: 'Published',
      classification: 'open access',
      filetype: 'ppt',
    })
    expect(summary.rejections).toEqual([
      {
        row: 3,
        materialId: 880061,
        reason: 'Status must be one of "Published", "Unpublished", "Deleted", got "Archived"',
      },
      {
        row: 4,
        materialId: 880062,
        reason: expect.stringMatching(/^Classification must be one of "open access", .* got "maybe"$/),
      },
    ])
    expect(await item(880061)).toBeUndefined()
  })

  it('refuses a value longer than its column, naming row, column and limit, and writes nothing', async () => {
    const before = await batches()
    // The memory bomb of the report: a 26 KB workbook whose one title is 20 MB.
    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Export')
    sheet.addRow(['Material id', 'Title'])
    sheet.addRow([880070, 'Fine'])
    sheet.addRow([880071, 'x'.repeat(20 * 1024 * 1024)])
    const data = new Uint8Array(await workbook.xlsx.writeBuffer())
    expect(data.byteLength).toBeLessThan(100_000)
    const { status, body } = await t.api.ingest(data, 'bomb.xlsx')
    expect(status).toBe(400)
    expect(body).toEqual({
      error: 'E_MALFORMED_FILE',
      field: 'file',
      message: 'row 3: Title is 20,971,520 characters; the limit of that column is 1,000',
    })
    const csv = await t.api.ingest(qlikCsv([{ 'Material id': 880072, Remarks: 'r'.repeat(2001) }]))
    expect(csv.status).toBe(400)
    expect(csv.body.message).toBe('row 2: Remarks is 2,001 characters; the limit of that column is 2,000')
    expect(await batches()).toBe(before)
    expect(await item(880070)).toBeUndefined()
  }, 60_000)
})

describe('Qlik ingest limits', () => {
  let t: TestApp
  let dir: ReturnType<typeof tempDir>

  beforeAll(async () => {
    dir = tempDir()
    const url = join(dir.path, 'limits.sqlite')
    await prepareDatabase(url, 10)
    t = await startTestApp(url, {
      INGEST_MAX_UPLOAD_BYTES: '200000',
      INGEST_MAX_ROWS: '3',
      INGEST_MAX_UNZIPPED_BYTES: '150000',
    })
  })
  afterAll(async () => {
    await t?.stop()
    dir?.remove()
  })

  const batches = async () =>
    Number(
      (
        await t.app.database.db
          .selectFrom('ingest_batches')
          .select(sql<number>`count(*)`.as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )

  it('answers 413 naming the limit for too many rows, too many bytes, or a workbook that unzips too far', async () => {
    const rows = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ 'Material id': 660001 + i, Title: 'T' }))
    expect((await t.api.ingest(qlikCsv(rows(3)))).body).toMatchObject({ status: 'done', created: 3 })
    const before = await batches()

    const tooMany = await t.api.ingest(qlikCsv(rows(4)))
    expect(tooMany.status).toBe(413)
    expect(tooMany.body).toMatchObject({ error: 'E_TOO_LARGE', field: 'file' })
    expect(tooMany.body.message).toContain('more than 3 data rows, the limit of one upload (INGEST_MAX_ROWS)')

    const big = await t.api.ingest(`Material id,Title\n1,${'y'.repeat(250_000)}\n`)
    expect(big.status).toBe(413)
    expect(big.body.message).toBe(
      'the file is larger than the upload limit of 200,000 bytes (INGEST_MAX_UPLOAD_BYTES)',
    )

    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Export')
    sheet.addRow(['Material id', 'Title'])
    for (let i = 0; i < 2; i++) sheet.addRow([660100 + i, `${'z'.repeat(900)}${i}`])
    // Cells the sheet does not show still unzip: padding in a second sheet.
    workbook.addWorksheet('Padding').addRow(['p'.repeat(200_000)])
    const zipped = new Uint8Array(await workbook.xlsx.writeBuffer())
    expect(zipped.byteLength).toBeLessThan(200_000)
    const unzipped = await t.api.ingest(zipped, 'padded.xlsx')
    expect(unzipped.status).toBe(413)
    expect(unzipped.body.message).toBe(
      'the workbook unzips to more than 150,000 bytes, the limit of one upload (INGEST_MAX_UNZIPPED_BYTES)',
    )
    expect(await batches()).toBe(before)
  })
})
