// A source metered like Docker Hub (25 manifest pulls per window, HEAD free, ratelimit headers on
// every manifest answer, 429 without Retry-After once spent) in front of a real Distribution
// registry, and --qps fractions paced at the wire. ferry copies what the quota allows, then ends
// the source's other jobs at once with one line instead of sending pulls that are refused; a run in
// a new window finishes with HEADs only for what is there; --pull-reserve keeps pulls unspent.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {pushImage, randomLayer, skopeoDigest, skopeoTags, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startMeteredRegistry, type MeteredRegistry} from '../harness/metered-registry.js'
import type {RunReport} from '../../src/report/run-report.js'
import {listenAddress, metrics, metricValue, startFerry} from './serve-support.js'
import {ruleYaml, runCli, workDir} from './support.js'

const TAGS = 40
const ROUTINES = 5
const TEST = {timeout: 120_000}

let src: TestRegistry
let dst: TestRegistry
let metered: MeteredRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
const images: Record<string, PushedImage> = {}

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  metered = await startMeteredRegistry(src, {limit: 25, windowSeconds: 60})
  security = await work.file('security.yaml', [src, dst, metered].map((r) => `"http://${r.host}": {}\n`).join(''))
  const base = randomLayer(1024, 'pull-limit:base')
  for (let i = 0; i < TAGS; i++) {
    const tag = `t${String(i).padStart(2, '0')}`
    images[tag] = await pushImage(src, 'hub/app', tag, {layers: [base, randomLayer(512, `pull-limit:${tag}`)]})
  }
})

