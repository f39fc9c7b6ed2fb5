import {Command, type Interfaces} from '@oclif/core'

import {unknownFlagsMessage, type FlagSpec} from './flag-suggestion.js'
import {goStyleBooleans, type BooleanFlagSpec} from './go-booleans.js'
import {exitWithUserError} from './user-error.js'

/** A parse error oclif would answer with the whole usage (nonexistent flag, unexpected or missing argument). */
interface UsageError extends Error {
  showHelp: boolean
  flags?: string[]
}

/** oclif's FlagOutput and ArgOutput, which it does not export. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Output = {[name: string]: any}

const isUsageError = (error: unknown): error is UsageError => error instanceof Error && (error as Partial<UsageError>).showHelp === true

/** "Missing 1 required arg:" and the list under it, as "Missing 1 required arg: layout". */
function firstLine(message: string): string {
  const [head = '', next] = message.split('\n').map((line) => line.trim())
  return head.endsWith(':') && next ? `${head} ${next.split(/\s{2,}/)[0]}` : head
}

/**
 * The base of ferry's commands: every boolean flag also takes Go's `--name=true|false`, and a
 * command line oclif cannot parse is one line naming what is wrong (with the nearest flag for a
 * mistyped one), exit 2, instead of the whole usage.
 */
export abstract class FerryCommand extends Command {
  protected override async parse<F extends Output, B extends Output, A extends Output>(
    options?: Interfaces.Input<F, B, A>,
    argv: string[] = this.argv,
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const input = options ?? (this.ctor as unknown as Interfaces.Input<F, B, A>)
    const flags: (FlagSpec & BooleanFlagSpec & {type?: string})[] = Object.entries({...input.baseFlags, ...input.flags}).map(([name, flag]) => ({
      ...(flag as object),
      name,
    }))
    if (input.enableJsonFlag) flags.push({name: 'json', type: 'boolean'})
    const booleans = flags.filter((flag) => flag.type === 'boolean')
    try {
      return await super.parse(options, goStyleBooleans(argv, booleans))
    } catch (error) {
      if (!isUsageError(error)) throw error
      const command = `${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''}`.trim()
      const message = error.flags ? unknownFlagsMessage(error.flags, flags, command) : `${firstLine(error.message)}; "${command} --help" shows the usage`
      return exitWithUserError(this, message)
    }
  }
}
