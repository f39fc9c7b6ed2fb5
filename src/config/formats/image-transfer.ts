/**
 * image-transfer's rule.yaml. By default image-syncer's rule extensions are read too (each is an
 * error in image-transfer's grammar, so no image-transfer rule changes meaning); `strict` keeps to
 * image-transfer's forms alone.
 */
import {parseRules, type ParsedRules, type RuleDefaults} from '../rules.js'
import {syncerEntry} from './syncer-rules.js'

export function parseImageTransferRules(text: string, file: string, defaults: RuleDefaults, options: {strict?: boolean} = {}): ParsedRules {
  return parseRules(text, file, defaults, options.strict ? {} : {entry: syncerEntry})
}
