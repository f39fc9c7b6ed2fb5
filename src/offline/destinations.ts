/**
 * Where a load sends each saved image: by --registry/--ns, or by a rule file whose sources are
 * saved references. Pure.
 */
import type {Rule} from '../config/rules.js'
import type {ImageReference} from '../reference.js'
import type {SavedReference} from '../layout/ref-name.js'

export type Destination = ImageReference

/**
 * `reg/a/b/app:v1` → `HOST/NS/app:v1` (the last path component under the namespace, as rule
 * case 6 does). Without a namespace the whole path is kept (`HOST/a/b/app:v1`): a backup
 * restored into another registry keeps its repositories apart.
 */
export function registryDestination(saved: SavedReference, registry: string, namespace: string | undefined): Destination {
  const last = saved.repository.split('/').at(-1)!
  const repository = namespace ? `${namespace}/${last}` : saved.repository
  return withReference({registry, repository}, saved)
}

/**
 * The first rule whose source names this saved image (same registry and repository, and its tag
 * among the rule's tags or the rule listing none, or the same digest). A destination without a
 * tag keeps the saved tag.
 */
export function ruleDestination(saved: SavedReference, digest: string, rules: readonly Rule[]): {destination: Destination; rule: Rule} | undefined {
  const rule = rules.find((candidate) => matches(candidate, saved, digest))
  if (!rule) return undefined
  const {registry, repository, tag} = rule.destination
  const destination = tag !== undefined ? {registry, repository, tag} : withReference({registry, repository}, saved)
  return {destination, rule}
}

export function matches(rule: Rule, saved: SavedReference, digest: string): boolean {
  const {source} = rule
  if (source.registry !== saved.registry || source.repository !== saved.repository) return false
  if (source.digest) return source.digest === digest
  if (!source.tags) return true
  return saved.tag !== undefined && source.tags.includes(saved.tag)
}

function withReference(place: {registry: string; repository: string}, saved: SavedReference): Destination {
  if (saved.tag !== undefined) return {...place, tag: saved.tag}
  return {...place, digest: saved.digest}
}
