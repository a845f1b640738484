import { type CatalogueCourse, catalogue } from '../catalogue.js'
import { type SimRequest, type SimResponse, Simulator, type SimulatorOptions } from './simulator.js'

/** Path of Osiris' course search. */
export const OSIRIS_SEARCH_PATH = '/student/osiris/student/cursussen/zoeken'
/** Path of a course's detail page (teachers), before the course's internal id. */
export const OSIRIS_COURSE_PATH = '/student/osiris/owc/cursussen/'

// The phrase_prefix query of the search body, wherever the caller nested its multi_match.
function findMultiMatch(node: unknown): { query?: unknown; type?: unknown; fields?: unknown } | undefined {
  if (node === null || typeof node !== 'object') return undefined
  if ('multi_match' in node) return (node as { multi_match: { query?: unknown } }).multi_match
  for (const value of Object.values(node)) {
    const found = findMultiMatch(value)
    if (found) return found
  }
  return undefined
}

function search(request: SimRequest): SimResponse {
  let body: unknown
  try {
    body = JSON.parse(request.body)
  } catch {
    return { status: 400, body: { error: 'request body is not JSON' } }
  }
  const match = findMultiMatch(body)
  if (!match || typeof match.query !== 'string' || match.type !== 'phrase_prefix') {
    return { status: 400, body: { error: 'expected a multi_match query of type phrase_prefix' } }
  }
  const query = match.query.trim().toLowerCase()
  const size = Math.min(Number((body as { size?: unknown }).size ?? 10) || 10, 100)
  const hits = catalogue().courses.filter(
    (c) =>
      c.cursus.startsWith(query) ||
      c.shortName.toLowerCase().startsWith(query) ||
      c.name.toLowerCase().startsWith(query),
  )
  return {
    status: 200,
    body: {
      took: 3,
      timed_out: false,
      hits: {
        total: { value: hits.length, relation: 'eq' },
        max_score: hits.length > 0 ? 7 : null,
        hits: hits.slice(0, size).map((c) => ({
          _index: 'cursussen',
          _id: String(c.idCursus),
          _score: 7,
          _source: source(c),
        })),
      },
    },
  }
}

function source(c: CatalogueCourse) {
  return {
    id_cursus: c.idCursus,
    cursus: c.cursus,
    cursus_korte_naam: c.shortName,
    cursus_lange_naam: c.name,
    faculteit: c.faculty,
    faculteit_naam: c.faculty,
    coordinerend_onderdeel_oms: c.department,
    collegejaar: c.year,
    punten: c.credits,
  }
}

function teachers(request: SimRequest): SimResponse {
  const id = Number(request.params.id)
  const course = catalogue().courses.find((c) => c.idCursus === id)
  if (!course) return { status: 404, body: { error: `no course ${request.params.id}` } }
  return {
    status: 200,
    body: {
      items: [
        { rubriek: 'rubriek-algemeen', velden: [{ titel: 'Naam', waarde: [{ omschrijving: course.name }] }] },
        {
          rubriek: 'rubriek-docenten',
          velden: course.teachers.map((t) => ({
            titel: 'Docent',
            waarde: [{ omschrijving: t.role }],
            docent: t.name,
          })),
        },
      ],
    },
  }
}

/** A simulated Osiris: course search and course pages of the synthetic catalogue. */
export function osirisSimulator(options?: SimulatorOptions): Simulator {
  return new Simulator(
    'osiris',
    [
      { name: 'search', method: 'POST', path: new RegExp(`^${OSIRIS_SEARCH_PATH}$`), handle: search },
      {
        name: 'course',
        method: 'GET',
        path: /^\/student\/osiris\/owc\/cursussen\/(?<id>\d+)$/,
        handle: teachers,
      },
    ],
    options,
  )
}
