import assert from 'node:assert/strict'
import {test} from 'node:test'

import {repositoryFilter, tagFilter} from '../../src/select/filters.js'

test('tagFilter: include searches, exclude wins, none means everything', () => {
  const tags = ['v1.2.0', 'v1.3.0-rc.1', 'latest', 'v2.0.0', 'nightly-2026']
  const cases: [Parameters<typeof tagFilter>[0], string[]][] = [
    [{include: ['^v1\\.']}, ['v1.2.0', 'v1.3.0-rc.1']],
    [{include: ['rc']}, ['v1.3.0-rc.1']],
    [{exclude: ['rc', 'nightly']}, ['v1.2.0', 'latest', 'v2.0.0']],
    [{include: ['^v'], exclude: ['-rc']}, ['v1.2.0', 'v2.0.0']],
    [{include: ['latest', '^v2']}, ['latest', 'v2.0.0']],
  ]
  for (const [options, expected] of cases) assert.deepEqual(tags.filter(tagFilter(options)!), expected, JSON.stringify(options))
  assert.equal(tagFilter({}), undefined)
  assert.throws(
    () => tagFilter({include: ['(']}),
    (error: Error & {code?: string}) => error.code === 'INVALID_CONFIG' && /--includeTags "\(" is not a regular expression/.test(error.message),
  )
})

test('repositoryFilter: * within a component, ** across', () => {
  const repositories = ['team/app', 'team/sub/app', 'teamwork/app', 'other/app', 'solo']
  const cases: [string[], string[]][] = [
    [['team/*'], ['team/app']],
    [['team/**'], ['team/app', 'team/sub/app']],
    [['*/app'], ['team/app', 'teamwork/app', 'other/app']],
    [['**/app'], ['team/app', 'team/sub/app', 'teamwork/app', 'other/app']],
    [
      ['solo', 'other/*'],
      ['other/app', 'solo'],
    ],
    [['te?m/app'], ['team/app']],
    [['team.app'], []],
  ]
  for (const [globs, expected] of cases) assert.deepEqual(repositories.filter(repositoryFilter(globs)!), expected, globs.join(' '))
  assert.equal(repositoryFilter([]), undefined)
})
