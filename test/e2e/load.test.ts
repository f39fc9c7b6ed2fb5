// 2,000 tags in one CLI run (routines 32, qps 200): every tag arrives with its digest, the request
// rate seen at the registries never exceeds --qps in any sliding second, and memory stays flat.
//
// The rate is measured at the wire, by fault proxies (without faults) in front of both registries:
// the registry's access log has 1 s resolution, the proxies stamp each request in milliseconds.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {after, before, test} from 'node:test'
import {buildImage, clientFor, putManifest, pushBlob, randomLayer, skopeoDigest, startRegistry, type BuiltImage, type TestRegistry} from '../harness/index.js'
import {peakInWindow, startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {listTags} from './destination-check.js'
import {ROOT, workDir} from './support.js'

const REPOSITORIES = 40
const TAGS = 50
const QPS = 200
const ROUTINES = 32
const RSS_LIMIT_MIB = 300

let src: TestRegistry
let dst: TestRegistry
let srcProxy: FaultProxy
let dstProxy: FaultProxy
let work: Awaited<ReturnType<typeof workDir>>
/** repository → tag → digest */
const expected = new Map<string, Map<string, string>>()

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: limit}, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  ;[srcProxy, dstProxy] = await Promise.all([startFaultProxy(src), startFaultProxy(dst)])
  // One config and one tiny layer shared by every image; manifests differ by an annotation only.
  const layer = randomLayer(512, 'load:shared')
  const images: Array<{repository: string; tag: string; image: BuiltImage}> = []
  for (let r = 0; r < REPOSITORIES; r++) {
    const repository = `load/repo-${String(r).padStart(2, '0')}`
    const tags = new Map<string, string>()
    expected.set(repository, tags)
    for (let t = 0; t < TAGS; t++) {
      const tag = `t${t}`
      const image = buildImage({flavour: 'oci', layers: [layer], annotations: {'org.ferry.test.tag': `${repository}:${tag}`}})
      tags.set(tag, image.digest)
      images.push({repository, tag, image})
    }
  }
  const first = images[0]!.image
  assert.equal(new Set(images.map((i) => i.image.config.digest)).size, 1, 'one config shared by all')
  // Straight to the registry, not through the proxy: only ferry's requests are measured.
  await pool([...expected.keys()], 8, async (repository) => {
    for (const blob of first.blobs) await pushBlob(src, repository, blob)
  })
  await pool(images, 16, ({repository, tag, image}) => putManifest(src, repository, tag, image))
})
after(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()])
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

test(`${REPOSITORIES * TAGS} tags, routines ${ROUTINES}, qps ${QPS}: all arrive, never above qps, bounded memory`, {timeout: 240_000}, async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'commands', 'transfer.js')), 'run `npm run build` first')
  assert.ok(existsSync('/usr/bin/time'), '/usr/bin/time is needed to measure peak RSS')
  const ruleFile = await work.file('rules.yaml', [...expected.keys()].map((r) => `${srcProxy.host}/${r}: ${dstProxy.host}/${r}\n`).join(''))
  const securityFile = await work.file('security.yaml', `"http://${srcProxy.host}": {}\n"http://${dstProxy.host}": {}\n`)

  const started = Date.now()
  const child = spawn(
    '/usr/bin/time',
    [
      '-v',
      process.execPath,
      path.join(ROOT, 'bin', 'run.js'),
      'transfer',
      '--ruleFile',
      ruleFile,
      '--securityFile',
      securityFile,
      '--routines',
      String(ROUTINES),
      '--qps',
      String(QPS),
      '--quiet',
    ],
    {cwd: ROOT, env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'}, stdio: ['ignore', 'pipe', 'pipe']},
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  const seconds = (Date.now() - started) / 1000
  assert.equal(code, 0, stdout + stderr)
  const total = REPOSITORIES * TAGS
  assert.match(stdout.trim().split('\n').at(-1) ?? '', new RegExp(`^Finished, 0 transfer jobs failed, 0 jobs generate failed \\(${total} copied, 0 skipped`))

  // Rate at the wire: both registries together, any sliding 1000 ms.
  const times = [...srcProxy.requests, ...dstProxy.requests].map((r) => r.at).sort((a, b) => a - b)
  const peak = peakInWindow(times, 1000)
  // FERRY_LOAD_DUMP=file keeps every request time, to study the rate when this fails.
  if (process.env.FERRY_LOAD_DUMP)
    (await import('node:fs')).writeFileSync(
      process.env.FERRY_LOAD_DUMP,
      JSON.stringify(
        [...srcProxy.requests, ...dstProxy.requests].map((r) => [r.at, r.method, r.path.slice(0, 60)]).sort((a, b) => (a[0] as number) - (b[0] as number)),
      ),
    )
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024
  console.log(
    `${total} tags in ${seconds.toFixed(1)} s; ${times.length} requests (${(times.length / seconds).toFixed(0)}/s average); ` +
      `peak ${peak} in any sliding second (limit ${QPS}); peak RSS ${rss.toFixed(1)} MiB`,
  )
  assert.ok(peak <= QPS, `${peak} requests within one sliding second, above --qps ${QPS}`)
  assert.ok(Number.isFinite(rss), stderr.slice(-2000))
  assert.ok(rss < RSS_LIMIT_MIB, `peak RSS ${rss.toFixed(1)} MiB`)
  // 32 routines share one run's abort signal: Node's listener-leak warning once printed on every such run.
  assert.doesNotMatch(stderr, /Warning/, 'nothing but /usr/bin/time output on stderr')

  // Every tag, with its digest: tag lists, then one HEAD per tag at the real destination.
  for (const [repository, tags] of expected) {
    assert.deepEqual((await listTags(dst, repository)).sort(), [...tags.keys()].sort(), repository)
  }
  const all = [...expected].flatMap(([repository, tags]) => [...tags].map(([tag, digest]) => ({repository, tag, digest})))
  const wrong: string[] = []
  await pool(all, 16, async ({repository, tag, digest}) => {
    const res = await clientFor(dst).request('HEAD', `/v2/${repository}/manifests/${tag}`, {
      headers: {accept: 'application/vnd.oci.image.manifest.v1+json'},
    })
    if (res.status !== 200 || res.headers['docker-content-digest'] !== digest)
      wrong.push(`${repository}:${tag} ${res.status} ${String(res.headers['docker-content-digest'])}`)
  })
  assert.deepEqual(wrong, [])
  // And a sample through skopeo, which shares no code with either.
  for (let i = 0; i < all.length; i += Math.floor(all.length / 20)) {
    const {repository, tag, digest} = all[i]!
    assert.equal(await skopeoDigest(dst, `${repository}:${tag}`), digest, `${repository}:${tag}`)
  }
})
