import type { DatabaseHandle } from '../db/connection.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import { hashPassword, verifyPassword } from './passwords.js'

/** What a user may do: `staff` reads and edits items; `admin` also ingests exports and clears caches. */
export const ROLES = ['staff', 'admin'] as const
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number]

/** A signed-in user, as the session holds it. */
export interface SessionUser {
  username: string
  role: Role
}

/** Shortest password the app accepts. */
export const MIN_PASSWORD_LENGTH = 12

// A hash of a password nobody has, verified when the user name is unknown, so that a wrong name
// takes as long to refuse as a wrong password and does not reveal which names exist.
const UNKNOWN_USER_HASH = hashPassword('no user has this password')

/** Checks a user name: 2 to 64 letters, digits, `.`, `_`, `-` or `@`. */
export function validateUsername(username: unknown): string {
  if (typeof username !== 'string' || !/^[A-Za-z0-9._@-]{2,64}$/.test(username)) {
    throw badInput('username', 'username must be 2 to 64 letters, digits, ".", "_", "-" or "@"')
  }
  return username.toLowerCase()
}

function validateRole(role: unknown): Role {
  if (!(ROLES as readonly unknown[]).includes(role)) {
    throw badInput('role', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`)
  }
  return role as Role
}

function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > 1024) {
    throw badInput('password', `password must be ${MIN_PASSWORD_LENGTH} to 1024 characters`)
  }
  return password
}

/** The app's users: created by the CLI (`users add`) and by the demo; passwords stored as scrypt hashes. */
export class UserService {
  private readonly database: DatabaseHandle

  constructor(database: DatabaseHandle) {
    this.database = database
  }

  /** Creates a user; `E_CONFLICT` when the name is taken, `E_VALIDATION` naming a bad field. */
  async create(username: string, password: string, role: Role): Promise<SessionUser> {
    const name = validateUsername(username)
    const user = { username: name, role: validateRole(role) }
    const hash = await hashPassword(validatePassword(password))
    const existing = await this.find(name)
    if (existing) {
      throw new AppError(AppErrorCodes.CONFLICT, `user "${name}" already exists`, { field: 'username' })
    }
    await this.database.db
      .insertInto('users')
      .values({ ...user, password_hash: hash, created_at: new Date().toISOString() })
      .execute()
    return user
  }

  /** Creates the user, or sets the password and role of the existing one (the demo's users). */
  async upsert(username: string, password: string, role: Role): Promise<SessionUser> {
    const name = validateUsername(username)
    const user = { username: name, role: validateRole(role) }
    const hash = await hashPassword(validatePassword(password))
    await this.database.db
      .insertInto('users')
      .values({ ...user, password_hash: hash, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('username').doUpdateSet({ password_hash: hash, role: user.role }))
      .execute()
    return user
  }

  /** The user whose name and password match, or `null`. */
  async authenticate(username: string, password: string): Promise<SessionUser | null> {
    const row = await this.database.db
      .selectFrom('users')
      .select(['username', 'role', 'password_hash'])
      .where('username', '=', username.toLowerCase())
      .executeTakeFirst()
    if (!row) {
      await verifyPassword(password, await UNKNOWN_USER_HASH)
      return null
    }
    if (!(await verifyPassword(password, row.password_hash))) return null
    return { username: row.username, role: validateRole(row.role) }
  }

  /** Every user, by name. */
  async list(): Promise<SessionUser[]> {
    const rows = await this.database.db
      .selectFrom('users')
      .select(['username', 'role'])
      .orderBy('username')
      .execute()
    return rows.map((r) => ({ username: r.username, role: validateRole(r.role) }))
  }

  private find(username: string) {
    return this.database.db
      .selectFrom('users')
      .select('username')
      .where('username', '=', username)
      .executeTakeFirst()
  }
}
