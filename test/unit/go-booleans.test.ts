import assert from 'node:assert/strict'
import {test} from 'node:test'

import {goStyleBooleans} from '../../src/cli/go-booleans.js'

test('Go-style boolean flags become oclif ones; everything else is left as written', () => {
  const booleans = ['ccrToTcr', 'tag-exist-overridden']
  const cases: [string[], string[]][] = [
    [['--ccrToTcr=true'], ['--ccrToTcr']],
    [['--ccrToTcr=TRUE'], ['--ccrToTcr']],
    [['--ccrToTcr=1'], ['--ccrToTcr']],
    [['--tag-exist-overridden=false'], ['--no-tag-exist-overridden']],
    [['--tag-exist-overridden=0'], ['--no-tag-exist-overridden']],
    [['--tag-exist-overridden=maybe'], ['--tag-exist-overridden=maybe']],
    [['--ccrToTcr'], ['--ccrToTcr']],
    [
      ['--routines=5', '--ruleFile=x=true'],
      ['--routines=5', '--ruleFile=x=true'],
    ],
    [['--ns=false'], ['--ns=false']],
  ]
  for (const [argv, expected] of cases) assert.deepEqual(goStyleBooleans(argv, booleans), expected, argv.join(' '))
})
