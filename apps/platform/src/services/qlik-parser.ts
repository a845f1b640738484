import { CsvError, parse as parseCsvText } from 'csv-parse/sync'
import type ExcelJS from 'exceljs'
import yauzl from 'yauzl'
import { AppError, AppErrorCodes } from '../lib/errors.js'

/** The columns of a Qlik export, as Qlik names them. */
export const QLIK_COLUMNS = [
  'Material id',
  'Period',
  'Department',
  'Course code',
  'Course name',
  'url',
  'Filename',
  'Title',
  'Owner',
  'Filetype',
  'Classification',
  'Type',
  'ML Prediction',
  'Manual classification',
  'Manual identifier',
  'Scope',
  'Remarks',
  'Auditor',
  'Last change',
  'Status',
  'ISBN',
  'DOI',
  'In collection',
  'pagecount',
  'wordcount',
  'picturecount',
  'Author',
  'Publisher',
  'Reliability',
  'Pages * Students',
  '#students_registered',
] as const
/** One of {@link QLIK_COLUMNS}. */
export type QlikColumn = (typeof QLIK_COLUMNS)[number]

/**
 * The longest value each column may hold, in characters. Remarks match what a staff edit accepts;
 * the rest leave room for every real value seen while keeping one row far below a megabyte, so an
 * export cannot smuggle a 20 MB title into the items page.
 */
export const COLUMN_LIMITS: Readonly<Record<QlikColumn, number>> = {
  'Material id': 20,
  Period: 32,
  Department: 200,
  'Course code': 64,
  'Course name': 500,
  url: 2000,
  Filename: 500,
  Title: 1000,
  Owner: 200,
  Filetype: 32,
  Classification: 100,
  Type: 100,
  'ML Prediction': 100,
  'Manual classification': 100,
  'Manual identifier': 200,
  Scope: 200,
  Remarks: 2000,
  Auditor: 200,
  'Last change': 64,
  Status: 32,
  ISBN: 32,
  DOI: 256,
  'In collection': 64,
  pagecount: 20,
  wordcount: 20,
  picturecount: 20,
  Author: 500,
  Publisher: 500,
  Reliability: 64,
  'Pages * Students': 20,
  '#students_registered': 20,
}

/** A data row of an export: its row number in the file (the header is row 1) and its cells; `-` and blanks are `null`. */
export interface QlikRow {
  rowNumber: number
  values: Partial<Record<QlikColumn, string | null>>
}

/** File formats the ingest reads. */
export type QlikFormat = 'csv' | 'xlsx'

/** What one file may hold; see the app's `IngestLimits`. */
export interface ParseLimits {
  /** Data rows in the file. */
  maxRows: number
  /** Bytes an XLSX may unzip to. */
  maxUnzippedBytes: number
}

/** A parsed export. */
export interface ParsedExport {
  format: QlikFormat
  rows: QlikRow[]
}

const BY_LOWER = new Map(QLIK_COLUMNS.map((c) => [c.toLowerCase(), c]))
const count = (n: number) => n.toLocaleString('en')

function malformed(message: string): AppError {
  return new AppError(AppErrorCodes.MALFORMED_FILE, message, { field: 'file' })
}

function tooLarge(message: string): AppError {
  return new AppError(AppErrorCodes.TOO_LARGE, message, { field: 'file' })
}

/** `-` and blank cells mean "no value". */
function cell(value: string): string | null {
  const trimmed = value.trim()
  return trimmed === '' || trimmed === '-' ? null : trimmed
}

/** Tells CSV from XLSX by content (XLSX is a zip), falling back to the file name. */
export function detectFormat(data: Uint8Array, filename = ''): QlikFormat {
  if (data[0] === 0x50 && data[1] === 0x4b) return 'xlsx'
  if (/\.xlsx$/i.test(filename)) return 'xlsx'
  return 'csv'
}

/**
 * Parses an export in either format. Throws `E_MALFORMED_FILE` for anything that is not a readable
 * export or has a value longer than its column allows, and `E_TOO_LARGE` for a file over `limits`;
 * each message names the row, column or limit.
 */
export async function parseQlikExport(
  data: Uint8Array,
  filename: string,
  limits: ParseLimits,
): Promise<ParsedExport> {
  const format = detectFormat(data, filename)
  const rows =
    format === 'xlsx'
      ? await parseXlsx(data, limits)
      : parseCsv(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), limits)
  return { format, rows }
}

function headerMap(header: readonly string[]): Array<QlikColumn | undefined> {
  const columns = header.map((h) => BY_LOWER.get(h.trim().toLowerCase()))
  if (!columns.includes('Material id')) {
    throw malformed(
      `the file has no "Material id" column; a Qlik export starts with a header row of ${QLIK_COLUMNS.slice(0, 4).join(', ')}, …`,
    )
  }
  return columns
}

function checkRowCount(rows: number, limits: ParseLimits): void {
  if (rows > limits.maxRows) {
    throw tooLarge(
      `the file has more than ${count(limits.maxRows)} data rows, the limit of one upload (INGEST_MAX_ROWS); split the export`,
    )
  }
}

function toRow(
  rowNumber: number,
  columns: Array<QlikColumn | undefined>,
  fields: readonly string[],
): QlikRow {
  const values: QlikRow['values'] = {}
  columns.forEach((column, i) => {
    if (column === undefined) return
    const value = cell(fields[i] ?? '')
    if (value !== null && value.length > COLUMN_LIMITS[column]) {
      throw malformed(
        `row ${rowNumber}: ${column} is ${count(value.length)} characters; the limit of that column is ${count(COLUMN_LIMITS[column])}`,
      )
    }
    values[column] = value
  })
  return { rowNumber, values }
}

