import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {parseRules, type Rule, type RuleDefaults} from '../../src/config/rules.js'
import {expandPattern} from '../../src/rule.js'
import {flattenDestination, joinPath, mapUnderPrefix, matchesPattern, splitPattern} from '../../src/select/repository-paths.js'

const FILE = 'selection.yaml'

function only(text: string, defaults: RuleDefaults = {}): Rule {
  const {rules, errors} = parseRules(text, FILE, defaults)
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  )
  assert.equal(rules.length, 1)
  return rules[0]
}

describe('rules written as maps', () => {
  it('every key, block style', () => {
    const rule = only(
      [
        'registry.a/team/app:',
        '  target: registry.b/mirror/app',
        "  includeTags: ['^v']",
        '  excludeTags: rc',
        "  semver: '>=1.2 <2'",
        '  latest: 3',
        '  platform: [linux/amd64, linux/arm/v7]',
      ].join('\n'),
    )
    assert.deepEqual(rule.destination, {registry: 'registry.b', repository: 'mirror/app'})
    assert.deepEqual(rule.selection, {
      tags: {include: ['^v'], exclude: ['rc'], semver: '>=1.2 <2', latest: 3},
      platforms: [
        {os: 'linux', architecture: 'amd64'},
        {os: 'linux', architecture: 'arm', variant: 'v7'},
      ],
    })
  })

  it('flow style, no target: the default destination (rule case 6)', () => {
    const rule = only('registry.a/team/app: {latest: 2, platform: linux/arm64}\n', {registry: 'reg.io', namespace: 'ns'})
    assert.deepEqual(rule.destination, {registry: 'reg.io', repository: 'ns/app'})
    assert.deepEqual(rule.selection, {tags: {latest: 2}, platforms: [{os: 'linux', architecture: 'arm64'}]})
  })

  it('a string value stays what it was: no selection', () => {
    assert.equal(only('registry.a/team/app: registry.b/x/app\n').selection, undefined)
  })

  const bad: [string, string, number, RegExp][] = [
    [
      'unknown key',
      'a.io/x/app:\n  target: b.io/y/app\n  tags: [v1]\n',
      3,
      /rule "a\.io\/x\/app": key "tags": not a rule key; the keys are target, includeTags, excludeTags, semver, latest, platform$/,
    ],
    [
      'latest not a number',
      'a.io/x/app:\n  target: b.io/y/app\n  latest: three\n',
      3,
      /key "latest": must be a whole number of versions, 1 or more; found "three"/,
    ],
    ['latest zero', 'a.io/x/app:\n  latest: 0\n  target: b.io/y/app\n', 2, /key "latest": must be a whole number/],
    ['semver not a range', 'a.io/x/app:\n  target: b.io/y/app\n  semver: banana\n', 3, /key "semver": "banana" is not a semver range/],
    [
      'a regular expression that is none',
      'a.io/x/app:\n  target: b.io/y/app\n\n  excludeTags: ["("]\n',
      4,
      /key "excludeTags": "\(" is not a regular expression/,
    ],
    ['includeTags a map', 'a.io/x/app:\n  target: b.io/y/app\n  includeTags: {a: 1}\n', 3, /key "includeTags": must be a regular expression or a list of them/],
    ['platform without architecture', 'a.io/x/app:\n  target: b.io/y/app\n  platform: [linux]\n', 3, /key "platform": "linux" is not a platform/],
    [
      'tag filters on a source that names its tags',
      'a.io/x/app:1.0:\n  target: b.io/y/app\n  latest: 1\n',
      1,
      /choose among listed tags, and this source names its tags/,
    ],
    ['target a list', 'a.io/x/app:\n  target: [b.io/y/app]\n', 2, /key "target": must be a repository name; found a list/],
  ]
  for (const [name, text, line, message] of bad) {
    it(`error: ${name} names file, line and key`, () => {
      const {rules, errors} = parseRules(`${text}ok.io/a/b: ok.io/c/d\n`, FILE, {})
      assert.equal(rules.length, 1, 'the other rule still runs')
      assert.equal(errors.length, 1, errors.map((e) => e.message).join(' | '))
      assert.equal(errors[0].line, line)
      assert.ok(errors[0].message.startsWith(`${FILE}:${line}: rule "${text.split(':\n')[0]}": `), errors[0].message)
      assert.match(errors[0].message, message)
    })
  }
})

describe('--flatten', () => {
  const cases: [string, RuleDefaults, Rule['destination']][] = [
    ['src.io/team0/sub/app0:', {registry: 'dst.io', namespace: 'ns', flatten: '-'}, {registry: 'dst.io', repository: 'ns/team0-sub-app0'}],
    ['src.io/team0/sub/app0:v1:', {registry: 'dst.io', namespace: 'ns', flatten: '_'}, {registry: 'dst.io', repository: 'ns/team0_sub_app0', tag: 'v1'}],
    ['src.io/team0/sub/app0:', {registry: 'dst.io', flatten: '-'}, {registry: 'dst.io', repository: 'team0-sub-app0'}],
    ['nginx:', {registry: 'dst.io', namespace: 'ns', flatten: '-'}, {registry: 'dst.io', repository: 'ns/nginx'}],
    ['src.io/team0/sub/app0:', {registry: 'dst.io', namespace: 'ns'}, {registry: 'dst.io', repository: 'ns/sub/app0'}],
    ['src.io/a/app: dst.io/a/b/c', {flatten: '-'}, {registry: 'dst.io', repository: 'a/b-c'}],
    ['src.io/a/app: dst.io/a/b/c/d', {flatten: '__'}, {registry: 'dst.io', repository: 'a/b__c__d'}],
    ['src.io/a/app: dst.io/a/b', {flatten: '-'}, {registry: 'dst.io', repository: 'a/b'}],
    ['src.io/a/app: dst.io/a/b/c', {}, {registry: 'dst.io', repository: 'a/b/c'}],
  ]
  for (const [text, defaults, destination] of cases) {
    it(`${text} ${JSON.stringify(defaults)}`, () => assert.deepEqual(only(`${text}\n`, defaults).destination, destination))
  }
  it('a separator a repository name cannot hold fails the run', () => {
    assert.throws(() => parseRules('a.io/b/c:\n', FILE, {registry: 'd.io', flatten: '/'}), /--flattenSeparator "\/"/)
  })
})

