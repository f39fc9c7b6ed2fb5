/**
 * Harbor v2 API shapes and the pure functions over them: paths, paging, tags of artifacts,
 * error bodies, project names. No I/O here, so all of it is tested with tables.
 */

/** `GET /api/v2.0/projects` items (the fields ferry reads). */
export interface HarborProject {
  project_id?: number
  name: string
  /** Set for proxy-cache projects: a cache of another registry. */
  registry_id?: number | null
  metadata?: {public?: string}
}

/** `GET /api/v2.0/projects/{project}/repositories` items; `name` includes the project. */
export interface HarborRepository {
  name: string
  artifact_count?: number
}

/** `GET …/artifacts?with_tag=true` items. */
export interface HarborArtifact {
  digest?: string
  tags?: {name?: string}[] | null
}

/** Harbor's page_size maximum; larger values are rejected, not capped. */
export const MAX_PAGE_SIZE = 100

/** Harbor project names: lowercase alphanumerics separated by single `.`, `_` or `-`. */
const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/

export function projectNameProblem(name: string): string | undefined {
  if (name === '') return 'project name is empty'
  if (name.length > 255) return 'project name is longer than 255 characters'
  if (!PROJECT_NAME.test(name)) return 'a Harbor project name is lowercase letters and digits, separated by single ".", "_" or "-"'
  return undefined
}

/** `project/a/b` → project `project`, repository `a/b` (Harbor needs both). */
export function splitRepository(name: string): {project: string; repository: string} | undefined {
  const slash = name.indexOf('/')
  if (slash <= 0 || slash === name.length - 1) return undefined
  return {project: name.slice(0, slash), repository: name.slice(slash + 1)}
}

/**
 * API path of a repository. The repository part is encoded twice (`a/b` → `a%252Fb`): Harbor's
 * router decodes the path once before matching, so a single `%2F` would split the route.
 */
export function repositoryApiPath(project: string, repository: string): string {
  return `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(encodeURIComponent(repository))}`
}

/**
 * Whether another page follows. X-Total-Count is the most reliable signal (a server may return
 * fewer items than asked for), then `Link: <…>; rel="next"`, then a full page.
 */
export function hasNextPage(page: {seen: number; received: number; pageSize: number; total?: number; link?: string}): boolean {
  if (page.received === 0) return false
  if (page.total !== undefined) return page.seen < page.total
  if (page.link !== undefined) return /rel="?next"?/i.test(page.link)
  return page.received >= page.pageSize
}

/** X-Total-Count as a number, or undefined when absent or not a count. */
export function totalCount(header: string | undefined): number | undefined {
  if (header === undefined || !/^\s*\d+\s*$/.test(header)) return undefined
  return Number(header)
}

/** Tags of one page of artifacts, in order and without repeats; untagged artifacts are counted. */
export function tagsOfArtifacts(artifacts: readonly HarborArtifact[]): {tags: string[]; untagged: number} {
  const tags: string[] = []
  const seen = new Set<string>()
  let untagged = 0
  for (const artifact of artifacts) {
    const names = (artifact.tags ?? []).map((tag) => tag?.name).filter((name): name is string => typeof name === 'string' && name !== '')
    if (names.length === 0) untagged++
    for (const name of names) {
      if (seen.has(name)) continue
      seen.add(name)
      tags.push(name)
    }
  }
  return {tags, untagged}
}

/** `{"errors":[{"code":"UNAUTHORIZED","message":"…"}]}` → its first error, cut to one short line. */
export function parseHarborError(status: number, body: string): {code: string; message?: string} {
  let code = `HTTP_${status}`
  let message: string | undefined
  try {
    const parsed = JSON.parse(body) as {errors?: {code?: unknown; message?: unknown}[]; code?: unknown; message?: unknown}
    const first = Array.isArray(parsed.errors) ? parsed.errors[0] : parsed
    if (first && typeof first.code === 'string' && first.code !== '') code = first.code
    if (first && typeof first.message === 'string') message = first.message
  } catch {
    // Not JSON (a proxy's HTML page): the status says enough.
  }
  const line = message?.replace(/\s+/g, ' ').trim()
  return {code, message: line ? (line.length > 200 ? `${line.slice(0, 199)}…` : line) : undefined}
}

/** Page size from FERRY_HARBOR_PAGE_SIZE, within Harbor's limit. */
export function pageSizeFrom(value: string | undefined): number {
  const parsed = Number(value)
  if (!value || !Number.isInteger(parsed) || parsed < 1) return MAX_PAGE_SIZE
  return Math.min(parsed, MAX_PAGE_SIZE)
}

/** A list of problems as one line: the first few, then how many more. */
export function summarizeFailures(failures: readonly string[], shown = 3): string {
  const head = failures.slice(0, shown).join('; ')
  return failures.length > shown ? `${head}; and ${failures.length - shown} more` : head
}
