import assert from 'node:assert/strict'
import {test} from 'node:test'

import {goStyleBooleans, type BooleanFlagSpec} from '../../src/cli/go-booleans.js'

test('Go-style boolean flags become oclif ones, by name or alias; everything else is left as written', () => {
  const booleans: BooleanFlagSpec[] = [{name: 'ccrToTcr'}, {name: 'tag-exist-overridden', allowNo: true}, {name: 'dry-run', aliases: ['dryRun']}]
  const cases: [string[], string[]][] = [
    [['--ccrToTcr=true'], ['--ccrToTcr']],
    [['--ccrToTcr=TRUE'], ['--ccrToTcr']],
    [['--ccrToTcr=1'], ['--ccrToTcr']],
    [['--tag-exist-overridden=false'], ['--no-tag-exist-overridden']],
    [['--tag-exist-overridden=0'], ['--no-tag-exist-overridden']],
    [['--tag-exist-overridden=maybe'], ['--tag-exist-overridden=maybe']],
    [['--ccrToTcr'], ['--ccrToTcr']],
    // No --no- form: false drops the flag, and earlier mentions by any of its names (Go's last word wins).
    [
      ['--ccrToTcr=false', '--ruleFile', 'r.yaml'],
      ['--ruleFile', 'r.yaml'],
    ],
    [['--dryRun', '--quiet', '--dry-run=false'], ['--quiet']],
    [['--dryRun=true'], ['--dryRun']],
    [['--dry-run=no', '--dryRun=yes'], ['--dryRun']],
    [
      ['--routines=5', '--ruleFile=x=true'],
      ['--routines=5', '--ruleFile=x=true'],
    ],
    [['--ns=false'], ['--ns=false']],
    // After `--` nothing is a flag.
    [
      ['--', '--dryRun=true'],
      ['--', '--dryRun=true'],
    ],
  ]
  for (const [argv, expected] of cases) assert.deepEqual(goStyleBooleans(argv, booleans), expected, argv.join(' '))
})
