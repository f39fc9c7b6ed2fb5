/**
 * WWW-Authenticate parsing (RFC 7235 shape, as registries send it). Pure.
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`
 */
export interface Challenge {
  scheme: string
  params: Record<string, string>
}

export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return []
  const challenges: Challenge[] = []
  let i = 0
  const text = header
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++
  }
  while (i < text.length) {
    skipSpace()
    const schemeMatch = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*/.exec(text.slice(i))
    if (!schemeMatch) break
    const current: Challenge = {scheme: schemeMatch[0].toLowerCase(), params: {}}
    challenges.push(current)
    i += schemeMatch[0].length
    // params: name=value or name="quoted, value", separated by commas, until the next scheme
    for (;;) {
      skipSpace()
      const nameMatch = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(text.slice(i))
      if (!nameMatch) break
      i += nameMatch[0].length
      let value = ''
      if (text[i] === '"') {
        i++
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++
          value += text[i]
          i++
        }
        i++
      } else {
        const raw = /^[^,\s]*/.exec(text.slice(i))![0]
        value = raw
        i += raw.length
      }
      current.params[nameMatch[1].toLowerCase()] = value
    }
  }
  return challenges
}

/** The scope a repository operation needs, in the token server's grammar. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`
}
