import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {anonymousStore} from '../../src/config/security.js'
import {sessionOptions} from '../../src/engine/options.js'
import {narrowedJob} from '../../src/engine/results.js'
import {EngineSession} from '../../src/engine/session.js'
import type {TransferJob} from '../../src/pipeline/job.js'
import {sha256Digest} from '../../src/digest.js'
import type {FetchedManifest} from '../../src/registry/manifests.js'
import type {EndpointResolver, ImageDestination, ImageSource} from '../../src/transfer/endpoints.js'
import {type ImageReference} from '../../src/reference.js'

const blob = (text: string) => {
  const bytes = Buffer.from(text)
  return {bytes, descriptor: {mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(bytes), size: bytes.length}}
}

/** One OCI image in memory: a config and a layer. */
function image(): {manifest: FetchedManifest; blobs: Map<string, Buffer>} {
  const config = blob('{"architecture":"amd64","os":"linux"}')
  const layer = blob('layer bytes')
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {...config.descriptor, mediaType: 'application/vnd.oci.image.config.v1+json'},
      layers: [layer.descriptor],
    }),
  )
  const manifest = {bytes, digest: sha256Digest(bytes), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: bytes.length}
  return {manifest, blobs: new Map([config, layer].map((item) => [item.descriptor.digest, item.bytes]))}
}

function memorySource(content: ReturnType<typeof image>): ImageSource {
  const {manifest} = content
  return {
    name: 'src.io/app',
    repository: 'app',
    scope: 'src',
    headManifest: async () => ({digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size}),
    getManifest: async () => manifest,
    openBlob: async (descriptor) => Readable.from([content.blobs.get(descriptor.digest)!]),
  }
}

/** A registry repository in memory; `failHeads` HEADs of the manifest fail first (a 503, say). */
function memoryDestination(name: string, failHeads = 0): ImageDestination & {manifests: Map<string, string>} {
  const blobs = new Set<string>()
  const manifests = new Map<string, string>()
  let heads = 0
  return {
    name,
    repository: 'app',
    scope: name,
    flightKey: name,
    manifests,
    headManifest: async (reference) => {
      if (heads++ < failHeads) throw new Error(`${name}: unavailable`)
      const digest = manifests.get(reference)
      return digest ? {digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1} : undefined
    },
    hasBlob: async (digest) => blobs.has(digest),
    writeBlob: async (descriptor, body) => {
      for await (const _chunk of await body());
      blobs.add(descriptor.digest)
    },
    putManifest: async (reference, manifest) => {
      manifests.set(reference, manifest.digest)
      return manifest.digest
    },
  }
}

const at = (registry: string): ImageReference => ({registry, repository: 'app', tag: 'v1'})

test('copy: a destination that failed is tried again on its own; the job given is never changed', async () => {
  const content = image()
  const healthy = memoryDestination('a.io/app')
  const flaky = memoryDestination('b.io/app', 1)
  const destinations = new Map([
    ['a.io', healthy],
    ['b.io', flaky],
  ])
  const resolver: EndpointResolver = {source: () => memorySource(content), destination: (location) => destinations.get(location.registry)!}
  const job: TransferJob = {rule: 'src.io/app', source: at('src.io'), destination: at('a.io'), extraDestinations: [at('b.io')]}
  const before = structuredClone(job)
  const session = new EngineSession({credentials: anonymousStore, endpoints: () => resolver, retry: {retries: 2, baseMs: 1}})
  try {
    const results = await session.copy(job)
    assert.deepEqual(job, before)
    assert.deepEqual(
      results.map((result) => [result.destination, result.status, result.attempts]),
      [
        ['a.io/app:v1', 'copied', 1],
        ['b.io/app:v1', 'copied', 2],
      ],
    )
    assert.equal(healthy.manifests.get('v1'), content.manifest.digest)
    assert.equal(flaky.manifests.get('v1'), content.manifest.digest)
    // The same job copied again: both destinations hold it.
    assert.deepEqual(
      (await session.copy(job)).map((result) => result.status),
      ['skipped', 'skipped'],
    )
    assert.deepEqual(job, before)
  } finally {
    await session.close()
  }
})

