import assert from 'node:assert/strict'
import {test} from 'node:test'

import {formatVerboseEvent, type EngineEvent} from '../../src/report/events.js'
import {escapeHtml, renderHtmlReport, throughputSvg} from '../../src/report/html.js'
import {buildRunReport, reportJob} from '../../src/report/run-report.js'
import type {JobResult, TransferSummary} from '../../src/report/summary.js'
import {throughputSeries} from '../../src/report/throughput.js'
import {reportFormat} from '../../src/report/write-report.js'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const at = (ms: number) => new Date(T0 + ms).toISOString()
const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

function result(overrides: Partial<JobResult>): JobResult {
  return {
    source: 'src.example/team/app:1.0',
    destination: 'dst.example/mirror/app:1.0',
    rule: 'src.example/team/app:1.0',
    status: 'copied',
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    attempts: 1,
    durationMs: 0,
    ...overrides,
  }
}

const SUMMARY: TransferSummary = {jobs: 1, copied: 1, skipped: 0, failed: 0, generateFailed: 0, bytes: 10, requests: 5, durationMs: 1000}

test('reportJob: every key present, retries = attempts - 1, duration spans all attempts', () => {
  const cases: [string, Partial<JobResult>, Partial<ReturnType<typeof reportJob>>][] = [
    [
      'copied on the second attempt',
      {digest: DIGEST_A, destinationDigest: DIGEST_A, bytes: 10, attempts: 2, durationMs: 300, startedAt: at(0), finishedAt: at(1500)},
      {sourceDigest: DIGEST_A, destinationDigest: DIGEST_A, retries: 1, durationMs: 1500, skipReason: null, error: null},
    ],
    [
      'skipped: the tag exists at another digest',
      {status: 'skipped', reason: 'tag exists', digest: DIGEST_A, destinationDigest: DIGEST_B, startedAt: at(0), finishedAt: at(20)},
      {skipReason: 'tag exists', sourceDigest: DIGEST_A, destinationDigest: DIGEST_B, retries: 0, durationMs: 20},
    ],
    [
      'failed before the source was read',
      {status: 'failed', attempts: 3, error: {code: 'MANIFEST_UNKNOWN', message: 'no such tag'}},
      {
        sourceDigest: null,
        destinationDigest: null,
        retries: 2,
        startedAt: null,
        finishedAt: null,
        durationMs: 0,
        error: {code: 'MANIFEST_UNKNOWN', message: 'no such tag'},
      },
    ],
    ['empty source digest (tag exists, source unread) is null', {status: 'skipped', reason: 'tag exists', digest: ''}, {sourceDigest: null}],
  ]
  const keys = [
    'source',
    'destination',
    'rule',
    'status',
    'skipReason',
    'note',
    'missing',
    'sourceDigest',
    'destinationDigest',
    'bytes',
    'blobs',
    'blobBytes',
    'durationMs',
    'startedAt',
    'finishedAt',
    'attempts',
    'retries',
    'error',
  ]
  for (const [name, input, expected] of cases) {
    const job = reportJob(result(input))
    assert.deepEqual(Object.keys(job).sort(), [...keys].sort(), name)
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(job[key as keyof typeof job], value, `${name}: ${key}`)
  }
})

test('buildRunReport: engine times win over the fallback; messages are redacted again', () => {
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
  const report = buildRunReport(
    {
      results: [result({status: 'failed', error: {code: 'DENIED', message: `denied with Bearer ${token}`}})],
      generateFailures: [{rule: 'rules.yaml:3', code: 'DENIED', message: `listing failed: Basic dXNlcjpwYXNzd29yZA==`}],
      summary: SUMMARY,
      startedAt: at(0),
      finishedAt: at(1000),
    },
    {startedAt: at(-50), finishedAt: at(2000)},
  )
  assert.deepEqual([report.startedAt, report.finishedAt, report.schemaVersion], [at(0), at(1000), 2])
  const text = JSON.stringify(report)
  assert.ok(!text.includes(token) && !text.includes('dXNlcjpwYXNzd29yZA=='), text)
  assert.equal(report.jobs[0]!.error!.message, 'denied with Bearer [redacted]')
  assert.deepEqual(report.omittedTags, [])
  const fallback = buildRunReport({results: [], generateFailures: [], summary: SUMMARY}, {startedAt: at(-50), finishedAt: at(2000)})
  assert.deepEqual([fallback.startedAt, fallback.finishedAt], [at(-50), at(2000)])
})

