// An independent check of an OCI image layout on disk (not a test file itself): index.json
// parses, every blob file hashes to its name, and every image an entry names is whole.
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'

export interface LayoutState {
  entries: Array<{mediaType: string; digest: string; size: number; annotations?: Record<string, string>}>
  blobs: number
  /** Files under the layout that are not part of it (a killed writer's leftovers). */
  strays: string[]
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return `sha256:${hash.digest('hex')}`
}

export async function checkLayout(root: string): Promise<LayoutState> {
  const top = await readdir(root)
  const strays = top.filter((name) => !['oci-layout', 'index.json', 'blobs', 'backup.json', 'ferry.lock.yaml'].includes(name))
  const blobDir = path.join(root, 'blobs', 'sha256')
  const names = await readdir(blobDir)
  const present = new Set<string>()
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name)) {
      strays.push(path.join('blobs', 'sha256', name))
      continue
    }
    const digest = await fileDigest(path.join(blobDir, name))
    if (digest !== `sha256:${name}`) throw new Error(`blobs/sha256/${name} holds content ${digest}`)
    present.add(`sha256:${name}`)
  }
  let entries: LayoutState['entries'] = []
  const indexText = await readFile(path.join(root, 'index.json'), 'utf8').catch(() => undefined)
  if (indexText !== undefined) entries = JSON.parse(indexText).manifests
  const need = (digest: string, what: string) => {
    if (!present.has(digest)) throw new Error(`${what} names ${digest}, which is not in blobs/`)
  }
  const walk = async (digest: string, what: string): Promise<void> => {
    need(digest, what)
    const doc = JSON.parse(await readFile(path.join(blobDir, digest.slice(7)), 'utf8'))
    if (Array.isArray(doc.manifests)) {
      for (const child of doc.manifests) await walk(child.digest, `${what} → ${child.digest}`)
      return
    }
    need(doc.config.digest, `${what} config`)
    for (const layer of doc.layers) need(layer.digest, `${what} layer`)
  }
  for (const entry of entries) await walk(entry.digest, entry.annotations?.['org.opencontainers.image.ref.name'] ?? entry.digest)
  return {entries, blobs: present.size, strays}
}
