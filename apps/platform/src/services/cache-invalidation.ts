import { type CacheRegistry, invalidatePattern } from '@cacheport/cache-core'
import type { Logger } from 'pino'
import type { ItemQueryService } from './item-query-service.js'
import type { OsirisClient } from './osiris-client.js'

/**
 * The strategy table's invalidation triggers in one place. Call these after the transaction that
 * made the change has committed: invalidating earlier lets a concurrent read cache the old rows again.
 * A store that cannot be reached is logged and skipped, since the write itself succeeded: the core
 * keeps the invalidation, reads of the keys it covers bypass the store until then, and replays it
 * when the store answers again (`stats().invalidationBacklog`).
 */
export class CacheInvalidation {
  private readonly caches: CacheRegistry
  private readonly queries: ItemQueryService
  private readonly osiris: OsirisClient | undefined
  private readonly logger: Logger

  constructor(
    caches: CacheRegistry,
    queries: ItemQueryService,
    osiris: OsirisClient | undefined,
    logger: Logger,
  ) {
    this.caches = caches
    this.queries = queries
    this.osiris = osiris
    this.logger = logger
  }

  /** Items were created, updated or deleted: filter counts and the faculty list are recomputed on next read. */
  async itemsChanged(): Promise<void> {
    await this.guard('filter_counts:*', () =>
      invalidatePattern('filter_counts:*', { cache: 'queries', registry: this.caches }),
    )
    await this.guard('faculties', () => this.queries.getFaculties.invalidate())
  }

  /** Courses were created or changed: their Osiris entries are fetched again. */
  async coursesChanged(courseCodes: Iterable<string>): Promise<void> {
    const osiris = this.osiris
    if (!osiris) return
    for (const code of courseCodes) {
      await this.guard(`osiris_course ${code}`, () => osiris.fetchCourseDetails.invalidate(code))
    }
  }

  /** Persons were created or changed: their people-page entries (a cached "not found" too) are fetched again. */
  async personsChanged(names: Iterable<string>): Promise<void> {
    const osiris = this.osiris
    if (!osiris) return
    for (const name of names) {
      await this.guard(`osiris_person ${name}`, () => osiris.fetchPersonData.invalidate(name))
    }
  }

  private async guard(what: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run()
    } catch (error) {
      this.logger.warn(
        { err: error, what },
        'cache invalidation failed; kept and replayed when the store answers again',
      )
    }
  }
}
