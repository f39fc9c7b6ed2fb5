import type {RegistryObserver} from '../registry/client.js'
import {redactUrl, type Redactor} from '../report/redactor.js'

/** The observer told every request's URL only once it is fit to print (the session's secrets and signed query values blanked). */
export function redactingObserver(observer: RegistryObserver | undefined, redactor: Redactor): RegistryObserver | undefined {
  if (!observer?.onRequest) return observer
  return {
    onRequest: (registry, method, status, detail) => observer.onRequest!(registry, method, status, detail && {...detail, url: redactUrl(detail.url, redactor)}),
    ...(observer.onRateLimitWait ? {onRateLimitWait: (registry: string, ms: number) => observer.onRateLimitWait!(registry, ms)} : {}),
    ...(observer.onPullQuota ? {onPullQuota: (quota: Parameters<NonNullable<RegistryObserver['onPullQuota']>>[0]) => observer.onPullQuota!(quota)} : {}),
  }
}
