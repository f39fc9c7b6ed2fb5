/**
 * image-migrator's `config`: the images a cluster's workloads use, as a rule file that copies each
 * to one registry/namespace. Pure: the objects come from src/config/formats/k8s-cluster.ts.
 */
import {ConfigError} from '../../errors.js'
import {formatReference, parseReference, parseRepositoryAndTags, quote} from '../../reference.js'
import {checkDefaults, defaultDestination} from '../rules.js'
import {isPlainMap} from '../yaml.js'

export const WORKLOAD_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number]

export interface Workload {
  kind: WorkloadKind
  namespace: string
  name: string
  /** The object as the API returned it. */
  object: unknown
}

export interface ClusterImage {
  /** `registry/repository[:tag][@digest]`, normalized; `:latest` made explicit as the kubelet reads it. */
  reference: string
  /** `namespace/Kind/name` of each workload using it. */
  usedBy: string[]
}

export interface CollectedImages {
  images: ClusterImage[]
  /** Image strings that are not references, with the workload using them. */
  problems: string[]
}

/** The pod template of a workload: a Pod's own spec, a CronJob's job template's, the others' template. */
function podSpecOf(kind: WorkloadKind, object: unknown): Record<string, unknown> | undefined {
  const path = kind === 'Pod' ? ['spec'] : kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template', 'spec'] : ['spec', 'template', 'spec']
  let node: unknown = object
  for (const step of path) node = isPlainMap(node) ? node[step] : undefined
  return isPlainMap(node) ? node : undefined
}

export function imagesOf(workload: Workload): string[] {
  const spec = podSpecOf(workload.kind, workload.object)
  if (!spec) return []
  const images: string[] = []
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    const containers = spec[list]
    if (!Array.isArray(containers)) continue
    for (const container of containers) {
      if (isPlainMap(container) && typeof container.image === 'string' && container.image.trim() !== '') images.push(container.image.trim())
    }
  }
  return images
}

/** De-duplicated by what the kubelet would pull (`nginx` = `docker.io/library/nginx:latest`), sorted. */
export function collectImages(workloads: Iterable<Workload>): CollectedImages {
  const byReference = new Map<string, Set<string>>()
  const problems: string[] = []
  for (const workload of workloads) {
    const where = `${workload.namespace}/${workload.kind}/${workload.name}`
    for (const image of imagesOf(workload)) {
      let reference: string
      try {
        const ref = parseReference(image)
        if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest'
        reference = formatReference(ref)
      } catch (error) {
        problems.push(`${where}: image ${quote(image)} left out: ${(error as Error).message}`)
        continue
      }
      const users = byReference.get(reference) ?? new Set<string>()
      users.add(where)
      byReference.set(reference, users)
    }
  }
  const images = [...byReference.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([reference, users]) => ({reference, usedBy: [...users].sort()}))
  return {images, problems}
}

/** `-t registry/namespace`: where every image goes (rule case 6's registry and namespace). */
export function parseTarget(target: string): {registry: string; namespace?: string} {
  const text = target
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '')
  const slash = text.indexOf('/')
  const registry = slash < 0 ? text : text.slice(0, slash)
  const namespace = slash < 0 ? undefined : text.slice(slash + 1)
  if (registry === '') throw new ConfigError(`--target ${quote(target)} names no registry; give registry/namespace`)
  const checked = checkDefaults({registry, namespace})
  return {registry: checked.registry!, ...(checked.namespace === undefined ? {} : {namespace: checked.namespace})}
}

/** An image-transfer rule file: one `source: destination` a line, the workloads using it above it. */
export function k8sRuleFile(collected: CollectedImages, target: {registry: string; namespace?: string}, header: string[] = []): string {
  const defaults = checkDefaults(target)
  const out = header.map((line) => `# ${line}`)
  for (const problem of collected.problems) out.push(`# ${problem}`)
  if (out.length > 0) out.push('')
  for (const image of collected.images) {
    const source = parseRepositoryAndTags(image.reference)
    const destination = defaultDestination(source, defaults)
    const shown = image.usedBy.slice(0, 3).join(', ') + (image.usedBy.length > 3 ? ` and ${image.usedBy.length - 3} more` : '')
    out.push(`# ${shown}`)
    out.push(`${image.reference}: ${formatReference(destination)}`)
  }
  return `${out.join('\n')}\n`
}
