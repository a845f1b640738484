import type { ChildProcess } from 'node:child_process'

/** Resolves with each line a child process prints on stdout, in order. */
export function lineReader(proc: ChildProcess): () => Promise<string> {
  const queued: string[] = []
  const waiting: Array<(line: string) => void> = []
  let buffered = ''
  proc.stdout!.on('data', (chunk: Buffer) => {
    const parts = (buffered + chunk.toString()).split('\n')
    buffered = parts.pop()!
    for (const line of parts) {
      const waiter = waiting.shift()
      if (waiter === undefined) queued.push(line)
      else waiter(line)
    }
  })
  return () => {
    const line = queued.shift()
    return line === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(line)
  }
}
