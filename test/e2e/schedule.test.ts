// The standing mirror on a schedule: --interval runs, incremental ticks, overlapping ticks skipped,
// the state file, /metrics, and a graceful stop that never leaves a manifest whose blobs are
// missing. Real registries, the built CLI.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, test} from 'node:test'
import {pushImage, randomBlob, seedCorpus, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {runTransfer} from '../../src/engine/run.js'
import {loadTransferInputs} from '../../src/inputs.js'
import {StateStore} from '../../src/serve/state-file.js'
import {assertDestinationConsistent, listTags} from './destination-check.js'
import {listenAddress, metrics, metricValue, startFerry, type FerryProcess} from './serve-support.js'
import {lines, plainEntries, ROOT, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
const running: FerryProcess[] = []

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
})
after(async () => {
  for (const ferry of running) ferry.kill()
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

function ferry(args: string[]): FerryProcess {
  const process = startFerry(args)
  running.push(process)
  return process
}

/** Blob uploads the destination committed (PUT that ends an upload session). */
function blobUploads(registry: TestRegistry, repository: string): number {
  return registry.requestLog.entries.filter((e) => e.method === 'PUT' && e.path.startsWith(`/v2/${repository}/blobs/uploads/`) && e.status === 201).length
}

/**
 * Runs tick every second, so a stop may land inside one: the exit code must be what the log says
 * of each job's last run (0 only when every last run was complete).
 */
function expectedExit(log: string): number {
  const last = new Map<string, string>()
  for (const match of log.matchAll(/\[(\S+)\] run \d+ (complete|incomplete|interrupted) in/g)) last.set(match[1]!, match[2]!)
  return [...last.values()].every((status) => status === 'complete') ? 0 : 1
}
test(
  '--interval 1s: three runs, the 2nd and 3rd move no blob; a new tag is picked up by the next tick; /metrics and the state file match',
  {timeout: 60_000},
  async () => {
    const image1 = await pushImage(src, 'mirror/app', '1.0', {layers: [randomBlob(3000, 'i1a'), randomBlob(2000, 'i1b')]})
    const ruleFile = await work.file('interval-rules.yaml', `${src.host}/mirror/app: ${dst.host}/mirror/app\n`)
    const securityFile = await work.file('security.yaml', plainEntries(src, dst))
    const stateFile = path.join(work.dir, 'interval-state.json')
    const f = ferry([
      'transfer',
      '--ruleFile',
      ruleFile,
      '--securityFile',
      securityFile,
      '--interval',
      '1s',
      '--stateFile',
      stateFile,
      '--listen',
      '127.0.0.1:0',
    ])
    const address = await listenAddress(f)
    await f.waitFor(/\[transfer\] run 3 complete/, 20_000)
    await dst.requestLog.settle()
    assert.equal(blobUploads(dst, 'mirror/app'), image1.blobs.length, 'the first run uploads each blob once, later runs none')

    let text = await metrics(address)
    assert.equal(metricValue(text, 'ferry_blobs_total', {sync: 'transfer', outcome: 'uploaded'}), image1.blobs.length)
    assert.equal(
      metricValue(text, 'ferry_copied_bytes_total', {sync: 'transfer'}),
      image1.blobs.reduce((sum, b) => sum + b.size, 0),
    )
    assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'transfer', status: 'copied'}), 1)
    const runs = metricValue(text, 'ferry_runs_total', {sync: 'transfer', trigger: 'schedule', outcome: 'complete'})
    assert.ok(runs >= 3, `runs: ${runs}`)
    assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'transfer', status: 'skipped'}), runs - 1, 'every later run skips the tag')
    assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'transfer', status: 'failed'}), 0)
    const lastSuccess = metricValue(text, 'ferry_last_success_timestamp_seconds', {sync: 'transfer'})
    assert.ok(Math.abs(lastSuccess - Date.now() / 1000) < 10, `last success ${lastSuccess}`)
    // Requests by registry: the source answered each run's tag list and HEAD with 200.
    assert.ok(metricValue(text, 'ferry_registry_requests_total', {registry: src.host, method: 'HEAD', status: '200'}) >= runs)

    // A skipped run costs one tag listing and one HEAD at each side, nothing else.
    dst.requestLog.clear()
    src.requestLog.clear()
    const before = (await f.waitFor(/\[transfer\] run (\d+) complete(?![\s\S]*run \d+ complete)/, 5_000))[1]
    await f.waitFor(new RegExp(`\\[transfer\\] run ${Number(before) + 2} complete`), 5_000)
    await Promise.all([dst.requestLog.settle(), src.requestLog.settle()])
    const perRun = (entries: typeof dst.requestLog.entries) => entries.filter((e) => e.path.startsWith('/v2/mirror/')).length
    assert.ok(perRun(dst.requestLog.entries) <= 2 + 1, `destination requests in ~2 idle runs: ${JSON.stringify(dst.requestLog.entries)}`)
    assert.ok(
      dst.requestLog.entries.every((e) => e.method === 'HEAD' || e.method === 'GET'),
      'an idle run writes nothing',
    )

    // A new tag at the source: the next tick copies it and reports it as new.
    const image2 = await pushImage(src, 'mirror/app', '2.0', {layers: [randomBlob(3000, 'i1a'), randomBlob(1500, 'i2b')]})
    await f.waitFor(/changes at the source since the last run: 1 new \(\S+mirror\/app:2\.0\)/, 10_000)
    assert.equal(await skopeoDigest(dst, 'mirror/app:2.0'), image2.digest)
    text = await metrics(address)
    assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'transfer', status: 'copied'}), 2)
    // The shared layer was there already; the new config and layer were uploaded.
    assert.equal(metricValue(text, 'ferry_blobs_total', {sync: 'transfer', outcome: 'uploaded'}), image1.blobs.length + 2)
    assert.ok(metricValue(text, 'ferry_blobs_total', {sync: 'transfer', outcome: 'skipped'}) >= 1)

    f.child.kill('SIGTERM')
    const how = await f.exited
    assert.equal(how.code, expectedExit(f.stderr()), `exit 0 exactly when the last run was complete\n${f.stderr()}`)
    const state = JSON.parse(await readFile(stateFile, 'utf8'))
    const tags = state.jobs.transfer.tags
    assert.equal(tags[`${src.host}/mirror/app:1.0`].digest, image1.digest)
    assert.equal(tags[`${src.host}/mirror/app:2.0`].digest, image2.digest)
    assert.equal(state.jobs.transfer.lastRun.complete, true)
  },
)

