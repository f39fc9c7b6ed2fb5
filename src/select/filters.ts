import {ConfigError} from '../errors.js'

/** Which tags of a listed repository to copy. */
export type TagFilter = (tag: string) => boolean

/** Which repositories of an enumerated registry to copy. */
export type RepositoryFilter = (repository: string) => boolean

/**
 * --includeTags / --excludeTags: regular expressions searched in the tag (RegExp.test, so `rc`
 * matches `v1.3.0-rc.1`); a tag is kept when it matches any include (or there is none) and no
 * exclude. Pure.
 */
export function tagFilter(options: {include?: readonly string[]; exclude?: readonly string[]}): TagFilter | undefined {
  const include = (options.include ?? []).map((source) => compile(source, '--includeTags'))
  const exclude = (options.exclude ?? []).map((source) => compile(source, '--excludeTags'))
  if (include.length === 0 && exclude.length === 0) return undefined
  return (tag) => (include.length === 0 || include.some((re) => re.test(tag))) && !exclude.some((re) => re.test(tag))
}

/**
 * --repositories GLOB (repeatable): `*` stays inside one path component, `**` crosses them,
 * `?` is one character. `team/*` matches `team/app` but not `team/sub/app`; `team/**` both. Pure.
 */
export function repositoryFilter(globs: readonly string[] | undefined): RepositoryFilter | undefined {
  if (!globs || globs.length === 0) return undefined
  const patterns = globs.map(globToRegExp)
  return (repository) => patterns.some((re) => re.test(repository))
}

export function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]
    if (char === '*' && glob[i + 1] === '*') {
      out += '.*'
      i++
    } else if (char === '*') out += '[^/]*'
    else if (char === '?') out += '[^/]'
    else out += char.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${out}$`)
}

function compile(source: string, flag: string): RegExp {
  try {
    return new RegExp(source)
  } catch (error) {
    throw new ConfigError(
      `${flag} ${JSON.stringify(source)} is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`,
    )
  }
}
