import assert from 'node:assert/strict'
import {test} from 'node:test'

import {OCI_INDEX, OCI_MANIFEST} from '../../src/registry/media-types.js'
import {fallbackTag, isMediaType, readIndex, type ReferrerDescriptor} from '../../src/registry/referrers.js'
import {cosignTags, isReferrerTag, keepReferrers, mergeReferrerIndex, missingFromIndex} from '../../src/transfer/referrer-set.js'

const hex = (c: string) => c.repeat(64)
const SBOM = 'application/vnd.example.sbom.v1+json'
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json'
const ref = (c: string, artifactType?: string): ReferrerDescriptor => ({
  mediaType: OCI_MANIFEST,
  digest: `sha256:${hex(c)}`,
  size: 10,
  ...(artifactType ? {artifactType} : {}),
})
const index = (manifests: unknown[], extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: OCI_INDEX, manifests, ...extra}))

test('tags of the fallback and cosign schemes, and nothing else', () => {
  const cases: [string, boolean][] = [
    [`sha256-${hex('a')}`, true],
    [`sha256-${hex('a')}.sig`, true],
    [`sha256-${hex('a')}.att`, true],
    [`sha256-${hex('a')}.sbom`, true],
    [`sha512-${'b'.repeat(128)}`, true],
    [`sha256-${hex('a')}.sig.bak`, false],
    [`sha256-${hex('A')}`, false],
    [`sha256-${'a'.repeat(63)}`, false],
    ['latest', false],
    ['sha256-abc', false],
    [`v1-${hex('a')}`, false],
  ]
  for (const [tag, expected] of cases) assert.equal(isReferrerTag(tag), expected, tag)
  assert.equal(fallbackTag(`sha256:${hex('c')}`), `sha256-${hex('c')}`)
  assert.deepEqual(
    cosignTags(`sha256:${hex('c')}`).map((item) => item.tag),
    ['sig', 'att', 'sbom'].map((suffix) => `sha256-${hex('c')}.${suffix}`),
  )
  assert.equal(cosignTags(`sha256:${hex('c')}`)[0]!.artifactType, SIG)
})

test('artifact type filter: believed only where the registry says it filtered the one type asked', () => {
  const all = [ref('1', SBOM), ref('2', SIG), ref('3')]
  const cases: {name: string; wanted: string[]; applied: string[]; digits: string[]}[] = [
    {name: 'no filter keeps all', wanted: [], applied: [], digits: ['1', '2', '3']},
    {name: 'filter not applied by the registry', wanted: [SBOM], applied: [], digits: ['1']},
    {name: 'registry applied it', wanted: [SBOM], applied: ['artifactType'], digits: ['1', '2', '3']},
    {name: 'two types: filtered here', wanted: [SBOM, SIG], applied: ['artifactType'], digits: ['1', '2']},
    {name: 'no artifactType never matches a filter', wanted: ['x/y'], applied: [], digits: []},
  ]
  for (const item of cases) {
    const kept = keepReferrers(all, item.wanted, item.applied).map((descriptor) => descriptor.digest.slice(7, 8))
    assert.deepEqual(kept, item.digits, item.name)
  }
})

