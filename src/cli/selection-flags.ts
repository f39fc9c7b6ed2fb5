import {Flags} from '@oclif/core'

import {ConfigError} from '../errors.js'
import type {InputFiles} from '../inputs.js'
import type {Selection} from '../settings.js'
import {parsePlatforms} from '../select/platforms.js'
import {compileSelection, type TagSelection} from '../select/tags.js'

const SELECTION = 'SELECTION'

/** What `transfer` and `verify` select beyond the rules: versions, platforms, flattened paths. */
export const selectionFlags = {
  semver: Flags.string({
    description: 'copy only listed tags that are versions in this npm semver range (">=1.2 <2", "^1.4"; a leading v is allowed; other tags are left out)',
    helpGroup: SELECTION,
  }),
  latest: Flags.integer({
    description: 'copy only the N highest versions among the listed tags (semver order; other tags are left out)',
    min: 1,
    helpGroup: SELECTION,
  }),
  platform: Flags.string({
    description:
      'copy only these platforms of a multi-platform index (linux/amd64,linux/arm64; linux/arm matches every variant); the destination gets a new index of just them',
    multiple: true,
    helpGroup: SELECTION,
  }),
  flatten: Flags.boolean({
    description:
      'destinations without multi-level paths: rules without a destination join the whole source path (team/sub/app → NS/team-sub-app); explicit ones keep their first component and join the rest',
    default: false,
    helpGroup: SELECTION,
  }),
  'flatten-separator': Flags.string({
    description: 'what --flatten joins path components with',
    aliases: ['flattenSeparator'],
    default: '-',
    helpGroup: SELECTION,
  }),
}

/** Flags that change what a run does to the destination (transfer only). */
export const planFlags = {
  'dry-run': Flags.boolean({
    aliases: ['dryRun'],
    description: 'list every job that would run (source digest → destination, or why it is skipped) and write nothing to any destination',
    default: false,
  }),
  deep: Flags.boolean({
    description: 'for a tag already at the same digest, also check every child manifest and blob at the destination and copy what is missing',
    default: false,
  }),
}

export interface SelectionFlagValues {
  semver?: string
  latest?: number
  platform?: string[]
  flatten: boolean
  'flatten-separator': string
}

/** Engine and rule-loading settings from the flags; a bad value is a ConfigError naming its flag. */
export function selectionSettings(flags: SelectionFlagValues): Pick<Selection, 'tagSelection' | 'platforms'> & Pick<InputFiles, 'flatten'> {
  const tagSelection: TagSelection = {}
  if (flags.semver !== undefined) tagSelection.semver = flags.semver
  if (flags.latest !== undefined) tagSelection.latest = flags.latest
  compileSelection(tagSelection) // fails here, before any request, with the flag's name
  const platforms = flags.platform ? parsePlatforms(flags.platform) : undefined
  if (flags.platform && platforms!.length === 0) throw new ConfigError('--platform lists no platform')
  return {
    ...(Object.keys(tagSelection).length > 0 ? {tagSelection} : {}),
    ...(platforms ? {platforms} : {}),
    ...(flags.flatten ? {flatten: flags['flatten-separator']} : {}),
  }
}
