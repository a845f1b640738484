import { type Cache, type CachedFunction, cached, type Duration, loaderContext } from '@cacheport/cache-core'
import { academicYearAt, cursusOfCourseCode, FACULTIES } from '../domain.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import { parseUpstreamJson, upstreamRequest } from '../lib/http-client.js'
import { markLoaded } from './read-tracking.js'

/** A teacher of a course with the role Osiris gives them. */
export interface CourseTeacher {
  name: string
  /** `Contactpersoon`, `Docent`, `Examinator` or `Tutor`. */
  role: string
}

/** What Osiris knows of a course. */
export interface CourseDetails {
  /** The Osiris course number (`202500095`). */
  cursuscode: string
  /** Osiris' internal id. */
  internalId: number
  name: string
  shortName: string
  /** Faculty abbreviation. */
  faculty: string
  facultyName: string
  /** The coordinating department. */
  department: string
  year: number
  credits: number
  teachers: CourseTeacher[]
  /**
   * Set when Osiris found the course but did not give its teachers (their page failed): the course
   * without them, which is not cached, so the next lookup asks again.
   */
  partial?: true
  /** When Osiris was asked; a cached answer keeps it, so its age shows. */
  fetchedAt: string
}

/** An organisation from a profile page: `Computer Science (EEMCS)`. */
export interface Organisation {
  name: string
  abbreviation: string
}

/** What the people pages know of a person. */
export interface PersonData {
  /** The name that was looked up, normalised as its cache key is (trimmed, single-spaced, lower case). */
  inputName: string
  /** The name on the profile page. */
  mainName: string
  email: string | null
  peoplePageUrl: string
  /** Faculty abbreviation from the organisations; `UNM` when none is a faculty. */
  faculty: string
  organisations: Organisation[]
  /** When the people pages were asked. */
  fetchedAt: string
}

/** Options of {@link OsirisClient}. */
export interface OsirisClientOptions {
  /** Osiris base URL. */
  osirisBaseUrl: string
  /** People pages base URL. */
  peopleBaseUrl: string
  /** The cache holding both lookups (the app's `default`). */
  cache: Cache
  /** TTL of course details (the seed: 24 h). */
  courseTtl: Duration
  /**
   * TTL of a course of an academic year before the current one: Osiris no longer changes it.
   * @default the `courseTtl`
   */
  pastCourseTtl?: Duration
  /** TTL of people lookups (the seed: 24 h). */
  personTtl: Duration
  /**
   * How long past its TTL a course is still served while Osiris fails.
   * @default 0
   */
  courseGrace?: Duration
  /**
   * How long past its TTL a person is still served while the people pages fail.
   * @default 0
   */
  personGrace?: Duration
  /** Deadline of one HTTP request, in milliseconds. */
  timeoutMs: number
  /**
   * The clock that tells the current academic year.
   * @default Date.now
   */
  now?: () => number
}

interface SearchHit {
  _source?: {
    id_cursus?: number
    cursus?: string
    cursus_lange_naam?: string
    cursus_korte_naam?: string
    faculteit?: string
    faculteit_naam?: string
    coordinerend_onderdeel_oms?: string
    collegejaar?: number
    punten?: number
  }
}

interface TeacherPage {
  items?: Array<{
    rubriek?: string
    velden?: Array<{ waarde?: Array<{ omschrijving?: string }>; docent?: string | string[] }>
  }>
}

const FACULTY_CODES = new Set(FACULTIES.map((f) => f.abbreviation))

/** The name as a cache key: trimmed, lower case, single spaces, so spellings of one name share an entry. */
export function personKey(name: string): string {
  return name.trim().replace(/\s+/g, ' ').toLowerCase()
}

/**
 * Osiris (course catalogue) and people-page lookups, cached in `default` under `osiris_course` and
 * `osiris_person`. A lookup that finds nothing resolves `null` and is cached; an upstream failure
 * rejects and is not, though within the grace period it is answered with the expired entry. A course
 * of a past academic year is kept for `pastCourseTtl`. When only the teachers page fails, the
 * complete course still held in grace is answered if there is one, else the course without teachers
 * (`partial`), which is not cached.
 */
export class OsirisClient {
  /** Course details by course code (`2025-202500095-1B` or `202500095`); `null` when Osiris has no such course. */
  readonly fetchCourseDetails: CachedFunction<[courseCode: string], CourseDetails | null>
  /** A person's profile by name; `null` when the people pages have no match. */
  readonly fetchPersonData: CachedFunction<[name: string], PersonData | null>
  private readonly options: OsirisClientOptions
  private readonly now: () => number

