// Event-driven sync: a real docker-registry whose notifications point at ferry's listener; a push
// reaches the destination in seconds while the schedule says once an hour. Forged deliveries with
// a wrong or missing token, oversized or non-JSON bodies start nothing; Harbor's PUSH_ARTIFACT
// payload works the same way.
import assert from 'node:assert/strict'
import {randomUUID} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, test} from 'node:test'
import {cosignSignature, cosignTag, fallbackIndexEntries, pushArtifact, pushFallbackIndex, referrer, SBOM_TYPE} from '../harness/artifacts.js'
import {fetchManifest, freePort, pushImage, randomBlob, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {listTags} from './destination-check.js'
import {httpRequest, metrics, metricValue, startFerry, type FerryProcess} from './serve-support.js'
import {plainEntries, workDir} from './support.js'

const TOKEN = `event-token-${randomUUID()}`
let src: TestRegistry // sends notifications to ferry
let quiet: TestRegistry // sends none: the forged deliveries below name it
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let ferry: FerryProcess
let address: string

before(async () => {
  const port = await freePort()
  address = `127.0.0.1:${port}`
  ;[src, quiet, dst, work] = await Promise.all([
    startRegistry({
      configure: (config) => {
        config.notifications = {
          endpoints: [
            {
              name: 'ferry',
              url: `http://${address}/events/registry`,
              headers: {Authorization: [`Bearer ${TOKEN}`]},
              timeout: '2s',
              threshold: 3,
              backoff: '300ms',
            },
          ],
        }
      },
    }),
    startRegistry(),
    startRegistry(),
    workDir(),
  ])
  // Pushed before ferry listens: the registry keeps re-sending these events until ferry is up.
  await pushImage(src, 'hooked/app', '1', {layers: [randomBlob(2048, 'h1')]})
  await pushImage(quiet, 'quiet/app', 'base', {layers: [randomBlob(2048, 'q0')]})
  const ruleFile = await work.file('rules.yaml', `${src.host}/hooked/app: ${dst.host}/hooked/app\n${quiet.host}/quiet/app: ${dst.host}/quiet/app\n`)
  const securityFile = await work.file('security.yaml', plainEntries(src, quiet, dst))
  ferry = startFerry(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--interval', '1h', '--listen', address, '--eventToken', TOKEN])
  await ferry.waitFor(/\[transfer\] run 1 complete/, 20_000)
})

after(async () => {
  ferry?.kill()
  await Promise.all([src?.stop(), quiet?.stop(), dst?.stop(), work?.cleanup()])
})

async function waitForTag(registry: TestRegistry, repository: string, tag: string, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if ((await listTags(registry, repository)).includes(tag)) return Date.now() - started
    await sleep(100)
  }
  throw new Error(`${repository}:${tag} did not reach the destination within ${timeoutMs} ms; ferry log:\n${ferry.stderr()}`)
}

function envelope(registry: TestRegistry, repository: string, tag: string, id = randomUUID()): string {
  return JSON.stringify({
    events: [
      {
        id,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: 'sha256:' + '0'.repeat(64),
          repository,
          url: `http://${registry.host}/v2/${repository}/manifests/${tag}`,
          tag,
        },
        request: {id: randomUUID(), addr: '127.0.0.1:1', host: registry.host, method: 'PUT', useragent: 'test'},
      },
    ],
  })
}

function post(path: string, body: string | Buffer, authorization?: string) {
  return httpRequest(`http://${address}${path}`, {
    method: 'POST',
    body,
    headers: {'Content-Type': 'application/vnd.docker.distribution.events.v1+json', ...(authorization ? {Authorization: authorization} : {})},
  })
}

test('a push to a source whose notifications point at ferry reaches the destination in seconds (interval 1h)', {timeout: 30_000}, async () => {
  // The tag pushed before ferry listened, delivered late by the registry's retries, or copied by run 1.
  await waitForTag(dst, 'hooked/app', '1', 10_000)
  const image = await pushImage(src, 'hooked/app', '2', {layers: [randomBlob(2048, 'h1'), randomBlob(1024, 'h2')]})
  const took = await waitForTag(dst, 'hooked/app', '2', 10_000)
  assert.equal(await skopeoDigest(dst, 'hooked/app:2'), image.digest)
  console.log(`pushed tag at the destination after ${took} ms`)
  assert.doesNotMatch(ferry.stderr(), /run 2 started/, 'no scheduled run did it')
  assert.match(ferry.stderr(), /push of hooked\/app:2: copying it by 1 rule/)
  const text = await metrics(address)
  assert.ok(metricValue(text, 'ferry_events_received_total', {endpoint: 'registry', outcome: 'matched'}) >= 1)
  // Blob pushes and pulls (ferry's own reads included) arrive too, and start nothing.
  assert.ok(metricValue(text, 'ferry_events_received_total', {endpoint: 'registry', outcome: 'ignored'}) >= 2)
  assert.ok(metricValue(text, 'ferry_runs_total', {sync: 'transfer', trigger: 'event', outcome: 'complete'}) >= 1)
  assert.equal(metricValue(text, 'ferry_event_requests_total', {endpoint: 'registry', code: '401'}), 0, 'the registry sent the right token')
})

