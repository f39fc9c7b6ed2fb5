import assert from 'node:assert/strict'
import {test} from 'node:test'
import {failedResult} from '../../src/engine/results.js'
import {parseReference} from '../../src/reference.js'
import {busyTime, failuresByReason, repositoryFigures} from '../../src/report/figures.js'
import {jsonLogLine, requestLine, resultFields} from '../../src/report/log-line.js'
import {Redactor, redactCommandLine, redactUrl} from '../../src/report/redactor.js'

import {formatVerboseEvent, type EngineEvent} from '../../src/report/events.js'
import {escapeHtml, jobsLine, renderHtmlReport, reportTitle, throughputSvg} from '../../src/report/html.js'
import {buildRunReport, reportJob, type RunReport} from '../../src/report/run-report.js'
import {formatReport, summarize, type JobResult, type TransferSummary} from '../../src/report/summary.js'
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
    ['--frozen drift; none by default', {drift: {locked: DIGEST_A, source: DIGEST_B}}, {drift: {locked: DIGEST_A, source: DIGEST_B}}],
    ['--frozen drift of a tag gone at the source', {drift: {locked: DIGEST_A}}, {drift: {locked: DIGEST_A, source: null}}],
    ['no drift', {}, {drift: null}],
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
    'drift',
    'destinationDigest',
    'bytes',
    'blobs',
    'blobBytes',
    'referrers',
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

const EMPTY: TransferSummary = {jobs: 0, copied: 0, skipped: 0, failed: 0, generateFailed: 0, bytes: 0, requests: 0, durationMs: 0}
const DIGEST = DIGEST_A

test('redactUrl: user info and every query value but the harmless ones blanked', () => {
  const cases: [string, string][] = [
    ['https://r.example/v2/a/blobs/uploads/x?_state=abc.def&digest=sha256%3Aab', 'https://r.example/v2/a/blobs/uploads/x?_state=[redacted]&digest=sha256%3Aab'],
    ['https://s3.example/b?X-Amz-Signature=f00&X-Amz-Credential=AKIA%2F1', 'https://s3.example/b?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]'],
    ['https://u:p4ss@r.example/v2/', 'https://redacted:redacted@r.example/v2/'],
    [
      'https://r.example/token?service=reg&scope=repository:a:pull&access_token=zzz',
      'https://r.example/token?service=reg&scope=repository%3Aa%3Apull&access_token=[redacted]',
    ],
    ['https://r.example/v2/a/tags/list?n=100&last=v1', 'https://r.example/v2/a/tags/list?n=100&last=v1'],
    ['not a url Bearer abc.def', 'not a url Bearer abc.def'],
  ]
  for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input)
  const redactor = new Redactor()
  redactor.add('in-the-path-secret')
  assert.equal(redactUrl('https://r.example/v2/in-the-path-secret/x', redactor), 'https://r.example/v2/[redacted]/x')
})

test('redactCommandLine: credential flags, URL passwords and known secrets blanked; words quoted for a shell', () => {
  const redactor = new Redactor()
  redactor.add('s3cr3t-value')
  const cases: [string[], string][] = [
    [['ferry', 'transfer', '--ruleFile', 'r.yaml', '--eventToken', 'abc'], 'ferry transfer --ruleFile r.yaml --eventToken [redacted]'],
    [['ferry', 'transfer', '--eventToken=abc', '--secretFile', 's.yaml'], 'ferry transfer --eventToken=[redacted] --secretFile s.yaml'],
    [['ferry', 'transfer', '--queue', 'redis://:pw@redis:6379/0'], 'ferry transfer --queue redis://:redacted@redis:6379/0'],
    [['ferry', 'transfer', '--semver', '>=1.2 <2'], `ferry transfer --semver '>=1.2 <2'`],
    [['ferry', 'transfer', '--ns', 's3cr3t-value'], 'ferry transfer --ns [redacted]'],
  ]
  for (const [argv, expected] of cases) assert.equal(redactCommandLine(argv, redactor), expected, argv.join(' '))
})

test('jsonLogLine and resultFields: one object per line, fields from the job, unset fields left out', () => {
  const failed = result({status: 'failed', digest: DIGEST, error: {code: 'DENIED', message: 'no'}, destination: 'dst.example:5000/a/b/app:v1'})
  const line = JSON.parse(jsonLogLine('error', '[1] failed …', resultFields(failed), new Date(T0))) as Record<string, unknown>
  assert.deepEqual(line, {
    time: at(0),
    level: 'error',
    message: '[1] failed …',
    registry: 'dst.example:5000',
    repository: 'a/b/app',
    tag: 'v1',
    digest: DIGEST,
    code: 'DENIED',
    source: 'src.example/team/app:1.0',
    destination: 'dst.example:5000/a/b/app:v1',
    status: 'failed',
    bytes: 0,
  })
  const pinned = resultFields(result({destination: `dst.example/a/app@${DIGEST}`}))
  assert.deepEqual([pinned.repository, pinned.tag], ['a/app', undefined])
  assert.deepEqual(requestLine({registry: 'r', method: 'HEAD', url: 'http://r/v2/', status: 0, ms: 3}).line, 'debug: HEAD http://r/v2/ → no answer (3 ms)')
})

