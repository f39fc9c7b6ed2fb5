// The generator with tag selection and pattern rules; listings come from tables, not registries.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseRules} from '../../src/config/rules.js'
import {generateJobs, type Generated} from '../../src/pipeline/generate.js'
import {compileSelection} from '../../src/select/tags.js'
import {formatVerifyReport} from '../../src/verify.js'
import type {JobResult} from '../../src/report/summary.js'

const CATALOG: Record<string, string[]> = {
  'team/app': ['v1.2.0', '1.3.0', 'v2.0.0-rc.1', 'latest', 'stable', '1.10.1'],
  'team/sub/tool': ['1.0.0', '2.0.0', 'edge'],
  'other/app': ['1.0.0'],
}

async function* list<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item
}

async function jobs(text: string, options: {tagFilter?: (tag: string) => boolean; semver?: string; latest?: number} = {}): Promise<string[]> {
  const {rules, errors} = parseRules(text, 'r.yaml', {})
  assert.deepEqual(errors, [])
  const out: string[] = []
  for await (const item of generateJobs(rules, {
    listTags: (_registry, repository) => list(CATALOG[repository] ?? []),
    listRepositories: () => list(Object.keys(CATALOG)),
    listers: 2,
    tagFilter: options.tagFilter,
    selector: compileSelection({semver: options.semver, latest: options.latest}),
  }) as AsyncIterable<Generated>) {
    out.push(
      item.kind === 'job'
        ? `${item.job.source.repository}:${item.job.source.tag} → ${item.job.destination.repository}:${item.job.destination.tag}${item.job.platforms ? ` [${item.job.platforms.length}]` : ''}`
        : `error ${item.error.message}`,
    )
  }
  return out.sort()
}

test('run selection, then the rule’s; latest ranks the whole listing', async () => {
  const cases: [string, Parameters<typeof jobs>[1], string[]][] = [
    ['s.io/team/app: d.io/m/app\n', {latest: 2}, ['team/app:1.10.1 → m/app:1.10.1', 'team/app:v2.0.0-rc.1 → m/app:v2.0.0-rc.1']],
    ['s.io/team/app: d.io/m/app\n', {semver: '<1.5'}, ['team/app:1.3.0 → m/app:1.3.0', 'team/app:v1.2.0 → m/app:v1.2.0']],
    ['s.io/team/app: {target: d.io/m/app, latest: 1}\n', {tagFilter: (tag) => !tag.includes('rc')}, ['team/app:1.10.1 → m/app:1.10.1']],
    ['s.io/team/app: {target: d.io/m/app, includeTags: [stable, latest]}\n', {}, ['team/app:latest → m/app:latest', 'team/app:stable → m/app:stable']],
    [
      's.io/team/app: {target: d.io/m/app, semver: "^1", platform: linux/amd64}\n',
      {latest: 4},
      ['team/app:1.10.1 → m/app:1.10.1 [1]', 'team/app:1.3.0 → m/app:1.3.0 [1]', 'team/app:v1.2.0 → m/app:v1.2.0 [1]'],
    ],
    // Tags a rule names are copied as named: selection is for listed tags.
    ['s.io/team/app:stable: d.io/m/app\n', {latest: 1}, ['team/app:stable → m/app:stable']],
    // A prerelease is a version too: 2.0.0-rc.1 ranks above 1.10.1.
    ['s.io/team/**: {target: d.io/m, latest: 1}\n', {}, ['team/app:v2.0.0-rc.1 → m/app:v2.0.0-rc.1', 'team/sub/tool:2.0.0 → m/sub/tool:2.0.0']],
    ['s.io/team/*: d.io/m\n', {semver: '1.x'}, ['team/app:1.10.1 → m/app:1.10.1', 'team/app:1.3.0 → m/app:1.3.0', 'team/app:v1.2.0 → m/app:v1.2.0']],
    ['s.io/nothing/**: d.io/m\n', {}, ['error rule s.io/nothing/**: the source catalog has no repository under this pattern']],
  ]
  for (const [text, options, expected] of cases) assert.deepEqual(await jobs(text, options), expected.sort(), `${text} ${JSON.stringify(options)}`)
})

test('formatVerifyReport: one line per missing item, then the count', () => {
  const base = {rule: 'r', bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, attempts: 1, durationMs: 1}
  const results: JobResult[] = [
    {...base, source: 's/a:1', destination: 'd/a:1', status: 'verified'},
    {
      ...base,
      source: 's/a:2',
      destination: 'd/a:2',
      status: 'failed',
      missing: ['missing manifest d/a:2 (source sha256:1)'],
      error: {code: 'INCOMPLETE', message: 'x'},
    },
    {
      ...base,
      source: 's/a:3',
      destination: 'd/a:3',
      status: 'failed',
      missing: ['missing blob d/a@sha256:2 of manifest sha256:3 (linux/arm64)', 'missing blob d/a@sha256:4'],
      error: {code: 'INCOMPLETE', message: 'x'},
    },
    {...base, source: 's/a:4', destination: 'd/a:4', status: 'failed', error: {code: 'DENIED', message: 'denied'}},
    {...base, source: 's/a:5', destination: 'd/a:5', status: 'skipped', reason: 'platform not selected'},
  ]
  assert.deepEqual(formatVerifyReport(results, []), [
    'missing manifest d/a:2 (source sha256:1) (for s/a:2)',
    'missing blob d/a@sha256:2 of manifest sha256:3 (linux/arm64) (for s/a:3)',
    'missing blob d/a@sha256:4 (for s/a:3)',
    'not checked: s/a:4 → d/a:4: denied',
    'Incomplete: 1 of 4 images verified at the destination, 2 incomplete, 1 could not be checked, 0 rules generated no jobs, 1 left out by --platform',
  ])
  assert.deepEqual(formatVerifyReport(results.slice(0, 1), []), [
    'Complete: 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs',
  ])
})
