/**
 * RFC 6761 §6.4: a name under `.invalid` never resolves, and a resolver library should answer so
 * at once, without a query. glibc asks the configured DNS server anyway; ferry answers itself, so
 * a name reserved to be wrong costs no packet (and the tests' unknown-host registry stays on the
 * machine).
 */
import dns from 'node:dns'
import type {LookupFunction} from 'node:net'

/** `invalid` itself or any name under it, with or without the root's trailing dot. Pure. */
export function reservedInvalid(hostname: string): boolean {
  return /(^|\.)invalid\.?$/i.test(hostname)
}

/** The error getaddrinfo gives for a name that does not exist, as Node shapes it. */
export function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname})
}

/** dns.lookup, with reserved names refused before the resolver is asked (the sockets' `lookup`). */
export const lookupHost: LookupFunction = (hostname, options, callback) => {
  if (reservedInvalid(hostname)) {
    process.nextTick(() => callback(notFound(hostname), ''))
    return
  }
  dns.lookup(hostname, options, callback)
}
