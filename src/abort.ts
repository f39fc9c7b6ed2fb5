import {setMaxListeners} from 'node:events'

/**
 * One signal for everything a run starts, aborted when any of `signals` is. Every routine's
 * backoff sleep and every lister waiting on a full channel listens to it at once, so Node's leak
 * warning (past ten listeners) would print on any run with more than a handful of routines; the
 * listeners are the design, so the limit is lifted on this derived signal, never on a caller's.
 */
export function runSignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined)
  if (present.length === 0) return undefined
  const combined = AbortSignal.any(present)
  setMaxListeners(0, combined)
  return combined
}
