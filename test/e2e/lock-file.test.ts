// --lock-file, --frozen and `ferry diff` against real Distribution, checked with skopeo.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {after, before, test} from 'node:test'

import yaml from 'js-yaml'

import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {cosignSignature, OCI_MANIFEST, pushArtifact, pushFallbackIndex, referrer, SIGNATURE_TYPE, fallbackTag, cosignTag} from '../harness/artifacts.js'
import {fetchManifest, pushImage, randomLayer, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {startFerry} from './serve-support.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let proxy: FaultProxy
let work: Awaited<ReturnType<typeof workDir>>
let security: string

interface LockDocument {
  version: number
  images: Record<string, {digest: string; destinations: Record<string, string>; referrers?: string[]}>
}

const push = async (repository: string, tag: string, seed: string) => (await pushImage(source, repository, tag, {layers: [randomLayer(128, seed)]})).digest
const readLock = async (file: string) => yaml.load(await readFile(file, 'utf8')) as LockDocument

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
  proxy = await startFaultProxy(destination)
  work = await workDir()
  security = await work.file('security.yaml', `${plainEntries(source, destination)}"http://${proxy.host}": {}\n`)
})

after(async () => {
  await Promise.all([proxy?.stop(), source?.stop(), destination?.stop(), work?.cleanup()])
})

