// Names from a hostile source: a tag list, a catalog, a manifest's descriptors and a push event
// that name something outside the repository they belong to, and an index whose children are named
// by sha512. A real Distribution registry sits behind the hostile proxy; the destination is a real
// htpasswd registry, checked with skopeo and its own request log.
import assert from 'node:assert/strict'
import {createHash, randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, test} from 'node:test'
import {freePort, pushImage, pushIndex, randomLayer, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {startHostileRegistry, type HostileRegistry} from '../harness/hostile-registry.js'
import {httpRequest, metrics, metricValue, startFerry} from './serve-support.js'
import {lines, runCli, workDir} from './support.js'

const TEST = {timeout: 120_000}
let src: TestRegistry
let hostile: HostileRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
/** prod/api:latest at the destination, which nothing in these tests may move. */
let prodDigest: string

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd'}), workDir()])
  hostile = await startHostileRegistry(src)
  // An older prod/api:latest at the source, the current one at the destination: the rollback the issue saw.
  await pushImage(src, 'prod/api', 'latest', {layers: [randomLayer(1024, 'names:prod:old')]})
  prodDigest = (await pushImage(dst, 'prod/api', 'latest', {layers: [randomLayer(1024, 'names:prod:new')]})).digest
  security = await work.file(
    'security.yaml',
    `"http://${hostile.host}": {}\n"http://${src.host}": {}\n"http://${dst.host}":\n  username: "${dst.username}"\n  password: "${dst.password}"\n`,
  )
})