test('a signature and an SBOM pushed later reach the destination by their push events, the image not copied again', {timeout: 30_000}, async () => {
  await waitForTag(dst, 'hooked/app', '1', 10_000)
  const image = await fetchManifest(src, 'hooked/app', '1')
  const subject = {mediaType: image.mediaType, digest: image.digest, manifest: image.bytes}
  // Not cleared: the /metrics test below compares the whole log with ferry's counts.
  const imagePushes = () => dst.requestLog.count({method: 'PUT', path: '/v2/hooked/app/manifests/1'})
  await dst.requestLog.settle()
  const pushesBefore = imagePushes()
  const signature = await pushArtifact(src, 'hooked/app', cosignSignature('hooked/app', image.digest), cosignTag(image.digest))
  await waitForTag(dst, 'hooked/app', cosignTag(image.digest), 10_000)
  assert.equal(await skopeoDigest(dst, `hooked/app:${cosignTag(image.digest)}`), signature.digest)
  // Another client's entry in the destination's fallback index stays (a copy of the source's index would drop it).
  const foreign = await pushArtifact(dst, 'hooked/app', referrer(subject, 'application/vnd.example.other', 'other'))
  await pushFallbackIndex(dst, 'hooked/app', image.digest, [foreign])
  // An OCI 1.1 referrer where the registry has no referrers API: by digest, then the fallback index (the event).
  const sbom = await pushArtifact(src, 'hooked/app', referrer(subject, SBOM_TYPE, '{"spdxVersion":"SPDX-2.3"}'))
  await pushFallbackIndex(src, 'hooked/app', image.digest, [sbom])
  const listed = () => fallbackIndexEntries(dst, 'hooked/app', image.digest)
  for (let waited = 0; (await listed()).length < 2 && waited < 10_000; waited += 100) await sleep(100)
  assert.deepEqual(await listed(), [foreign.digest, sbom.digest])
  assert.equal(await skopeoDigest(dst, `hooked/app@${sbom.digest}`), sbom.digest)
  await dst.requestLog.settle()
  assert.equal(imagePushes(), pushesBefore, 'the image was not pushed again')
  assert.doesNotMatch(ferry.stderr(), /run 2 started/, 'no scheduled run did it')
})

test('a wrong or missing token gets 401 and starts nothing; the right one copies the tag; a repeated id is dropped', {timeout: 30_000}, async () => {
  await pushImage(quiet, 'quiet/app', '5', {layers: [randomBlob(2048, 'q5')]})
  const id = randomUUID()
  const body = envelope(quiet, 'quiet/app', '5', id)
  assert.equal((await post('/events/registry', body, 'Bearer wrong-token')).status, 401)
  assert.equal((await post('/events/registry', body, `Bearer ${TOKEN}x`)).status, 401)
  assert.equal((await post('/events/registry', body)).status, 401)
  await sleep(1500)
  assert.ok(!(await listTags(dst, 'quiet/app')).includes('5'), 'an unauthenticated event copied a tag')
  let text = await metrics(address)
  assert.equal(metricValue(text, 'ferry_event_requests_total', {endpoint: 'registry', code: '401'}), 3)

  assert.equal((await post('/events/registry', body, `Bearer ${TOKEN}`)).status, 200)
  await waitForTag(dst, 'quiet/app', '5', 10_000)
  assert.equal((await post('/events/registry', body, `Bearer ${TOKEN}`)).status, 200, 'a repeat is still acknowledged')
  text = await metrics(address)
  assert.equal(metricValue(text, 'ferry_events_received_total', {endpoint: 'registry', outcome: 'duplicate'}), 1)
})