test('a restart reads the state file: a tag deleted at the source is reported, and kept at the destination', {timeout: 60_000}, async () => {
  const a = await pushImage(src, 'gone/app', 'keep', {layers: [randomBlob(1000, 'g1')]})
  await pushImage(src, 'gone/app', 'drop', {layers: [randomBlob(1000, 'g2')]})
  const ruleFile = await work.file('gone-rules.yaml', `${src.host}/gone/app: ${dst.host}/gone/app\n`)
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  const stateFile = path.join(work.dir, 'gone-state.json')
  const args = ['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--stateFile', stateFile]
  const first = await runCli(args)
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /2 new/)
  // Delete `drop` at the source (by digest, as Distribution requires).
  const digest = await skopeoDigest(src, 'gone/app:drop')
  const res = await fetch(`${src.url}/v2/gone/app/manifests/${digest}`, {method: 'DELETE'})
  assert.equal(res.status, 202)
  const second = await runCli(args)
  assert.equal(second.code, 0, second.stderr)
  assert.match(second.stdout, new RegExp(`1 deleted at the source, kept at the destination \\(${src.host.replace(/\./g, '\\.')}/gone/app:drop\\)`))
  assert.doesNotMatch(second.stdout, /new|updated/)
  assert.deepEqual((await listTags(dst, 'gone/app')).sort(), ['drop', 'keep'], 'ferry never deletes at the destination')
  const state = JSON.parse(await readFile(stateFile, 'utf8'))
  assert.deepEqual(Object.keys(state.jobs.transfer.tags), [`${src.host}/gone/app:keep`])
  assert.equal(state.jobs.transfer.tags[`${src.host}/gone/app:keep`].digest, a.digest)
})