test('the fallback index: merged, never an entry dropped, unchanged when all are listed', () => {
  const foreign = {mediaType: OCI_MANIFEST, digest: `sha256:${hex('f')}`, size: 5, artifactType: 'application/x.other', annotations: {who: 'cosign'}}
  const cases: {name: string; existing?: Buffer; add: ReferrerDescriptor[]; expect: string[] | 'unchanged'}[] = [
    {name: 'no index yet', add: [ref('1', SBOM)], expect: ['1']},
    {name: 'appended after entries of others', existing: index([foreign]), add: [ref('1', SBOM), ref('2')], expect: ['f', '1', '2']},
    {name: 'already listed', existing: index([foreign, ref('1')]), add: [ref('1', SBOM)], expect: 'unchanged'},
    {name: 'one new, one listed', existing: index([ref('1')]), add: [ref('1'), ref('2'), ref('2')], expect: ['1', '2']},
  ]
  for (const item of cases) {
    const merged = mergeReferrerIndex(item.existing, item.add, 'idx')
    if (item.expect === 'unchanged') {
      assert.equal(merged.kind, 'unchanged', item.name)
      continue
    }
    assert.equal(merged.kind, 'push', item.name)
    if (merged.kind !== 'push') continue
    const doc = JSON.parse(merged.bytes.toString()) as {mediaType: string; schemaVersion: number; manifests: ReferrerDescriptor[]}
    assert.equal(doc.mediaType, OCI_INDEX)
    assert.equal(doc.schemaVersion, 2)
    assert.deepEqual(
      doc.manifests.map((descriptor) => descriptor.digest.slice(7, 8)),
      item.expect,
      item.name,
    )
    // Entries of others come back exactly as they were.
    if (item.existing) assert.deepEqual(doc.manifests[0], JSON.parse(item.existing.toString()).manifests[0])
    assert.deepEqual(missingFromIndex(merged.bytes, item.add, 'idx'), [], item.name)
  }
  assert.deepEqual(missingFromIndex(index([ref('1')]), [ref('1'), ref('2')], 'idx'), [`sha256:${hex('2')}`])
  assert.deepEqual(missingFromIndex(undefined, [ref('1')], 'idx'), [`sha256:${hex('1')}`])
})

test('a referrers index is input: each descriptor checked before its digest reaches a URL or a log', () => {
  const cases: {name: string; bytes: Buffer; code?: string; lenient?: boolean; count?: number}[] = [
    {name: 'good', bytes: index([ref('1', SBOM), ref('2')]), count: 2},
    {name: 'no mediaType on the index (OCI allows it)', bytes: Buffer.from(JSON.stringify({schemaVersion: 2, manifests: [ref('1')]})), count: 1},
    {name: 'digest that walks paths', bytes: index([{...ref('1'), digest: 'sha256:../../../x'}]), code: 'INVALID_DIGEST'},
    {name: 'digest of an unknown algorithm', bytes: index([{...ref('1'), digest: `md5:${'a'.repeat(32)}`}]), code: 'UNSUPPORTED_DIGEST'},
    {name: 'artifactType with a line break', bytes: index([{...ref('1'), artifactType: 'a/b\nforged line'}]), code: 'INVALID_RESPONSE'},
    {name: 'negative size', bytes: index([{...ref('1'), size: -1}]), code: 'INVALID_RESPONSE'},
    {name: 'not an index', bytes: Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: OCI_MANIFEST, layers: []})), code: 'INVALID_RESPONSE'},
    {name: 'HTML', bytes: Buffer.from('<html>404</html>'), code: 'INVALID_RESPONSE'},
    {name: 'HTML, lenient', bytes: Buffer.from('<html>404</html>'), lenient: true},
  ]
  for (const item of cases) {
    if (item.code) {
      assert.throws(
        () => readIndex(item.bytes, 'idx', item.lenient),
        (error: {code: string; message: string}) => error.code === item.code && !error.message.includes('\n'),
        item.name,
      )
      continue
    }
    const read = readIndex(item.bytes, 'idx', item.lenient)
    assert.equal(read?.length, item.count, item.name)
  }
  assert.throws(() => mergeReferrerIndex(Buffer.from('{"schemaVersion":2,"layers":[]}'), [ref('1')], 'idx'), /not an OCI index/)
  for (const [text, ok] of [
    ['application/vnd.dev.cosign.artifact.sig.v1+json', true],
    ['application/vnd.cncf.helm.config.v1+json', true],
    ['text', false],
    ['a/b c', false],
    ['a/b/c', false],
  ] as const) {
    assert.equal(isMediaType(text), ok, text)
  }
})
