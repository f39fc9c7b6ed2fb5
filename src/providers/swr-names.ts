import {createHmac} from 'node:crypto'

/**
 * Huawei SWR's own rules, stricter than the distribution grammar (names.ts), and the names SWR
 * derives from a region. Pure: no I/O.
 */

/** The public registry of a region; pushes and pulls go here, the management API elsewhere. */
export function swrRegistryHost(region: string): string {
  return `swr.${region}.myhuaweicloud.com`
}

/** The region of `swr.<region>.myhuaweicloud.com`, or undefined for any other host. */
export function swrRegionOf(host: string): string | undefined {
  return /^swr\.([a-z0-9]+(?:-[a-z0-9]+)*)\.myhuaweicloud\.com(?::443)?$/.exec(host.trim().toLowerCase())?.[1]
}

export const ORGANIZATION_MAX = 64
export const SWR_REPOSITORY_MAX = 128

/**
 * An organization: a lowercase letter first, then lowercase letters, digits and the separators
 * `.`, `_`, `-`, never two separators side by side except `__`, a letter or digit last.
 */
const ORGANIZATION = /^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$/
/** A repository below the organization: the same separators plus `/`, and a digit may come first. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[./_-]|__)[a-z0-9]+)*$/

export const ORGANIZATION_RULE =
  "an SWR organization is 1-64 characters: a lowercase letter first, then a-z 0-9 '.' '_' '-' (at most two '_' in a row, no two separators side by side), a letter or digit last"
export const SWR_REPOSITORY_RULE =
  "an SWR repository is 1-128 characters of a-z 0-9 '.' '_' '-' '/' (at most two '_' in a row, no two separators side by side), a letter or digit first and last"

/** What SWR would refuse in `organization/repository…`, as a phrase naming the rule; undefined when SWR takes it. */
export function swrNameProblem(path: string): string | undefined {
  const slash = path.indexOf('/')
  if (slash <= 0) return 'has no organization: SWR needs organization/repository (put it under one with --toNamespace or --namespace)'
  const organization = path.slice(0, slash)
  const repository = path.slice(slash + 1)
  if (organization.length > ORGANIZATION_MAX || !ORGANIZATION.test(organization)) return `organization "${organization}": ${ORGANIZATION_RULE}`
  if (repository.length > SWR_REPOSITORY_MAX || !REPOSITORY.test(repository)) return `repository "${repository}": ${SWR_REPOSITORY_RULE}`
  return undefined
}

/** `organization/repository…` split where SWR splits it: the first component is the organization. */
export function splitSwrPath(path: string): {organization: string; repository: string} {
  const slash = path.indexOf('/')
  return {organization: path.slice(0, slash), repository: path.slice(slash + 1)}
}

/** The management API writes a `/` inside a repository name as `$` in its URL paths. */
export function apiRepositoryName(repository: string): string {
  return repository.replaceAll('/', '$')
}

/**
 * The long-term registry login SWR documents for an AK/SK pair: user `<region>@<AK>`, password
 * the hex HMAC-SHA256 of the AK keyed with the SK. Computed here, so no API call is made and
 * nothing expires while the key lives.
 */
export function swrLogin(region: string, ak: string, sk: string): {username: string; password: string} {
  return {username: `${region}@${ak}`, password: createHmac('sha256', sk).update(ak).digest('hex')}
}
