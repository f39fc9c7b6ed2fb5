/**
 * A plain image list: one source reference a line, `#` comments, blank lines ignored. Every image
 * goes where a rule with an empty destination goes (rule case 6: --registry and --ns).
 */
import {ConfigError} from '../../errors.js'
import {quote} from '../../reference.js'
import {checkDefaults, type ParsedRules, type Rule, type RuleDefaults} from '../rules.js'
import {syncerEntry} from './syncer-rules.js'

export function parseImageList(text: string, file: string, defaults: RuleDefaults): ParsedRules {
  const checked = checkDefaults(defaults)
  if (checked.registry === undefined && checked.namespace === undefined) {
    throw new ConfigError('an image list names sources only; give the destination with --registry and --ns (or DEFAULT_REGISTRY/DEFAULT_NAMESPACE)', {file})
  }
  const rules: Rule[] = []
  const errors: ConfigError[] = []
  const warnings: string[] = []
  const firstLine = new Map<string, number>()
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, index) => {
      const line = index + 1
      // `#` never occurs in a reference, so anything after one is a comment.
      const source = raw.replace(/#.*$/s, '').trim()
      if (source === '') return
      if (/\s/.test(source)) {
        errors.push(
          new ConfigError(
            `${quote(source)} is more than one word; an image list takes one source reference a line (for source and destination pairs, write a rule file)`,
            {file, line, code: 'INVALID_RULE'},
          ),
        )
        return
      }
      const earlier = firstLine.get(source)
      if (earlier !== undefined) {
        warnings.push(`${file}:${line}: image ${quote(source)} is listed again (first on line ${earlier}); copied once`)
        return
      }
      firstLine.set(source, line)
      try {
        for (const parsed of syncerEntry(source, null, checked)) rules.push({text: source, file, line, ...parsed})
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        errors.push(new ConfigError(`image ${quote(source)}: ${error.message}`, {file, line, code: 'INVALID_RULE'}))
      }
    })
  return {rules, errors, warnings}
}
