import {readdir, readFile} from 'node:fs/promises'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import semver from 'semver'
import * as tar from 'tar'

/**
 * A loopback npm registry holding the production dependencies a checkout installed, so that
 * `npm install -g ferry-x.y.z.tgz` runs as users run it (npm reads the tarball's package.json,
 * resolves each range, fetches, extracts, links the bin) without the network.
 *
 * Packuments come from package-lock.json: every version the lock holds of a name, with the fields
 * npm resolves by (dependencies, optional and peer ones, os, cpu, bin, engines). Dev-only entries
 * are left out, so a module ferry imports but declares only as a devDependency fails the install
 * here as it would for a user. Each tarball is the installed folder packed on request (plain tar,
 * which npm reads as well as gzip); no integrity is announced, as those bytes are not the
 * registry's. npm's own download checks are not what this stands in for.
 */
export interface NpmRegistry {
  url: string
  /** Request paths, in order. */
  requests: string[]
  stop(): Promise<void>
}

interface LockEntry {
  version?: string
  dev?: boolean
  link?: boolean
  [field: string]: unknown
}

const VERSION_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'os', 'cpu', 'bin', 'engines', 'license']

export async function startNpmRegistry(checkout: string): Promise<NpmRegistry> {
  const lock = JSON.parse(await readFile(path.join(checkout, 'package-lock.json'), 'utf8')) as {packages: Record<string, LockEntry>}
  const folders: string[] = []
  const versions = new Map<string, Map<string, {folder: number; entry: LockEntry}>>()
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev || entry.link || !entry.version) continue
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)
    const known = versions.get(name) ?? new Map()
    versions.set(name, known)
    if (known.has(entry.version)) continue
    known.set(entry.version, {folder: folders.push(path.join(checkout, key)) - 1, entry})
  }

  const requests: string[] = []
  const server = createServer((request, response) => {
    const url = request.url ?? '/'
    requests.push(url)
    const tarball = /^\/-\/tarball\/(\d+)\.tar$/.exec(url)
    if (tarball) {
      const folder = folders[Number(tarball[1])]
      if (!folder) return notFound(response)
      readdir(folder).then(
        (names) => {
          response.writeHead(200, {'content-type': 'application/octet-stream'})
          // A package's own node_modules is npm's to fill, not part of the package.
          tar
            .create(
              {cwd: folder, prefix: 'package', portable: true},
              names.filter((n) => n !== 'node_modules'),
            )
            .pipe(response)
        },
        () => notFound(response),
      )
      return
    }
    const name = decodeURIComponent(url.slice(1).split('?')[0]!)
    const known = versions.get(name)
    if (!known) return notFound(response)
    const base = `http://${request.headers.host}`
    const packument = {
      name,
      'dist-tags': {latest: semver.rsort([...known.keys()])[0]},
      versions: Object.fromEntries(
        [...known].map(([version, {folder, entry}]) => [
          version,
          {
            name,
            version,
            ...Object.fromEntries(VERSION_FIELDS.filter((f) => entry[f] !== undefined).map((f) => [f, entry[f]])),
            dist: {tarball: `${base}/-/tarball/${folder}.tar`},
          },
        ]),
      ),
    }
    response.writeHead(200, {'content-type': 'application/json'})
    response.end(JSON.stringify(packument))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function notFound(response: import('node:http').ServerResponse): void {
  response.writeHead(404, {'content-type': 'application/json'})
  response.end('{"error":"not found"}')
}
