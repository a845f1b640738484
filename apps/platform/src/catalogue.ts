import { DEPARTMENTS } from './domain.js'

/**
 * The synthetic university: courses, teachers and Canvas ids, generated from a fixed seed. The seed
 * generator and the simulators both read it, so an item's course is found in Osiris, its teachers on
 * the people pages and its file in Canvas, with no shared state between the processes.
 */

/** A small fast deterministic PRNG (mulberry32); returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Picks one element of `list` with `random`. */
export function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!
}

/** Picks one key of `weights` with probability proportional to its weight. */
export function weighted<K extends string>(random: () => number, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as Array<[K, number]>
  const total = entries.reduce((sum, [, w]) => sum + w, 0)
  let r = random() * total
  for (const [key, w] of entries) {
    r -= w
    if (r < 0) return key
  }
  return entries[entries.length - 1]![0]
}

/** Roles a teacher can have on a course, as Osiris names them. */
export const TEACHER_ROLES = ['Contactpersoon', 'Docent', 'Examinator', 'Tutor'] as const

/** A teacher of a course. */
export interface CatalogueTeacher {
  /** Name as Osiris prints it, with titles (`dr. J.M. de Vries`). */
  name: string
  /** One of {@link TEACHER_ROLES}. */
  role: string
}

/** A person on the people pages. */
export interface CataloguePerson {
  /** Name as Osiris prints it. */
  osirisName: string
  /** Full name on the profile page. */
  fullName: string
  /** Path part of the profile URL. */
  slug: string
  email: string
  department: string
  faculty: string
}

/** A course in Osiris. */
export interface CatalogueCourse {
  /** The Osiris course number (`202500095`). */
  cursus: string
  /** Osiris' internal id, used to fetch the teachers. */
  idCursus: number
  name: string
  shortName: string
  department: string
  faculty: string
  year: number
  credits: number
  /** Canvas course id; the course's files live under it. */
  canvasCourseId: number
  teachers: CatalogueTeacher[]
}

/** The whole synthetic university. */
export interface Catalogue {
  courses: CatalogueCourse[]
  byCursus: Map<string, CatalogueCourse>
  people: CataloguePerson[]
}

const FIRST = ['Anna', 'Bram', 'Carlijn', 'Daan', 'Eva', 'Floris', 'Guus', 'Hanna', 'Ilse', 'Joost', 'Kees']
const FIRST2 = ['Lotte', 'Maarten', 'Noor', 'Olaf', 'Pien', 'Ruben', 'Sanne', 'Thijs', 'Vera', 'Wouter']
const FIRST_NAMES = [...FIRST, ...FIRST2]
const LAST_NAMES = [
  'de Vries',
  'Jansen',
  'van den Berg',
  'Bakker',
  'Visser',
  'Smit',
  'Meijer',
  'de Boer',
  'Mulder',
  'de Groot',
  'Bos',
  'Vos',
  'Peters',
  'Hendriks',
  'van Leeuwen',
  'Dekker',
  'Brouwer',
  'de Wit',
  'Dijkstra',
  'Smits',
  'Kok',
  'Jacobs',
  'Vermeulen',
  'van Dijk',
]
const TITLES = ['dr.', 'prof.dr.', 'ir.', 'dr.ir.', '']
const TOPICS = [
  'Control Theory',
  'Data Science',
  'Signal Processing',
  'Organisational Behaviour',
  'Fluid Dynamics',
  'Remote Sensing',
  'Thermodynamics',
  'Software Engineering',
  'Public Policy',
  'Statistics',
  'Materials Science',
  'Machine Learning',
  'Spatial Planning',
  'Biomechanics',
  'Research Methods',
  'Linear Algebra',
  'Communication Theory',
  'Embedded Systems',
  'Supply Chain Management',
  'Quantum Physics',
]
const LEVELS = ['Introduction to', 'Advanced', 'Foundations of', 'Project', 'Applied', 'Topics in']

let cached: Catalogue | undefined

/** The catalogue (built once per process; always the same). */
export function catalogue(): Catalogue {
  cached ??= buildCatalogue(20251)
  return cached
}

function buildCatalogue(seed: number): Catalogue {
  const random = prng(seed)
  const departments = Object.keys(DEPARTMENTS)
  const people: CataloguePerson[] = []
  const slugs = new Set<string>()
  for (let i = 0; i < 160; i++) {
    const first = pick(random, FIRST_NAMES)
    const last = pick(random, LAST_NAMES)
    let slug = `${first}-${last}`.toLowerCase().replace(/[^a-z]+/g, '-')
    for (let n = 2; slugs.has(slug); n++) slug = `${slug.replace(/-\d+$/, '')}-${n}`
    slugs.add(slug)
    const title = pick(random, TITLES)
    const initials = `${first[0]}.`
    const department = pick(random, departments)
    people.push({
      osirisName: `${title ? `${title} ` : ''}${initials} ${last}`,
      fullName: `${first} ${last}`,
      slug,
      email: `${first[0]!.toLowerCase()}.${last.toLowerCase().replace(/[^a-z]/g, '')}${slug.match(/-(\d+)$/)?.[1] ?? ''}@utwente.nl`,
      department,
      faculty: DEPARTMENTS[department]!,
    })
  }
  const courses: CatalogueCourse[] = []
  const byCursus = new Map<string, CatalogueCourse>()
  for (let i = 0; i < 600; i++) {
    const year = 2023 + Math.floor(random() * 3)
    const cursus = `${year}${String(10 + Math.floor(random() * 89_990)).padStart(5, '0')}`
    if (byCursus.has(cursus)) continue
    const department = pick(random, departments)
    const topic = pick(random, TOPICS)
    const name = `${pick(random, LEVELS)} ${topic}`
    const teachers: CatalogueTeacher[] = []
    const count = 1 + Math.floor(random() * 3)
    for (let t = 0; t < count; t++) {
      const person = pick(random, people)
      if (teachers.some((x) => x.name === person.osirisName)) continue
      teachers.push({
        name: person.osirisName,
        role: t === 0 ? 'Contactpersoon' : pick(random, TEACHER_ROLES),
      })
    }
    const course: CatalogueCourse = {
      cursus,
      idCursus: 100_000 + i,
      name,
      shortName: name
        .split(' ')
        .map((w) => w[0])
        .join('')
        .toUpperCase(),
      department,
      faculty: DEPARTMENTS[department]!,
      year,
      credits: pick(random, [2.5, 5, 7.5, 10, 15]),
      canvasCourseId: 10_000 + i,
      teachers,
    }
    courses.push(course)
    byCursus.set(cursus, course)
  }
  return { courses, byCursus, people }
}

/** Canvas ids are derived from each other so the simulator needs no state: file → folder → course. */
export const canvasIds = {
  /** The n-th file of a Canvas course. */
  fileId: (canvasCourseId: number, n: number) => canvasCourseId * 1000 + n,
  /** The folder holding a file. */
  folderOfFile: (fileId: number) => 500_000_000 + Math.floor(fileId / 1000),
  /** The course owning a folder, or `null` for a folder that is not a course's. */
  courseOfFolder: (folderId: number) => (folderId > 500_000_000 ? folderId - 500_000_000 : null),
  /** Files the synthetic Canvas no longer has (about one in thirteen). */
  isDeleted: (fileId: number) => fileId % 13 === 0,
}
