// Self-test of the harness: if these fail, e2e failures elsewhere say nothing
// about ferry.
import assert from 'node:assert/strict'
import http from 'node:http'
import {after, before, describe, test} from 'node:test'
import {fetchManifest, pushImage, pushIndex, randomLayer, seedCorpus} from '../harness/images.js'
import {startRegistry, type StartRegistryOptions, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest, skopeoTags} from '../harness/skopeo.js'
import {startHostileRegistry} from '../harness/hostile-registry.js'
import {rawRequest} from '../harness/http.js'

const kinds: Array<[string, StartRegistryOptions]> = [
  ['plain HTTP, no auth', {}],
  ['htpasswd over TLS', {auth: 'htpasswd', tls: true}],
  ['token auth', {auth: 'token'}],
]

for (const [name, options] of kinds) {
  describe(`registry: ${name}`, () => {
    let registry: TestRegistry
    before(async () => {
      registry = await startRegistry(options)
    })
    after(async () => {
      await registry?.stop()
    })

    test('a pushed Docker image reads back with the same digest through skopeo', async () => {
      const image = await pushImage(registry, 'team/app', 'v1', {
        flavour: 'docker',
        layers: [randomLayer(1024, 'a'), randomLayer(2048, 'b')],
      })
      assert.equal(image.mediaType, 'application/vnd.docker.distribution.manifest.v2+json')
      assert.equal(await skopeoDigest(registry, 'team/app:v1'), image.digest)
      assert.equal(await skopeoDigest(registry, `team/app@${image.digest}`), image.digest)
      assert.deepEqual(await skopeoTags(registry, 'team/app'), ['v1'])
    })

    test('a pushed OCI index reads back as the index, children by digest', async () => {
      const index = await pushIndex(registry, 'a/b/c', 'multi')
      assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json')
      assert.equal(index.children.length, 3)
      assert.equal(await skopeoDigest(registry, 'a/b/c:multi'), index.digest)
      const child = index.children[2]!
      assert.equal(await skopeoDigest(registry, `a/b/c@${child.digest}`), child.digest)
      // Children went up by digest only: the one tag is the index's.
      assert.deepEqual(await skopeoTags(registry, 'a/b/c'), ['multi'])
    })

    if (options.auth === 'token') {
      test('clients went through the token server', () => {
        const server = registry.tokenServer!
        assert.ok(server.requests.length > 0)
        assert.ok(server.requests.every((r) => r.status === 200 && r.account === 'ferry'))
        assert.ok(server.requests.some((r) => r.scopes.includes('repository:team/app:pull,push')))
      })
    }
  })
}

describe('harness details', () => {
  let registry: TestRegistry
  before(async () => {
    registry = await startRegistry({auth: 'htpasswd'})
  })
  after(async () => {
    await registry?.stop()
  })

  test('the request log sees what reached the registry', async () => {
    registry.requestLog.clear()
    const image = await pushImage(registry, 'log/me', 'x', {flavour: 'oci', layers: [randomLayer(100, 'log')]})
    await fetchManifest(registry, 'log/me', 'x')
    await registry.requestLog.settle()
    assert.equal(registry.requestLog.count({method: 'PUT', path: '/v2/log/me/manifests/x', status: 201}), 1)
    assert.equal(registry.requestLog.count({method: 'GET', path: '/v2/log/me/manifests/x', status: 200}), 1)
    assert.ok(registry.requestLog.count({method: 'PUT', path: /\/v2\/log\/me\/blobs\/uploads\//, status: 201}) >= 2)
    assert.equal(image.blobs.length, 2)
  })

  test('seedCorpus is deterministic and mixes flavours and indexes', async () => {
    const corpus = await seedCorpus(registry, {repositories: 3, tagsPerRepo: 2, layerSize: 256})
    assert.deepEqual(corpus.repositories, ['team/app-0', 'a/b/c', 'library/base'])
    assert.equal(corpus.entries.length, 6)
    assert.ok(corpus.entries.some((e) => e.kind === 'index'))
    assert.ok(corpus.entries.some((e) => e.flavour === 'docker') && corpus.entries.some((e) => e.flavour === 'oci'))
    const again = await seedCorpus(registry, {repositories: 3, tagsPerRepo: 2, layerSize: 256})
    assert.deepEqual(
      again.entries.map((e) => e.digest),
      corpus.entries.map((e) => e.digest),
    )
    const sample = corpus.entries[corpus.entries.length - 1]!
    assert.equal(await skopeoDigest(registry, `${sample.repository}:${sample.tag}`), sample.digest)
  })
})

describe('hostile registry', () => {
  test('forges only what it is told to, and passes the rest to the real registry', async () => {
    const registry = await startRegistry()
    const hostile = await startHostileRegistry(registry)
    try {
      const image = await pushImage(registry, 'team/app', 'v1', {layers: [randomLayer(512, 'h')]})
      hostile.forgeTags('team/app', ['v1', '../../x'], {link: '</v2/team/app/tags/list?n=1>; rel="next"'})
      const endless = hostile.endlessBody(/^\/v2\/team\/app\/manifests\/huge$/, {method: 'GET'})
      const tags = await rawRequest(hostile, 'GET', '/v2/team/app/tags/list')
      assert.equal(tags.status, 200)
      assert.deepEqual(JSON.parse(tags.body.toString()).tags, ['v1', '../../x'])
      assert.match(String(tags.headers.link), /rel="next"/)
      const real = await rawRequest(hostile, 'GET', '/v2/team/app/manifests/v1', {headers: {accept: image.mediaType}})
      assert.equal(real.headers['docker-content-digest'], image.digest)
      hostile.rewriteJson(/^\/v2\/team\/app\/manifests\/v1$/, (manifest) => ({...manifest, layers: []}), {method: 'GET'})
      const rewritten = await rawRequest(hostile, 'GET', '/v2/team/app/manifests/v1', {headers: {accept: image.mediaType}})
      assert.deepEqual(JSON.parse(rewritten.body.toString()).layers, [])
      // The endless body really does not end: 1 MiB arrives and more keeps coming.
      const received = await new Promise<number>((resolve, reject) => {
        const request = http.get(`${hostile.url}/v2/team/app/manifests/huge`, (response) => {
          let bytes = 0
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length
            if (bytes > 1024 * 1024) {
              request.destroy()
              resolve(bytes)
            }
          })
          response.on('end', () => resolve(bytes))
        })
        request.on('error', reject)
      })
      assert.ok(received > 1024 * 1024)
      assert.equal(endless.hits, 1)
    } finally {
      await hostile.stop()
      await registry.stop()
    }
  })
})
