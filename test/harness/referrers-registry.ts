// A registry with the OCI 1.1 referrers API, made of real CNCF Distribution 2.8 (which has none)
// and a small front: `GET /v2/<name>/referrers/<digest>` is answered from what Distribution
// stores (every manifest revision of the repository whose `subject` names the digest, read from
// its storage directory), a manifest PUT with a `subject` is answered with `OCI-Subject` as a
// registry with the API does, and everything else passes through untouched. Plain HTTP, no auth.
import {readdir, readFile} from 'node:fs/promises'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import type {TestRegistry} from './registry.js'

export interface ReferrersRegistry {
  host: string
  url: string
  /** Paths of the referrers queries answered, in order (with their query strings). */
  readonly queries: string[]
  /** Every request's method and path, in order. */
  readonly requests: {method: string; path: string}[]
  stop(): Promise<void>
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const REFERRERS = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})(?:\?(.*))?$/

/** Starts the front on 127.0.0.1 (random port) in front of `upstream`. `pageSize` pages answers with Link. */
export async function startReferrersRegistry(upstream: TestRegistry, options: {pageSize?: number} = {}): Promise<ReferrersRegistry> {
  const queries: string[] = []
  const requests: {method: string; path: string}[] = []
  const target = new URL(upstream.url)

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push({method: req.method ?? '', path: url})
    const match = REFERRERS.exec(url)
    if (match && req.method === 'GET') {
      queries.push(url)
      answerReferrers(upstream, match[1]!, match[2]!, new URLSearchParams(match[3] ?? ''), options.pageSize)
        .then(({body, headers}) => {
          res.writeHead(200, {'content-type': OCI_INDEX, 'content-length': body.length, ...headers})
          res.end(body)
        })
        .catch((error: unknown) => {
          res.writeHead(500)
          res.end(String(error))
        })
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const headers = {...req.headers, host: target.host}
      const forward = http.request({host: target.hostname, port: target.port, method: req.method, path: url, headers}, (answer) => {
        const out = {...answer.headers}
        if (req.method === 'PUT' && /\/manifests\//.test(url) && answer.statusCode === 201) {
          const subject = subjectOf(body)
          if (subject) out['oci-subject'] = subject
        }
        res.writeHead(answer.statusCode ?? 502, out)
        answer.pipe(res)
      })
      forward.on('error', () => res.destroy())
      forward.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    queries,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

function subjectOf(manifest: Buffer): string | undefined {
  try {
    const digest = (JSON.parse(manifest.toString('utf8')) as {subject?: {digest?: unknown}}).subject?.digest
    return typeof digest === 'string' ? digest : undefined
  } catch {
    return undefined
  }
}

/** The referrers index of `digest`, built from the manifest revisions Distribution keeps for the repository. */
async function answerReferrers(
  upstream: TestRegistry,
  repository: string,
  digest: string,
  query: URLSearchParams,
  pageSize?: number,
): Promise<{body: Buffer; headers: Record<string, string>}> {
  const v2 = path.join(upstream.storageDir, 'docker', 'registry', 'v2')
  const revisions = path.join(v2, 'repositories', repository, '_manifests', 'revisions', 'sha256')
  const hexes = await readdir(revisions).catch(() => [] as string[])
  const all: Record<string, unknown>[] = []
  for (const hex of hexes.sort()) {
    const bytes = await readFile(path.join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data')).catch(() => undefined)
    if (!bytes) continue
    let doc: {mediaType?: string; artifactType?: string; config?: {mediaType?: string}; subject?: {digest?: string}; annotations?: Record<string, string>}
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc
    } catch {
      continue
    }
    if (doc.subject?.digest !== digest) continue
    all.push({
      mediaType: doc.mediaType,
      digest: `sha256:${hex}`,
      size: bytes.length,
      artifactType: doc.artifactType ?? doc.config?.mediaType,
      ...(doc.annotations ? {annotations: doc.annotations} : {}),
    })
  }
  const wanted = query.get('artifactType')
  const filtered = wanted ? all.filter((entry) => entry.artifactType === wanted) : all
  const headers: Record<string, string> = wanted ? {'oci-filters-applied': 'artifactType'} : {}
  const start = Number(query.get('last') ?? 0)
  const page = pageSize ? filtered.slice(start, start + pageSize) : filtered
  if (pageSize && start + pageSize < filtered.length) {
    const next = new URLSearchParams(query)
    next.set('last', String(start + pageSize))
    headers.link = `</v2/${repository}/referrers/${digest}?${next.toString()}>; rel="next"`
  }
  return {body: Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: OCI_INDEX, manifests: page})), headers}
}
