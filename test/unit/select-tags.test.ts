import assert from 'node:assert/strict'
import {test} from 'node:test'

import {chainSelectors, compileSelection, highestVersions, predicateSelector, tagVersion, type TagSelection} from '../../src/select/tags.js'

const TAGS = ['v1.2.0', '1.3.0', 'v2.0.0-rc.1', 'latest', 'stable', '1.10.1', 'v1.2.1', '2.0.0']

test('tagVersion: semver.valid with an optional leading v; everything else is no version', () => {
  const cases: [string, string | undefined][] = [
    ['v1.2.0', '1.2.0'],
    ['1.3.0', '1.3.0'],
    ['v2.0.0-rc.1', '2.0.0-rc.1'],
    ['1.10.1', '1.10.1'],
    ['latest', undefined],
    ['stable', undefined],
    ['1.2', undefined],
    ['=1.2.0', undefined],
    ['V1.2.0', undefined],
    ['1.2.0+build.5', '1.2.0'],
  ]
  for (const [tag, version] of cases) assert.equal(tagVersion(tag), version, tag)
})

test('compileSelection: include → exclude → semver → latest, in listing order', () => {
  const cases: [TagSelection, string[]][] = [
    [{}, TAGS],
    [{include: ['^v']}, ['v1.2.0', 'v2.0.0-rc.1', 'v1.2.1']],
    [{exclude: ['rc', 'latest']}, ['v1.2.0', '1.3.0', 'stable', '1.10.1', 'v1.2.1', '2.0.0']],
    [{semver: '>=1.2 <2'}, ['v1.2.0', '1.3.0', '1.10.1', 'v1.2.1']],
    // Prereleases only when the range names one of the same major.minor.patch (semver's rule).
    [{semver: '>=2.0.0-rc.0'}, ['v2.0.0-rc.1', '2.0.0']],
    [{semver: '^2'}, ['2.0.0']],
    [{semver: '*'}, ['v1.2.0', '1.3.0', '1.10.1', 'v1.2.1', '2.0.0']],
    [{latest: 2}, ['v2.0.0-rc.1', '2.0.0']],
    [{latest: 3, exclude: ['-']}, ['1.3.0', '1.10.1', '2.0.0']],
    [{semver: '1.x', latest: 2}, ['1.3.0', '1.10.1']],
    [{include: ['^v'], semver: '<2', latest: 1}, ['v1.2.1']],
    [{latest: 100}, ['v1.2.0', '1.3.0', 'v2.0.0-rc.1', '1.10.1', 'v1.2.1', '2.0.0']],
    [{include: ['nothing']}, []],
  ]
  for (const [selection, expected] of cases) {
    const selector = compileSelection(selection)
    const chosen = selector ? selector.choose(TAGS) : TAGS
    assert.deepEqual(chosen, expected, JSON.stringify(selection))
    if (selector && selection.latest === undefined) assert.deepEqual(TAGS.filter(selector.keep), expected, `keep ${JSON.stringify(selection)}`)
    assert.equal(selector?.needsAll ?? false, selection.latest !== undefined)
  }
  assert.equal(compileSelection({}), undefined)
  assert.equal(compileSelection(undefined), undefined)
})

test('compileSelection: bad settings name the flag', () => {
  const cases: [TagSelection, RegExp][] = [
    [{semver: 'not a range'}, /^--semver "not a range" is not a semver range/],
    [{latest: 0}, /^--latest 0 is not a whole number of versions/],
    [{latest: 1.5}, /^--latest 1.5 is not/],
    [{include: ['(']}, /^--includeTags "\(" is not a regular expression/],
    [{exclude: ['[']}, /^--excludeTags "\[" is not a regular expression/],
  ]
  for (const [selection, message] of cases) {
    assert.throws(
      () => compileSelection(selection),
      (error: Error & {code?: string}) => error.code === 'INVALID_CONFIG' && message.test(error.message),
      JSON.stringify(selection),
    )
  }
})

test('highestVersions: semver order, not text order; both spellings of one version kept', () => {
  assert.deepEqual(highestVersions(['1.9.0', '1.10.0', '1.2.0'], 1), ['1.10.0'])
  assert.deepEqual(highestVersions(['v1.0.0', '1.0.0', '0.9.0'], 1), ['v1.0.0', '1.0.0'])
  assert.deepEqual(highestVersions(['2.0.0-rc.1', '2.0.0', '1.0.0'], 2), ['2.0.0-rc.1', '2.0.0'])
  assert.deepEqual(highestVersions([], 3), [])
})

test('chainSelectors: the run first, then the rule; streaming only when no stage needs the list', () => {
  const run = compileSelection({latest: 3})
  const rule = compileSelection({include: ['^v']})
  const chained = chainSelectors(
    predicateSelector((tag) => tag !== '2.0.0'),
    run,
    rule,
  )!
  assert.equal(chained.needsAll, true)
  // Without 2.0.0, the three highest are v2.0.0-rc.1, 1.10.1, 1.3.0; of those, the rule keeps the v one.
  assert.deepEqual(chained.choose(TAGS), ['v2.0.0-rc.1'])
  const streaming = chainSelectors(undefined, compileSelection({semver: '<2'}), rule)!
  assert.equal(streaming.needsAll, false)
  assert.deepEqual(TAGS.filter(streaming.keep), ['v1.2.0', 'v1.2.1'])
  assert.equal(chainSelectors(undefined, undefined), undefined)
})
