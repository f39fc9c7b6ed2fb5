// A stop (SIGINT, SIGTERM) while tags are still being listed, and a listing that fails: the run
// is not a success. The exit code is not 0, the closing lines and the --report file say the run was
// interrupted and name the rule that did not finish, and `verify` never says "Complete".
// Real registries; the source's tag list of one repository is held back by the hostile registry.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'
import {Redis} from 'ioredis'
import {pushImage, randomLayer, startRedis, startRegistry, type TestRedis, type TestRegistry} from '../harness/index.js'
import {startHostileRegistry, type HostileRegistry} from '../harness/hostile-registry.js'
import {startFerry, type FerryProcess} from './serve-support.js'
import {runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let hostile: HostileRegistry
let redis: TestRedis | undefined
let work: Awaited<ReturnType<typeof workDir>>
let security: string
const running: FerryProcess[] = []
// The slow repository's tag list is answered only once the tests are over.
let release!: () => void
const held = new Promise<void>((resolve) => (release = resolve))

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  hostile = await startHostileRegistry(src)
  security = await work.file('security.yaml', `"http://${hostile.host}": {}\n"http://${dst.host}": {}\n`)
  for (const registry of [src, dst]) await pushImage(registry, 'fast/app', 'v1', {layers: [randomLayer(512, 'fast')]})
  await pushImage(src, 'slow/app', 'v1', {layers: [randomLayer(512, 'slow')]})
  hostile.respond(
    /^\/v2\/slow\/app\/tags\/list(\?|$)/,
    async (_request, upstream) => {
      await held
      const real = await upstream()
      return {status: real.status, headers: {'content-type': 'application/json'}, body: real.body}
    },
    {method: 'GET'},
  )
})

after(async () => {
  release()
  for (const ferry of running) ferry.kill()
  await hostile?.stop()
  await Promise.all([src?.stop(), dst?.stop(), redis?.stop(), work?.cleanup()])
})

const slowListings = () => hostile.requests.filter((request) => request.method === 'GET' && request.path.startsWith('/v2/slow/app/tags/list')).length

/** Runs `command` over a fast and a slow rule and stops it with `signal` once the fast one is done and the slow one is still listing. */
async function stopWhileListing(command: 'transfer' | 'verify', signal: NodeJS.Signals, name: string) {
  const ruleFile = await work.file(`${name}.yaml`, `${hostile.host}/fast/app: ${dst.host}/fast/app\n${hostile.host}/slow/app: ${dst.host}/slow/app\n`)
  const report = path.join(work.dir, `${name}.json`)
  const listings = slowListings
  const before = listings()
  const ferry = startFerry([command, '--ruleFile', ruleFile, '--securityFile', security, '--routines', '2', '--report', report])
  running.push(ferry)
  await ferry.waitFor(/\[1\] (copied|skipped|verified) .*fast\/app:v1/, 30_000)
  const deadline = Date.now() + 10_000
  while (listings() === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(listings() > before, 'the slow tag list is being asked for')
  ferry.child.kill(signal)
  const how = await ferry.exited
  const out = ferry.stdout() + ferry.stderr()
  return {code: how.code, out, report: JSON.parse(await readFile(report, 'utf8'))}
}

for (const [signal, exitCode] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`transfer stopped by ${signal} while a rule is listing: exit ${exitCode}, interrupted, the rule named`, {timeout: 60_000}, async () => {
    const {code, out, report} = await stopWhileListing('transfer', signal, `transfer-${signal}`)
    assert.equal(code, exitCode, out)
    assert.match(out, /^Interrupted, 0 transfer jobs failed, 0 jobs generate failed/m, out)
    assert.doesNotMatch(out, /^Finished,/m, out)
    assert.match(out, /^Rules that did not finish \(1\):\n\s+\S*slow\/app/m, out)
    assert.equal(report.interrupted, true)
    assert.equal(report.summary.interrupted, true)
    assert.equal(report.unfinishedRules.length, 1, JSON.stringify(report.unfinishedRules))
    assert.match(report.unfinishedRules[0], /slow\/app/)
    assert.equal(report.jobs.length, 1, 'the fast rule finished')
  })

  test(`verify stopped by ${signal} while a rule is listing: never "Complete", exit ${exitCode}`, {timeout: 60_000}, async () => {
    const {code, out, report} = await stopWhileListing('verify', signal, `verify-${signal}`)
    assert.equal(code, exitCode, out)
    assert.doesNotMatch(out, /Complete:/, out)
    assert.match(out, /^Incomplete \(interrupted\): 1 of 1 images verified at the destination.*, 1 rules not checked to the end$/m, out)
    assert.match(out, /^not checked to the end: rule \S*slow\/app.* \(interrupted\)$/m, out)
    assert.equal(report.interrupted, true)
    assert.deepEqual(
      report.jobs.map((job: {status: string}) => job.status),
      ['verified'],
    )
  })
}

