import ExcelJS from 'exceljs'
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

/** A data row of an export: its row number in the file (the header is row 1) and its cells; `-` and blanks are `null`. */
export interface QlikRow {
  rowNumber: number
  values: Partial<Record<QlikColumn, string | null>>
}

/** File formats the ingest reads. */
export type QlikFormat = 'csv' | 'xlsx'

const BY_LOWER = new Map(QLIK_COLUMNS.map((c) => [c.toLowerCase(), c]))

function malformed(message: string): AppError {
  return new AppError(AppErrorCodes.MALFORMED_FILE, message, { field: 'file' })
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

/** Parses an export in either format; throws `E_MALFORMED_FILE` for anything that is not a readable export. */
export async function parseQlikExport(
  data: Uint8Array,
  filename = '',
): Promise<{ format: QlikFormat; rows: QlikRow[] }> {
  const format = detectFormat(data, filename)
  const rows = format === 'xlsx' ? await parseXlsx(data) : parseCsv(Buffer.from(data).toString('utf8'))
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

function toRow(
  rowNumber: number,
  columns: Array<QlikColumn | undefined>,
  fields: readonly string[],
): QlikRow {
  const values: QlikRow['values'] = {}
  columns.forEach((column, i) => {
    if (column !== undefined) values[column] = cell(fields[i] ?? '')
  })
  return { rowNumber, values }
}

/** Splits CSV text into records (RFC 4180: quoted fields, doubled quotes, CRLF or LF). */
function csvRecords(text: string, delimiter: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = []
  let fields: string[] = []
  let field = ''
  let quoted = false
  let line = 1
  let recordLine = 1
  let fieldStart = true
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i++
        } else quoted = false
      } else {
        if (ch === '\n') line++
        field += ch
      }
      continue
    }
    if (ch === '"' && fieldStart) {
      quoted = true
      fieldStart = false
    } else if (ch === delimiter) {
      fields.push(field)
      field = ''
      fieldStart = true
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      fields.push(field)
      records.push({ line: recordLine, fields })
      fields = []
      field = ''
      fieldStart = true
      line++
      recordLine = line
    } else if (ch === '"') {
      throw malformed(
        `line ${line}: a quote inside an unquoted field; quote the whole field and double the quote`,
      )
    } else {
      field += ch
      fieldStart = false
    }
  }
  if (quoted) throw malformed(`line ${recordLine}: a quoted field is never closed`)
  if (field !== '' || fields.length > 0) {
    fields.push(field)
    records.push({ line: recordLine, fields })
  }
  return records
}

/** Parses a CSV export; the delimiter (`,`, `;` or tab) is taken from the header line. */
export function parseCsv(text: string): QlikRow[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (body.includes('\u0000')) throw malformed('the file is binary, not CSV text')
  const firstLine = body.slice(0, body.search(/\r?\n|$/))
  const delimiter = [',', ';', '\t'].reduce((best, d) =>
    firstLine.split(d).length > firstLine.split(best).length ? d : best,
  )
  const records = csvRecords(body, delimiter).filter((r) => r.fields.some((f) => f.trim() !== ''))
  const header = records.shift()
  if (!header) throw malformed('the file is empty')
  const columns = headerMap(header.fields)
  return records.map((record) => {
    if (record.fields.length !== columns.length) {
      throw malformed(
        `line ${record.line}: ${record.fields.length} fields where the header has ${columns.length}; is a field with a "${delimiter}" not quoted?`,
      )
    }
    return toRow(record.line, columns, record.fields)
  })
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return value.toISOString().slice(0, 10)
  if (typeof value === 'object') {
    if ('result' in value) return cellText(value.result as ExcelJS.CellValue)
    if ('richText' in value) return value.richText.map((r) => r.text).join('')
    if ('text' in value) return String(value.text)
    if ('error' in value) return ''
    return ''
  }
  return String(value)
}

/** Parses the first worksheet of an XLSX export. */
export async function parseXlsx(data: Uint8Array): Promise<QlikRow[]> {
  const workbook = new ExcelJS.Workbook()
  try {
    await workbook.xlsx.load(Buffer.from(data) as unknown as ArrayBuffer)
  } catch (error) {
    throw new AppError(
      AppErrorCodes.MALFORMED_FILE,
      `the file is not a readable XLSX workbook: ${(error as Error).message}`,
      {
        field: 'file',
        cause: error,
      },
    )
  }
  const sheet = workbook.worksheets[0]
  if (!sheet || sheet.rowCount === 0) throw malformed('the workbook has no rows')
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
