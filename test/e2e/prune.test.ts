// --prune against real Distribution registries: what goes, what stays, and the guards that keep a
// source outage from emptying a mirror. Each test mirrors into repositories of its own.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {after, before, test} from 'node:test'

import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {
  buildImage,
  pushBuiltImage,
  pushImage,
  randomLayer,
  skopeoDigest,
  skopeoTags,
  startRegistry,
  type BuiltImage,
  type TestRegistry,
} from '../harness/index.js'
import {cosignTag} from '../harness/artifacts.js'
import {startFerry} from './serve-support.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let refusing: TestRegistry
let proxy: FaultProxy
let work: Awaited<ReturnType<typeof workDir>>
let security: string
const image: Record<string, BuiltImage> = {}

before(async () => {
  ;[source, destination, refusing] = await Promise.all([startRegistry(), startRegistry(), startRegistry({deletes: false})])
  proxy = await startFaultProxy(source)
  work = await workDir()
  security = await work.file('security.yaml', plainEntries(source, destination, refusing) + `"http://${proxy.host}": {}\n`)
  for (const tag of ['v1', 'v2']) {
    image[tag] = buildImage({layers: [randomLayer(128, `app:${tag}`)]})
    await pushBuiltImage(source, 'app', tag, image[tag]!)
  }
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), refusing?.stop(), proxy?.stop(), work?.cleanup()])
})

/** A mirror of app that the source has since moved on from: v1, v2, and v0 the source deleted (with its signature). */
async function staleMirror(registry: TestRegistry, repository: string): Promise<{v0: string; v0sig: string}> {
  for (const tag of ['v1', 'v2']) await pushBuiltImage(registry, repository, tag, image[tag]!)
  const v0 = await pushImage(registry, repository, 'v0', {layers: [randomLayer(128, `${repository}:v0`)]})
  const v0sig = cosignTag(v0.digest)
  await pushImage(registry, repository, v0sig, {layers: [randomLayer(64, `${repository}:v0 signature`)]})
  return {v0: v0.digest, v0sig}
}

async function prune(sourceHost: string, registry: TestRegistry, repository: string, ...flags: string[]) {
  const rules = await work.file(`rules-${repository.replace(/\W/g, '-')}.yaml`, `${sourceHost}/app: ${registry.host}/${repository}\n`)
  const reportFile = `${work.dir}/report-${repository.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2)}.json`
  const run = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--retry', '0', '--report', reportFile, '--prune', ...flags])
  const report = JSON.parse(await readFile(reportFile, 'utf8'))
  return {...run, report, output: run.stdout + run.stderr}
}

const tagsOf = async (registry: TestRegistry, repository: string) => (await skopeoTags(registry, repository)).sort()

test('--prune deletes the tags the source no longer has, with their digests in the report and the log; a signature of a kept image, a digest a kept tag shares and tags outside the filters stay', async () => {
  const repository = 'mirror/app'
  const {v0, v0sig} = await staleMirror(destination, repository)
  const v1sig = cosignTag(image.v1!.digest)
  await pushImage(destination, repository, v1sig, {layers: [randomLayer(64, 'v1 signature')]})
  // Same manifest as v2, which the source still has: a delete by digest would take v2 too.
  await pushBuiltImage(destination, repository, 'v2-old', image.v2!)
  // Outside the run's filters: never pruned, whatever the source has.
  await pushImage(destination, repository, 'dev', {layers: [randomLayer(64, 'dev')]})

  const run = await prune(source.host, destination, repository, '--excludeTags', '^dev$')
  assert.equal(run.code, 0, run.output)
  assert.deepEqual(await tagsOf(destination, repository), ['dev', v1sig, 'v1', 'v2', 'v2-old'].sort())
  const v0sigDigest = run.report.pruned.find((each: {tag: string}) => each.tag === v0sig)?.digest
  assert.match(v0sigDigest ?? '', /^sha256:/)
  assert.deepEqual(
    [...run.report.pruned].sort((a: {tag: string}, b: {tag: string}) => a.tag.localeCompare(b.tag)),
    [
      {repository: `${destination.host}/${repository}`, tag: v0sig, digest: v0sigDigest},
      {repository: `${destination.host}/${repository}`, tag: 'v0', digest: v0},
    ].sort((a, b) => a.tag.localeCompare(b.tag)),
  )
  assert.match(run.output, new RegExp(`pruned ${destination.host}/${repository}:v0 \\(${v0}\\)`))
  const kept = Object.fromEntries(run.report.pruneKept.map((each: {tag: string; reason: string}) => [each.tag, each]))
  assert.equal(kept['v2-old']?.digest, image.v2!.digest)
  assert.match(kept['v2-old']?.reason ?? '', /also tag v2/)
  assert.match(kept[v1sig]?.reason ?? '', /attaches to/)
  assert.equal(kept.dev, undefined)
  assert.match(run.output, /kept .*mirror\/app:v2-old/)
  assert.equal(run.report.pruneStopped, null)
  // The images that stay are whole.
  assert.equal(await skopeoDigest(destination, `${repository}:v2`), image.v2!.digest)
})

test('--dry-run --prune lists what it would delete and deletes nothing', async () => {
  const repository = 'dry/app'
  const {v0, v0sig} = await staleMirror(destination, repository)
  const run = await prune(source.host, destination, repository, '--dry-run')
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, new RegExp(`would prune ${destination.host}/${repository}:v0 \\(${v0}\\)`))
  assert.deepEqual(run.report.pruned.map((each: {tag: string}) => each.tag).sort(), [v0sig, 'v0'].sort())
  assert.deepEqual(await tagsOf(destination, repository), [v0sig, 'v0', 'v1', 'v2'].sort())
})

