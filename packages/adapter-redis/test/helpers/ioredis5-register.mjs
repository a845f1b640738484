import { register } from 'node:module'

register('./ioredis5-hooks.mjs', import.meta.url)
