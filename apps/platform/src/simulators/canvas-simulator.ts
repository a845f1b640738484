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

/** Simulated Canvas LMS API: files and folders, behind a Bearer token. */
export function canvasSimulator(token: string, options?: SimulatorOptions): Simulator {
  const file = (request: SimRequest): SimResponse => {
    if (!authorised(request, token)) return UNAUTHORISED
    const id = Number(request.params.id)
    if (canvasIds.isDeleted(id)) return NOT_FOUND
    const folderId = canvasIds.folderOfFile(id)
    return {
      status: 200,
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
