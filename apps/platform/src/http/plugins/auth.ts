import { hkdfSync, randomBytes } from 'node:crypto'
import csrfProtection from '@fastify/csrf-protection'
import secureSession from '@fastify/secure-session'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ROLES, type Role, type SessionUser, type UserService } from '../../auth/users.js'
import { AppError, AppErrorCodes } from '../../lib/errors.js'
import { renderLoginPage } from '../login-page.js'

/**
 * Who may call a route: anyone (`public`), a signed-in user of any role (`staff`, the default), or an
 * admin. Set per route as `config: { access: 'admin' }`.
 */
export type Access = 'public' | Role

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; `staff` when absent. */
    access?: Access
    /** Send a browser without a session to the sign-in page instead of answering 401. */
    signInRedirect?: boolean
  }
  interface FastifyRequest {
    /** The signed-in user, or `null`. */
    user: SessionUser | null
  }
}

/** Options of the auth plugin. */
export interface AuthOptions {
  users: UserService
  /** Secret the session key is derived from; `undefined` for a random key per process. */
  secret: string | undefined
  /** Whether the cookie is HTTPS-only. */
  secure: boolean
  /** Session lifetime in seconds. */
  maxAgeSeconds: number
}

/** The name of the session cookie. */
export const SESSION_COOKIE = 'ea_session'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function sessionKey(secret: string | undefined): Buffer {
  if (secret === undefined) return randomBytes(32)
  // A fixed-length key from a secret of any length; the label keeps it apart from other uses of one secret.
  return Buffer.from(hkdfSync('sha256', secret, 'easy-access', 'session cookie key', 32))
}

function sessionUser(request: FastifyRequest): SessionUser | null {
  const user = request.session.get('user') as Partial<SessionUser> | undefined
  if (typeof user?.username !== 'string' || !(ROLES as readonly unknown[]).includes(user.role)) return null
  return { username: user.username, role: user.role as Role }
}

/**
 * Refuses a state-changing request that a browser says comes from another site. Browsers send
 * `Origin` (and `Sec-Fetch-Site`) on every cross-origin POST, PATCH and DELETE, including the form
 * and multipart posts that need no CORS preflight; the CSRF token then covers clients that send neither.
 */
function assertSameOrigin(request: FastifyRequest): void {
  const fetchSite = request.headers['sec-fetch-site']
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') {
    throw new AppError(AppErrorCodes.CROSS_SITE, 'state-changing requests from other sites are refused', {
      field: 'Sec-Fetch-Site',
    })
  }
  const origin = request.headers.origin
  if (origin === undefined) return
  let host: string | undefined
  try {
    host = new URL(origin).host
  } catch {
    host = undefined
  }
  if (host !== request.headers.host) {
    throw new AppError(
      AppErrorCodes.CROSS_SITE,
      `state-changing requests from other sites are refused (Origin ${JSON.stringify(origin)})`,
      { field: 'Origin' },
    )
  }
}

/**
 * Sign-in and roles for every route, registered once: an encrypted, signed, HttpOnly, SameSite=Strict
 * session cookie (@fastify/secure-session), CSRF tokens on every state-changing request
 * (@fastify/csrf-protection) and an Origin check, then the route's `access`.
 */
async function auth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  await app.register(secureSession, {
    key: sessionKey(options.secret),
    cookieName: SESSION_COOKIE,
    expiry: options.maxAgeSeconds,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: options.secure,
      maxAge: options.maxAgeSeconds,
    },
  })
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/secure-session',
    getToken: (request) => request.headers['x-csrf-token'] as string | undefined,
  })
  app.decorateRequest('user', null)

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config
    const access = config.access ?? 'staff'
    const unsafe = !SAFE_METHODS.has(request.method)
    if (unsafe) assertSameOrigin(request)
    request.user = sessionUser(request)
    if (access === 'public') return
    if (!request.user) {
      if (config.signInRedirect) {
        const next = encodeURIComponent(request.url)
        return reply.redirect(`/login?next=${next}`, 303)
      }
      throw new AppError(AppErrorCodes.UNAUTHENTICATED, 'sign in first: POST /api/session', {
        field: 'session',
      })
    }
    if (access === 'admin' && request.user.role !== 'admin') {
      throw new AppError(
        AppErrorCodes.FORBIDDEN,
        `only an admin may do this; ${request.user.username} is ${request.user.role}`,
        { field: 'role' },
      )
    }
  })
  // The plugin's own check, after sign-in; its errors (FST_CSRF_*) become E_CROSS_SITE in the error handler.
  app.addHook('onRequest', (request, reply, done) => {
    const access = request.routeOptions.config.access ?? 'staff'
    if (SAFE_METHODS.has(request.method) || access === 'public') return done()
    app.csrfProtection(request, reply, done)
  })

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    const next = (request.query as { next?: string }).next
    // Only paths of this site: an absolute URL here would make the page an open redirect.
    const target = typeof next === 'string' && /^\/(?!\/)/.test(next) ? next : '/'
    if (request.user) return reply.redirect(target, 303)
    reply.type('text/html; charset=utf-8')
    return renderLoginPage({ next: target })
  })

  app.get('/api/session', { config: { access: 'public' } }, async (request, reply) => ({
    user: request.user,
    csrfToken: request.user ? reply.generateCsrf() : null,
  }))

  app.post(
    '/api/session',
    {
      config: { access: 'public' },
      schema: {
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
          },
        },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body as { username: string; password: string }
      const user = await options.users.authenticate(username, password)
      if (!user) {
        throw new AppError(AppErrorCodes.UNAUTHENTICATED, 'wrong user name or password', {
          field: 'password',
        })
      }
      // A new session (and CSRF secret) on every sign-in, so a session planted before it is worthless.
      request.session.regenerate()
      // The plugin types session data as an empty interface that cannot be augmented from here.
      request.session.set('user' as never, user as never)
      request.user = user
      return { user, csrfToken: reply.generateCsrf() }
    },
  )

  app.delete('/api/session', async (request) => {
    request.session.delete()
    return { user: null }
  })
}

/** The auth plugin; not encapsulated, so its hook guards every route of the server. */
export default fp(auth, { name: 'easy-access-auth', fastify: '5.x' })
