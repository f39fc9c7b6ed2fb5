import assert from 'node:assert/strict'
import {test} from 'node:test'

import {closestFlag, editDistance, unknownFlagsMessage, type FlagSpec} from '../../src/cli/flag-suggestion.js'

test('editDistance counts inserts, deletes and substitutions', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['rulefile', 'rulefile', 0],
    ['rulefle', 'rulefile', 1],
    ['tranfser', 'transfer', 2],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ]
  for (const [a, b, distance] of cases) assert.equal(editDistance(a, b), distance, `${a} → ${b}`)
})

const FLAGS: FlagSpec[] = [
  {name: 'ruleFile'},
  {name: 'securityFile', aliases: ['auth']},
  {name: 'dry-run', aliases: ['dryRun']},
  {name: 'include-tags', aliases: ['includeTags']},
  {name: 'retry', aliases: ['retries']},
  {name: 'secret', hidden: true},
]

test('closestFlag: the primary name of the nearest flag, case and dashes aside; none when far', () => {
  const cases: [string, string | undefined][] = [
    ['--ruleFle', 'ruleFile'],
    ['--rule-file', 'ruleFile'],
    ['--RULEFILE=x.yaml', 'ruleFile'],
    ['--dryrun', 'dry-run'],
    ['--dry_run', 'dry-run'],
    ['--includeTag', 'include-tags'],
    ['--retrys', 'retry'],
    ['--auht', 'securityFile'],
    ['--secret', undefined], // hidden flags are not suggested
    ['--zzzzzzzz', undefined],
    ['--x', undefined],
  ]
  for (const [typed, expected] of cases) assert.equal(closestFlag(typed, FLAGS), expected, typed)
})

test('unknownFlagsMessage: one line, each unknown flag with its nearest', () => {
  assert.equal(
    unknownFlagsMessage(['--ruleFle'], FLAGS, 'ferry transfer'),
    'unknown flag --ruleFle (did you mean --ruleFile?); "ferry transfer --help" lists every flag',
  )
  assert.equal(
    unknownFlagsMessage(['--ruleFle', '--zzzzzzzz'], FLAGS, 'ferry verify'),
    'unknown flags --ruleFle (did you mean --ruleFile?), --zzzzzzzz; "ferry verify --help" lists every flag',
  )
})
