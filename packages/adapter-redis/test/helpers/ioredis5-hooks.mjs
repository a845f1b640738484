// Module resolution hooks for processes spawned by the ioredis 5 test run: `ioredis` means the
// `ioredis5` dev dependency there, as vitest's alias makes it mean in the test files.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === 'ioredis' ? 'ioredis5' : specifier, context)
}
