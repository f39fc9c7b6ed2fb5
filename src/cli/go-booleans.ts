/** What `goStyleBooleans` needs of a boolean flag's definition (oclif's own fields). */
export interface BooleanFlagSpec {
  name: string
  aliases?: readonly string[]
  /** oclif accepts `--no-NAME` only for these. */
  allowNo?: boolean
}

const TRUE = ['true', '1', 't', 'yes']
const FALSE = ['false', '0', 'f', 'no']

/**
 * image-transfer is a Go program, and its users write booleans Go's way: `--ccrToTcr=true`,
 * `--tag-exist-overridden=false`. oclif's boolean flags take no value, so, for every boolean flag
 * of the command (by its name or an alias), `=true` becomes `--NAME`, and `=false` `--no-NAME`
 * where oclif has that form; elsewhere `=false` drops the flag, earlier mentions too, since Go's
 * last word wins. Nothing after `--` is touched; any other value is left for oclif to refuse,
 * naming the flag. Pure.
 */
export function goStyleBooleans(argv: readonly string[], booleans: readonly BooleanFlagSpec[]): string[] {
  const byName = new Map<string, BooleanFlagSpec>()
  for (const flag of booleans) for (const name of [flag.name, ...(flag.aliases ?? [])]) byName.set(name, flag)
  const out: string[] = []
  const end = argv.indexOf('--')
  for (const [index, arg] of argv.entries()) {
    const match = end !== -1 && index > end ? null : /^--([^=]+)=(.*)$/.exec(arg)
    const flag = match ? byName.get(match[1]) : undefined
    if (!match || !flag) {
      out.push(arg)
      continue
    }
    const value = match[2].toLowerCase()
    if (TRUE.includes(value)) out.push(`--${match[1]}`)
    else if (FALSE.includes(value) && flag.allowNo) out.push(`--no-${flag.name}`)
    else if (FALSE.includes(value)) {
      const names = new Set([flag.name, ...(flag.aliases ?? [])].map((name) => `--${name}`))
      for (let at = out.length - 1; at >= 0; at--) if (names.has(out[at])) out.splice(at, 1)
    } else out.push(arg)
  }
  return out
}
