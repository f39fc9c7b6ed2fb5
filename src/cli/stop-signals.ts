/**
 * How every command hears a stop: SIGINT (Ctrl-C) and SIGTERM (kill, Kubernetes). One place, so
 * each command stops the same way and gives the signals back when it is done.
 */
export type StopSignal = 'SIGINT' | 'SIGTERM'

export const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM']

export interface StopListening {
  /**
   * `once` (the default): each signal is heard once, so a second Ctrl-C finds Node's default and
   * ends the process at once, for a stop that is taking too long. `every`: each signal is heard
   * (the standing mirror: the first drains, the second abandons copies in flight).
   */
  times?: 'once' | 'every'
  signals?: readonly StopSignal[]
}

/** Calls `onStop` on a stop signal until the returned function is called. */
export function onStopSignals(onStop: () => void, options: StopListening = {}): () => void {
  const signals = options.signals ?? STOP_SIGNALS
  const listener = () => onStop()
  for (const signal of signals) {
    if (options.times === 'every') process.on(signal, listener)
    else process.once(signal, listener)
  }
  return () => {
    for (const signal of signals) process.off(signal, listener)
  }
}

/** An AbortSignal aborted by the first stop signal; `release()` stops listening. */
export function abortOnStopSignals(options: Omit<StopListening, 'times'> = {}): {signal: AbortSignal; release: () => void} {
  const abort = new AbortController()
  const release = onStopSignals(() => abort.abort(), options)
  return {signal: abort.signal, release}
}
