import { canvasSimulator } from './canvas-simulator.js'
import { osirisSimulator } from './osiris-simulator.js'
import { peopleSimulator } from './people-simulator.js'
import type { Simulator, SimulatorOptions } from './simulator.js'

export { canvasSimulator } from './canvas-simulator.js'
export { osirisSimulator } from './osiris-simulator.js'
export { peopleSimulator } from './people-simulator.js'
export { type ForcedBehaviour, Simulator, type SimulatorOptions } from './simulator.js'

/** The three upstream simulators, started. */
export interface Simulators {
  osiris: Simulator
  people: Simulator
  canvas: Simulator
  /** Stops all three. */
  stop(): Promise<void>
}

/** Starts Osiris, people pages and Canvas simulators on free loopback ports. */
export async function startSimulators(canvasToken: string, options?: SimulatorOptions): Promise<Simulators> {
  const osiris = osirisSimulator(options)
  const people = peopleSimulator(options)
  const canvas = canvasSimulator(canvasToken, options)
  await Promise.all([osiris.start(), people.start(), canvas.start()])
  return {
    osiris,
    people,
    canvas,
    async stop() {
      await Promise.all([osiris.stop(), people.stop(), canvas.stop()])
    },
  }
}
