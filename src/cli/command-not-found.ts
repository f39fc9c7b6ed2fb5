import {toConfiguredId, type Hook} from '@oclif/core'

import {editDistance} from './flag-suggestion.js'

/**
 * `ferry tranfser`: on a terminal, @oclif/plugin-not-found asks "Did you mean transfer?" and runs
 * it; anywhere else (a script, CI) it would only say the command does not exist, so this says which
 * one is nearest, in one line, and exits 127 as a shell does for an unknown command.
 */
const hook: Hook.CommandNotFound = async function (options) {
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const {default: ask} = await import('@oclif/plugin-not-found')
    return ask.call(this, options)
  }
  const {config} = options
  const ids = config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases])
  const nearest = ids
    .map((id) => ({id, distance: editDistance(options.id, id)}))
    .sort((a, b) => a.distance - b.distance)
    .find((candidate) => candidate.distance <= Math.max(2, Math.floor(options.id.length / 3)))
  const typed = toConfiguredId(options.id, config)
  const hint = nearest ? `did you mean "${config.bin} ${toConfiguredId(nearest.id, config)}"? ` : ''
  process.stderr.write(`Error: "${typed}" is not a ${config.bin} command; ${hint}("${config.bin} help" lists them)\n`)
  return this.exit(127)
}

export default hook