test('copy: retries used up, the failed destination is reported failed with its attempts', async () => {
  const content = image()
  const destinations = new Map([
    ['a.io', memoryDestination('a.io/app')],
    ['b.io', memoryDestination('b.io/app', 5)],
  ])
  const resolver: EndpointResolver = {source: () => memorySource(content), destination: (location) => destinations.get(location.registry)!}
  const job: TransferJob = {rule: 'r', source: at('src.io'), destination: at('a.io'), extraDestinations: [at('b.io')]}
  const session = new EngineSession({credentials: anonymousStore, endpoints: () => resolver, retry: {retries: 1, baseMs: 1}})
  try {
    const results = await session.copy(job)
    assert.deepEqual(
      results.map((result) => [result.destination, result.status, result.attempts, result.error?.message]),
      [
        ['a.io/app:v1', 'copied', 1, undefined],
        ['b.io/app:v1', 'failed', 2, 'b.io/app: unavailable'],
      ],
    )
    assert.equal(job.extraDestinations?.length, 1)
  } finally {
    await session.close()
  }
})

test('narrowedJob: a new job for some destinations; the first becomes the destination', () => {
  const job: TransferJob = {
    rule: 'r',
    source: at('s.io'),
    destination: at('a.io'),
    extraDestinations: [at('b.io'), at('c.io')],
    platforms: [{os: 'linux', architecture: 'amd64'}],
  }
  const cases: [ImageReference[], Pick<TransferJob, 'destination' | 'extraDestinations'>][] = [
    [[at('b.io')], {destination: at('b.io')}],
    [[at('b.io'), at('c.io')], {destination: at('b.io'), extraDestinations: [at('c.io')]}],
    [[at('a.io'), at('b.io'), at('c.io')], {destination: at('a.io'), extraDestinations: [at('b.io'), at('c.io')]}],
  ]
  for (const [destinations, expected] of cases) {
    const narrowed = narrowedJob(job, destinations)
    assert.deepEqual(narrowed, {rule: 'r', source: at('s.io'), platforms: job.platforms, ...expected})
    assert.notEqual(narrowed, job)
  }
  assert.throws(() => narrowedJob(job, []), RangeError)
})

test('sessionOptions: the flat settings, one sub-object per concern', () => {
  const tagFilter = (tag: string) => tag !== 'latest'
  const cases: [string, Parameters<typeof sessionOptions>[0], Partial<ReturnType<typeof sessionOptions>>][] = [
    ['a copy', {credentials: anonymousStore}, {mode: 'copy'}],
    ['a dry run', {credentials: anonymousStore, dryRun: true}, {mode: 'dry run'}],
    ['a verify', {credentials: anonymousStore, verify: true}, {mode: 'verify'}],
    [
      'every concern',
      {
        credentials: anonymousStore,
        tagFilter,
        deep: true,
        includeNondistributable: true,
        overwriteTags: false,
        routines: 3,
        qps: 9,
        chunkSize: 5,
        pullReserve: 2,
        retry: 4,
        retryBaseMs: 7,
      },
      {
        selection: {
          tagFilter,
          tagSelection: undefined,
          platforms: undefined,
          overwriteTags: false,
          deep: true,
          frozenLock: undefined,
          includeNondistributable: true,
          referrers: undefined,
          referrerArtifactTypes: undefined,
        },
        limits: {routines: 3, qps: 9, bytesPerSecond: undefined, chunkSize: 5, idleTimeoutMs: undefined, pullReserve: 2, blobConnections: undefined},
        retry: {retries: 4, baseMs: 7},
      },
    ],
  ]
  for (const [name, flat, expected] of cases) {
    const options = sessionOptions(flat)
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(options[key as keyof typeof options], value, `${name}: ${key}`)
  }
})
