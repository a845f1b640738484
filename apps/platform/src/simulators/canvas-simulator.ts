import { canvasIds } from '../catalogue.js'
import { type SimRequest, type SimResponse, Simulator, type SimulatorOptions } from './simulator.js'

const BASE_TIME = '2025-08-18T09:30:00Z'

function authorised(request: SimRequest, token: string): boolean {
  return request.headers.authorization === `Bearer ${token}`
}

const UNAUTHORISED: SimResponse = {
  status: 401,
  body: { errors: [{ message: 'Invalid access token.' }] },
}
const NOT_FOUND: SimResponse = {
  status: 404,
  body: { errors: [{ message: 'The specified resource does not exist.' }] },
}

/**
 * Whether a conditional request finds the resource unchanged: `If-None-Match` names its ETag (or `*`),
 * or, without one, `If-Modified-Since` is not before its last change (HTTP dates have whole seconds).
 */
function unchanged(request: SimRequest, etag: string, modifiedAt: number): boolean {
  const ifNoneMatch = request.headers['if-none-match']
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''))
      .some((tag) => tag === '*' || tag === etag)
  }
  const since = Date.parse(request.headers['if-modified-since'] ?? '')
  return !Number.isNaN(since) && Math.floor(modifiedAt / 1000) <= Math.floor(since / 1000)
}

/** Simulated Canvas LMS API: files (with ETag and Last-Modified) and folders, behind a Bearer token. */
export function canvasSimulator(token: string, options?: SimulatorOptions): Simulator {
  const file = (request: SimRequest): SimResponse => {
    if (!authorised(request, token)) return UNAUTHORISED
    const id = Number(request.params.id)
    if (canvasIds.isDeleted(id)) return NOT_FOUND
    const folderId = canvasIds.folderOfFile(id)
    // Validators of the file's one version, as Canvas sends them; a conditional request that names
    // them is answered 304 without a body.
    const validators = {
      etag: `"${id.toString(36)}-${Date.parse(BASE_TIME).toString(36)}"`,
      'last-modified': new Date(BASE_TIME).toUTCString(),
    }
    if (unchanged(request, validators.etag, Date.parse(BASE_TIME)))
      return { status: 304, body: '', headers: validators }
    return {
      status: 200,
      headers: validators,
      body: {
        id,
        uuid: `f${id.toString(36)}`,
        folder_id: folderId,
        display_name: `file-${id}.pdf`,
        filename: `file-${id}.pdf`,
        'content-type': 'application/pdf',
        url: `${request.url.origin}/files/${id}/download`,
        size: 1024 * (1 + (id % 997)),
        created_at: BASE_TIME,
        updated_at: BASE_TIME,
        locked: false,
        hidden: false,
      },
    }
  }
  const folder = (request: SimRequest): SimResponse => {
    if (!authorised(request, token)) return UNAUTHORISED
    const id = Number(request.params.id)
    const course = canvasIds.courseOfFolder(id)
    if (course === null) return NOT_FOUND
    return {
      status: 200,
      body: {
        id,
        name: 'course files',
        full_name: 'course files',
        context_id: course,
        context_type: 'Course',
        parent_folder_id: null,
        files_count: 1,
        folders_count: 0,
        created_at: BASE_TIME,
        updated_at: BASE_TIME,
      },
    }
  }
  return new Simulator(
    'canvas',
    [
      { name: 'file', method: 'GET', path: /^\/api\/v1\/files\/(?<id>\d+)$/, handle: file },
      { name: 'folder', method: 'GET', path: /^\/api\/v1\/folders\/(?<id>\d+)$/, handle: folder },
    ],
    options,
  )
}