describe('repository patterns', () => {
  it('registry.a/team/** → registry.b/mirror keeps the path below the prefix', () => {
    const rule = only('src.io/team/**: dst.io/mirror\n')
    assert.deepEqual(rule.source, {registry: 'src.io', repository: 'team', pattern: '**'})
    const cases: [string, string][] = [
      ['team/app', 'mirror/app'],
      ['team/sub/tool', 'mirror/sub/tool'],
    ]
    for (const [repository, destination] of cases) {
      const expanded = expandPattern(rule, repository)
      assert.deepEqual(expanded.source, {registry: 'src.io', repository})
      assert.deepEqual(expanded.destination, {registry: 'dst.io', repository: destination})
      assert.equal(expanded.text, `src.io/${repository}`)
    }
    const flat = only('src.io/team/*: {target: dst.io/mirror, latest: 1}\n', {flatten: '-'})
    assert.deepEqual(expandPattern(flat, 'team/sub/tool').destination, {registry: 'dst.io', repository: 'mirror/sub-tool'})
    assert.deepEqual(expandPattern(flat, 'team/sub/tool').selection, {tags: {latest: 1}})
    const whole = only('src.io/**: dst.io/copy\n')
    assert.deepEqual(expandPattern(whole, 'a/b').destination, {registry: 'dst.io', repository: 'copy/a/b'})
  })
  const bad: [string, RegExp][] = [
    ['src.io/team/**:', /needs a destination prefix/],
    ['src.io/team/**: dst.io/mirror:v1', /takes no tag or digest/],
    ['src.io/team:v1/**: dst.io/mirror', /takes no tag or digest/],
    ['team/**: dst.io/mirror', /Docker Hub does not offer/],
  ]
  for (const [text, message] of bad) {
    it(`error: ${text}`, () => {
      const {errors} = parseRules(`${text}\n`, FILE, {registry: 'dst.io'})
      assert.equal(errors.length, 1)
      assert.match(errors[0].message, message)
    })
  }
  it('pure helpers', () => {
    assert.deepEqual(splitPattern('a.io/team/**'), {prefixText: 'a.io/team', depth: '**'})
    assert.deepEqual(splitPattern('a.io/team/*'), {prefixText: 'a.io/team', depth: '*'})
    assert.equal(splitPattern('a.io/team/app'), undefined)
    const matches: [string, string, '*' | '**', boolean][] = [
      ['team/app', 'team', '*', true],
      ['team/sub/app', 'team', '*', false],
      ['team/sub/app', 'team', '**', true],
      ['teamwork/app', 'team', '**', false],
      ['team', 'team', '**', false],
      ['x/y', '', '**', true],
      ['x/y', '', '*', false],
    ]
    for (const [repository, prefix, depth, expected] of matches)
      assert.equal(matchesPattern(repository, prefix, depth), expected, `${repository} ${prefix}/${depth}`)
    assert.equal(mapUnderPrefix('team/sub/app', 'team', 'mirror'), 'mirror/sub/app')
    assert.equal(joinPath('a/b/c', '-'), 'a-b-c')
    assert.equal(flattenDestination('a/b/c', '-'), 'a/b-c')
    assert.equal(flattenDestination('a', '-'), 'a')
  })
})

describe('rules/selection.yaml (the documented examples)', () => {
  it('parses without errors into the rules it describes', async () => {
    const {loadRuleFile} = await import('../../src/config/rules.js')
    const file = new URL('../../rules/selection.yaml', import.meta.url).pathname
    const {rules, errors} = await loadRuleFile(file, {registry: 'registry.b.example', namespace: 'mirror'})
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    )
    assert.deepEqual(
      rules.map((r) => [r.text, `${r.destination.registry}/${r.destination.repository}`, r.source.pattern ?? '', JSON.stringify(r.selection ?? {})]),
      [
        [
          'registry.a.example/team/app',
          'registry.b.example/mirror/app',
          '',
          JSON.stringify({
            tags: {include: ['^v'], exclude: ['rc'], semver: '>=1.2 <2', latest: 3},
            platforms: [
              {os: 'linux', architecture: 'amd64'},
              {os: 'linux', architecture: 'arm64'},
            ],
          }),
        ],
        ['quay.io/prometheus/node-exporter', 'registry.b.example/mirror/node-exporter', '', JSON.stringify({tags: {latest: 5}})],
        [
          'docker.io/library/alpine',
          'registry.b.example/mirror/alpine',
          '',
          JSON.stringify({tags: {semver: '^3.19'}, platforms: [{os: 'linux', architecture: 'arm'}]}),
        ],
        ['registry.a.example/team/**', 'registry.b.example/mirror', '**', JSON.stringify({tags: {latest: 2}})],
        ['registry.a.example/tools/*', 'registry.b.example/tools', '*', '{}'],
      ],
    )
  })
})