test('lock, move a tag, diff shows it, --frozen copies the locked digest; the lock is sorted and stable', async () => {
  const old = {a: await push('team/app', '1.0', 'app-1.0-a'), b: await push('team/app', '2.0', 'app-2.0-a')}
  const rules = await work.file('rules.yaml', `${source.host}/team/app: ${destination.host}/mirror/app\n`)
  const lock = `${work.dir}/ferry.lock.yaml`
  const first = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(first.code, 0, first.stderr)
  const written = await readFile(lock, 'utf8')
  const document = yaml.load(written) as LockDocument
  assert.equal(document.version, 1)
  const one = `${source.host}/team/app:1.0`
  const two = `${source.host}/team/app:2.0`
  assert.deepEqual(Object.keys(document.images), [one, two])
  assert.equal(document.images[one]!.digest, old.a)
  assert.deepEqual(document.images[one]!.destinations, {[`${destination.host}/mirror/app:1.0`]: await skopeoDigest(destination, 'mirror/app:1.0')})
  assert.equal(document.images[two]!.digest, old.b)

  // Run again (every tag found equal): the same bytes, line for line.
  const again = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--lockFile', lock])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(await readFile(lock, 'utf8'), written)

  // The source moves on: 1.0 to a new image, and a 3.0 appears.
  const moved = await push('team/app', '1.0', 'app-1.0-b')
  const added = await push('team/app', '3.0', 'app-3.0-a')
  assert.notEqual(moved, old.a)
  const diff = await runCli(['diff', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(diff.code, 1, diff.stderr)
  assert.deepEqual(
    diff.stdout.split('\n').filter((line) => line !== ''),
    [`moved ${one} ${old.a} → ${moved}`, `new   ${source.host}/team/app:3.0 ${added}`, '1 moved, 0 gone, 1 new, 1 unchanged'],
  )
  // Any input format: a plain image list naming the tag gives the same line.
  const list = await work.file('images.list', `${one}\n`)
  const listed = await runCli(['diff', '--images', list, '--registry', destination.host, '--securityFile', security, '--lock-file', lock])
  assert.equal(listed.code, 1, listed.stderr)
  assert.match(listed.stdout, new RegExp(`^moved ${one} ${old.a} → ${moved}$`, 'm'))
  const json = await runCli(['diff', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock, '--json'])
  assert.equal(json.code, 1, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout).changes, [
    {kind: 'moved', source: one, locked: old.a, current: moved},
    {kind: 'new', source: `${source.host}/team/app:3.0`, current: added},
  ])

  // --frozen into a fresh repository: the locked digests, the moved tag reported, the unlocked tag refused.
  const fresh = await work.file('fresh.yaml', `${source.host}/team/app: ${destination.host}/frozen/app\n`)
  const frozen = await runCli(['transfer', '--ruleFile', fresh, '--securityFile', security, '--lock-file', lock, '--frozen', '--json'])
  assert.equal(frozen.code, 1, frozen.stderr)
  assert.equal(await skopeoDigest(destination, 'frozen/app:1.0'), old.a)
  assert.equal(await skopeoDigest(destination, 'frozen/app:2.0'), old.b)
  assert.match(frozen.stderr, new RegExp(`drift: ${one} is now ${moved} at the source; copying the locked ${old.a}`))
  const jobs = JSON.parse(frozen.stdout).jobs as {destination: string; status: string; drift: unknown; error: {code: string; message: string} | null}[]
  const job = (tag: string) => jobs.find((entry) => entry.destination === `${destination.host}/frozen/app:${tag}`)!
  assert.deepEqual(job('1.0').drift, {locked: old.a, source: moved})
  assert.equal(job('2.0').drift, null)
  assert.equal(job('3.0').status, 'failed')
  assert.equal(job('3.0').error?.code, 'NOT_LOCKED')
  assert.match(job('3.0').error!.message, /team\/app:3\.0 is not in the lock file/)
  // A frozen run leaves the lock as it was.
  assert.equal(await readFile(lock, 'utf8'), written)

  // The source loses the locked digest of 2.0: diff says gone; --frozen fails that job with one line.
  const removed = await fetch(`${source.url}/v2/team/app/manifests/${old.b}`, {method: 'DELETE'})
  assert.equal(removed.status, 202)
  const gone = await runCli(['diff', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(gone.code, 1, gone.stderr)
  assert.match(gone.stdout, new RegExp(`^gone  ${two} ${old.b}$`, 'm'))
  // A tag no longer listed is not copied by a rule that lists tags: said, not skipped silently.
  const unlisted = await runCli(['transfer', '--ruleFile', fresh, '--securityFile', security, '--lock-file', lock, '--frozen'])
  assert.equal(unlisted.code, 1, unlisted.stderr)
  assert.match(unlisted.stderr, /warning: 1 locked references were not among this run's jobs/)
  assert.match(unlisted.stderr, new RegExp(`^  ${two} ${old.b}$`, 'm'))
  const pinned = await work.file('pinned.yaml', `${two}: ${destination.host}/pinned/app:2.0\n`)
  const lost = await runCli(['transfer', '--ruleFile', pinned, '--securityFile', security, '--lock-file', lock, '--frozen'])
  assert.equal(lost.code, 1)
  assert.match(lost.stdout + lost.stderr, new RegExp(`${two}: the locked digest ${old.b} is gone from the source`))
})

test('a failed job keeps the last good digest in the lock; JSON when the name ends .json', async () => {
  const good = await push('team/keep', '1.0', 'keep-1.0-a')
  const rules = await work.file('keep.yaml', `${source.host}/team/keep:1.0: ${proxy.host}/keep/app:1.0\n`)
  const lock = `${work.dir}/keep.lock.json`
  const first = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(first.code, 0, first.stderr)
  const key = `${source.host}/team/keep:1.0`
  assert.equal((JSON.parse(await readFile(lock, 'utf8')) as LockDocument).images[key]!.digest, good)

  await push('team/keep', '1.0', 'keep-1.0-b')
  const refusal = proxy.addFault({
    method: 'PUT',
    path: /\/manifests\//,
    fault: {kind: 'status', status: 403, body: '{"errors":[{"code":"DENIED","message":"no"}]}'},
  })
  try {
    const failed = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock, '--retry', '0'])
    assert.equal(failed.code, 1, failed.stderr)
  } finally {
    refusal.remove()
  }
  const kept = JSON.parse(await readFile(lock, 'utf8')) as LockDocument
  assert.deepEqual(kept.images[key], {digest: good, destinations: {[`${proxy.host}/keep/app:1.0`]: good}})
  assert.equal(await skopeoDigest(destination, 'keep/app:1.0'), good)
})

test('save writes the lock into the layout; save --frozen saves the locked digest; load --frozen loads only what the lock names', async () => {
  const first = {a: await push('team/off', '1.0', 'off-1.0-a'), b: await push('team/off', '1.1', 'off-1.1-a')}
  const rules = await work.file('off.yaml', `${source.host}/team/off: ""\n`)
  const lock = `${work.dir}/off.lock.yaml`
  const saved = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', `${work.dir}/off1`, '--lock-file', lock])
  assert.equal(saved.code, 0, saved.stderr)
  const one = `${source.host}/team/off:1.0`
  const inside = yaml.load(await readFile(`${work.dir}/off1/ferry.lock.yaml`, 'utf8')) as LockDocument
  assert.deepEqual(inside.images[one], {digest: first.a, destinations: {[one]: first.a}})
  assert.equal((await readLock(lock)).images[one]!.digest, first.a)

  // The tag moves; a frozen save still takes the locked image, and its tar carries the lock to load.
  const moved = await push('team/off', '1.0', 'off-1.0-b')
  const tar = `${work.dir}/off2.tar`
  const frozen = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', tar, '--lock-file', lock, '--frozen'])
  assert.equal(frozen.code, 0, frozen.stderr)
  assert.match(frozen.stderr, new RegExp(`drift: ${one} is now ${moved} at the source; copying the locked ${first.a}`))
  const loaded = await runCli(['load', tar, '--registry', destination.host, '--ns', 'loaded', '--securityFile', security, '--frozen'])
  assert.equal(loaded.code, 0, loaded.stderr)
  assert.equal(await skopeoDigest(destination, 'loaded/off:1.0'), first.a)
  assert.equal(await skopeoDigest(destination, 'loaded/off:1.1'), first.b)

  // A lock that names 1.0 at another digest and not 1.1 at all: neither is loaded, each said in one line.
  const other = await work.file('other.lock.yaml', `version: 1\nimages:\n  ${one}:\n    digest: ${moved}\n    destinations: {}\n`)
  const refused = await runCli([
    'load',
    `${work.dir}/off1`,
    '--registry',
    destination.host,
    '--ns',
    'refused',
    '--securityFile',
    security,
    '--frozen',
    '--lock-file',
    other,
  ])
  assert.equal(refused.code, 1, refused.stderr)
  const said = refused.stdout + refused.stderr
  assert.match(said, new RegExp(`${one} is ${first.a} in the layout but ${moved} in ${other.replace(/[.]/g, '\\.')}; not loaded`))
  assert.match(said, new RegExp(`${source.host}/team/off:1\\.1 is not in ${other.replace(/[.]/g, '\\.')}; --frozen loads only locked images`))
  const tags = await fetch(`${destination.url}/v2/refused/off/tags/list`)
  assert.equal(tags.status, 404)
})

test('the lock names the referrers; a signature added since is left out by --frozen and shown by diff; a lost one fails the job', async () => {
  const image = await pushImage(source, 'team/signed', '1.0', {layers: [randomLayer(128, 'signed-1.0')], flavour: 'oci'})
  const sigTag = cosignTag(image.digest)
  // cosign 2's tag (a second signing replaces it) and an OCI 1.1 signature listed in the fallback index.
  const cosignOne = await pushArtifact(source, 'team/signed', cosignSignature('team/signed', image.digest, 'one'), sigTag)
  const one = await pushArtifact(source, 'team/signed', referrer(image, SIGNATURE_TYPE, 'signature one'))
  await pushFallbackIndex(source, 'team/signed', image.digest, [one])
  const rules = await work.file('signed.yaml', `${source.host}/team/signed: ${destination.host}/signed/app\n`)
  const lock = `${work.dir}/signed.lock.yaml`
  const first = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(first.code, 0, first.stderr)
  // Issue 17's closing line: the referrers counted.
  assert.match(first.stdout + first.stderr, /^Finished, 0 transfer jobs failed, 0 jobs generate failed \(1 copied, 0 skipped, 2 referrers copied, /m)
  const key = `${source.host}/team/signed:1.0`
  const locked = [`${sigTag}@${cosignOne.digest}`, one.digest].sort()
  assert.deepEqual((await readLock(lock)).images[key]!.referrers, locked)

  // A second signature of each kind at the source.
  const cosignTwo = await pushArtifact(source, 'team/signed', cosignSignature('team/signed', image.digest, 'two'), sigTag)
  const two = await pushArtifact(source, 'team/signed', referrer(image, SIGNATURE_TYPE, 'signature two'))
  await pushFallbackIndex(source, 'team/signed', image.digest, [one, two])
  const diff = await runCli(['diff', '--ruleFile', rules, '--securityFile', security, '--lock-file', lock])
  assert.equal(diff.code, 1, diff.stderr)
  assert.deepEqual(
    diff.stdout.split('\n').filter((line) => line !== ''),
    [
      `referrers ${key} +${sigTag}@${cosignTwo.digest} +${two.digest} -${sigTag}@${cosignOne.digest}`,
      '0 moved, 0 gone, 0 new, 1 with other referrers, 0 unchanged',
    ],
  )

  // --frozen into a fresh repository: the image and exactly the locked signatures.
  const fresh = await work.file('signed-fresh.yaml', `${source.host}/team/signed: ${destination.host}/frozen/signed\n`)
  const frozen = await runCli(['transfer', '--ruleFile', fresh, '--securityFile', security, '--lock-file', lock, '--frozen'])
  assert.equal(frozen.code, 0, frozen.stderr)
  assert.match(frozen.stderr, new RegExp(`drift: ${key} has 2 referrers at the source the lock does not name; not copied`))
  assert.equal(await skopeoDigest(destination, 'frozen/signed:1.0'), image.digest)
  assert.equal(await skopeoDigest(destination, `frozen/signed:${sigTag}`), cosignOne.digest)
  const has = async (digest: string) =>
    (await fetch(`${destination.url}/v2/frozen/signed/manifests/${digest}`, {method: 'HEAD', headers: {accept: OCI_MANIFEST}})).status
  assert.equal(await has(one.digest), 200)
  assert.equal(await has(two.digest), 404)
  const index = JSON.parse((await fetchManifest(destination, 'frozen/signed', fallbackTag(image.digest))).bytes.toString('utf8')) as {
    manifests: {digest: string}[]
  }
  assert.deepEqual(
    index.manifests.map((entry) => entry.digest),
    [one.digest],
  )

  // A locked referrer the source does not have: that job fails, in one line.
  const lost = `sha256:${'e'.repeat(64)}`
  const text = (await readFile(lock, 'utf8')).replace(`      - ${one.digest}`, `      - ${one.digest}\n      - ${lost}`)
  assert.notEqual(text, await readFile(lock, 'utf8'))
  const bad = await work.file('signed-lost.lock.yaml', text)
  const other = await work.file('signed-other.yaml', `${source.host}/team/signed: ${destination.host}/lost/signed\n`)
  const failed = await runCli(['transfer', '--ruleFile', other, '--securityFile', security, '--lock-file', bad, '--frozen', '--retry', '0'])
  assert.equal(failed.code, 1, failed.stderr)
  assert.match(failed.stdout + failed.stderr, new RegExp(`the locked referrer ${lost} is gone from the source; restore it there`))
})

test('a standing mirror writes the lock after each run; a job that failed keeps its last good entry', async () => {
  const before = {a: await push('team/standing', '1.0', 'standing-1.0-a'), b: await push('team/standing', '2.0', 'standing-2.0-a')}
  const rules = await work.file('standing.yaml', `${source.host}/team/standing: ${proxy.host}/standing/app\n`)
  const lock = `${work.dir}/standing.lock.yaml`
  const one = `${source.host}/team/standing:1.0`
  const two = `${source.host}/team/standing:2.0`
  const at = (tag: string) => `${proxy.host}/standing/app:${tag}`
  const ferry = startFerry(['transfer', '--ruleFile', rules, '--securityFile', security, '--retry', '0', '--interval', '500ms', '--lock-file', lock])
  let refusal: ReturnType<FaultProxy['addFault']> | undefined
  try {
    await ferry.waitFor(/run 1 complete/, 30_000)
    assert.deepEqual((await readLock(lock)).images, {
      [one]: {digest: before.a, destinations: {[at('1.0')]: before.a}},
      [two]: {digest: before.b, destinations: {[at('2.0')]: before.b}},
    })
    // Both tags move; the destination refuses 2.0 from now on.
    refusal = proxy.addFault({method: 'PUT', path: /\/standing\/app\/manifests\/2\.0$/, fault: {kind: 'status', status: 403}})
    const after = {a: await push('team/standing', '1.0', 'standing-1.0-b'), b: await push('team/standing', '2.0', 'standing-2.0-b')}
    // The run after the one that may have begun before the move.
    const finished = [...(ferry.stderr() + ferry.stdout()).matchAll(/run (\d+) (?:complete|incomplete)/g)].map((match) => Number(match[1]))
    const next = Math.max(...finished) + 2
    await ferry.waitFor(new RegExp(`run ${next} incomplete`), 30_000)
    assert.deepEqual((await readLock(lock)).images, {
      [one]: {digest: after.a, destinations: {[at('1.0')]: after.a}},
      [two]: {digest: before.b, destinations: {[at('2.0')]: before.b}},
    })
    assert.notEqual(after.b, before.b)
    ferry.child.kill('SIGTERM')
    await ferry.exited
  } finally {
    ferry.kill()
    refusal?.remove()
  }
})
