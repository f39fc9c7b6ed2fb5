/**
 * image-transfer is a Go program, and its users write booleans Go's way: `--ccrToTcr=true`,
 * `--tag-exist-overridden=false`. oclif's boolean flags take no value, so such arguments are
 * rewritten to `--name` and `--no-name` before parsing. Pure.
 */
export function goStyleBooleans(argv: readonly string[], booleans: readonly string[]): string[] {
  return argv.map((arg) => {
    const match = /^--([^=]+)=(.*)$/.exec(arg)
    if (!match || !booleans.includes(match[1])) return arg
    const value = match[2].toLowerCase()
    if (['true', '1', 't', 'yes'].includes(value)) return `--${match[1]}`
    if (['false', '0', 'f', 'no'].includes(value)) return `--no-${match[1]}`
    return arg // left as written, so oclif names the flag in its error
  })
}