test('verify over a tag list that fails (500 after retries, or not JSON): Incomplete, the rule named, exit 1', {timeout: 60_000}, async () => {
  await pushImage(src, 'broken/app', 'v1', {layers: [randomLayer(256, 'broken')]})
  await pushImage(src, 'garbled/app', 'v1', {layers: [randomLayer(256, 'garbled')]})
  const failing = hostile.respond(/^\/v2\/broken\/app\/tags\/list(\?|$)/, () => ({status: 500, headers: {'content-type': 'text/plain'}, body: 'boom'}), {
    method: 'GET',
  })
  const garbled = hostile.respond(
    /^\/v2\/garbled\/app\/tags\/list(\?|$)/,
    () => ({status: 200, headers: {'content-type': 'application/json'}, body: '<html>not json'}),
    {method: 'GET'},
  )
  try {
    const ruleFile = await work.file(
      'failing.yaml',
      [
        `${hostile.host}/fast/app: ${dst.host}/fast/app`,
        `${hostile.host}/broken/app: ${dst.host}/broken/app`,
        `${hostile.host}/garbled/app: ${dst.host}/garbled/app`,
      ].join('\n') + '\n',
    )
    const run = await runCli(['verify', '--ruleFile', ruleFile, '--securityFile', security, '--retry', '0'], {timeoutMs: 50_000})
    const out = run.stdout + run.stderr
    assert.equal(run.code, 1, out)
    assert.doesNotMatch(out, /Complete:/, out)
    assert.match(out, /^Incomplete: 1 of 1 images verified at the destination, 0 incomplete, 0 could not be checked, 2 rules generated no jobs$/m, out)
    assert.match(out, /^not checked: .*broken\/app/m, out)
    assert.match(out, /^not checked: .*garbled\/app/m, out)
    assert.ok(failing.hits >= 1 && garbled.hits >= 1)
  } finally {
    failing.remove()
    garbled.remove()
  }
})

test('transfer --queue stopped by SIGINT while a rule is listing: exit 1, the rule named, "enqueue again"', {timeout: 60_000}, async () => {
  redis = await startRedis()
  const ruleFile = await work.file('enqueue.yaml', `${hostile.host}/fast/app: ${dst.host}/fast/app\n${hostile.host}/slow/app: ${dst.host}/slow/app\n`)
  const before = slowListings()
  const fastHeads = () => hostile.requests.filter((request) => request.method === 'HEAD' && request.path === '/v2/fast/app/manifests/v1').length
  const ferry = startFerry(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--queue', redis.url, '--queueName', 'honest'])
  running.push(ferry)
  // The fast rule's job is pinned by a HEAD at the source, then added; the slow rule is still listing.
  const client = new Redis(redis.url)
  try {
    const waiting = () => client.llen('bull:honest:wait')
    const deadline = Date.now() + 30_000
    while ((slowListings() === before || fastHeads() === 0 || (await waiting()) === 0) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(slowListings() > before && (await waiting()) === 1, ferry.stderr())
  } finally {
    client.disconnect()
  }
  ferry.child.kill('SIGINT')
  const how = await ferry.exited
  const out = ferry.stdout() + ferry.stderr()
  assert.equal(how.code, 1, out)
  assert.match(out, /^1$/m, "the fast rule's job was enqueued")
  assert.match(out, /^Rules that did not finish \(1\):\n\s+\S*slow\/app$/m, out)
  assert.match(out, /Interrupted: .*enqueue again/, out)
})
