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

/** Calls `onStop` with the signal on a stop signal until the returned function is called. */
export function onStopSignals(onStop: (signal: StopSignal) => void, options: StopListening = {}): () => void {
  const signals = options.signals ?? STOP_SIGNALS
  const listeners = signals.map((signal) => [signal, () => onStop(signal)] as const)
  for (const [signal, listener] of listeners) {
    if (options.times === 'every') process.on(signal, listener)
    else process.once(signal, listener)
  }
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener)
  }
}

/**
 * An AbortSignal aborted by the first stop signal; `release()` stops listening; `received()` says
 * which signal stopped the run, if one did.
 */
export function abortOnStopSignals(options: Omit<StopListening, 'times'> = {}): {
  signal: AbortSignal
  release: () => void
  received: () => StopSignal | undefined
} {
  const abort = new AbortController()
  let received: StopSignal | undefined
  const release = onStopSignals((signal) => {
    received ??= signal
    abort.abort()
  }, options)
  return {signal: abort.signal, release, received: () => received}
}

/** The shell's exit status of a process a signal ended, 128 + its number: 130 for SIGINT, 143 for SIGTERM. Pure. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + (signal === 'SIGINT' ? 2 : 15)
}
