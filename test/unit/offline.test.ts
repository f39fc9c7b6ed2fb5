import assert from 'node:assert/strict'
import {mkdir, mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import type {Rule} from '../../src/config/rules.js'
import {compressionOf} from '../../src/layout/archive.js'
import {BlobStore} from '../../src/layout/blob-store.js'
import {IndexWriter, parseIndex, REF_NAME, withEntry, type IndexEntry} from '../../src/layout/index-file.js'
import {LAYOUT_REGISTRY} from '../../src/layout/layout.js'
import {sniffMediaType} from '../../src/layout/media-type.js'
import {blobPath} from '../../src/layout/paths.js'
import {readRefName, refNameFor, skopeoRefProblem} from '../../src/layout/ref-name.js'
import {parseBackupSource} from '../../src/offline/backup.js'
import {registryDestination, ruleDestination} from '../../src/offline/destinations.js'
import {outputTarget} from '../../src/offline/output.js'
import {layoutRule} from '../../src/offline/save.js'
import {sha256Digest} from '../../src/digest.js'
import {DigestVerifier} from '../../src/registry/digest-verifier.js'

test('skopeoRefProblem: the OCI ref.name grammar skopeo enforces', () => {
  const accepted = ['v1', '1.0', '127.0.0.1:5000/team/app:v1', 'reg.example.com/a/b/app:1.2.3-rc.1', 'a--b', 'reg/app@sha256:abc', 'a+b']
  const refused = ['odd/a__b:v1', 'app:_v1', 'app:v1-', 'a---b', 'a..b', '', '/app', 'app/']
  for (const ref of accepted) assert.equal(skopeoRefProblem(ref), undefined, ref)
  for (const ref of refused) assert.match(skopeoRefProblem(ref) ?? '', /does not follow the OCI ref\.name grammar skopeo checks/, ref)
})

test('refNameFor and readRefName: full references; a bare tag needs --repository', () => {
  const digest = `sha256:${'a'.repeat(64)}`
  assert.equal(refNameFor('127.0.0.1:5000/team/app', {tag: 'v1'}), '127.0.0.1:5000/team/app:v1')
  assert.equal(refNameFor('reg.io/app', {digest}), `reg.io/app@${digest}`)
  assert.throws(() => refNameFor('reg.io/app', {}), /needs a tag or a digest/)
  const cases: [string, string | undefined, object][] = [
    ['127.0.0.1:5000/team/app:v1', undefined, {registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1'}],
    ['reg.io/a/b/app:1.0', 'ignored', {registry: 'reg.io', repository: 'a/b/app', tag: '1.0'}],
    ['v1', 'team/app', {registry: 'docker.io', repository: 'team/app', tag: 'v1'}],
    ['v1', 'reg.io/team/app', {registry: 'reg.io', repository: 'team/app', tag: 'v1'}],
    [`reg.io/app@${digest}`, undefined, {registry: 'reg.io', repository: 'app', digest}],
  ]
  for (const [refName, repository, expected] of cases) assert.deepEqual(readRefName(refName, repository), {...expected, refName}, refName)
  assert.throws(() => readRefName('v1', undefined), /"v1" is a bare tag with no repository; give --repository NAME/)
  assert.throws(() => readRefName('Reg.io/UPPER:v1', undefined), /uppercase/)
})

test('registryDestination: the last path component under --ns; without --ns the whole path', () => {
  const saved = readRefName('reg.io/a/b/app:v1', undefined)
  assert.deepEqual(registryDestination(saved, 'host:5000', 'ns'), {registry: 'host:5000', repository: 'ns/app', tag: 'v1'})
  assert.deepEqual(registryDestination(saved, 'host:5000', 'x/y'), {registry: 'host:5000', repository: 'x/y/app', tag: 'v1'})
  assert.deepEqual(registryDestination(saved, 'host:5000', undefined), {registry: 'host:5000', repository: 'a/b/app', tag: 'v1'})
  const digest = `sha256:${'b'.repeat(64)}`
  assert.deepEqual(registryDestination(readRefName(`reg.io/app@${digest}`, undefined), 'h.io', 'n'), {registry: 'h.io', repository: 'n/app', digest})
})

test('ruleDestination: first matching rule; a destination without a tag keeps the saved tag', () => {
  const digest = `sha256:${'c'.repeat(64)}`
  const rule = (source: Rule['source'], destination: Rule['destination']): Rule => ({text: 'r', source, destination})
  const rules = [
    rule({registry: 'reg.io', repository: 'team/app', tags: ['v1']}, {registry: 'h.io', repository: 'x/app', tag: 'stable'}),
    rule({registry: 'reg.io', repository: 'team/app'}, {registry: 'h.io', repository: 'all/app'}),
    rule({registry: 'reg.io', repository: 'pinned', digest}, {registry: 'h.io', repository: 'pinned', tag: 'p'}),
  ]
  const cases: [string, string, object | undefined][] = [
    ['reg.io/team/app:v1', digest, {registry: 'h.io', repository: 'x/app', tag: 'stable'}],
    ['reg.io/team/app:v2', digest, {registry: 'h.io', repository: 'all/app', tag: 'v2'}],
    ['reg.io/pinned:any', digest, {registry: 'h.io', repository: 'pinned', tag: 'p'}],
    ['reg.io/pinned:any', `sha256:${'d'.repeat(64)}`, undefined],
    ['other.io/team/app:v1', digest, undefined],
  ]
  for (const [refName, entryDigest, expected] of cases)
    assert.deepEqual(ruleDestination(readRefName(refName, undefined), entryDigest, rules)?.destination, expected, refName)
})

test('outputTarget: a folder, or a tar built from a staging folder beside it', () => {
  assert.deepEqual(outputTarget('out/', undefined), {dir: 'out'})
  assert.deepEqual(outputTarget('a.tar', undefined), {dir: 'a.tar.layout', archive: {file: 'a.tar', compression: undefined}})
  assert.deepEqual(outputTarget('a.tar', 'zstd'), {dir: 'a.tar.layout', archive: {file: 'a.tar', compression: 'zstd'}})
  assert.deepEqual(outputTarget('a.tgz', undefined), {dir: 'a.tgz.layout', archive: {file: 'a.tgz', compression: 'gzip'}})
  assert.deepEqual(outputTarget('a.tar.zst', undefined), {dir: 'a.tar.zst.layout', archive: {file: 'a.tar.zst', compression: 'zstd'}})
  assert.throws(() => outputTarget('out', 'gzip'), /--compress gzip needs a tar file as --output/)
  assert.throws(() => outputTarget('a.tar.gz', 'zstd'), /says gzip but --compress says zstd/)
  assert.throws(() => outputTarget('/', undefined), /--output is empty/)
})

test('compressionOf: gzip and zstd by their magic numbers, anything else a plain tar', () => {
  assert.equal(compressionOf(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip')
  assert.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd')
  assert.equal(compressionOf(Buffer.from('oci-', 'utf8')), undefined)
  assert.equal(compressionOf(Buffer.alloc(0)), undefined)
})

test('parseBackupSource: HOST or HOST/namespace', () => {
  assert.deepEqual(parseBackupSource('reg.io'), {registry: 'reg.io'})
  assert.deepEqual(parseBackupSource('http://127.0.0.1:5000/team/sub/'), {registry: '127.0.0.1:5000', namespace: 'team/sub'})
  assert.throws(() => parseBackupSource('not a host'), /--source "not a host": invalid registry/)
  assert.throws(() => parseBackupSource('reg.io/Team'), /namespace .*uppercase/)
})

test('layoutRule: the destination is the layout under the full source repository', () => {
  const digest = `sha256:${'e'.repeat(64)}`
  const rule: Rule = {
    text: 't',
    source: {registry: 'reg.io', repository: 'a/app', tags: ['v1']},
    destination: {registry: 'ferry-save.invalid', repository: 'app', tag: 'v1'},
  }
  assert.deepEqual(layoutRule(rule).destination, {registry: LAYOUT_REGISTRY, repository: 'reg.io/a/app'})
  assert.deepEqual(layoutRule({...rule, source: {registry: 'reg.io', repository: 'a/app', digest}}).destination, {
    registry: LAYOUT_REGISTRY,
    repository: 'reg.io/a/app',
    digest,
  })
})

test('index.json: parse checks each entry; a ref name added again replaces its entry in place', () => {
  const entry = (digest: string, name?: string): IndexEntry => ({mediaType: 'm', digest, size: 1, ...(name ? {annotations: {[REF_NAME]: name}} : {})})
  assert.deepEqual(withEntry([entry('a', 'x'), entry('b', 'y')], entry('c', 'x')), [entry('c', 'x'), entry('b', 'y')])
  assert.deepEqual(withEntry([entry('a', 'x')], entry('b')), [entry('a', 'x'), entry('b')])
  assert.throws(() => parseIndex('{', 'f/index.json'), /f\/index\.json: not JSON/)
  assert.throws(() => parseIndex('{}', 'f/index.json'), /has no "manifests" list/)
  assert.throws(() => parseIndex('{"manifests":[{"digest":"x"}]}', 'f/index.json'), /manifests\[0\] lacks a digest, size or mediaType/)
})

test('sniffMediaType: the document field, else its shape', () => {
  assert.equal(
    sniffMediaType(Buffer.from('{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}')),
    'application/vnd.docker.distribution.manifest.v2+json',
  )
  assert.equal(sniffMediaType(Buffer.from('{"manifests":[]}')), 'application/vnd.oci.image.index.v1+json')
  assert.equal(sniffMediaType(Buffer.from('{"config":{}}')), 'application/vnd.oci.image.manifest.v1+json')
})

test('blobPath refuses what is not a digest, so no name escapes blobs/', () => {
  assert.equal(blobPath('/l', `sha256:${'f'.repeat(64)}`), `/l/blobs/sha256/${'f'.repeat(64)}`)
  for (const bad of ['sha256:../../etc', 'md5:abc', 'sha256:ABC']) assert.throws(() => blobPath('/l', bad), /is not a digest ferry can store/)
})

test('BlobStore: a verified stream is committed; a wrong one leaves neither the blob nor a temporary file', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-unit-layout-'))
  try {
    const store = new BlobStore(root)
    await mkdir(path.join(root, 'blobs', 'sha256'), {recursive: true})
    const bytes = Buffer.from('layer bytes '.repeat(1000))
    const digest = sha256Digest(bytes)
    const verified = (body: Buffer) =>
      Readable.from([body.subarray(0, 5000), body.subarray(5000)]).pipe(new DigestVerifier({digest, size: bytes.length}, 'blob'))
    const wrong = Buffer.from(bytes)
    wrong[100] ^= 1
    await assert.rejects(store.write(digest, verified(wrong)), /content digest is sha256:/)
    assert.deepEqual(await readdir(path.join(root, 'blobs', 'sha256')), [])
    await store.write(digest, verified(bytes))
    assert.deepEqual(await readFile(store.pathOf(digest)), bytes)
    assert.deepEqual(await readdir(path.join(root, 'blobs', 'sha256')), [digest.slice(7)])
    assert.deepEqual(await store.read(digest), bytes)
    await assert.rejects(store.read(`sha256:${'0'.repeat(64)}`), /blob sha256:0+ is missing/)
  } finally {
    await rm(root, {recursive: true, force: true})
  }
})

test('IndexWriter: concurrent puts all land, one file, no temporaries', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-unit-index-'))
  try {
    const writer = await IndexWriter.open(root)
    await Promise.all(
      Array.from({length: 40}, (_, k) => writer.put({mediaType: 'm', digest: `sha256:${String(k).padStart(64, '0')}`, size: k}, `reg.io/app:${k}`)),
    )
    const onDisk = parseIndex(await readFile(path.join(root, 'index.json'), 'utf8'), 'index.json')
    assert.equal(onDisk.length, 40)
    assert.deepEqual(await readdir(root), ['index.json'])
    const reopened = await IndexWriter.open(root)
    assert.equal(reopened.find('reg.io/app:7')?.size, 7)
  } finally {
    await rm(root, {recursive: true, force: true})
  }
})