after(async () => {
  await metered?.stop()
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

/** `transfer` of every tag of hub/app through the metered source into `into` at the destination. */
async function run(into: string, extra: string[] = []) {
  const ruleFile = await work.file(`rules-${into.replace(/\W/g, '-')}.yaml`, ruleYaml([[`${metered.host}/hub/app`, `${dst.host}/${into}`]]))
  const reportFile = path.join(work.dir, `report-${into.replace(/\W/g, '-')}-${Date.now()}.json`)
  const from = metered.requests.length
  const cli = await runCli(
    ['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--routines', String(ROUTINES), '--retry', '2', '--report', reportFile, ...extra],
    {timeoutMs: 100_000},
  )
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport
  return {cli, report, requests: metered.requests.slice(from)}
}

const manifestGets = (requests: typeof metered.requests) => requests.filter((r) => r.method === 'GET' && /\/manifests\//.test(r.path))

test('a spent pull limit ends the source’s other jobs at once with one line; no refused pulls are sent', TEST, async () => {
  const {cli, report, requests} = await run('hub/app')
  const output = cli.stdout + cli.stderr
  assert.notEqual(cli.code, 0, output)
  assert.equal(metered.served, 25, output)
  // Today: 180 refused pulls (every job's retries against a spent quota). Now none, or the few in flight.
  assert.ok(metered.refused <= 1, `${metered.refused} manifest GETs were refused with 429`)
  assert.equal(manifestGets(requests).length, metered.served + metered.refused)
  const copied = report.jobs.filter((job) => job.status === 'copied')
  const failed = report.jobs.filter((job) => job.status === 'failed')
  assert.equal(copied.length, 25, output)
  assert.equal(failed.length, TAGS - 25, output)
  const line = new RegExp(
    `^registry ${metered.host.replace(/\./g, '\\.')}: pull limit reached \\(0 of 25 pulls per 60 s left\\); no more manifests are pulled from it in this run\\. ` +
      `Log in to ${metered.host.replace(/\./g, '\\.')} \\(give credentials for it\\) for a higher limit, or run again after \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`,
  )
  for (const job of failed) {
    assert.equal(job.error?.code, 'PULL_LIMIT', JSON.stringify(job))
    assert.match(job.error!.message, line)
    // Ended at once: not retried at the job's pace.
    assert.equal(job.attempts, 1, JSON.stringify(job))
  }
  assert.deepEqual(
    report.summary.pullQuotas?.map(({registry, limit, remaining, windowSeconds}) => ({registry, limit, remaining, windowSeconds})),
    [{registry: metered.host, limit: 25, remaining: 0, windowSeconds: 60}],
  )
  assert.ok(report.summary.pullQuotas?.[0]?.resetsBy, JSON.stringify(report.summary))
  assert.match(output, new RegExp(`Pull limit of ${metered.host.replace(/\./g, '\\.')}: 0 of 25 pulls left per 60 s; pulls stopped at `))
  // What was copied is exact; nothing half-copied is tagged.
  const tags = await skopeoTags(dst, 'hub/app')
  assert.equal(tags.length, 25)
  for (const tag of tags) assert.equal(await skopeoDigest(dst, `hub/app:${tag}`), images[tag]!.digest)
})

test('a run in a new window finishes: HEADs only for the tags already there, a pull for each of the rest', TEST, async () => {
  metered.newWindow()
  const there = new Set(await skopeoTags(dst, 'hub/app'))
  assert.equal(there.size, 25)
  const {cli, report, requests} = await run('hub/app')
  assert.equal(cli.code, 0, cli.stdout + cli.stderr)
  assert.equal(report.jobs.filter((job) => job.status === 'copied').length, TAGS - 25)
  assert.equal(report.jobs.filter((job) => job.status === 'skipped').length, 25)
  const pulled = manifestGets(requests).map((r) => r.path.split('/manifests/')[1]!)
  assert.deepEqual(
    pulled.filter((reference) => there.has(reference)),
    [],
    'no manifest GET for a tag the destination already has',
  )
  assert.equal(metered.served, TAGS - 25)
  assert.equal(metered.refused, 0)
  assert.equal(report.summary.pullQuotas?.[0]?.remaining, 25 - (TAGS - 25))
  for (const [tag, image] of Object.entries(images)) assert.equal(await skopeoDigest(dst, `hub/app:${tag}`), image.digest)
})

test('--pull-reserve 5 stops pulling with 5 pulls left', TEST, async () => {
  metered.newWindow()
  const {cli, report} = await run('hub/reserve', ['--pull-reserve', '5'])
  assert.notEqual(cli.code, 0, cli.stdout + cli.stderr)
  assert.equal(metered.served, 20, cli.stdout + cli.stderr)
  assert.equal(metered.refused, 0)
  assert.equal(report.jobs.filter((job) => job.status === 'copied').length, 20)
  const failed = report.jobs.filter((job) => job.status === 'failed')
  assert.equal(failed.length, TAGS - 20)
  for (const job of failed) assert.match(job.error!.message, /pull limit reached \(5 of 25 pulls per 60 s left, 5 kept in reserve \(--pull-reserve\)\)/)
  assert.equal((await skopeoTags(dst, 'hub/reserve')).length, 20)
})

test('--qps 0.5 is accepted and paces requests 2 s apart at the wire', TEST, async () => {
  // Two tags already at the destination: the run is four HEADs (two per job), nothing else.
  const proxies: FaultProxy[] = await Promise.all([startFaultProxy(src), startFaultProxy(dst)])
  try {
    const [from, to] = proxies as [FaultProxy, FaultProxy]
    const sec = await work.file('security-qps.yaml', [from, to].map((r) => `"http://${r.host}": {}\n`).join(''))
    const ruleFile = await work.file(
      'rules-qps.yaml',
      ruleYaml([
        [`${from.host}/hub/app:t00`, `${to.host}/hub/app:t00`],
        [`${from.host}/hub/app:t01`, `${to.host}/hub/app:t01`],
      ]),
    )
    // Referrers off: their lookups (one listing, one API probe) are not what this counts.
    const cli = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', sec, '--routines', '2', '--qps', '0.5', '--referrers=false'])
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    const arrivals = [...from.requests, ...to.requests].map((r) => r.at).sort((a, b) => a - b)
    assert.equal(arrivals.length, 4, JSON.stringify([...from.requests, ...to.requests].map((r) => `${r.method} ${r.path}`)))
    // 1000/0.5 ms apart at admission; on a loaded machine a request delayed after admission arrives
    // closer to the next one. 1500 ms still tells 0.5 from a rounded-up 1 (1000 ms) or none.
    for (let i = 1; i < arrivals.length; i++)
      assert.ok(arrivals[i]! - arrivals[i - 1]! >= 1500, `requests ${i} and ${i + 1} arrived ${arrivals[i]! - arrivals[i - 1]!} ms apart`)
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()))
  }
})

test('a standing mirror waits for the window instead of failing; /metrics shows the pulls left', TEST, async () => {
  // Its own metered source: 3 pulls per 2 s window, so the mirror's wait is short; the window
  // still only resets when the test says.
  const small = await startMeteredRegistry(src, {limit: 3, windowSeconds: 2})
  const sec = await work.file('security-standing.yaml', [small, dst].map((r) => `"http://${r.host}": {}\n`).join(''))
  const tags = ['t00', 't01', 't02', 't03', 't04']
  const ruleFile = await work.file('rules-standing.yaml', ruleYaml(tags.map((tag) => [`${small.host}/hub/app:${tag}`, `${dst.host}/hub/standing:${tag}`])))
  const ferry = startFerry(['transfer', '--ruleFile', ruleFile, '--securityFile', sec, '--routines', '2', '--interval', '1h', '--listen', '127.0.0.1:0'])
  try {
    const address = await listenAddress(ferry, 20_000)
    for (let i = 0; small.served < 3 && i < 400; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    assert.equal(small.served, 3, ferry.stderr() + ferry.stdout())
    // Past one 2 s window with the quota still spent: the two jobs left wait; none failed.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    let text = await metrics(address)
    assert.equal(metricValue(text, 'ferry_registry_pulls_remaining', {registry: small.host}), 0, text)
    assert.equal(metricValue(text, 'ferry_registry_pull_limit', {registry: small.host}), 3, text)
    assert.equal(metricValue(text, 'ferry_jobs_total', {status: 'failed'}), 0, text)
    assert.equal(metricValue(text, 'ferry_jobs_total', {status: 'copied'}), 3, text)
    small.newWindow()
    await ferry.waitFor(/run 1 (complete|incomplete)/, 30_000)
    text = await metrics(address)
    assert.equal(metricValue(text, 'ferry_jobs_total', {status: 'copied'}), 5, text)
    assert.equal(metricValue(text, 'ferry_jobs_total', {status: 'failed'}), 0, text)
    assert.equal(metricValue(text, 'ferry_registry_pulls_remaining', {registry: small.host}), 1, text)
    for (const tag of tags) assert.equal(await skopeoDigest(dst, `hub/standing:${tag}`), images[tag]!.digest)
  } finally {
    ferry.kill()
    await small.stop()
  }
})
