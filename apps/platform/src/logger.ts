import { redact } from '@cacheport/cache-core'
import pino, { type Logger } from 'pino'

/** The app's pino logger; URLs in log lines never carry passwords. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { app: 'easy-access' },
    formatters: {
      log(object) {
        for (const [key, value] of Object.entries(object)) {
          if (typeof value === 'string' && value.includes('://')) object[key] = redact(value)
        }
        return object
      },
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' && a.includes('://') ? redact(a) : a))
        return method.apply(this, redacted as Parameters<typeof method>)
      },
    },
  })
}
