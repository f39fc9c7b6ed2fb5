// The safety property, checked from the outside after a failure or a kill: every manifest a tag at
// the destination names is complete (each child manifest and each blob present), and no blob is
// stored under a digest its bytes do not have. Uses the harness's own HTTP client, never src/.
import assert from 'node:assert/strict'
import {ACCEPT_ALL, clientFor, sha256, type Endpoint} from '../harness/index.js'

interface Descriptor {
  digest: string
  mediaType?: string
  size?: number
}

interface ManifestDoc {
  manifests?: Descriptor[]
  config?: Descriptor
  layers?: Descriptor[]
}

async function get(registry: Endpoint, target: string, scope: string, accept?: string) {
  return clientFor(registry).request('GET', target, {scope, ...(accept ? {headers: {accept}} : {})})
}

/** Every repository in the catalog, all pages. */
export async function listRepositories(registry: Endpoint): Promise<string[]> {
  const names: string[] = []
  let next: string | undefined = '/v2/_catalog?n=1000'
  while (next) {
    const res = await get(registry, next, 'registry:catalog:*')
    assert.equal(res.status, 200, `catalog: ${res.status} ${res.body.toString('utf8')}`)
    names.push(...((JSON.parse(res.body.toString('utf8')) as {repositories?: string[]}).repositories ?? []))
    next = /<([^>]+)>;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1]
  }
  return names
}

export async function listTags(registry: Endpoint, repository: string): Promise<string[]> {
  const res = await get(registry, `/v2/${repository}/tags/list`, `repository:${repository}:pull`)
  if (res.status === 404) return []
  assert.equal(res.status, 200, `tags of ${repository}: ${res.status} ${res.body.toString('utf8')}`)
  return (JSON.parse(res.body.toString('utf8')) as {tags?: string[] | null}).tags ?? []
}

async function headStatus(registry: Endpoint, repository: string, kind: 'blobs' | 'manifests', digest: string): Promise<number> {
  const res = await clientFor(registry).request('HEAD', `/v2/${repository}/${kind}/${digest}`, {
    scope: `repository:${repository}:pull`,
    ...(kind === 'manifests' ? {headers: {accept: ACCEPT_ALL}} : {}),
  })
  return res.status
}

/**
 * Walks every tag of every repository: the manifest the tag names, each child of an index (HEAD,
 * then its own blobs), and every config and layer blob (HEAD). Fails naming the first hole.
 * Returns how many tags and manifests were checked.
 */
export async function assertDestinationConsistent(registry: Endpoint): Promise<{tags: number; manifests: number}> {
  let tags = 0
  let manifests = 0
  const checkManifest = async (repository: string, reference: string, body: Buffer, seen: Set<string>): Promise<void> => {
    manifests++
    const doc = JSON.parse(body.toString('utf8')) as ManifestDoc
    for (const child of doc.manifests ?? []) {
      const status = await headStatus(registry, repository, 'manifests', child.digest)
      assert.equal(status, 200, `${repository}:${reference} names child manifest ${child.digest}, which the destination lacks (HEAD ${status})`)
      if (seen.has(child.digest)) continue
      seen.add(child.digest)
      const res = await get(registry, `/v2/${repository}/manifests/${child.digest}`, `repository:${repository}:pull`, ACCEPT_ALL)
      assert.equal(res.status, 200)
      assert.equal(sha256(res.body), child.digest, `child ${child.digest} of ${repository}:${reference} is served with other bytes`)
      await checkManifest(repository, child.digest, res.body, seen)
    }
    for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      if (seen.has(blob.digest)) continue
      seen.add(blob.digest)
      const status = await headStatus(registry, repository, 'blobs', blob.digest)
      assert.equal(status, 200, `${repository}:${reference} names blob ${blob.digest}, which the destination lacks (HEAD ${status})`)
    }
  }
  for (const repository of await listRepositories(registry)) {
    const seen = new Set<string>()
    for (const tag of await listTags(registry, repository)) {
      tags++
      const res = await get(registry, `/v2/${repository}/manifests/${tag}`, `repository:${repository}:pull`, ACCEPT_ALL)
      assert.equal(res.status, 200, `tag ${repository}:${tag} is listed but its manifest answers ${res.status}`)
      await checkManifest(repository, tag, res.body, seen)
    }
  }
  return {tags, manifests}
}

/**
 * A blob whose bytes were corrupted on the way must not be stored under its digest: absent from
 * `repository` (404), or, if present (a good copy from another run), serving bytes that hash right.
 */
export async function assertBlobAbsentOrIntact(registry: Endpoint, repository: string, digest: string): Promise<'absent' | 'intact'> {
  const status = await headStatus(registry, repository, 'blobs', digest)
  if (status === 404) return 'absent'
  assert.equal(status, 200, `HEAD blob ${digest} in ${repository}: ${status}`)
  const res = await get(registry, `/v2/${repository}/blobs/${digest}`, `repository:${repository}:pull`)
  assert.equal(res.status, 200)
  assert.equal(sha256(res.body), digest, `${repository} holds blob ${digest} with other bytes: a corrupt blob was committed`)
  return 'intact'
}