test('bodies over 1 MiB get 413, non-JSON 400, an irrelevant envelope 200; none starts a copy', {timeout: 30_000}, async () => {
  await pushImage(quiet, 'quiet/app', '7', {layers: [randomBlob(2048, 'q7')]})
  const big = Buffer.alloc(1024 * 1024 + 10, ' ')
  Buffer.from(envelope(quiet, 'quiet/app', '7')).copy(big)
  assert.equal((await post('/events/registry', big, `Bearer ${TOKEN}`)).status, 413)
  assert.equal((await post('/events/registry', '{"events": [', `Bearer ${TOKEN}`)).status, 400)
  assert.equal((await post('/events/registry', envelope(quiet, 'not/followed', '7'), `Bearer ${TOKEN}`)).status, 200)
  assert.equal(
    (await post('/events/registry', JSON.stringify({events: [{action: 'pull', target: {repository: 'quiet/app', tag: '7'}}]}), `Bearer ${TOKEN}`)).status,
    200,
  )
  await sleep(1500)
  assert.ok(!(await listTags(dst, 'quiet/app')).includes('7'))
  const text = await metrics(address)
  assert.equal(metricValue(text, 'ferry_event_requests_total', {endpoint: 'registry', code: '413'}), 1)
  assert.equal(metricValue(text, 'ferry_event_requests_total', {endpoint: 'registry', code: '400'}), 1)
  assert.ok(metricValue(text, 'ferry_events_received_total', {endpoint: 'registry', outcome: 'unmatched'}) >= 1)
  assert.equal((await httpRequest(`http://${address}/healthz`)).status, 200)
})

test(
  "Harbor's PUSH_ARTIFACT webhook (its auth header holding the token), Default and CloudEvents formats, copies the pushed tag",
  {timeout: 30_000},
  async () => {
    const image = await pushImage(quiet, 'quiet/app', '6', {layers: [randomBlob(2048, 'q6')]})
    const payload = JSON.stringify({
      type: 'PUSH_ARTIFACT',
      occur_at: Math.floor(Date.now() / 1000),
      operator: 'admin',
      event_data: {
        resources: [{digest: image.digest, tag: '6', resource_url: `${quiet.host}/quiet/app:6`}],
        repository: {date_created: 1, name: 'app', namespace: 'quiet', repo_full_name: 'quiet/app', repo_type: 'private'},
      },
    })
    assert.equal((await post('/events/harbor', payload, 'wrong')).status, 401)
    assert.equal((await post('/events/harbor', payload, TOKEN)).status, 200)
    await waitForTag(dst, 'quiet/app', '6', 10_000)
    assert.equal(await skopeoDigest(dst, 'quiet/app:6'), image.digest)
    const text = await metrics(address)
    assert.equal(metricValue(text, 'ferry_events_received_total', {endpoint: 'harbor', outcome: 'matched'}), 1)

    // The same event in Harbor's CloudEvents format (2.8+), as Harbor sends it.
    const next = await pushImage(quiet, 'quiet/app', '7', {layers: [randomBlob(2048, 'q7')]})
    const cloudEvent = JSON.stringify({
      specversion: '1.0',
      requestid: 'request-7',
      id: 'event-7',
      source: '/projects/1/webhook/policies/1',
      type: 'harbor.artifact.pushed',
      datacontenttype: 'application/json',
      time: new Date().toISOString(),
      data: {
        resources: [{digest: next.digest, tag: '7', resource_url: `${quiet.host}/quiet/app:7`}],
        repository: {date_created: 1, name: 'app', namespace: 'quiet', repo_full_name: 'quiet/app', repo_type: 'private'},
      },
      operator: 'admin',
    })
    assert.equal((await post('/events/harbor', cloudEvent, TOKEN)).status, 200)
    await waitForTag(dst, 'quiet/app', '7', 10_000)
    assert.equal(await skopeoDigest(dst, 'quiet/app:7'), next.digest)
    assert.equal(metricValue(await metrics(address), 'ferry_events_received_total', {endpoint: 'harbor', outcome: 'matched'}), 2)
  },
)

test('/metrics request counts equal what the destination registry logged from ferry', {timeout: 30_000}, async () => {
  // ferry is idle between events (the interval is an hour), so both sides have settled.
  await sleep(500)
  const entries = await dst.requestLog.settle()
  const fromFerry = entries.filter((e) => e.userAgent === 'ferry')
  const text = await metrics(address)
  assert.ok(fromFerry.length > 0)
  assert.equal(metricValue(text, 'ferry_registry_requests_total', {registry: dst.host}), fromFerry.length)
  for (const method of ['HEAD', 'PUT', 'POST', 'GET']) {
    assert.equal(metricValue(text, 'ferry_registry_requests_total', {registry: dst.host, method}), fromFerry.filter((e) => e.method === method).length, method)
  }
  const uploads = fromFerry.filter((e) => e.method === 'PUT' && /\/blobs\/uploads\//.test(e.path) && e.status === 201).length
  assert.equal(metricValue(text, 'ferry_blobs_total', {sync: 'transfer', outcome: 'uploaded'}), uploads)
})
