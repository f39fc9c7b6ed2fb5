/**
 * The safety net of --dryRun and `ferry verify`: destinations that can be asked (HEAD) but refuse
 * every write before any request leaves, so not even an upload session is opened by mistake.
 */
import {FerryError} from '../errors.js'
import type {EndpointResolver, ImageDestination} from './endpoints.js'

export function readOnlyEndpoints(inner: EndpointResolver, why: string): EndpointResolver {
  return {
    source: (location) => inner.source(location),
    destination: (location) => readOnlyDestination(inner.destination(location), why),
  }
}

function readOnlyDestination(inner: ImageDestination, why: string): ImageDestination {
  const refuse = (what: string): never => {
    throw new FerryError('READ_ONLY', `${why}: refused to ${what} at ${inner.name}`)
  }
  return {
    name: inner.name,
    repository: inner.repository,
    scope: inner.scope,
    flightKey: inner.flightKey,
    headManifest: (reference, signal) => inner.headManifest(reference, signal),
    hasBlob: (digest, signal) => inner.hasBlob(digest, signal),
    mountBlob: async (digest) => refuse(`mount blob ${digest}`),
    writeBlob: async (descriptor) => refuse(`upload blob ${descriptor.digest}`),
    putManifest: async (reference) => refuse(`push manifest ${reference}`),
    ...(inner.pushReferrer ? {pushReferrer: async (reference: string) => refuse(`push manifest ${reference}`)} : {}),
    ...(inner.readManifest ? {readManifest: inner.readManifest.bind(inner)} : {}),
    ...(inner.listsReferrers ? {listsReferrers: inner.listsReferrers.bind(inner)} : {}),
  }
}
