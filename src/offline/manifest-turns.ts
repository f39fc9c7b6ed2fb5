/**
 * Two tags of one index in one repository (`1.1.0` and `latest`) are two jobs pushing the same
 * child manifests at once. CNCF Distribution 2.8 rewrites a manifest's revision link in place
 * when a child is pushed again, and an index PUT checking that child at that moment reads an
 * empty link and answers 400 DIGEST_INVALID. A layout often holds such aliases, so load pushes
 * the manifests of one repository one at a time (blobs still go in parallel).
 */
import {BlobFlights} from '../transfer/blob-flight.js'
import type {EndpointResolver, ImageDestination} from '../transfer/endpoints.js'

export function manifestTurns(resolver: EndpointResolver): EndpointResolver {
  const turns = new BlobFlights()
  return {
    source: (location) => resolver.source(location),
    destination: (location) => {
      const inner = resolver.destination(location)
      const outer: ImageDestination = {
        name: inner.name,
        repository: inner.repository,
        scope: inner.scope,
        flightKey: inner.flightKey,
        headManifest: (reference, signal) => inner.headManifest(reference, signal),
        hasBlob: (digest, signal) => inner.hasBlob(digest, signal),
        writeBlob: (descriptor, body, options) => inner.writeBlob(descriptor, body, options),
        putManifest: (reference, manifest, signal) => turns.exclusive('manifests', inner.name, () => inner.putManifest(reference, manifest, signal)),
      }
      if (inner.mountBlob) outer.mountBlob = (digest, from, signal) => inner.mountBlob!(digest, from, signal)
      return outer
    },
  }
}
