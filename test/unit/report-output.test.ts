import assert from 'node:assert/strict'
import {test} from 'node:test'

import {failedResult} from '../../src/engine/results.js'
import {parseReference} from '../../src/reference.js'
import {busyTime, failuresByReason, repositoryFigures} from '../../src/report/figures.js'
import {jobsLine, reportTitle} from '../../src/report/html.js'
import {jsonLogLine, requestLine, resultFields} from '../../src/report/log-line.js'
import {Redactor, redactCommandLine, redactUrl} from '../../src/report/redactor.js'
import {buildRunReport, reportJob, type RunReport} from '../../src/report/run-report.js'
import type {JobResult, TransferSummary} from '../../src/report/summary.js'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const at = (ms: number) => new Date(T0 + ms).toISOString()
const DIGEST = `sha256:${'a'.repeat(64)}`

function result(overrides: Partial<JobResult>): JobResult {
  return {
    source: 'src.example/team/app:1.0',
    destination: 'dst.example/mirror/app:1.0',
    rule: 'r',
    status: 'copied',
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    attempts: 1,
    durationMs: 0,
    ...overrides,
  }
}

const SUMMARY: TransferSummary = {jobs: 0, copied: 0, skipped: 0, failed: 0, generateFailed: 0, bytes: 0, requests: 0, durationMs: 0}

test('redactUrl: user info and every query value but the harmless ones blanked', () => {
  const cases: [string, string][] = [
    ['https://r.example/v2/a/blobs/uploads/x?_state=abc.def&digest=sha256%3Aab', 'https://r.example/v2/a/blobs/uploads/x?_state=[redacted]&digest=sha256%3Aab'],
    ['https://s3.example/b?X-Amz-Signature=f00&X-Amz-Credential=AKIA%2F1', 'https://s3.example/b?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]'],
    ['https://u:p4ss@r.example/v2/', 'https://redacted:redacted@r.example/v2/'],
    ['https://r.example/token?service=reg&scope=repository:a:pull&access_token=zzz', 'https://r.example/token?service=reg&scope=repository%3Aa%3Apull&access_token=[redacted]'],
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
    const report = buildRunReport({results: [result({})], generateFailures: [], summary: {...SUMMARY, ...summary}}, context)
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
        'jobs',
        'planned',
        'pullQuotas',
        'requests',
        'skipped',
        'verified',
      ],
      name,
    )
    assert.deepEqual([report.schemaVersion, report.ferryVersion, report.command], [2, '9.9.9', context.command])
  }
  const quota = buildRunReport(
    {results: [], generateFailures: [], summary: {...SUMMARY, pullQuotas: [{registry: 'docker.io', remaining: 3}]}},
    context,
  ).summary.pullQuotas
  assert.deepEqual(quota, [{registry: 'docker.io', limit: null, remaining: 3, windowSeconds: null, stoppedAt: null, resetsBy: null}])
})

test('failedResult: a failed job keeps the time it took', () => {
  const job = {source: parseReference('src.example/a:1'), destination: parseReference('dst.example/a:1'), rule: 'r'}
  const failed = failedResult(job, job.destination, {code: 'X', message: 'y'}, 2, {startedAt: at(0), finishedAt: at(1234)})
  assert.equal(failed.durationMs, 1234)
})