  constructor(options: OsirisClientOptions) {
    this.options = options
    this.now = options.now ?? Date.now
    // Keys are the normalised course number and name only: never the client, its URLs or `this`.
    this.fetchCourseDetails = cached((courseCode: string) => this.loadCourse(courseCursus(courseCode)), {
      cache: options.cache,
      keyPrefix: 'osiris_course',
      ttl: options.courseTtl,
      grace: options.courseGrace ?? 0,
      key: (courseCode: string) => courseCursus(courseCode),
    })
    this.fetchPersonData = cached((name: string) => this.loadPerson(personName(name)), {
      cache: options.cache,
      keyPrefix: 'osiris_person',
      ttl: options.personTtl,
      grace: options.personGrace ?? 0,
      key: (name: string) => personKey(personName(name)),
    })
  }

  private async loadCourse(cursus: string): Promise<CourseDetails | null> {
    // Runs inside the cached function's load: its context decides what is stored, and for how long.
    const ctx = loaderContext<CourseDetails | null>()
    const { osirisBaseUrl, timeoutMs } = this.options
    const searchUrl = `${osirisBaseUrl}/student/osiris/student/cursussen/zoeken`
    const search = await upstreamRequest(searchUrl, {
      service: 'Osiris',
      method: 'POST',
      timeoutMs,
      json: {
        from: 0,
        size: 5,
        query: {
          bool: {
            must: [
              {
                multi_match: {
                  query: cursus,
                  type: 'phrase_prefix',
                  fields: ['cursus', 'cursus_korte_naam', 'cursus_lange_naam'],
                },
              },
            ],
          },
        },
      },
    })
    if (search.status !== 200) throw unexpected('Osiris', search.status, searchUrl)
    const body = parseUpstreamJson<{ hits?: { hits?: SearchHit[] } }>('Osiris', searchUrl, search.text)
    if (!Array.isArray(body.hits?.hits)) {
      throw new AppError(AppErrorCodes.UPSTREAM, 'Osiris search answer has no hits.hits list', {
        field: 'Osiris',
      })
    }
    const hits = body.hits.hits
    const hit = (hits.find((h) => h._source?.cursus === cursus) ?? hits[0])?._source
    if (!hit) {
      markLoaded()
      return null
    }
    if (typeof hit.id_cursus !== 'number') {
      throw new AppError(AppErrorCodes.UPSTREAM, `Osiris search hit for ${cursus} has no id_cursus`, {
        field: 'Osiris',
      })
    }

    const teachersUrl = `${osirisBaseUrl}/student/osiris/owc/cursussen/${hit.id_cursus}`
    let teachers: CourseTeacher[] | undefined
    try {
      const page = await upstreamRequest(teachersUrl, { service: 'Osiris', timeoutMs })
      if (page.status === 200) {
        teachers = parseTeachers(parseUpstreamJson<TeacherPage>('Osiris', teachersUrl, page.text))
      } else if (page.status === 404) {
        teachers = []
      } else {
        throw unexpected('Osiris', page.status, teachersUrl)
      }
    } catch (error) {
      // The complete course held in grace beats one without teachers: failing lets the cache serve it.
      if (!isUpstreamError(error) || (ctx?.stale ?? null) !== null) throw error
    }
    const year = Number(hit.collegejaar ?? 0)
    if (teachers === undefined) ctx?.skip()
    else if (this.options.pastCourseTtl !== undefined && year > 0 && year < academicYearAt(this.now()))
      ctx?.ttl(this.options.pastCourseTtl)
    markLoaded()
    return {
      cursuscode: hit.cursus ?? cursus,
      internalId: hit.id_cursus,
      name: hit.cursus_lange_naam ?? '',
      shortName: hit.cursus_korte_naam ?? '',
      faculty: hit.faculteit && FACULTY_CODES.has(hit.faculteit) ? hit.faculteit : 'UNM',
      facultyName: hit.faculteit_naam ?? '',
      department: hit.coordinerend_onderdeel_oms ?? '',
      year,
      credits: Number(hit.punten ?? 0),
      teachers: teachers ?? [],
      ...(teachers === undefined ? { partial: true as const } : {}),
      fetchedAt: new Date().toISOString(),
    }
  }