test('--max-deletes: more tags to delete than allowed deletes none, says so in one line and fails the run', async () => {
  const repository = 'many/app'
  await staleMirror(destination, repository)
  const run = await prune(source.host, destination, repository, '--max-deletes', '1')
  assert.equal(run.code, 1, run.output)
  const lines = run.output.split('\n').filter((line) => line.includes('--max-deletes'))
  assert.equal(lines.length, 1, run.output)
  assert.match(lines[0]!, /2 tags to delete, more than --max-deletes 1: nothing deleted/)
  assert.equal(run.report.pruned.length, 0)
  assert.equal((await tagsOf(destination, repository)).length, 4)
})

test('a source outage never empties a mirror: a failed or empty source listing deletes nothing', async () => {
  const repository = 'outage/app'
  await staleMirror(destination, repository)
  const failed = proxy.addFault({method: 'GET', path: /\/v2\/app\/tags\/list/, fault: {kind: 'status', status: 403}})
  try {
    const run = await prune(proxy.host, destination, repository)
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /prune: not run: the source listing of rule .*app failed; nothing deleted/)
    assert.ok(failed.hits > 0)
  } finally {
    failed.remove()
  }
  const empty = proxy.addFault({
    method: 'GET',
    path: /\/v2\/app\/tags\/list/,
    fault: {kind: 'respond', answer: () => ({status: 200, body: '{"name":"app","tags":[]}', headers: {'content-type': 'application/json'}})},
  })
  try {
    const run = await prune(proxy.host, destination, repository)
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /prune: not run: the source listing for .*outage\/app selects no tags while the destination has some/)
    assert.equal(run.report.pruned.length, 0)
  } finally {
    empty.remove()
  }
  assert.equal((await tagsOf(destination, repository)).length, 4)
})

test('a registry that refuses deletes (405 UNSUPPORTED) gives one line; the copies stand and the run goes on', async () => {
  const repository = 'refusing/app'
  await staleMirror(refusing, repository)
  await pushImage(source, 'app', 'v3', {layers: [randomLayer(128, 'app:v3')]})
  try {
    const run = await prune(source.host, refusing, repository)
    assert.equal(run.code, 0, run.output)
    const lines = run.output.split('\n').filter((line) => line.includes('refuses deletes'))
    assert.equal(lines.length, 1, run.output)
    assert.match(lines[0]!, /UNSUPPORTED/)
    assert.deepEqual(run.report.pruned, [])
    assert.equal(run.report.pruneKept.length, 2)
    assert.ok((await tagsOf(refusing, repository)).includes('v3'))
    assert.equal((await tagsOf(refusing, repository)).length, 5)
  } finally {
    // Only this test's source tag: the others mirror v1 and v2.
    await fetch(`${source.url}/v2/app/manifests/${await skopeoDigest(source, 'app:v3')}`, {method: 'DELETE'})
  }
})

test('a job that failed keeps prune out of its repository: one line, the stale tag stays, exit 1', async () => {
  const repository = 'failed/app'
  const {v0} = await staleMirror(destination, repository)
  // v1 already matches; v2's copy fails at its manifest GET, so this repository's listing is not trusted.
  await fetch(`${destination.url}/v2/${repository}/manifests/${image.v2!.digest}`, {method: 'DELETE'})
  const broken = proxy.addFault({method: 'GET', path: new RegExp(`^/v2/app/manifests/(v2|${image.v2!.digest})$`), fault: {kind: 'status', status: 404}})
  try {
    const run = await prune(proxy.host, destination, repository)
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, new RegExp(`prune: ${destination.host}/${repository} left as it is: a job copying to it failed`))
    assert.deepEqual(run.report.pruned, [])
    assert.ok((await tagsOf(destination, repository)).includes('v0'), `v0 (${v0}) stays`)
  } finally {
    broken.remove()
  }
})

test('a standing mirror prunes after a complete run, and not after one whose source listing failed', async () => {
  const repository = 'standing/app'
  await staleMirror(destination, repository)
  const rules = await work.file('rules-standing.yaml', `${proxy.host}/app: ${destination.host}/${repository}\n`)
  const standing = async () => {
    const ferry = startFerry(['transfer', '--ruleFile', rules, '--securityFile', security, '--retry', '0', '--interval', '1h', '--prune'])
    try {
      const [line] = await ferry.waitFor(/run 1 (complete|incomplete)[^\n]*/, 30_000)
      ferry.child.kill('SIGTERM')
      await ferry.exited
      return {line, output: ferry.stderr() + ferry.stdout()}
    } finally {
      ferry.kill()
    }
  }
  const failed = proxy.addFault({method: 'GET', path: /\/v2\/app\/tags\/list/, fault: {kind: 'status', status: 403}})
  try {
    const outage = await standing()
    assert.match(outage.line, /incomplete/, outage.output)
    assert.match(outage.output, /prune: not run/, outage.output)
  } finally {
    failed.remove()
  }
  assert.equal((await tagsOf(destination, repository)).length, 4, 'nothing deleted after the failed listing')
  const complete = await standing()
  assert.match(complete.line, /run 1 complete/, complete.output)
  assert.match(complete.output, new RegExp(`pruned ${destination.host}/${repository}:v0 `), complete.output)
  assert.deepEqual(await tagsOf(destination, repository), ['v1', 'v2'])
})

test('migrate --prune from a provider that names its tags one by one is refused in one line, not run to prune nothing', async () => {
  const run = await runCli(['migrate', '--from', 'harbor', '--to', 'registry', '--to-registry', destination.host, '--prune'])
  assert.equal(run.code, 2, run.stdout + run.stderr)
  assert.deepEqual(
    run.stderr.split('\n').filter((line) => line.trim()),
    ['Error: --prune works with --from registry for now; --from harbor names its tags one by one, so nothing would be pruned'],
  )
})