test('busyTime and figures: overlapping spans count once; failures grouped by code, largest first', () => {
  const span = (start: number, end: number) => ({startedAt: at(start), finishedAt: at(end)})
  assert.equal(busyTime([span(0, 100), span(50, 150), span(300, 400), {startedAt: null, finishedAt: null}]), 250)
  assert.equal(busyTime([span(0, 400), span(100, 200)]), 400)
  const jobs = [
    reportJob(result({...span(0, 1000), bytes: 2000, blobBytes: {uploaded: 2000, mounted: 100, existing: 50}})),
    reportJob(result({...span(500, 2000), destination: 'dst.example/mirror/app:2.0', bytes: 1000, blobBytes: {uploaded: 1000, mounted: 0, existing: 7}})),
    reportJob(result({status: 'failed', destination: 'dst.example/other:1', error: {code: 'DENIED', message: 'a'}})),
    reportJob(result({status: 'failed', destination: 'dst.example/other:2', error: {code: 'TIMEOUT', message: 'b'}})),
    reportJob(result({status: 'failed', destination: 'dst.example/other:3', error: {code: 'TIMEOUT', message: 'c'}})),
  ]
  const [app, other] = repositoryFigures(jobs)
  assert.deepEqual(app, {name: 'dst.example/mirror/app', jobs: 2, failed: 0, uploaded: 3000, mounted: 100, existing: 57, busyMs: 2000, bytesPerSecond: 1500})
  assert.deepEqual([other!.name, other!.jobs, other!.failed, other!.bytesPerSecond], ['dst.example/other', 3, 3, 0])
  assert.deepEqual(
    failuresByReason(jobs).map((group) => [group.code, group.jobs.length]),
    [
      ['TIMEOUT', 2],
      ['DENIED', 1],
    ],
  )
})

test('buildRunReport: every summary key present whatever the mode; the mode names the words of the page', () => {
  const context = {startedAt: at(0), finishedAt: at(1000), ferryVersion: '9.9.9', command: 'ferry verify --ruleFile r.yaml'}
  const cases: [string, Partial<TransferSummary>, RunReport['mode'], RegExp, RegExp][] = [
    ['copy', {copied: 1, jobs: 1}, 'copy', /^1 jobs: 1 copied, 0 skipped, 0 failed$/, /^ferry copy report: dst\.example, src\.example, /],
    ['dry run', {dryRun: true, planned: 2, jobs: 2}, 'dry run', /^2 jobs planned, nothing written: 2 would be copied/, /^ferry dry-run plan: /],
    ['verify', {verify: true, verified: 3, jobs: 3}, 'verify', /^3 destinations checked, nothing written: 3 verified complete/, /^ferry verify report: /],
  ]
  for (const [name, summary, mode, line, title] of cases) {
    const report = buildRunReport({results: [result({})], generateFailures: [], summary: {...EMPTY, ...summary}}, context)
    assert.equal(report.mode, mode, name)
    assert.match(jobsLine(report), line, name)
    assert.match(reportTitle(report), title, name)
    assert.deepEqual(
      Object.keys(report.summary).sort(),
      [
        'blobBytes',
        'bytes',
        'copied',
        'dryRun',
        'durationMs',
        'failed',
        'generateFailed',
        'interrupted',
        'interruptedJobs',
        'jobs',
        'planned',
        'pullQuotas',
        'referrers',
        'requests',
        'skipped',
        'verified',
      ],
      name,
    )
    assert.deepEqual([report.schemaVersion, report.ferryVersion, report.command], [2, '9.9.9', context.command])
  }
  const quota = buildRunReport({results: [], generateFailures: [], summary: {...EMPTY, pullQuotas: [{registry: 'docker.io', remaining: 3}]}}, context).summary
    .pullQuotas
  assert.deepEqual(quota, [{registry: 'docker.io', limit: null, remaining: 3, windowSeconds: null, stoppedAt: null, resetsBy: null}])
})

test('failedResult: a failed job keeps the time it took', () => {
  const job = {source: parseReference('src.example/a:1'), destination: parseReference('dst.example/a:1'), rule: 'r'}
  const failed = failedResult(job, job.destination, {code: 'X', message: 'y'}, 2, {startedAt: at(0), finishedAt: at(1234)})
  assert.equal(failed.durationMs, 1234)
})

test('referrer counts: the closing line, the dry run line and the HTML summary say how many; nothing said when none', () => {
  const signed = [
    result({referrers: {copied: 2, present: 1}}),
    result({status: 'skipped', reason: 'same digest', referrers: {copied: 1, present: 0}}),
    result({referrers: undefined}),
  ]
  const summary = summarize(signed, [], {requests: 4, durationMs: 1000})
  assert.deepEqual(summary.referrers, {copied: 3, present: 1, planned: 0})
  assert.equal(
    formatReport(summary, signed, []).at(-1),
    'Finished, 0 transfer jobs failed, 0 jobs generate failed (2 copied, 1 skipped, 3 referrers copied, 0 B moved, 4 requests, 1.0s)',
  )
  const plain = summarize([result({})], [], {requests: 1, durationMs: 0})
  assert.equal('referrers' in plain, false)
  assert.doesNotMatch(formatReport(plain, [], []).at(-1)!, /referrers/)
  const planned = [result({status: 'planned', referrers: {copied: 0, present: 0, planned: ['sha256:a', 'sha256:b']}})]
  const dry = summarize(planned, [], {requests: 1, durationMs: 0, dryRun: true})
  assert.match(formatReport(dry, planned, []).join('\n'), /^Dry run: .*; 2 referrers would be copied$/m)
  const html = renderHtmlReport(buildRunReport({results: signed, generateFailures: [], summary}, {startedAt: at(0), finishedAt: at(10)}))
  assert.match(html, /<dt>Referrers<\/dt><dd>3 copied, 1 already present<\/dd>/)
  assert.doesNotMatch(
    renderHtmlReport(buildRunReport({results: [result({})], generateFailures: [], summary: plain}, {startedAt: at(0), finishedAt: at(10)})),
    /Referrers/,
  )
})
