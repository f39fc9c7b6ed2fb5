// A run a stop or a failed listing cut short says so: the closing lines, verify's verdict, the
// report, and which rules did not finish.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {Rule} from '../../src/config/rules.js'
import {FerryError} from '../../src/errors.js'
import {generateJobs} from '../../src/pipeline/generate.js'
import {RuleProgress} from '../../src/pipeline/rule-progress.js'
import {renderHtmlReport} from '../../src/report/html.js'
import {buildRunReport} from '../../src/report/run-report.js'
import {formatReport, formatUnfinished, summarize, type GenerateFailure, type JobResult, type RunEnding} from '../../src/report/summary.js'
import type {TransferReport} from '../../src/engine/run.js'
import {formatVerifyReport} from '../../src/verify.js'

const base = {rule: 's/a', bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, attempts: 1, durationMs: 1}
const VERIFIED: JobResult = {...base, source: 's/a:1', destination: 'd/a:1', status: 'verified'}
const COPIED: JobResult = {...base, source: 's/a:1', destination: 'd/a:1', status: 'copied'}
const LIST_FAILED: GenerateFailure = {rule: 's/b', code: 'LIST_FAILED', message: 'rule s/b: tags/list answered 500'}

test('formatVerifyReport: "Complete" only when every rule was listed to the end and every tag checked', () => {
  const cases: [string, JobResult[], GenerateFailure[], RunEnding | undefined, string[]][] = [
    [
      'all checked',
      [VERIFIED],
      [],
      undefined,
      ['Complete: 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs'],
    ],
    [
      'all checked, a stop after the end',
      [VERIFIED],
      [],
      {interrupted: false, unfinishedRules: [], allRulesRead: true},
      ['Complete: 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs'],
    ],
    [
      'stopped while the second rule was listing',
      [VERIFIED],
      [],
      {interrupted: true, unfinishedRules: ['s/b'], allRulesRead: true},
      [
        'not checked to the end: rule s/b (interrupted)',
        'Incomplete (interrupted): 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs, 1 rules not checked to the end',
      ],
    ],
    [
      'stopped before anything was checked',
      [],
      [],
      {interrupted: true, unfinishedRules: ['s/a', 's/b'], allRulesRead: true},
      [
        'not checked to the end: rule s/a (interrupted)',
        'not checked to the end: rule s/b (interrupted)',
        'Incomplete (interrupted): 0 of 0 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs, 2 rules not checked to the end',
      ],
    ],
    [
      'stopped while a provider was still enumerating',
      [VERIFIED],
      [],
      {interrupted: true, unfinishedRules: [], allRulesRead: false},
      [
        'not checked: the rules after these were never read (interrupted)',
        'Incomplete (interrupted): 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 0 rules generated no jobs, 0+ rules not checked to the end',
      ],
    ],
    [
      'a listing that failed',
      [VERIFIED],
      [LIST_FAILED],
      {interrupted: false, unfinishedRules: [], allRulesRead: true},
      [
        'not checked: rule s/b: tags/list answered 500',
        'Incomplete: 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 1 rules generated no jobs',
      ],
    ],
  ]
  for (const [name, results, failures, ending, expected] of cases) assert.deepEqual(formatVerifyReport(results, failures, ending), expected, name)
})

test('formatReport: an interrupted run names the rules that did not finish and does not say "Finished"', () => {
  const tail = '0 transfer jobs failed, 0 jobs generate failed (1 copied, 0 skipped, 0 B moved, 3 requests, 1.0s)'
  const summary = summarize([COPIED], [], {requests: 3, durationMs: 1000})
  const cases: [string, RunEnding | undefined, string[]][] = [
    ['complete', undefined, [`Finished, ${tail}`]],
    ['complete, said so', {interrupted: false, unfinishedRules: [], allRulesRead: true}, [`Finished, ${tail}`]],
    [
      'stopped while listing',
      {interrupted: true, unfinishedRules: ['s/b'], allRulesRead: true},
      ['Rules that did not finish (1):', '  s/b', `Interrupted, ${tail}`],
    ],
    [
      'stopped while enumerating',
      {interrupted: true, unfinishedRules: ['s/b'], allRulesRead: false},
      ['Rules that did not finish (1+):', '  s/b', '  … and the rules after these: the rules were not read to the end', `Interrupted, ${tail}`],
    ],
  ]
  for (const [name, ending, expected] of cases) assert.deepEqual(formatReport(summary, [COPIED], [], [], ending), expected, name)
})

test('formatUnfinished: at most 20 rules named, the rest counted', () => {
  const rules = Array.from({length: 23}, (_, index) => `s/r${index}`)
  const lines = formatUnfinished({interrupted: true, unfinishedRules: rules, allRulesRead: true})
  assert.equal(lines[0], 'Rules that did not finish (23):')
  assert.equal(lines.length, 1 + 20 + 1)
  assert.equal(lines.at(-1), '  … and 3 more')
  assert.deepEqual(formatUnfinished({}), [])
})

test('summarize: interrupted only when it was', () => {
  assert.equal(summarize([], [], {requests: 0, durationMs: 0, interrupted: true}).interrupted, true)
  assert.equal('interrupted' in summarize([], [], {requests: 0, durationMs: 0}), false)
})

