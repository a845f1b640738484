import { type CataloguePerson, catalogue } from '../catalogue.js'
import { type SimRequest, type SimResponse, Simulator, type SimulatorOptions } from './simulator.js'

const ORG_NAMES: Readonly<Record<string, string>> = {
  BMS: 'Faculty of Behavioural, Management and Social Sciences',
  EEMCS: 'Faculty of Electrical Engineering, Mathematics and Computer Science',
  ET: 'Faculty of Engineering Technology',
  ITC: 'Faculty of Geo-Information Science and Earth Observation',
  TNW: 'Faculty of Science and Technology',
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`
}

/** Words of a name without titles and initials, lower case: `dr. J. van Dijk` → `van dijk`. */
function surname(name: string): string {
  return name
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '' && !w.endsWith('.'))
    .join(' ')
}

function overview(request: SimRequest): SimResponse {
  const query = surname(request.url.searchParams.get('query') ?? '')
  const found = query === '' ? [] : catalogue().people.filter((p) => p.fullName.toLowerCase().includes(query))
  const tiles = found
    .map(
      (p) =>
        `<li class="person-tile"><a class="person-link" href="/${p.slug}"><span class="person-name">${escapeHtml(p.fullName)}</span></a>` +
        `<span class="person-position">${escapeHtml(p.department)}</span></li>`,
    )
    .join('')
  const results =
    found.length === 0
      ? '<p class="no-results">No people found.</p>'
      : `<ul class="people-list">${tiles}</ul>`
  return { status: 200, body: page('People', `<h1>People</h1>${results}`) }
}

function profileHtml(p: CataloguePerson): string {
  const faculty = ORG_NAMES[p.faculty]
  const orgs = [
    `${p.department} (${p.faculty === 'UNM' ? 'UT' : p.faculty})`,
    ...(faculty ? [`${faculty} (${p.faculty})`] : []),
  ]
  return page(
    p.fullName,
    `<main class="profile"><h1 class="profile-name">${escapeHtml(p.fullName)}</h1>` +
      `<p class="profile-contact"><a href="mailto:${p.email}">${p.email}</a></p>` +
      `<ul class="profile-organisations">${orgs.map((o) => `<li>${escapeHtml(o)}</li>`).join('')}</ul></main>`,
  )
}

function profile(request: SimRequest): SimResponse {
  const person = catalogue().people.find((p) => p.slug === request.params.slug)
  if (!person) return { status: 404, body: page('Not found', '<h1>Page not found</h1>') }
  return { status: 200, body: profileHtml(person) }
}

/** Simulated people pages: a search overview of person tiles and a profile page per person. */
export function peopleSimulator(options?: SimulatorOptions): Simulator {
  return new Simulator(
    'people',
    [
      { name: 'overview', method: 'GET', path: /^\/overview$/, handle: overview },
      { name: 'profile', method: 'GET', path: /^\/(?<slug>[a-z0-9-]+)$/, handle: profile },
    ],
    options,
  )
}