test('throughputSeries: bytes spread over each job span, summed into buckets', () => {
  const run = {startMs: T0, endMs: T0 + 1000}
  const cases: [string, {startedAt: string | null; finishedAt: string | null; bytes: number}[], number, number[]][] = [
    ['one job over the whole run', [{startedAt: at(0), finishedAt: at(1000), bytes: 1000}], 4, [1000, 1000, 1000, 1000]],
    ['one job in the first half', [{startedAt: at(0), finishedAt: at(500), bytes: 1000}], 4, [2000, 2000, 0, 0]],
    [
      'overlapping jobs add up',
      [
        {startedAt: at(0), finishedAt: at(500), bytes: 500},
        {startedAt: at(250), finishedAt: at(750), bytes: 500},
      ],
      4,
      [1000, 2000, 1000, 0],
    ],
    ['an instant job lands in its bucket', [{startedAt: at(600), finishedAt: at(600), bytes: 250}], 4, [0, 0, 1000, 0]],
    ['a job ending at the run end lands in the last bucket', [{startedAt: at(1000), finishedAt: at(1000), bytes: 250}], 4, [0, 0, 0, 1000]],
    [
      'jobs without times or bytes add nothing',
      [
        {startedAt: null, finishedAt: at(10), bytes: 99},
        {startedAt: at(0), finishedAt: at(900), bytes: 0},
      ],
      2,
      [0, 0],
    ],
    ['times outside the run are clamped to it', [{startedAt: at(-1000), finishedAt: at(2000), bytes: 300}], 2, [300, 300]],
  ]
  for (const [name, jobs, buckets, rates] of cases) {
    const series = throughputSeries(jobs, run, buckets)
    assert.equal(series.bucketMs, 1000 / buckets, name)
    assert.deepEqual(
      series.points.map((point) => point.offsetMs),
      rates.map((_, index) => (index * 1000) / buckets),
      name,
    )
    assert.deepEqual(
      series.points.map((point) => Math.round(point.bytesPerSecond)),
      rates,
      name,
    )
  }
})

test('throughputSeries: no bucket narrower than the minimum; bytes are conserved', () => {
  const short = throughputSeries([{startedAt: at(0), finishedAt: at(30), bytes: 100}], {startMs: T0, endMs: T0 + 30}, 60, 100)
  assert.deepEqual([short.bucketMs, short.points.length], [100, 1])
  const jobs = Array.from({length: 50}, (_, index) => ({startedAt: at(index * 37), finishedAt: at(index * 37 + 400 + (index % 7) * 91), bytes: 1000 + index}))
  const run = {startMs: T0, endMs: T0 + 50 * 37 + 1000}
  const series = throughputSeries(jobs, run, 60)
  const moved = series.points.reduce((sum, point) => sum + (point.bytesPerSecond * series.bucketMs) / 1000, 0)
  assert.ok(Math.abs(moved - jobs.reduce((sum, job) => sum + job.bytes, 0)) < 1e-6, String(moved))
  assert.ok(series.points.length <= 60)
})

test('escapeHtml: markup, quotes and ampersands become entities', () => {
  const cases: [string, string][] = [
    ['plain/repo:tag', 'plain/repo:tag'],
    ['<script>alert(1)</script>', '&#60;script&#62;alert(1)&#60;/script&#62;'],
    [`a"b'c\`d`, 'a&#34;b&#39;c&#96;d'],
    ['&amp;', '&#38;amp;'],
  ]
  for (const [input, expected] of cases) assert.equal(escapeHtml(input), expected, input)
})

