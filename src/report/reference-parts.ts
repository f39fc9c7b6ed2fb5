/** The parts of a reference as results print it (registry/repository:tag or @digest), for grouping and log fields. Pure. */

/** The registry: the first component. */
export function registryOf(reference: string): string {
  return reference.split('/', 1)[0]!
}

/** The repository: the path without registry, tag or digest. */
export function repositoryOf(reference: string): string {
  return splitReference(reference).repository
}

/** The tag, when the reference names one. */
export function tagOf(reference: string): string | undefined {
  return splitReference(reference).tag
}

function splitReference(reference: string): {repository: string; tag?: string} {
  const path = reference.slice(registryOf(reference).length + 1)
  const at = path.indexOf('@')
  const name = at >= 0 ? path.slice(0, at) : path
  const colon = name.lastIndexOf(':')
  return colon > name.lastIndexOf('/') ? {repository: name.slice(0, colon), tag: name.slice(colon + 1)} : {repository: name}
}
