import assert from 'node:assert/strict'
import {test} from 'node:test'

import {DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, parseManifest} from '../../src/registry/media-types.js'

const d = (digest: string, mediaType = 'application/octet-stream') => ({mediaType, digest: `sha256:${digest.padEnd(64, '0')}`, size: 1})

test('parseManifest reads images and indexes and refuses schema 1', () => {
  const image = {schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: d('c'), layers: [d('a'), d('b')]}
  const oci = {schemaVersion: 2, config: d('c'), layers: [d('a')]}
  const index = {schemaVersion: 2, mediaType: OCI_INDEX, manifests: [d('1', OCI_MANIFEST)]}
  const cases: {name: string; doc: unknown; contentType?: string; kind?: string; mediaType?: string; code?: string}[] = [
    {name: 'docker image by header', doc: image, contentType: DOCKER_MANIFEST, kind: 'image', mediaType: DOCKER_MANIFEST},
    {name: 'docker image by field', doc: image, contentType: 'application/json', kind: 'image', mediaType: DOCKER_MANIFEST},
    {name: 'oci image without mediaType', doc: oci, kind: 'image', mediaType: OCI_MANIFEST},
    {name: 'oci index', doc: index, contentType: `${OCI_INDEX}; charset=utf-8`, kind: 'index', mediaType: OCI_INDEX},
    {name: 'docker list', doc: {...index, mediaType: DOCKER_MANIFEST_LIST}, contentType: DOCKER_MANIFEST_LIST, kind: 'index', mediaType: DOCKER_MANIFEST_LIST},
    {name: 'schema 1', doc: {schemaVersion: 1, name: 'a', fsLayers: []}, code: 'UNSUPPORTED_MEDIA_TYPE'},
    {name: 'unknown type', doc: {schemaVersion: 2}, contentType: 'application/x-thing', code: 'UNSUPPORTED_MEDIA_TYPE'},
    {name: 'bad descriptor', doc: {...image, layers: [{digest: 'x'}]}, contentType: DOCKER_MANIFEST, code: 'MANIFEST_INVALID'},
  ]
  for (const item of cases) {
    const bytes = Buffer.from(JSON.stringify(item.doc))
    if (item.code) {
      assert.throws(
        () => parseManifest(bytes, item.contentType, 'm'),
        (error: {code: string}) => error.code === item.code,
        item.name,
      )
      continue
    }
    const parsed = parseManifest(bytes, item.contentType, 'm')
    assert.equal(parsed.kind, item.kind, item.name)
    assert.equal(parsed.mediaType, item.mediaType, item.name)
  }
  assert.throws(() => parseManifest(Buffer.from('not json'), DOCKER_MANIFEST, 'm'), /not JSON/)
})

test('copiedBlobs: config then layers, each digest once, foreign layers left out', async () => {
  const {copiedBlobs} = await import('../../src/registry/media-types.js')
  const d = (digest: string, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip', urls?: string[]) => ({
    digest,
    mediaType,
    size: 1,
    ...(urls ? {urls} : {}),
  })
  const foreign = d('w', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')
  const nondistributable = d('n', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', ['https://example.invalid/n'])
  const cases: Array<[string, Parameters<typeof copiedBlobs>[0], string[], boolean?]> = [
    ['plain', {config: d('c'), layers: [d('a'), d('b')]}, ['c', 'a', 'b']],
    ['a layer twice', {config: d('c'), layers: [d('a'), d('a')]}, ['c', 'a']],
    ['config equal to a layer', {config: d('a'), layers: [d('a')]}, ['a']],
    ['foreign by media type', {config: d('c'), layers: [foreign, d('a')]}, ['c', 'a']],
    ['foreign by urls', {config: d('c'), layers: [d('u', undefined, ['https://example.invalid/u'])]}, ['c']],
    ['--include-nondistributable: foreign layers too, in order', {config: d('c'), layers: [foreign, nondistributable, d('a')]}, ['c', 'w', 'n', 'a'], true],
    ['--include-nondistributable: still each digest once', {config: d('c'), layers: [foreign, foreign]}, ['c', 'w'], true],
  ]
  for (const [name, image, expected, included] of cases)
    assert.deepEqual(
      copiedBlobs(image, {nondistributable: included}).map((b) => b.digest),
      expected,
      name,
    )
})
