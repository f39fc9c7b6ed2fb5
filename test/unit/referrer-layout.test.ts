import assert from 'node:assert/strict'
import {test} from 'node:test'

import {REF_NAME, withEntry, type IndexEntry} from '../../src/layout/index-file.js'
import {referrerOf} from '../../src/layout/referrer-entry.js'
import {OCI_INDEX, OCI_MANIFEST} from '../../src/registry/media-types.js'
import {withoutEntries} from '../../src/transfer/referrer-set.js'

const digest = (c: string) => `sha256:${c.repeat(64)}`
const SBOM = 'application/spdx+json'
const entry = {mediaType: OCI_MANIFEST, digest: digest('7'), size: 100}
const manifest = (doc: Record<string, unknown>) => Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: OCI_MANIFEST, ...doc}))

test('a layout manifest read as a referrer: subject, artifact type (else the config media type), annotations', () => {
  const cases: [string, Buffer, ReturnType<typeof referrerOf>][] = [
    ['no subject: an image', manifest({config: {mediaType: 'c', digest: digest('c'), size: 2}, layers: []}), undefined],
    ['not JSON', Buffer.from('{'), undefined],
    [
      'artifactType',
      manifest({artifactType: SBOM, subject: {mediaType: OCI_MANIFEST, digest: digest('5'), size: 9}, annotations: {a: 'b', n: 1}}),
      {subject: digest('5'), descriptor: {...entry, artifactType: SBOM, annotations: {a: 'b'}}},
    ],
    [
      'the config media type stands for it',
      manifest({config: {mediaType: 'application/vnd.example.sig', digest: digest('c'), size: 2}, subject: {digest: digest('5')}}),
      {subject: digest('5'), descriptor: {...entry, artifactType: 'application/vnd.example.sig'}},
    ],
  ]
  for (const [name, bytes, expected] of cases) assert.deepEqual(referrerOf(bytes, entry, 'x'), expected, name)
  assert.throws(() => referrerOf(manifest({subject: {digest: '../../etc'}}), entry, 'x'), /subject digest/)
  assert.throws(() => referrerOf(manifest({artifactType: 'not a type', subject: {digest: digest('5')}}), entry, 'x'), /not a media type/)
})

test('index.json: a referrer entry (no ref name) added again by digest replaces itself; named entries are untouched', () => {
  const named: IndexEntry = {mediaType: OCI_MANIFEST, digest: digest('a'), size: 1, annotations: {[REF_NAME]: 'r/app:v1'}}
  const referrer: IndexEntry = {mediaType: OCI_MANIFEST, digest: digest('a'), size: 1, artifactType: SBOM}
  const other: IndexEntry = {mediaType: OCI_MANIFEST, digest: digest('b'), size: 1}
  assert.deepEqual(withEntry([named], referrer), [named, referrer])
  assert.deepEqual(withEntry([named, referrer, other], {...referrer, artifactType: 'x/y'}), [named, {...referrer, artifactType: 'x/y'}, other])
})

test('a fallback index without the entries of deleted manifests keeps every other entry and field as it was', () => {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {mediaType: OCI_MANIFEST, digest: digest('a'), size: 1, annotations: {k: 'v'}},
      {mediaType: OCI_MANIFEST, digest: digest('b'), size: 2},
      {mediaType: OCI_MANIFEST, digest: digest('c'), size: 3},
    ],
    annotations: {x: 'y'},
  }
  const out = JSON.parse(withoutEntries(Buffer.from(JSON.stringify(doc)), [digest('b')], 'i').toString())
  assert.deepEqual(out, {...doc, manifests: [doc.manifests[0], doc.manifests[2]]})
  assert.throws(() => withoutEntries(Buffer.from('{"manifests": 1}'), [], 'i'), /not an OCI index/)
})