  private async loadPerson(name: string): Promise<PersonData | null> {
    const { peopleBaseUrl, timeoutMs } = this.options
    const overviewUrl = `${peopleBaseUrl}/overview?query=${encodeURIComponent(name)}`
    const overview = await upstreamRequest(overviewUrl, { service: 'People pages', timeoutMs })
    if (overview.status !== 200) throw unexpected('People pages', overview.status, overviewUrl)
    // Loaded on the first lookup: the parser takes a second to import, which every start would pay.
    const cheerio = await import('cheerio')
    const best = bestMatch(name, parseTiles(cheerio, overview.text))
    if (!best) {
      markLoaded()
      return null
    }

    const profileUrl = new URL(best.href, `${peopleBaseUrl}/`).toString()
    const profile = await upstreamRequest(profileUrl, { service: 'People pages', timeoutMs })
    if (profile.status !== 200) throw unexpected('People pages', profile.status, profileUrl)
    const page = cheerio.load(profile.text)
    const mainName = (page('h1.profile-name').first().text() || best.name).trim()
    const mailto = page('a[href^="mailto:"]').first().attr('href')
    const email = mailto ? decodeURIComponent(mailto.slice('mailto:'.length).split('?')[0]!) : null
    const organisations: Organisation[] = []
    for (const element of page('ul.profile-organisations > li').toArray()) {
      const parts = /^(.*)\(([A-Za-z]+)\)\s*$/.exec(page(element).text().trim())
      if (parts) organisations.push({ name: parts[1]!.trim(), abbreviation: parts[2]! })
    }
    const faculty = organisations.find((o) => FACULTY_CODES.has(o.abbreviation))?.abbreviation ?? 'UNM'
    markLoaded()
    return {
      inputName: personKey(name),
      mainName,
      email,
      peoplePageUrl: profileUrl,
      faculty,
      organisations,
      fetchedAt: new Date().toISOString(),
    }
  }
}

function courseCursus(courseCode: string): string {
  const cursus = typeof courseCode === 'string' ? cursusOfCourseCode(courseCode) : null
  if (cursus === null) {
    throw badInput(
      'courseCode',
      `course code must look like 2025-202500095-1B or 202500095, got ${JSON.stringify(courseCode)}`,
    )
  }
  return cursus
}

function personName(name: string): string {
  const trimmed = typeof name === 'string' ? name.trim().replace(/\s+/g, ' ') : ''
  if (trimmed.length < 2 || trimmed.length > 200) throw badInput('name', 'name must be 2 to 200 characters')
  return trimmed
}

function isUpstreamError(error: unknown): boolean {
  return error instanceof AppError && error.code === AppErrorCodes.UPSTREAM
}

function unexpected(service: string, status: number, url: string): AppError {
  return new AppError(AppErrorCodes.UPSTREAM, `${service} answered ${status} to ${new URL(url).pathname}`, {
    field: service,
  })
}

function parseTeachers(page: TeacherPage): CourseTeacher[] {
  const teachers: CourseTeacher[] = []
  for (const item of page.items ?? []) {
    if (item.rubriek !== 'rubriek-docenten') continue
    for (const veld of item.velden ?? []) {
      const role = veld.waarde?.find((w) => typeof w.omschrijving === 'string')?.omschrijving ?? 'Docent'
      const names = Array.isArray(veld.docent) ? veld.docent : veld.docent ? [veld.docent] : []
      for (const name of names) teachers.push({ name: name.trim(), role })
    }
  }
  return teachers
}

interface Tile {
  href: string
  name: string
}

/** The person tiles of an overview page: each links to a profile and names the person. */
function parseTiles(cheerio: typeof import('cheerio'), html: string): Tile[] {
  const page = cheerio.load(html)
  return page('a[href]')
    .toArray()
    .flatMap((link) => {
      const name = page(link).find('.person-name').first().text().trim()
      const href = page(link).attr('href')
      return name && href ? [{ href, name }] : []
    })
}

function words(name: string): string[] {
  return name
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[\s,]+/)
    .filter((w) => w !== '')
}

/**
 * The tile that best matches `query`: the surname (words without a dot, so titles and initials
 * drop out) must appear in the tile's name; a matching first initial breaks ties.
 */
function bestMatch(query: string, tiles: readonly Tile[]): Tile | undefined {
  const queryWords = words(query)
  const surname = queryWords.filter((w) => !w.endsWith('.')).join(' ')
  const initials = queryWords.filter((w) => w.endsWith('.') && w.length <= 5 && /^[a-z](\.[a-z])*\.$/.test(w))
  const initial = initials.length > 0 ? initials[initials.length - 1]![0] : undefined
  let best: Tile | undefined
  let bestScore = 0
  for (const tile of tiles) {
    const tileWords = words(tile.name)
    const full = tileWords.join(' ')
    if (surname === '' || !` ${full} `.includes(` ${surname} `)) continue
    let score = 1
    if (full === surname || full.endsWith(` ${surname}`)) score += 1
    if (initial !== undefined && tileWords[0]?.startsWith(initial)) score += 2
    if (score > bestScore) {
      best = tile
      bestScore = score
    }
  }
  return best
}