test('buildRunReport and the HTML page: interrupted and the unfinished rules', () => {
  const report: TransferReport = {
    results: [COPIED],
    generateFailures: [],
    summary: summarize([COPIED], [], {requests: 1, durationMs: 1, interrupted: true}),
    interrupted: true,
    unfinishedRules: ['s/<b>'],
    allRulesRead: true,
  }
  const built = buildRunReport(report, {startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z'})
  assert.equal(built.interrupted, true)
  assert.deepEqual(built.unfinishedRules, ['s/<b>'])
  assert.equal(built.allRulesRead, true)
  const html = renderHtmlReport(built)
  assert.match(html, /<dt>Interrupted<\/dt><dd>1 rules did not finish<\/dd>/)
  assert.match(html, /<ul id="unfinished-rules"><li><code>s\/&#60;b&#62;<\/code><\/li><\/ul>/)
  // A run that was not cut short: the keys are there, false and empty.
  const whole = buildRunReport({results: [], generateFailures: [], summary: summarize([], [], {requests: 0, durationMs: 0})}, {startedAt: 'a', finishedAt: 'b'})
  assert.deepEqual([whole.interrupted, whole.unfinishedRules, whole.allRulesRead], [false, [], true])
})

const rule = (repository: string, tags?: string[]): Rule => ({
  text: `s.io/${repository}`,
  source: {registry: 's.io', repository, ...(tags ? {tags} : {})},
  destination: {registry: 'd.io', repository},
})

test('RuleProgress: what a stop or a failure leaves unfinished', async () => {
  type Step = ['listed', string[]] | ['queued', string] | ['finished', string]
  const cases: [string, Rule[] | 'stream', number, Step[], {unfinished: string[]; listedAll: boolean; allRead: boolean}][] = [
    [
      'every rule listed and run',
      [rule('a'), rule('b')],
      2,
      [
        ['queued', 's.io/a'],
        ['listed', ['s.io/a']],
        ['queued', 's.io/b'],
        ['listed', ['s.io/b']],
        ['finished', 's.io/a'],
        ['finished', 's.io/b'],
      ],
      {unfinished: [], listedAll: true, allRead: true},
    ],
    [
      'a list: rules never started are named too',
      [rule('a'), rule('b'), rule('c')],
      1,
      [['listed', ['s.io/a']]],
      {unfinished: ['s.io/b', 's.io/c'], listedAll: false, allRead: false},
    ],
    [
      'listed, but a job never ran',
      [rule('a')],
      1,
      [
        ['queued', 's.io/a'],
        ['queued', 's.io/a'],
        ['listed', ['s.io/a']],
        ['finished', 's.io/a'],
      ],
      {unfinished: ['s.io/a'], listedAll: true, allRead: true},
    ],
    ['a stream: named only as far as it was read', 'stream', 2, [['listed', ['s.io/a']]], {unfinished: ['s.io/b'], listedAll: false, allRead: false}],
  ]
  for (const [name, rules, read, steps, expected] of cases) {
    const progress = new RuleProgress()
    const source =
      rules === 'stream'
        ? (async function* () {
            yield* [rule('a'), rule('b'), rule('c')]
          })()
        : rules
    const iterator = progress.track(source)[Symbol.asyncIterator]()
    for (let n = 0; n < read; n++) await iterator.next()
    // A list read to its end: the next read finds the end.
    if (rules !== 'stream' && read === rules.length) await iterator.next()
    for (const [kind, value] of steps) {
      if (kind === 'listed') progress.listed(value)
      else if (kind === 'queued') progress.queued(value)
      else progress.finished(value)
    }
    assert.deepEqual({unfinished: progress.unfinished(), listedAll: progress.listedAll, allRead: progress.allRead}, expected, name)
  }
})

test('RuleProgress: a rule stream that fails has been read to its end (its failure is reported on its own)', async () => {
  const progress = new RuleProgress()
  const failing = (async function* () {
    yield rule('a')
    throw new FerryError('LIST_FAILED', 'catalog answered 500')
  })()
  await assert.rejects(async () => {
    for await (const _ of progress.track(failing)) progress.listed(['s.io/a'])
  }, /catalog answered 500/)
  assert.equal(progress.allRead, true)
  assert.deepEqual(progress.unfinished(), [])
})

test('generateJobs: rules are reported done only once their jobs are taken; a stop mid-listing reports none', async () => {
  const listed: string[] = []
  const stop = new AbortController()
  let releaseSlow!: () => void
  const slowStarted = new Promise<void>((resolve) => (releaseSlow = resolve))
  const listTags = async function* (_registry: string, repository: string, signal?: AbortSignal) {
    if (repository === 'broken') throw new FerryError('LIST_FAILED', 'tags/list answered 500')
    if (repository === 'slow') {
      releaseSlow()
      await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), {once: true}))
    }
    yield* ['v1', 'v2']
  }
  const seen: string[] = []
  const generated = generateJobs([rule('fixed', ['t1']), rule('fast'), rule('broken'), rule('slow')], {
    listTags,
    listers: 4,
    signal: stop.signal,
    onListed: (rules) => listed.push(...rules),
  })
  for await (const item of generated) {
    seen.push(item.kind === 'job' ? `${item.job.source.repository}:${item.job.source.tag}` : `error ${item.rule}`)
    if (seen.length === 4) {
      await slowStarted
      // The other listers' last pushes (their "done" marks) land in the buffer first.
      await new Promise((resolve) => setImmediate(resolve))
      stop.abort()
    }
  }
  assert.deepEqual(seen.sort(), ['error s.io/broken', 'fast:v1', 'fast:v2', 'fixed:t1'])
  assert.deepEqual(listed.sort(), ['s.io/broken', 's.io/fast', 's.io/fixed'])
})