after(async () => {
  await hostile?.stop()
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

/** PUTs (and other writes) the destination received outside `/v2/<repository>/`. */
async function writesOutside(registry: TestRegistry, ...repositories: string[]): Promise<string[]> {
  const entries = await registry.requestLog.settle()
  return entries
    .filter((e) => ['PUT', 'POST', 'PATCH', 'DELETE'].includes(e.method))
    .filter((e) => !repositories.some((r) => e.path.startsWith(`/v2/${r}/`)))
    .map((e) => `${e.method} ${e.path}`)
}

test('a listed tag that climbs out of its repository is one failure of its rule; the valid tags are copied; exit 1', TEST, async () => {
  const v1 = await pushImage(src, 'team/app', 'v1', {layers: [randomLayer(1024, 'names:team:v1')]})
  const v2 = await pushImage(src, 'team/app', 'v2', {layers: [randomLayer(1024, 'names:team:v2')]})
  hostile.forgeTags('team/app', ['v1', '../../../prod/api/manifests/latest', 'v2\u001b[2J'])
  await dst.requestLog.settle()
  dst.requestLog.clear()
  const rules = await work.file('tags.yaml', `${hostile.host}/team/app: ${dst.host}/team/app\n`)
  const run = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--retry', '0'])
  hostile.clearFaults()
  assert.equal(run.code, 1, run.stderr)
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
  const refused = lines(run.stdout + run.stderr).filter((line) => line.includes('prod/api/manifests/latest'))
  assert.ok(refused.length >= 1, run.stderr)
  assert.match(refused[0]!, /"\.\.\/\.\.\/\.\.\/prod\/api\/manifests\/latest" is not a valid tag/)
  // The escape code is shown escaped, never sent to the terminal.
  assert.doesNotMatch(run.stdout + run.stderr, /\u001b\[2J/)
  assert.match(run.stdout + run.stderr, /"v2\\x1b\[2J" is not a valid tag/)
  assert.equal(await skopeoDigest(dst, 'team/app:v1'), v1.digest)
  assert.equal(await skopeoDigest(dst, 'prod/api:latest'), prodDigest, 'prod/api:latest was moved')
  assert.deepEqual(await writesOutside(dst, 'team/app'), [])
  void v2
})

test('migrate: a catalog entry team/../victim/app is refused, not copied past --fromNamespace/--toNamespace', TEST, async () => {
  const app = await pushImage(src, 'team/app', 'm1', {layers: [randomLayer(1024, 'names:migrate:app')]})
  await pushImage(src, 'victim/app', 'm1', {layers: [randomLayer(1024, 'names:migrate:victim')]})
  hostile.forgeCatalog(['team/app', 'team/../victim/app', 'victim/app'])
  await dst.requestLog.settle()
  dst.requestLog.clear()
  const run = await runCli([
    'migrate',
    '--from',
    'registry',
    '--fromRegistry',
    hostile.host,
    '--fromNamespace',
    'team',
    '--to',
    'registry',
    '--toRegistry',
    dst.host,
    '--toNamespace',
    'whole',
    '--securityFile',
    security,
    '--retry',
    '0',
    '--includeTags',
    '^m1$',
  ])
  hostile.clearFaults()
  assert.equal(run.code, 1, run.stderr)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assert.match(run.stdout + run.stderr, /catalog: "team\/\.\.\/victim\/app" is not a valid repository name \(path component "\.\." is not allowed\); skipped/)
  assert.equal(await skopeoDigest(dst, 'whole/app:m1'), app.digest)
  assert.deepEqual(await writesOutside(dst, 'whole/app'), [])
})

test('a manifest whose layer digest is sha256:../../x (or md5:…) fails its job with one line before any blob URL is built', TEST, async () => {
  const good = await pushImage(src, 'bad/ok', 'v1', {layers: [randomLayer(1024, 'names:digest:ok')]})
  for (const [repository, digest] of [
    ['bad/dots', 'sha256:../../x'],
    ['bad/md5', `md5:${'a'.repeat(32)}`],
  ] as const) {
    const real = await pushImage(src, repository, 'v1', {flavour: 'oci', layers: [randomLayer(1024, `names:digest:${repository}`)]})
    const doc = JSON.parse(real.manifest.toString('utf8'))
    doc.layers[0].digest = digest
    const bytes = Buffer.from(JSON.stringify(doc))
    const forgedDigest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    // Served under the tag and under its own digest, with a matching Docker-Content-Digest, so only the layer is wrong.
    hostile.respond(new RegExp(`^/v2/${repository}/manifests/`), () => ({
      status: 200,
      headers: {'content-type': real.mediaType, 'docker-content-digest': forgedDigest, 'content-length': String(bytes.length)},
      body: bytes,
    }))
  }
  const rules = await work.file('digests.yaml', ['bad/dots', 'bad/md5', 'bad/ok'].map((r) => `${hostile.host}/${r}:v1: ${dst.host}/${r}:v1\n`).join(''))
  const before = hostile.requests.length
  await dst.requestLog.settle()
  dst.requestLog.clear()
  const run = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--retry', '0', '--json'])
  hostile.clearFaults()
  assert.equal(run.code, 1, run.stderr)
  const report = JSON.parse(run.stdout)
  const byRepo = (repository: string) => report.jobs.find((r: {source: string}) => r.source.includes(`/${repository}:`))
  assert.equal(byRepo('bad/dots').status, 'failed')
  assert.equal(byRepo('bad/dots').error.code, 'INVALID_DIGEST')
  assert.match(byRepo('bad/dots').error.message, /layers\[0\] digest: "sha256:\.\.\/\.\.\/x" is not a valid digest/)
  assert.equal(byRepo('bad/md5').error.code, 'UNSUPPORTED_DIGEST')
  assert.match(byRepo('bad/md5').error.message, /algorithm "md5" is not supported/)
  assert.equal(byRepo('bad/ok').status, 'copied')
  assert.equal(await skopeoDigest(dst, 'bad/ok:v1'), good.digest)
  // No request for the forged layer reached either side.
  const sent = hostile.requests.slice(before).map((r) => r.path)
  assert.deepEqual(
    sent.filter((p) => /blobs\/(sha256:\.\.|md5)|\/x$/.test(p)),
    [],
  )
  assert.deepEqual(await writesOutside(dst, 'bad/ok', 'bad/dots', 'bad/md5'), [])
  const entries = await dst.requestLog.settle()
  assert.deepEqual(
    entries.filter((e) => /\.\.|md5:|md5%3a/i.test(e.path)).map((e) => e.path),
    [],
  )
  assert.deepEqual(
    entries.filter((e) => e.method === 'PUT' && /bad\/(dots|md5)\/manifests/.test(e.path)).map((e) => e.path),
    [],
  )
})

test('an index whose children are named by sha512 is saved with those children verified and stored under sha512', TEST, async () => {
  const index = await pushIndex(src, 'multi/app', 'v1', ['linux/amd64', 'linux/arm64'])
  const doc = JSON.parse(index.manifest.toString('utf8'))
  const bySha512 = new Map<string, Buffer>()
  for (const entry of doc.manifests) {
    const child = index.children.find((c) => c.digest === entry.digest)!
    const sha512 = `sha512:${createHash('sha512').update(child.manifest).digest('hex')}`
    bySha512.set(sha512, child.manifest)
    entry.digest = sha512
  }
  const bytes = Buffer.from(JSON.stringify(doc))
  const indexDigest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  hostile.respond(/^\/v2\/multi\/app\/manifests\/(v1|sha256:[0-9a-f]+)$/, (request) =>
    request.path.endsWith(index.digest)
      ? {status: 404, headers: {'content-type': 'application/json'}, body: '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'}
      : {status: 200, headers: {'content-type': index.mediaType, 'docker-content-digest': indexDigest, 'content-length': String(bytes.length)}, body: bytes},
  )
  hostile.respond(/^\/v2\/multi\/app\/manifests\/sha512:/, (request) => {
    const digest = decodeURIComponent(request.path.split('/manifests/')[1]!)
    const child = bySha512.get(digest)
    if (!child) return {status: 404, headers: {'content-type': 'application/json'}, body: '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'}
    return {
      status: 200,
      headers: {'content-type': index.children[0]!.mediaType, 'docker-content-digest': digest, 'content-length': String(child.length)},
      body: child,
    }
  })
  const rules = await work.file('save.yaml', `${hostile.host}/multi/app:v1: ignored/multi/app\n`)
  const out = path.join(work.dir, 'layout')
  const run = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', out, '--retry', '0'])
  hostile.clearFaults()
  assert.equal(run.code, 0, run.stderr)
  const saved = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8'))
  assert.equal(saved.manifests[0].digest, indexDigest)
  // Every child the saved index names is in the layout, under its own (sha512) digest, with its bytes.
  for (const [digest, child] of bySha512) {
    const [algorithm, hex] = digest.split(':')
    assert.deepEqual(await readFile(path.join(out, 'blobs', algorithm!, hex!)), child, `${digest} is in the layout`)
  }

  // A child whose bytes do not match its sha512 is refused, not saved under another digest.
  const [firstDigest] = bySha512.keys()
  const wrong = Buffer.from(bySha512.get(firstDigest!)!)
  wrong[wrong.length - 2] ^= 1
  hostile.respond(/^\/v2\/multi\/app\/manifests\/(v1|sha256:[0-9a-f]+)$/, () => ({
    status: 200,
    headers: {'content-type': index.mediaType, 'docker-content-digest': indexDigest, 'content-length': String(bytes.length)},
    body: bytes,
  }))
  hostile.respond(/^\/v2\/multi\/app\/manifests\/sha512:/, () => ({
    status: 200,
    headers: {'content-type': index.children[0]!.mediaType, 'content-length': String(wrong.length)},
    body: wrong,
  }))
  const out2 = path.join(work.dir, 'layout-wrong')
  const refused = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', out2, '--retry', '0'])
  hostile.clearFaults()
  assert.equal(refused.code, 1, refused.stderr)
  assert.match(refused.stdout + refused.stderr, /DIGEST_MISMATCH|digest is sha512:/)
  const index2 = await readFile(path.join(out2, 'index.json'), 'utf8').catch(() => '{"manifests":[]}')
  assert.deepEqual(JSON.parse(index2).manifests, [], 'an image with a wrong child is not in index.json')
})

test('a push event whose tag climbs out of its repository is refused with one line; nothing is copied', TEST, async () => {
  const address = `127.0.0.1:${await freePort()}`
  const token = `names-${randomUUID()}`
  await pushImage(src, 'hooked/app', '1', {layers: [randomLayer(1024, 'names:hook:1')]})
  const rules = await work.file('events.yaml', `${src.host}/hooked/app: ${dst.host}/hooked/app\n`)
  const ferry = startFerry(['transfer', '--ruleFile', rules, '--securityFile', security, '--interval', '1h', '--listen', address, '--eventToken', token])
  try {
    await ferry.waitFor(/\[transfer\] run 1 complete/, 30_000)
    await dst.requestLog.settle()
    dst.requestLog.clear()
    const event = (tag: string, repository = 'hooked/app') =>
      JSON.stringify({
        events: [
          {
            id: randomUUID(),
            timestamp: new Date().toISOString(),
            action: 'push',
            target: {
              mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
              digest: `sha256:${'0'.repeat(64)}`,
              repository,
              url: `http://${src.host}/v2/${repository}/manifests/x`,
              tag,
            },
            request: {id: randomUUID(), addr: '127.0.0.1:1', host: src.host, method: 'PUT', useragent: 'test'},
          },
        ],
      })
    const post = (body: string) =>
      httpRequest(`http://${address}/events/registry`, {
        method: 'POST',
        body,
        headers: {'Content-Type': 'application/vnd.docker.distribution.events.v1+json', Authorization: `Bearer ${token}`},
      })
    assert.equal((await post(event('../../../prod/api/manifests/latest'))).status, 200)
    assert.equal((await post(event('1', 'hooked/app/../../prod/api'))).status, 200)
    await ferry.waitFor(/"\.\.\/\.\.\/\.\.\/prod\/api\/manifests\/latest" is not a valid tag \(.*\); refused/, 10_000)
    await ferry.waitFor(/"hooked\/app\/\.\.\/\.\.\/prod\/api" is not a valid repository name .*; refused/, 10_000)
    await sleep(1500)
    assert.equal(await skopeoDigest(dst, 'prod/api:latest'), prodDigest, 'prod/api:latest was moved')
    assert.deepEqual(await writesOutside(dst, 'hooked/app'), [])
    assert.doesNotMatch(ferry.stderr(), /push of hooked\/app:\.\./, 'the refused push started a copy')
    assert.equal(metricValue(await metrics(address), 'ferry_events_received_total', {endpoint: 'registry', outcome: 'refused'}), 2)
  } finally {
    ferry.kill()
  }
})
