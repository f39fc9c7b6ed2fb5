/** What the suggestion needs of a flag's definition (oclif's own fields). */
export interface FlagSpec {
  name: string
  aliases?: readonly string[]
  char?: string
  hidden?: boolean
}

/** Edit distance (insert, delete, substitute one character). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

// Case and dashes are where kebab and camel spellings differ: `--rule-file` is `--ruleFile` mistyped, not 2 edits away.
const fold = (name: string) => name.toLowerCase().replace(/[-_]/g, '')

/**
 * The flag `typed` (as written: `--ruleFle`, `--ruleFle=x`, `--no-quiet`) most likely meant, by its
 * primary name, or undefined when none is near enough to be worth saying (more than a third of
 * the name changed, or 2 edits in a short one). Pure.
 */
export function closestFlag(typed: string, flags: readonly FlagSpec[]): string | undefined {
  const word = fold(typed.replace(/^-+/, '').replace(/=.*$/, ''))
  let best: {name: string; distance: number} | undefined
  for (const flag of flags) {
    if (flag.hidden) continue
    for (const name of [flag.name, ...(flag.aliases ?? [])]) {
      const distance = editDistance(word, fold(name))
      if (!best || distance < best.distance) best = {name: flag.name, distance}
    }
  }
  if (!best || best.distance > Math.max(2, Math.floor(word.length / 3))) return undefined
  return best.name
}

/** One line for flags the command does not have, with the nearest of each. Pure. */
export function unknownFlagsMessage(typed: readonly string[], flags: readonly FlagSpec[], command: string): string {
  const parts = typed.map((flag) => {
    const near = closestFlag(flag, flags)
    return near ? `${flag} (did you mean --${near}?)` : flag
  })
  return `unknown flag${typed.length === 1 ? '' : 's'} ${parts.join(', ')}; "${command} --help" lists every flag`
}
