/**
 * A run's verdicts on whole registries: once a registry is stopped, its requests end at once with
 * the one line that says why and what to do, instead of each job finding out on its own (and
 * retrying). `pulls` holds back only what spends a pull (a manifest GET: a spent pull limit);
 * `requests` holds back everything (a registry that is down). The first stop of a registry wins.
 */
import type {FerryError} from '../errors.js'
import {spendsPull} from './pull-quota.js'

export type StopScope = 'requests' | 'pulls'

export interface RegistryStop {
  registry: string
  scope: StopScope
  error: FerryError
}

export class RegistryStops {
  private readonly stops = new Map<string, RegistryStop>()

  /** `onStop` hears each registry's stop once (the run prints its line once). */
  constructor(private readonly onStop?: (stop: RegistryStop) => void) {}

  stop(registry: string, error: FerryError, scope: StopScope): FerryError {
    const existing = this.stops.get(registry)
    if (existing) return existing.error
    const stop = {registry, scope, error}
    this.stops.set(registry, stop)
    this.onStop?.(stop)
    return error
  }

  /** The error a request to `registry` ends with now, or undefined when it may go. */
  check(registry: string, request: {method: string; path: string}): FerryError | undefined {
    const stop = this.stops.get(registry)
    if (!stop) return undefined
    return stop.scope === 'requests' || spendsPull(request) ? stop.error : undefined
  }

  list(): RegistryStop[] {
    return [...this.stops.values()]
  }
}