function csvProblem(error: CsvError, delimiter: string, headerFields: number): AppError {
  const line = (error as CsvError & { lines?: number }).lines
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return malformed(`line ${line}: a quoted field is never closed`)
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_INCONSISTENT_COLUMNS': {
      const fields = (error as CsvError & { record?: unknown[] }).record?.length
      return malformed(
        `line ${line}: ${fields} fields where the header has ${headerFields}; is a field with a "${delimiter}" not quoted?`,
      )
    }
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_CLOSING_QUOTE':
      return malformed(
        `line ${line}: a quote inside an unquoted field; quote the whole field and double the quote`,
      )
    default:
      return malformed(`line ${line}: ${error.message}`)
  }
}

/** Parses a CSV export (csv-parse); the delimiter (`,`, `;` or tab) is taken from the header line. */
export function parseCsv(text: string, limits: ParseLimits): QlikRow[] {
  if (text.includes('\u0000')) throw malformed('the file is binary, not CSV text')
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const end = text.slice(start, start + 64 * 1024).search(/\r?\n|$/)
  const firstLine = text.slice(start, start + end)
  const delimiter = [',', ';', '\t'].reduce((best, d) =>
    firstLine.split(d).length > firstLine.split(best).length ? d : best,
  )
  let records: string[][]
  try {
    records = parseCsvText(text, {
      bom: true,
      delimiter,
      skip_empty_lines: true,
      // One more record than allowed is enough to know the file is over the limit.
      to: limits.maxRows + 2,
    }) as string[][]
  } catch (error) {
    if (error instanceof CsvError) {
      const header = (parseCsvText(firstLine, { bom: true, delimiter, relax_quotes: true }) as string[][])[0]
      throw csvProblem(error, delimiter, header?.length ?? 0)
    }
    throw error
  }
  const header = records.shift()
  if (!header) throw malformed('the file is empty')
  const columns = headerMap(header)
  const rows = records.filter((r) => r.some((f) => f.trim() !== ''))
  checkRowCount(rows.length, limits)
  return rows.map((fields, i) => toRow(i + 2, columns, fields))
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return value.toISOString().slice(0, 10)
  if (typeof value === 'object') {
    if ('result' in value) return cellText(value.result as ExcelJS.CellValue)
    if ('richText' in value) return value.richText.map((r) => r.text).join('')
    if ('text' in value) return String(value.text)
    return ''
  }
  return String(value)
}

function notXlsx(error: unknown): AppError {
  return new AppError(
    AppErrorCodes.MALFORMED_FILE,
    `the file is not a readable XLSX workbook: ${(error as Error).message}`,
    { field: 'file', cause: error },
  )
}

/**
 * Proves the workbook unzips to at most `maxUnzippedBytes` before anything inflates it for parsing.
 * The declared sizes are summed first (cheap, catches an honest bomb); then every entry is inflated
 * and counted, since a crafted zip can declare small sizes and inflate to far more (yauzl stops an
 * entry that grows past its declared size).
 */
export async function checkUnzippedSize(data: Uint8Array, maxUnzippedBytes: number): Promise<number> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      { lazyEntries: true },
      (error, file) => (error ? reject(notXlsx(error)) : resolve(file)),
    ),
  )
  const overLimit = () =>
    tooLarge(
      `the workbook unzips to more than ${count(maxUnzippedBytes)} bytes, the limit of one upload (INGEST_MAX_UNZIPPED_BYTES)`,
    )
  const entries: yauzl.Entry[] = []
  let declared = 0
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry)
      declared += entry.uncompressedSize
      if (declared > maxUnzippedBytes) {
        zip.close()
        reject(overLimit())
      } else zip.readEntry()
    })
    zip.on('end', () => resolve())
    zip.on('error', (error) => reject(notXlsx(error)))
    zip.readEntry()
  })
  let inflated = 0
  for (const entry of entries) {
    if (entry.fileName.endsWith('/')) continue
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
      zip.openReadStream(entry, (error, s) => (error ? reject(notXlsx(error)) : resolve(s))),
    )
    try {
      for await (const chunk of stream) {
        inflated += (chunk as Buffer).length
        if (inflated > maxUnzippedBytes) throw overLimit()
      }
    } catch (error) {
      if (error instanceof AppError) throw error
      throw notXlsx(error)
    }
  }
  zip.close()
  return inflated
}

/** Parses the first worksheet of an XLSX export, after {@link checkUnzippedSize}. */
export async function parseXlsx(data: Uint8Array, limits: ParseLimits): Promise<QlikRow[]> {
  await checkUnzippedSize(data, limits.maxUnzippedBytes)
  // Loaded on the first workbook: exceljs takes about a second to import.
  const { default: Excel } = await import('exceljs')
  const workbook = new Excel.Workbook()
  try {
    await workbook.xlsx.load(Buffer.from(data) as unknown as ArrayBuffer)
  } catch (error) {
    throw notXlsx(error)
  }
  const sheet = workbook.worksheets[0]
  if (!sheet || sheet.rowCount === 0) throw malformed('the workbook has no rows')
  checkRowCount(sheet.actualRowCount - 1, limits)
  const headerValues = sheet.getRow(1).values as ExcelJS.CellValue[]
  // exceljs rows are 1-based: index 0 is always empty.
  const columns = headerMap(headerValues.slice(1).map(cellText))
  const rows: QlikRow[] = []
  sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    if (rowNumber === 1) return
    const values = (row.values as ExcelJS.CellValue[]).slice(1).map(cellText)
    if (values.every((v) => v.trim() === '')) return
    rows.push(toRow(rowNumber, columns, values))
  })
  return rows
}
