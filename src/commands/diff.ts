import {Flags} from '@oclif/core'

import {engineFlags, engineSettings} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {debugObserver} from '../cli/run-command.js'
import {selectionFlags, selectionSettings} from '../cli/selection-flags.js'
import {abortOnStopSignals} from '../cli/stop-signals.js'
import {exitWithUserError} from '../cli/user-error.js'
import type {LockDiff} from '../engine/lock-diff.js'
import {FerryError} from '../errors.js'
import {diff} from '../from-files.js'
import {formatLockChange} from '../lock.js'
import {createLogger} from '../report/logger.js'
import Transfer, {inputFiles} from './transfer.js'

// The inputs as transfer reads them; a diff reads tags, so copy and output settings do not apply.
const {images, config, format, registry, ns} = Transfer.flags
const {securityFile, routines, qps, 'include-tags': includeTags, 'exclude-tags': excludeTags, log, debug} = engineFlags
const INPUTS = ['ruleFile', 'images', 'config']
const {semver, latest, flatten, 'flatten-separator': flattenSeparator} = selectionFlags

export default class Diff extends FerryCommand {
  static override summary = 'What moved at the sources since a lock file: one line per tag that moved, went or is new.'

  static override description = `Lists the rules' source tags as transfer would (same files, filters and credentials), asks
each source for the digest its tag points at now, and compares with --lock-file:
  moved SOURCE LOCKED → NOW    gone SOURCE LOCKED    new SOURCE NOW
Exits 0 when nothing moved, 1 when something did, 2 when something could not be checked (a rule
not listed, a source not answering) or the inputs are unusable. Writes nothing.`

  static override examples = [
    '<%= config.bin %> diff --securityFile security.yaml --ruleFile rules.yaml --lock-file ferry.lock.yaml',
    '<%= config.bin %> diff --ruleFile rules.yaml --lock-file ferry.lock.yaml --json',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({description: 'rule file, as for transfer (any rules format; see --format)', exactlyOne: INPUTS}),
    images: Flags.string({description: images.description, exactlyOne: INPUTS}),
    config: Flags.string({description: config.description, exactlyOne: INPUTS}),
    format,
    registry,
    ns,
    'lock-file': Flags.string({description: 'the lock file to compare with (written by transfer --lock-file)', aliases: ['lockFile'], required: true}),
    securityFile,
    routines,
    qps,
    'include-tags': includeTags,
    'exclude-tags': excludeTags,
    semver,
    latest,
    flatten,
    'flatten-separator': flattenSeparator,
    log,
    quiet: Flags.boolean({description: 'only the changes and the count; no progress lines', default: false}),
    debug,
  }

  async run(): Promise<LockDiff> {
    const {flags} = await this.parse(Diff)
    const logger = createLogger({logFile: flags.log, quiet: flags.quiet, json: this.jsonEnabled()})
    const stop = abortOnStopSignals()
    let result: LockDiff
    try {
      const {platforms: _platforms, ...selection} = selectionSettings({...flags, platform: undefined})
      result = await diff({
        ...engineSettings({...flags, retry: 0, 'tag-exist-overridden': true}),
        ...selection,
        lockFile: flags['lock-file'],
        ...inputFiles(flags),
        logger,
        signal: stop.signal,
        ...(flags.debug ? {observer: debugObserver(logger)} : {}),
      })
    } catch (error) {
      if (!FerryError.is(error)) throw error
      exitWithUserError(this, error.message)
    } finally {
      stop.release()
    }
    for (const failure of result.notChecked) logger.warn(`not checked: ${failure.message}`)
    for (const change of result.changes) logger.result(formatLockChange(change))
    const count = (kind: string) => result.changes.filter((change) => change.kind === kind).length
    logger.result(
      `${count('moved')} moved, ${count('gone')} gone, ${count('new')} new, ` +
        (count('referrers') > 0 ? `${count('referrers')} with other referrers, ` : '') +
        `${result.unchanged} unchanged` +
        (result.notChecked.length > 0 ? `, ${result.notChecked.length} not checked` : ''),
    )
    process.exitCode = result.notChecked.length > 0 ? 2 : result.changes.length > 0 ? 1 : 0
    return result
  }
}