test('overlapping ticks are skipped and logged; runs never overlap', {timeout: 60_000}, async () => {
  for (const tag of ['1', '2', '3']) await pushImage(src, 'slow/app', tag, {layers: [randomBlob(500, `s${tag}`)]})
  const ruleFile = await work.file('slow-rules.yaml', `${src.host}/slow/app: ${dst.host}/slow/app\n`)
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  // Copied once beforehand, so every run is the cheap kind: one listing and a HEAD at each side
  // per tag. At --qps 3 those seven requests still take about two seconds, twice the interval.
  const seeded = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--quiet'])
  assert.equal(seeded.code, 0, seeded.stderr)
  const f = ferry(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--interval', '1s', '--qps', '3', '--listen', '127.0.0.1:0'])
  const address = await listenAddress(f)
  await f.waitFor(/\[transfer\] run 2 complete/, 30_000)
  const log = f.stderr()
  assert.match(log, /\[transfer\] tick skipped: run 1 is still busy/)
  // Start and end lines alternate: no run starts before the one before it has ended.
  const events = [...log.matchAll(/\[transfer\] run (\d+) (started|complete|incomplete|interrupted)/g)].map(
    (m) => `${m[2] === 'started' ? 'start' : 'end'} ${m[1]}`,
  )
  assert.deepEqual(events.slice(0, 4), ['start 1', 'end 1', 'start 2', 'end 2'])
  const text = await metrics(address)
  assert.ok(metricValue(text, 'ferry_ticks_skipped_total', {sync: 'transfer'}) >= 1)
  // --qps 3 paced every request after the first few: the waits are counted by registry.
  assert.ok(
    metricValue(text, 'ferry_rate_limit_wait_seconds_total', {registry: src.host}) +
      metricValue(text, 'ferry_rate_limit_wait_seconds_total', {registry: dst.host}) >
      1,
    text,
  )
  f.child.kill('SIGTERM')
  assert.equal((await f.exited).code, expectedExit(f.stderr()), f.stderr())
})

test(
  'SIGTERM during a run: no new copies, the destination holds no manifest with missing blobs, and the next run completes it',
  {timeout: 120_000},
  async () => {
    const corpus = await seedCorpus(src, {repositories: 6, tagsPerRepo: 3, layerSize: 256 * 1024, seed: 'sigterm', indexEvery: 3})
    const ruleFile = await work.file('term-rules.yaml', corpus.repositories.map((r) => `${src.host}/${r}: ${dst.host}/term/${r}\n`).join(''))
    const securityFile = await work.file('security.yaml', plainEntries(src, dst))
    const stateFile = path.join(work.dir, 'term-state.json')
    // A grace period shorter than the copies: some copies are abandoned mid-blob, the hard case.
    const args = ['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--stateFile', stateFile, '--routines', '3', '--qps', '60']
    const f = ferry([...args, '--interval', '1h', '--gracePeriod', '300ms'])
    const tagPuts = () =>
      dst.requestLog.entries.filter((e) => e.method === 'PUT' && /^\/v2\/term\/.+\/manifests\/(?!sha256:)[^/]+$/.test(e.path) && e.status === 201).length
    const deadline = Date.now() + 60_000
    while (tagPuts() < 3 && Date.now() < deadline) await sleep(10)
    assert.ok(tagPuts() >= 3 && tagPuts() < corpus.entries.length, `stop in the middle (tags so far: ${tagPuts()})\n${f.stderr()}`)
    f.child.kill('SIGTERM')
    const how = await f.exited
    assert.equal(how.code, 1, `an interrupted run exits 1\n${f.stderr()}`)
    assert.match(f.stderr(), /stopping: no new copies/)
    assert.match(f.stderr(), /run 1 interrupted/)

    const partial = await assertDestinationConsistent(dst)
    const abandoned = /grace period of 0\.3s over: abandoning/.test(f.stderr())
    console.log(
      `stopped with ${tagPuts()} tags pushed; copies ${abandoned ? 'abandoned after the grace period' : 'all finished within the grace period'}; destination: ${partial.tags} tags, ${partial.manifests} manifests, all complete`,
    )

    const rerun = await runCli([...args, '--quiet'], {timeoutMs: 90_000})
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
    await assertDestinationConsistent(dst)
    for (const repository of corpus.repositories) {
      assert.deepEqual((await listTags(dst, `term/${repository}`)).sort(), corpus.tags(repository).sort(), repository)
    }
    for (const entry of corpus.entries) assert.equal(await skopeoDigest(dst, `term/${entry.repository}:${entry.tag}`), entry.digest)
  },
)

test('drain: copies in flight finish, nothing new starts, the report says so', {timeout: 60_000}, async () => {
  const images: PushedImage[] = []
  for (let k = 0; k < 8; k++) images.push(await pushImage(src, 'drain/app', `t${k}`, {layers: [randomBlob(200 * 1024, `d${k}`)]}))
  const ruleFile = await work.file('drain-rules.yaml', `${src.host}/drain/app: ${dst.host}/drain/app\n`)
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  const inputs = await loadTransferInputs({ruleFile, securityFile})
  const drain = new AbortController()
  const signal = new AbortController()
  const report = await runTransfer({
    ...inputs,
    routines: 2,
    qps: 40,
    drain: drain.signal,
    signal: signal.signal,
    onResult: () => drain.abort(),
  })
  // The first result drains: the other routine's copy in flight still finishes; nothing else starts.
  assert.ok(report.results.length >= 1 && report.results.length <= 2, JSON.stringify(report.summary))
  assert.equal(report.summary.failed, 0, JSON.stringify(report.results))
  assert.equal(report.generateFailures.length, 0, 'a drained listing is not a failure')
  assert.deepEqual((await listTags(dst, 'drain/app')).length, report.results.length)
  assert.equal(report.interrupted, true, 'the report says work was left undone')
  await assertDestinationConsistent(dst)

  // The next run, with nothing stopping it, finishes the rest and is not interrupted.
  const rest = await runTransfer({...inputs, routines: 2, drain: new AbortController().signal})
  assert.equal(rest.interrupted, false)
  assert.equal(rest.summary.copied + rest.summary.skipped, images.length)
  assert.equal((await listTags(dst, 'drain/app')).length, images.length)
})

test('the state file survives SIGKILL in the middle of a write: it parses and is one of the versions written', {timeout: 30_000}, async () => {
  const file = path.join(work.dir, 'killed-state.json')
  // A child writing ever newer versions as fast as it can, each with 2000 tags (a few hundred KiB).
  const script = `
    import {writeStateAtomically} from ${JSON.stringify(path.join(ROOT, 'src/serve/state-file.ts'))};
    for (let version = 0; ; version++) {
      const tags = {};
      for (let k = 0; k < 2000; k++) tags['r.example/app:' + k] = {digest: 'sha256:' + String(version).padStart(64, '0'), syncedAt: new Date(version * 1000).toISOString()};
      await writeStateAtomically(${JSON.stringify(file)}, {version: 1, jobs: {w: {tags, lastRun: {startedAt: String(version), finishedAt: String(version), complete: true}}}});
      if (version === 3) process.stdout.write('ready\\n');
    }`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer never got going: ${stderr}`)), 20_000)
    child.stdout.on('data', () => {
      clearTimeout(timer)
      resolve()
    })
  })
  await sleep(150 + Math.random() * 100)
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const state = JSON.parse(await readFile(file, 'utf8'))
  const version = Number(state.jobs.w.lastRun.startedAt)
  assert.ok(version >= 3, `version ${version}`)
  const tags = Object.values(state.jobs.w.tags) as {digest: string}[]
  assert.equal(tags.length, 2000)
  assert.ok(
    tags.every((t) => t.digest === `sha256:${String(version).padStart(64, '0')}`),
    'every entry from the same version',
  )
  assert.ok(lines(stderr).length === 0, stderr)
  // The next start opens that version and clears what the killed writer left behind.
  const store = await StateStore.open(file)
  assert.equal(store.state.jobs.w!.lastRun!.startedAt, String(version))
  assert.deepEqual(
    (await readdir(work.dir)).filter((name) => name.startsWith('.killed-state.json.')),
    [],
  )
})

test('ferry schedule --config: two named jobs with their own rule files and intervals in one process', {timeout: 60_000}, async () => {
  const one = await pushImage(src, 'multi/one', 'a', {layers: [randomBlob(1000, 'm1')]})
  const two = await pushImage(src, 'multi/two', 'b', {layers: [randomBlob(1000, 'm2')]})
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  await work.file('one.yaml', `${src.host}/multi/one: ${dst.host}/multi/one\n`)
  await work.file('two.yaml', `${src.host}/multi/two:b: ${dst.host}/multi/renamed:b-copy\n`)
  const config = await work.file(
    'schedule.yaml',
    `jobs:\n  one:\n    ruleFile: one.yaml\n    securityFile: ${securityFile}\n    interval: 1s\n  two:\n    ruleFile: two.yaml\n    securityFile: security.yaml\n    schedule: "* * * * * *"\n    timezone: UTC\n    routines: 1\n`,
  )
  const stateFile = path.join(work.dir, 'multi-state.json')
  const f = ferry(['schedule', '--config', config, '--stateFile', stateFile, '--listen', '127.0.0.1:0'])
  const address = await listenAddress(f)
  await f.waitFor(/\[one\] run 2 complete/, 15_000)
  await f.waitFor(/\[two\] run 2 complete/, 15_000)
  assert.equal(await skopeoDigest(dst, 'multi/one:a'), one.digest)
  assert.equal(await skopeoDigest(dst, 'multi/renamed:b-copy'), two.digest)
  const text = await metrics(address)
  assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'one', status: 'copied'}), 1)
  assert.equal(metricValue(text, 'ferry_jobs_total', {sync: 'two', status: 'copied'}), 1)
  f.child.kill('SIGINT')
  assert.equal((await f.exited).code, expectedExit(f.stderr()), f.stderr())
  const state = JSON.parse(await readFile(stateFile, 'utf8'))
  assert.deepEqual(Object.keys(state.jobs).sort(), ['one', 'two'])
  assert.equal(state.jobs.two.tags[`${src.host}/multi/two:b`].digest, two.digest)

  // A mistake in schedule.yaml or in a job's rule file stops the start with one line (exit 2).
  const broken = await work.file('broken.yaml', `jobs:\n  one:\n    ruleFile: one.yaml\n    interval: 1s\n    schedule: "* * * * *"\n`)
  const bad = await runCli(['schedule', '--config', broken])
  assert.equal(bad.code, 2)
  assert.equal(bad.stderr.trim(), `Error: ${broken}:4: job "one": give schedule (cron) or interval, not both`)
  const missing = await work.file('missing.yaml', `jobs:\n  one:\n    ruleFile: nowhere.yaml\n    interval: 1s\n`)
  const noRules = await runCli(['schedule', '--config', missing])
  assert.equal(noRules.code, 2)
  assert.match(noRules.stderr, /nowhere\.yaml: cannot read rule file \(ENOENT\)/)
})

test('an abort while blobs are uploading never pushes the manifest', {timeout: 30_000}, async () => {
  await pushImage(src, 'abort/app', '1', {layers: [randomBlob(300 * 1024, 'ab1'), randomBlob(300 * 1024, 'ab2'), randomBlob(300 * 1024, 'ab3')]})
  const ruleFile = await work.file('abort-rules.yaml', `${src.host}/abort/app:1: ${dst.host}/abort/app:1\n`)
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  const inputs = await loadTransferInputs({ruleFile, securityFile})
  const signal = new AbortController()
  dst.requestLog.clear()
  const report = await runTransfer({
    ...inputs,
    signal: signal.signal,
    // The first blob committed at the destination: abort with the others still on their way.
    observer: {onRequest: (registry, method, status) => registry === dst.host && method === 'PUT' && status === 201 && signal.abort()},
  })
  assert.ok(signal.signal.aborted, 'the abort happened')
  assert.equal(report.results.length, 1)
  assert.equal(report.results[0]!.status, 'interrupted')
  assert.equal(report.results[0]!.error?.code, 'ABORTED')
  await dst.requestLog.settle()
  assert.equal(dst.requestLog.count({method: 'PUT', path: /\/manifests\//}), 0, 'no manifest push after the abort')
  assert.deepEqual(await listTags(dst, 'abort/app'), [])
})

test('migrate --stateFile: a provider migration runs as a standing job too', {timeout: 30_000}, async () => {
  const image = await pushImage(src, 'prov/app', '1', {layers: [randomBlob(1000, 'p1')]})
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  const stateFile = path.join(work.dir, 'migrate-state.json')
  const args = [
    'migrate',
    '--from',
    'registry',
    '--fromRegistry',
    src.host,
    '--fromNamespace',
    'prov',
    '--to',
    'registry',
    '--toRegistry',
    dst.host,
    '--toNamespace',
    'provcopy',
    '--securityFile',
    securityFile,
    '--stateFile',
    stateFile,
  ]
  const run = await runCli(args)
  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.match(run.stdout, /\[migrate\] changes at the source since the last run: 1 new/)
  assert.equal(await skopeoDigest(dst, 'provcopy/app:1'), image.digest)
  const state = JSON.parse(await readFile(stateFile, 'utf8'))
  assert.equal(state.jobs.migrate.tags[`${src.host}/prov/app:1`].digest, image.digest)
})

test('bad standing-mode flags are one line each and exit 2 before anything runs', {timeout: 30_000}, async () => {
  const ruleFile = await work.file('flags-rules.yaml', `${src.host}/never/app: ${dst.host}/never/app\n`)
  const cases: [string[], string][] = [
    [['--interval', '15'], 'Error: --interval "15" is not a duration; write a number with a unit: 500ms, 30s, 15m, 1h30m, 1d'],
    [['--schedule', '* * *'], 'Error: --schedule "* * *" has 3 fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)'],
    [['--schedule', '0 3 * * *', '--timezone', 'Nowhere/Town'], 'Error: --timezone "Nowhere/Town" is not an IANA time zone (e.g. Europe/Berlin, UTC)'],
    [['--interval', '1s', '--listen', 'nope'], 'Error: --listen "nope" is not HOST:PORT (e.g. 127.0.0.1:9090, 0.0.0.0:9090)'],
    [['--interval', '1s', '--gracePeriod', 'soon'], 'Error: --grace-period "soon" is not a duration; write a number with a unit: 500ms, 30s, 15m, 1h30m, 1d'],
    [
      ['--stateFile', path.join(work.dir, 'missing-dir', 'state.json')],
      `Error: ${path.join(work.dir, 'missing-dir', 'state.json')}: the state file's directory does not exist`,
    ],
  ]
  for (const [flags, message] of cases) {
    const run = await runCli(['transfer', '--ruleFile', ruleFile, ...flags])
    assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`)
    assert.equal(run.stderr.trim(), message)
  }
  await src.requestLog.settle()
  assert.equal(src.requestLog.count({path: /never/}), 0, 'nothing was listed')
})
