// A deterministic population of images for bulk-copy tests: the same options
// give the same repositories, tags and digests on every run.
import {randomLayer} from './blobs.js'
import type {Endpoint} from './http.js'
import {
  DEFAULT_PLATFORMS,
  pushBuiltImage,
  buildImage,
  pushIndex,
  putManifest,
  type Flavour,
  type Platform,
  type PushedImage,
  type PushedIndex,
} from './images.js'

export interface CorpusOptions {
  /** How many repositories (names from a fixed pool), or explicit names. Default 4. */
  repositories?: number | string[]
  /** Default 3; tags are 1.0.0, 1.1.0, … */
  tagsPerRepo?: number
  /** Bytes of random content per layer; default 2048. */
  layerSize?: number
  /** Changes every digest; default 'ferry'. */
  seed?: string
  /** Every Nth image is a multi-platform index; 0 disables. Default 3. */
  indexEvery?: number
  platforms?: ReadonlyArray<Platform | string>
  /** Also tag each repository's last image `latest` (two tags, one digest). Default false. */
  aliasLatest?: boolean
}

export interface CorpusEntry {
  repository: string
  tag: string
  digest: string
  mediaType: string
  kind: 'image' | 'index'
  flavour: Flavour
  pushed: PushedImage | PushedIndex
}

export interface Corpus {
  repositories: string[]
  /** One entry per tag, in push order. */
  entries: CorpusEntry[]
  /** Every distinct blob digest pushed (configs and layers). */
  blobDigests: string[]
  tags(repository: string): string[]
}

// Nested paths of several depths, because registries and layout writers
// differ on multi-level names.
const NAME_POOL = ['team/app-0', 'a/b/c', 'library/base', 'team/app-3', 'deep/x/y/z-4', 'solo-5', 'team/sub/app-6', 'tools/cli-7']

export function corpusRepositoryNames(count: number): string[] {
  return Array.from({length: count}, (_, k) => NAME_POOL[k] ?? `team/app-${k}`)
}

/**
 * Pushes the corpus. Layer sharing: one base layer is in every image (Docker
 * and OCI alike, so one blob is referenced under two media types), one layer
 * per repository is shared by its tags, and one layer is unique per image.
 * Flavours alternate image by image.
 */
export async function seedCorpus(registry: Endpoint, options: CorpusOptions = {}): Promise<Corpus> {
  const seed = options.seed ?? 'ferry'
  const size = options.layerSize ?? 2048
  const tagsPerRepo = options.tagsPerRepo ?? 3
  const indexEvery = options.indexEvery ?? 3
  const platforms = options.platforms ?? DEFAULT_PLATFORMS
  const repositories = Array.isArray(options.repositories) ? options.repositories : corpusRepositoryNames(options.repositories ?? 4)

  const base = randomLayer(size, `${seed}:base`)
  const entries: CorpusEntry[] = []
  const blobs = new Set<string>()
  let n = 0
  for (const repository of repositories) {
    const repoLayer = randomLayer(size, `${seed}:${repository}`)
    let last: CorpusEntry | undefined
    for (let j = 0; j < tagsPerRepo; j++, n++) {
      const tag = `1.${j}.0`
      const flavour: Flavour = n % 2 === 0 ? 'docker' : 'oci'
      const isIndex = indexEvery > 0 && n % indexEvery === indexEvery - 1
      const pushed = isIndex
        ? await pushIndex(registry, repository, tag, platforms, flavour, {
            layerSize: size,
            seed: `${seed}:${repository}:${tag}`,
            sharedLayer: base,
          })
        : await pushBuiltImage(
            registry,
            repository,
            tag,
            buildImage({
              flavour,
              layers: [base, repoLayer, randomLayer(size, `${seed}:${repository}:${tag}`)],
              labels: {'org.ferry.test.ref': `${repository}:${tag}`},
            }),
          )
      for (const b of pushed.blobs) blobs.add(b.digest)
      last = {repository, tag, digest: pushed.digest, mediaType: pushed.mediaType, kind: pushed.kind, flavour, pushed}
      entries.push(last)
    }
    if (options.aliasLatest && last !== undefined) {
      await putManifest(registry, repository, 'latest', {manifest: last.pushed.manifest, mediaType: last.mediaType, digest: last.digest})
      entries.push({...last, tag: 'latest'})
    }
  }
  return {
    repositories: [...repositories],
    entries,
    blobDigests: [...blobs],
    tags: (repository) => entries.filter((e) => e.repository === repository).map((e) => e.tag),
  }
}
