import type {RegistryObserver} from './client.js'

/** One observer that tells each given one (a standing mirror's metrics and --debug, say). */
export function everyObserver(...observers: (RegistryObserver | undefined)[]): RegistryObserver {
  const present = observers.filter((observer): observer is RegistryObserver => observer !== undefined)
  return {
    onRequest: (...args) => present.forEach((observer) => observer.onRequest?.(...args)),
    onRateLimitWait: (...args) => present.forEach((observer) => observer.onRateLimitWait?.(...args)),
    onPullQuota: (...args) => present.forEach((observer) => observer.onPullQuota?.(...args)),
  }
}