test('renderHtmlReport: data cannot open a tag or leave an attribute; nothing is loaded from elsewhere', () => {
  const hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
  const report = buildRunReport(
    {
      results: [
        result({source: `src.example/${hostile}`, digest: DIGEST_A, destinationDigest: DIGEST_A, bytes: 2048, startedAt: at(0), finishedAt: at(100)}),
        result({status: 'failed', destination: 'dst.example/x:1', error: {code: 'X<', message: `boom ${hostile}`}, startedAt: at(10), finishedAt: at(20)}),
      ],
      generateFailures: [{rule: `rules.yaml:${hostile}`, code: 'INVALID_RULE', message: hostile}],
      summary: {...SUMMARY, jobs: 2, failed: 1},
      startedAt: at(0),
      finishedAt: at(200),
    },
    {startedAt: at(0), finishedAt: at(200)},
  )
  const html = renderHtmlReport(report)
  assert.ok(!html.includes('<img'), 'no tag from the data')
  assert.equal(html.match(/<script>/g)?.length, 1, 'only the page own script')
  assert.ok(!/<[a-z]+[^>]*\s(src|href)=/i.test(html), 'no external resource')
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/)
  assert.equal(html.match(/<tr class="(copied|skipped|failed)" data-status="\1">/g)?.length, 2)
  assert.match(html, /source = destination <code>sha256:a{64}<\/code>/)
})

test('throughputSvg: a step line scaled to the peak, labelled with the peak and the span', () => {
  const svg = throughputSvg(
    {
      bucketMs: 500,
      points: [
        {offsetMs: 0, bytesPerSecond: 2048},
        {offsetMs: 500, bytesPerSecond: 1024},
      ],
    },
    {width: 180, height: 134},
  )
  // Plot area: x 70..170, y 10..110.
  assert.match(svg, /points="70\.0,10\.0 120\.0,10\.0 120\.0,60\.0 170\.0,60\.0"/)
  assert.match(svg, />2\.0 KiB\/s</)
  assert.match(svg, />1\.0s</)
  const empty = throughputSvg({bucketMs: 100, points: [{offsetMs: 0, bytesPerSecond: 0}]})
  assert.match(empty, /<svg[^>]*>[\s\S]*<\/svg>$/)
  assert.ok(!empty.includes('NaN'))
})

test('reportFormat: the extension picks the format; anything else is a config error', () => {
  const cases: [string, string | RegExp][] = [
    ['r.json', 'json'],
    ['out/Run.JSON', 'json'],
    ['r.html', 'html'],
    ['r.txt', /--report r\.txt: the file name must end in \.json or \.html/],
    ['report', /must end in \.json or \.html/],
    ['r.htm', /must end in/],
  ]
  for (const [file, expected] of cases) {
    if (typeof expected === 'string') assert.equal(reportFormat(file), expected, file)
    else
      assert.throws(
        () => reportFormat(file),
        (error: Error & {code?: string}) => error.code === 'INVALID_CONFIG' && expected.test(error.message),
        file,
      )
  }
})

test('formatVerboseEvent: blob and retry lines; other events have none', () => {
  const ids = {source: 's/a:1', destination: 'd/a:1'}
  const cases: [EngineEvent, string | undefined][] = [
    [{type: 'blob', ...ids, digest: DIGEST_A, outcome: 'uploaded', bytes: 2048}, `  blob uploaded ${DIGEST_A} (2.0 KiB) → d/a:1`],
    [{type: 'blob', ...ids, digest: DIGEST_A, outcome: 'mounted', bytes: 0}, `  blob mounted ${DIGEST_A} → d/a:1`],
    [{type: 'blob', ...ids, digest: DIGEST_A, outcome: 'existing', bytes: 0}, `  blob present ${DIGEST_A} → d/a:1`],
    [
      {type: 'retry', ...ids, what: 'job', attempt: 1, delayMs: 1500, error: {code: 'UNAVAILABLE', message: '503'}},
      '  retry s/a:1 → d/a:1: attempt 1 failed, again in 1.5s: 503',
    ],
    [
      {type: 'retry', ...ids, what: 'blob', digest: DIGEST_B, attempt: 2, delayMs: 400, error: {code: 'NETWORK', message: 'reset'}},
      `  retry blob ${DIGEST_B} of s/a:1: attempt 2 failed, again in 0.4s: reset`,
    ],
    [{type: 'bytes', bytes: 5}, undefined],
    [{type: 'job-queued', ...ids}, undefined],
    [{type: 'jobs-known', jobs: 3}, undefined],
  ]
  for (const [event, expected] of cases) assert.equal(formatVerboseEvent(event), expected, JSON.stringify(event))
})
